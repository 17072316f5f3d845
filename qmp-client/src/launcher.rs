//! Starting a QEMU process with a private monitor socket.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::{Builder, Client, Error};

/// How the monitor socket is put on the command line.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `qemu-system-*`: `-qmp unix:PATH,server=off`. (The long form,
    /// `-chardev` with `-mon`, makes QEMU 11.1 warn that `-mon` is
    /// deprecated.)
    System,
    /// `qemu-storage-daemon`: `--chardev socket,...,server=off --monitor chardev=...`.
    StorageDaemon,
}

/// The chardev id of the launcher's monitor.
const MONITOR_ID: &str = "qmp-client-monitor";

/// Starts `qemu-system-*` or `qemu-storage-daemon` with a QMP monitor that
/// connects to a Unix socket the launcher listens on (see
/// [`Listener`](crate::Listener)), in a private (0700) temporary directory.
///
/// Since the socket exists before QEMU starts, there is nothing to wait
/// or poll for: QEMU connects as it sets up its monitor.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> Result<(), qmp_client::Error> {
/// let qemu = qmp_client::Launcher::new("qemu-system-x86_64")
///     .args(["-machine", "none", "-nodefaults", "-display", "none"])
///     .launch()
///     .await?;
/// println!("QEMU {}", qemu.client().version());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Launcher {
    program: PathBuf,
    args: Vec<OsString>,
    kind: Kind,
    client: Builder,
    start_timeout: Duration,
}

impl Launcher {
    /// Runs the `qemu-system-*` binary `program`.
    pub fn new(program: impl Into<PathBuf>) -> Launcher {
        Launcher {
            program: program.into(),
            args: Vec::new(),
            kind: Kind::System,
            client: Builder::default(),
            start_timeout: Duration::from_secs(10),
        }
    }

    /// Runs the `qemu-storage-daemon` binary `program`.
    pub fn storage_daemon(program: impl Into<PathBuf>) -> Launcher {
        Launcher {
            kind: Kind::StorageDaemon,
            ..Launcher::new(program)
        }
    }

    /// Adds one command-line argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Launcher {
        self.args.push(arg.into());
        self
    }

    /// Adds command-line arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Launcher {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Settings for the client. A [reconnect policy](Builder::reconnect)
    /// is not used: the launched QEMU does not come back.
    pub fn client(mut self, builder: Builder) -> Launcher {
        self.client = builder;
        self
    }

    /// How long QEMU may take to connect to its monitor socket (10 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Launcher {
        self.start_timeout = timeout;
        self
    }

    /// Listens on the monitor socket, starts QEMU and accepts its
    /// connection.
    ///
    /// # Errors
    ///
    /// [`Error::Launch`] if QEMU cannot start, exits early (its standard
    /// error is quoted) or does not connect in time; [`Error::Io`] if the
    /// socket cannot be made; the errors of [`Builder::connect_stream`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills QEMU.
    pub async fn launch(self) -> Result<Qemu, Error> {
        let dir = PrivateDir::new()?;
        let socket = dir.path.join("qmp.sock");
        let stderr_path = dir.path.join("stderr.log");
        let client = self.client.without_reconnect();
        let listener = client.clone().listen_unix(&socket).await?;
        let mut cmd = tokio::process::Command::new(&self.program);
        // QEMU's option syntax escapes a comma by doubling it.
        let sock = socket.display().to_string().replace(',', ",,");
        match self.kind {
            Kind::System => cmd.arg("-qmp").arg(format!("unix:{sock},server=off")),
            Kind::StorageDaemon => cmd
                .arg("--chardev")
                .arg(format!("socket,id={MONITOR_ID},path={sock},server=off"))
                .arg("--monitor")
                .arg(format!("chardev={MONITOR_ID}")),
        };
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut child = cmd
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::Launch(format!("cannot run {}: {e}", self.program.display())))?;
        let pid = child.id();
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let (status_tx, mut status) = watch::channel(None);
        tokio::spawn(async move {
            let exit = tokio::select! {
                s = child.wait() => s,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            if let Ok(s) = exit {
                let _ = status_tx.send(Some(s));
            }
        });

        let accepted = tokio::select! {
            accepted = tokio::time::timeout(self.start_timeout, listener.accept_stream()) => accepted,
            exited = status.wait_for(Option::is_some) => {
                let s = exited.ok().and_then(|s| *s).unwrap_or_else(default_status);
                let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(Error::Launch(format!(
                    "QEMU exited ({s}) before connecting to its monitor: {}",
                    err.trim()
                )));
            }
        };
        let stream = accepted.map_err(|_| {
            Error::Launch(format!(
                "QEMU did not connect to its monitor socket within {:?}",
                self.start_timeout
            ))
        })??;
        drop(listener);
        // Until `Qemu` owns `kill_tx`, an early return drops it, which kills QEMU.
        let client = client.connect_unix_stream(stream).await?;
        client.watch_exit(status.clone());
        Ok(Qemu {
            client,
            pid,
            kill: Some(kill_tx),
            status,
            dir,
        })
    }
}

/// A running QEMU started by a [`Launcher`], with a connected [`Client`].
///
/// Dropping it kills QEMU (SIGKILL), reaps it in the background and
/// removes its temporary directory.
#[derive(Debug)]
pub struct Qemu {
    client: Client,
    pid: Option<u32>,
    kill: Option<oneshot::Sender<()>>,
    status: watch::Receiver<Option<ExitStatus>>,
    dir: PrivateDir,
}

impl Qemu {
    /// The client connected to QEMU's monitor.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// QEMU's process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The private directory the monitor socket was made in; it is
    /// removed with `self`. A place for other sockets and files QEMU
    /// needs.
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// QEMU's exit status, if it has exited.
    pub fn try_status(&self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    /// Waits for QEMU to exit (e.g. after `quit`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait(&self) -> ExitStatus {
        let mut rx = self.status.clone();
        let s = rx.wait_for(Option::is_some).await;
        s.ok().and_then(|s| *s).unwrap_or_else(default_status)
    }

    /// Kills QEMU with SIGKILL and waits until it is reaped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the kill is sent at once; the reaping continues in
    /// the background.
    pub async fn kill(&mut self) -> ExitStatus {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        self.wait().await
    }
}

fn default_status() -> ExitStatus {
    // Only reached if the monitor task was torn down with the runtime.
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(9)
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
    }
}

/// A temporary directory only the current user can enter.
#[derive(Debug)]
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn new() -> Result<PrivateDir, Error> {
        use std::os::unix::fs::DirBuilderExt;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "qmp-client-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
