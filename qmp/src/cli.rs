//! The command-line grammar.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{CliResult, Failure};

/// Drive QEMU VMs over QMP: keys, typing, screenshots, control, hot-plug,
/// QOM, raw commands, the guest agent, a shell, and a daemon that lets
/// any number of clients share one monitor.
#[derive(Debug, Parser)]
#[command(name = "qmp", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Print JSON (one value per line) instead of text for people.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Seconds each command may take (0: no limit).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30.0)]
    pub(crate) timeout: f64,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

/// Which monitor to talk to. Without any, the only VM of the runtime
/// directory.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// A QMP Unix socket (for `ga`: the agent's socket).
    #[arg(long, global = true, value_name = "PATH", env = "QMP_SOCKET")]
    pub(crate) socket: Option<PathBuf>,
    /// A QMP TCP address.
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub(crate) tcp: Option<String>,
    /// A VM by name: `$XDG_RUNTIME_DIR/qmp/NAME.sock` (for `ga`:
    /// `NAME.ga.sock`).
    #[arg(long, global = true, value_name = "NAME", env = "QMP_VM")]
    pub(crate) vm: Option<String>,
    /// A libvirt connection URI (`qemu:///system`, `qemu+ssh://root@host/system`,
    /// `qemu+tcp://…`): reach --domain through libvirt's QEMU passthrough
    /// (default with --domain: `LIBVIRT_DEFAULT_URI`). Needs a `qmp` built
    /// with the `libvirt` feature.
    #[arg(long, global = true, value_name = "URI", env = "QMP_LIBVIRT_URI")]
    pub(crate) libvirt: Option<String>,
    /// A libvirt domain, by name or UUID (see --libvirt).
    #[arg(long, global = true, value_name = "NAME", env = "QMP_DOMAIN")]
    pub(crate) domain: Option<String>,
}

/// Where to connect.
pub(crate) enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
    /// A libvirt domain on the libvirt URI.
    Libvirt {
        uri: String,
        domain: String,
    },
}

impl Target {
    fn resolve(
        &self,
        socket_of: impl Fn(&std::path::Path, &str) -> PathBuf,
    ) -> CliResult<Endpoint> {
        if let Some(s) = &self.socket {
            return Ok(Endpoint::Unix(s.clone()));
        }
        if let Some(t) = &self.tcp {
            return Ok(Endpoint::Tcp(t.clone()));
        }
        if let Some(domain) = &self.domain {
            return Ok(Endpoint::Libvirt {
                uri: self.libvirt_uri()?,
                domain: domain.clone(),
            });
        }
        if self.libvirt.is_some() && self.vm.is_none() {
            return Err(Failure::msg(
                "--libvirt needs --domain NAME (or QMP_DOMAIN); `qmp list --libvirt URI` lists \
                 the domains",
            ));
        }
        let dir = crate::runtime::dir()?;
        if let Some(name) = &self.vm {
            crate::runtime::check_name(name).map_err(Failure::msg)?;
            let path = socket_of(&dir, name);
            if !path.exists() {
                let known = crate::runtime::vm_names(&dir);
                let hint = qmp_vm::close_matches(name, known.iter().map(String::as_str));
                let mut msg = format!("no VM `{name}` (no {})", path.display());
                if !hint.is_empty() {
                    msg.push_str(&format!("; did you mean `{}`?", hint.join("`, `")));
                }
                return Err(Failure::msg(msg));
            }
            return Ok(Endpoint::Unix(path));
        }
        match crate::runtime::vm_names(&dir).as_slice() {
            [one] => Ok(Endpoint::Unix(socket_of(&dir, one))),
            [] => Err(Failure::msg(format!(
                "no target: pass --socket PATH, --tcp HOST:PORT or --vm NAME (no VM in {})",
                dir.display()
            ))),
            many => Err(Failure::msg(format!(
                "several VMs ({}): choose one with --vm NAME",
                many.join(", ")
            ))),
        }
    }

