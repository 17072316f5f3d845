//! A private libvirtd for tests: its own configuration, state and sockets,
//! so it never meets the machine's own libvirt, and everything it started
//! dies with it.
//!
//! The daemon runs as root in new mount and PID namespaces (`unshare`):
//! libvirt's fixed paths (`/etc/libvirt`, `/run/libvirt`, `/var/lib/libvirt`,
//! `/var/cache/libvirt`, `/var/log/libvirt`) are bind mounts of the test's
//! directory. The namespace's first process is a shell waiting for
//! libvirtd: it reaps the QEMUs libvirt daemonizes (else libvirt waits
//! 40 s for each capability probe to die), and when it is killed the
//! kernel kills every process of the namespace. Its Unix socket is reached
//! from outside at `DIR/run/libvirt-sock`; with [`Libvirtd::start_tcp`] it
//! also listens on `127.0.0.1` without authentication.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The fix to name when libvirt is missing.
const INSTALL: &str = "install libvirt: `sudo bash ci/install-libvirt.sh` (Debian 12: \
                       libvirt-daemon-system libvirt-clients libvirt-dev pkg-config)";

/// A running private libvirtd; stopped (with all its domains) on drop.
pub struct Libvirtd {
    dir: PathBuf,
    child: Child,
    /// The URI of its Unix socket: `qemu:///system?socket=…`.
    pub uri: String,
    /// The URI of its TCP listener on loopback, when it has one:
    /// `qemu+tcp://127.0.0.1:PORT/system`.
    pub tcp_uri: Option<String>,
}