    /// The libvirt URI: --libvirt (or `QMP_LIBVIRT_URI`), else
    /// `LIBVIRT_DEFAULT_URI`.
    pub(crate) fn libvirt_uri(&self) -> CliResult<String> {
        self.libvirt
            .clone()
            .or_else(|| std::env::var("LIBVIRT_DEFAULT_URI").ok())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                Failure::msg(
                    "--domain needs a libvirt URI: pass --libvirt URI (e.g. qemu:///system) or \
                     set QMP_LIBVIRT_URI or LIBVIRT_DEFAULT_URI",
                )
            })
    }

    /// The QMP endpoint.
    pub(crate) fn resolve_qmp(&self) -> CliResult<Endpoint> {
        self.resolve(crate::runtime::vm_socket)
    }

    /// The guest agent endpoint.
    pub(crate) fn resolve_ga(&self) -> CliResult<Endpoint> {
        self.resolve(crate::runtime::ga_socket)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Press keys together: `keys ctrl alt f2`; chords in turn: `keys ctrl c , ret`.
    ///
    /// The words name keys pressed together and released after the hold
    /// time (one `send-key`), so `ctrl alt f2`, `ctrl-alt-f2` and
    /// `ctrl+alt+f2` are the same chord. A `,` word of its own ends a
    /// chord and starts the next: `ctrl-c , ret` presses Ctrl+C, then
    /// Return. Key names are the QKeyCode values of the connected QEMU
    /// (`ret`, `spc`, `bracket_left`, `kp_add`, `comma`…) or aliases
    /// (`enter`, `space`, `win`, `pgup`, `esc`, `backspace`, `-`, `/`…).
    Keys {
        /// Milliseconds each chord is held (QEMU's default: 100).
        #[arg(long, visible_alias = "hold-time", value_name = "MS")]
        hold: Option<u64>,
        /// Keys pressed together (names may be joined by `-` or `+`); `,`
        /// starts the next chord (the comma key is `comma`).
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Type text on a US keyboard layout: printable ASCII, newline, return, tab.
    Type {
        /// Milliseconds each key is held (default 20).
        #[arg(long, visible_alias = "hold-time", value_name = "MS")]
        hold: Option<u64>,
        /// Read the text from a file (`-`: standard input).
        #[arg(long, short, value_name = "PATH", conflicts_with = "text")]
        file: Option<PathBuf>,
        /// Interpret `\n`, `\r`, `\t` and `\\` in the text.
        #[arg(long, short)]
        escapes: bool,
        /// The text; a newline or carriage return types Return.
        #[arg(allow_hyphen_values = true)]
        text: Option<String>,
    },
    /// Save a screenshot: PNG, or PPM for a `.ppm` name or `--format ppm`.
    Screendump {
        /// The file to write.
        path: PathBuf,
        /// The image format (default: by extension, else PNG).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// The display device's id (default: the primary console).
        #[arg(long)]
        device: Option<String>,
        /// The head of that device.
        #[arg(long, requires = "device")]
        head: Option<i64>,
    },
    /// Pause the guest (`stop`).
    Pause,
    /// Resume the guest (`cont`).
    Resume,
    /// Press the ACPI power button (`system_powerdown`).
    Powerdown,
    /// Reset the machine (`system_reset`).
    Reset,
    /// Wake a suspended guest (`system_wakeup`).
    Wakeup,
    /// Print the run state (`query-status`).
    Status,
    /// Hot-plug a device: `device-add e1000 --id net1 --netdev user1 mac=52:54:00:12:34:56`.
    DeviceAdd {
        /// The device type.
        driver: String,
        /// The device's id (needed to remove it).
        #[arg(long, visible_alias = "device-id")]
        id: Option<String>,
        /// Properties, as on QEMU's command line (`name=value`) or as
        /// options (`--name value`).
        #[arg(value_name = "PROP", allow_hyphen_values = true)]
        props: Vec<String>,
    },
    /// Unplug a device and wait until QEMU reports it gone (DEVICE_DELETED).
    DeviceDel {
        /// The device's id.
        id: String,
        /// Seconds to wait for DEVICE_DELETED.
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        wait: f64,
    },
    /// Print events as they come (JSON lines with --json).
    ///
    /// By default waits for one event; `-n N` for N, `--follow` for all.
    Events {
        /// Only these events (e.g. STOP RESUME).
        names: Vec<String>,
        /// Keep printing until interrupted (or --wait elapses).
        #[arg(long, short)]
        follow: bool,
        /// Stop after this many events.
        #[arg(long, short = 'n', conflicts_with = "follow")]
        count: Option<u64>,
        /// Give up after this many seconds (an error unless --follow).
        #[arg(long, value_name = "SECS")]
        wait: Option<f64>,
    },
    /// QEMU's object model: list, get, set, tree.
    Qom {
        #[command(subcommand)]
        command: QomCmd,
    },
    /// Run any QMP command, checking arguments against this QEMU's schema.
    ///
    /// Arguments are `key=value` or `--key value` words (dotted keys nest:
    /// `a.b=1`), or one JSON object. Values take the type the schema gives
    /// them; a boolean `--key` alone is true. An argument named like an
    /// option of qmp (`json`, `timeout`, `vm`, `socket`, `tcp`) is written
    /// `key=value`.
    Exec {
        /// The command, e.g. query-status.
        command: String,
        /// `key=value`…, `--key value`… or '{"key": value}'.
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a human monitor (HMP) command and print QEMU's text as it is:
    /// `hmp 'info version'`.
    ///
    /// Sent through QMP (`human-monitor-command`). Exits 1 when QEMU
    /// answers with a QMP error or its text starts with `Error: ` or
    /// `unknown command: '`, or has a line starting with `Try "help`;
    /// other complaints some HMP commands print as plain text (`drive_del`,
    /// `cpu`) are printed and exit 0. With --json, the text is printed as
    /// one JSON string.
    Hmp {
        /// The HMP command line, as one word or as several (then a word
        /// with spaces is sent in double quotes, as HMP reads strings).
        #[arg(required = true, allow_hyphen_values = true, value_name = "COMMAND")]
        command_line: Vec<String>,
    },
    /// An interactive QMP shell with history and completion; `!CMD` or
    /// `hmp` for HMP.
    Shell,
    /// Compare the QEMU's schema (`query-qmp-schema`) with the bindings
    /// this `qmp` was built with.
    ///
    /// Lists the commands, events, command arguments and enum values of
    /// arguments the QEMU has that the bindings lack, and the commands and
    /// required arguments the bindings have that it lacks. Introspection
    /// numbers type names, so everything is matched by name from the
    /// commands and events down. Exits 0 whatever the differences.
    SchemaDiff,
    /// The guest agent (target: --socket AGENT.sock or --vm NAME).
    Ga {
        #[command(subcommand)]
        command: GaCmd,
    },
    /// Start QEMU with its monitor at the VM's socket:
    /// `qmp launch vm1 -- -m 512 -display none`.
    Launch {
        /// The VM's name.
        name: String,
        /// The QEMU binary.
        #[arg(long, env = "QMP_QEMU", default_value = "qemu-system-x86_64")]
        qemu: PathBuf,
        /// Add a guest agent channel at NAME.ga.sock (virtio-serial).
        #[arg(long)]
        ga: bool,
        /// Run QEMU in the foreground until it exits.
        #[arg(long)]
        foreground: bool,
        /// QEMU's arguments, after `--`.
        #[arg(last = true)]
        args: Vec<OsString>,
    },
    /// Record a QMP session for tests: a proxy that listens on --listen,
    /// passes the one client that connects to the monitor (--socket,
    /// --tcp or --vm) and writes every message both ways to FILE.
    ///
    /// FILE is a transcript (JSON Lines, `{"client": ...}` and `{"qemu":
    /// ...}`) that `qmp_fake::FakeQemu::replay_file` plays back to a test.
    /// Prints `listening on PATH` once the client may connect, and exits
    /// when either side closes.
    Record {
        /// The transcript to write.
        file: PathBuf,
        /// The Unix socket the client connects to instead of the monitor.
        #[arg(long, value_name = "PATH")]
        listen: PathBuf,
    },
    /// List the VMs of the runtime directory, or with --libvirt URI the
    /// domains of that libvirt connection.
    List,
    /// The daemon that lets any number of clients share each VM's monitor.
    Daemon {
        #[command(subcommand)]
        command: DaemonCmd,
    },
    /// Print a completion script: `qmp completions bash > /etc/bash_completion.d/qmp`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Format {
    Png,
    Ppm,
}

impl From<Format> for qmp_vm::ImageFormat {
    fn from(f: Format) -> qmp_vm::ImageFormat {
        match f {
            Format::Png => qmp_vm::ImageFormat::Png,
            Format::Ppm => qmp_vm::ImageFormat::Ppm,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum QomCmd {
    /// List an object's properties.
    Ls {
        /// The object's path.
        #[arg(default_value = "/")]
        path: String,
    },
    /// Print a property's value.
    Get {
        /// The object's path.
        path: String,
        /// The property.
        property: String,
    },
    /// Set a property (the value is JSON, or else a string).
    Set {
        /// The object's path.
        path: String,
        /// The property.
        property: String,
        /// The value.
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Print the tree of objects.
    Tree {
        /// Where to start.
        #[arg(default_value = "/machine")]
        path: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum GaCmd {
    /// Check that the agent answers.
    Ping,
    /// The agent's version and commands.
    Info,
    /// Print a file of the guest.
    Cat {
        /// The file, in the guest.
        path: String,
    },
    /// File system freezing.
    Fsfreeze {
        #[command(subcommand)]
        command: FsfreezeCmd,
    },
    /// The guest's network interfaces.
    Network,
    /// Shut the guest down.
    Shutdown {
        /// How.
        #[arg(long, value_enum, default_value = "powerdown")]
        mode: ShutdownMode,
    },
    /// Reboot the guest.
    Reboot,
    /// Run a program in the guest, print its output, exit with its status.
    Exec {
        /// Feed this file to its standard input (`-`: ours).
        #[arg(long, value_name = "PATH")]
        input: Option<PathBuf>,
        /// The program (a path in the guest).
        program: String,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum FsfreezeCmd {
    /// `thawed` or `frozen`.
    Status,
    /// Freeze the guest's file systems.
    Freeze,
    /// Thaw them.
    Thaw,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ShutdownMode {
    Powerdown,
    Halt,
    Reboot,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DaemonCmd {
    /// Start the daemon (in the background unless --foreground).
    Start {
        /// Stay in the foreground; stop with Ctrl-C or SIGTERM.
        #[arg(long)]
        foreground: bool,
        /// Record each client's session in DIR/VM.N.jsonl (N counts the
        /// VM's clients from 1): what it sent and what the daemon sent it,
        /// as a transcript `qmp_fake::FakeQemu::replay_file` plays back.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
    },
    /// Stop the daemon; VMs keep running and get their sockets back.
    Stop,
    /// Print the daemon's pid, uptime and VMs.
    Status,
}