fn unique_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "libvirtd-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the libvirtd test directory");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Libvirtd {
    /// Starts a private libvirtd with only a Unix socket.
    ///
    /// # Panics
    /// If libvirt is not installed or the daemon does not come up, naming
    /// the fix or showing its log.
    pub fn start(tag: &str) -> Libvirtd {
        Libvirtd::launch(tag, None)
    }

    /// Starts a private libvirtd that also listens on `127.0.0.1` (TCP,
    /// no authentication: loopback only, for tests).
    ///
    /// # Panics
    /// As for [`Libvirtd::start`].
    pub fn start_tcp(tag: &str) -> Libvirtd {
        Libvirtd::launch(tag, Some(free_port()))
    }

    fn launch(tag: &str, port: Option<u16>) -> Libvirtd {
        for program in ["libvirtd", "virsh", "unshare"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(found, "`{program}` not found: {INSTALL}");
        }
        let dir = unique_dir(tag);
        for sub in ["etc", "run", "lib", "cache", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let listen = match port {
            Some(p) => format!(
                "listen_tls = 0\nlisten_tcp = 1\ntcp_port = \"{p}\"\nlisten_addr = \"127.0.0.1\"\n\
                 auth_tcp = \"none\"\n"
            ),
            None => "listen_tls = 0\nlisten_tcp = 0\n".into(),
        };
        std::fs::write(
            dir.join("etc/libvirtd.conf"),
            format!(
                "{listen}unix_sock_group = \"root\"\nunix_sock_rw_perms = \"0700\"\n\
                 auth_unix_ro = \"none\"\nauth_unix_rw = \"none\"\nlog_outputs = \"3:stderr\"\n"
            ),
        )
        .unwrap();
        // Run QEMU as root with no confinement libvirt cannot set up here
        // (cgroups, its own /dev, security labels), and without virtlogd.
        std::fs::write(
            dir.join("etc/qemu.conf"),
            "user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\n\
             security_driver = \"none\"\ncgroup_controllers = [ ]\nnamespaces = [ ]\n\
             stdio_handler = \"file\"\n",
        )
        .unwrap();
        let d = dir.display();
        let script = format!(
            "set -e; mkdir -p /run/libvirt; \
             mount --bind {d}/etc /etc/libvirt; mount --bind {d}/run /run/libvirt; \
             mount --bind {d}/lib /var/lib/libvirt; mount --bind {d}/cache /var/cache/libvirt; \
             mount --bind {d}/log /var/log/libvirt; \
             libvirtd {} -p /run/libvirt/libvirtd.pid -f /etc/libvirt/libvirtd.conf & wait $!",
            if port.is_some() { "--listen" } else { "" }
        );
        let log = std::fs::File::create(dir.join("libvirtd.log")).unwrap();
        let child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run unshare: {e}; {INSTALL}"));
        let sock = dir.join("run/libvirt-sock");
        let mut daemon = Libvirtd {
            uri: format!("qemu:///system?socket={}", sock.display()),
            tcp_uri: port.map(|p| format!("qemu+tcp://127.0.0.1:{p}/system")),
            dir,
            child,
        };
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = daemon.child.try_wait().unwrap() {
                panic!(
                    "libvirtd exited ({status}) at start:\n{}",
                    daemon.log_tail()
                );
            }
            if sock.exists() && daemon.virsh(&["version"]).status.success() {
                break;
            }
            assert!(
                Instant::now() < end,
                "libvirtd did not answer within 30 s:\n{}",
                daemon.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(port) = port {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < end,
                    "libvirtd does not listen on 127.0.0.1:{port}:\n{}",
                    daemon.log_tail()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        daemon
    }

    /// The daemon's directory (configuration, state, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last lines of the daemon's log and of each QEMU log, for
    /// failure messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        let mut logs = vec![self.dir.join("libvirtd.log")];
        if let Ok(rd) = std::fs::read_dir(self.dir.join("log/qemu")) {
            logs.extend(rd.flatten().map(|e| e.path()));
        }
        for path in logs {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!(
                "--- {}\n{}\n",
                path.display(),
                lines[lines.len().saturating_sub(30)..].join("\n")
            ));
        }
        out
    }

    /// Runs `virsh -c URI ARGS` against this daemon.
    pub fn virsh(&self, args: &[&str]) -> Output {
        Command::new("virsh")
            .arg("-c")
            .arg(&self.uri)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run virsh")
    }

    /// Creates (starts, undefined: it vanishes when stopped) a domain from
    /// `xml`, paused if `paused`.
    ///
    /// # Panics
    /// If libvirt refuses it, with libvirt's and QEMU's logs.
    pub fn create(&self, name: &str, xml: &str, paused: bool) {
        let path = self.dir.join(format!("{name}.xml"));
        std::fs::write(&path, xml).unwrap();
        let path = path.display().to_string();
        let mut args = vec!["create", path.as_str()];
        if paused {
            args.push("--paused");
        }
        let out = self.virsh(&args);
        assert!(
            out.status.success(),
            "virsh create {name} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
    }
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        // Killing the namespace's first process kills every QEMU in it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// XML for a TCG domain running the test guest (`kernel`, `initrd`: see
/// `ci/make-guest.sh`) with its first serial port on the Unix socket
/// `serial` (QEMU listens), a VGA display, the `emulator` QEMU, and a
/// guest agent channel.
pub fn guest_domain_xml(
    name: &str,
    emulator: &Path,
    kernel: &Path,
    initrd: &Path,
    serial: &Path,
) -> String {
    format!(
        "<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{}</kernel>
    <initrd>{}</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <devices>
    <emulator>{}</emulator>
    <serial type='unix'>
      <source mode='bind' path='{}'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <video><model type='vga'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
",
        kernel.display(),
        initrd.display(),
        emulator.display(),
        serial.display()
    )
}

/// XML for a TCG domain with no guest at all (SeaBIOS finds nothing to
/// boot): enough for monitor commands and events.
pub fn empty_domain_xml(name: &str, emulator: &Path) -> String {
    format!(
        "<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>{}</emulator>
    <memballoon model='none'/>
  </devices>
</domain>
",
        emulator.display()
    )
}
