//! Shared helpers for the tests that run the `qmp` binary against real
//! QEMU, qemu-ga and a real Linux guest.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use qemu_test_support::{Release, workspace};

pub mod checks;

/// The binary's own module for the runtime directory's file names, so
/// that the tests and `qmp` agree on them.
#[path = "../../src/runtime.rs"]
pub mod runtime;

/// The `qmp` binary under test.
pub fn qmp_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qmp"))
}

/// A unique private directory under the system's temporary directory,
/// removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::os::unix::fs::DirBuilderExt;
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "qmp-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .expect("create a temporary directory");
        TempDir { path }
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Builds the test guest (kernel + busybox initramfs) once into
/// `target/guest` with `ci/make-guest.sh`, and returns its directory.
pub fn guest_dir() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace().join("target/guest");
    // `guest-agent`: built with qemu-ga (an older build lacks it).
    if dir.join("vmlinuz").is_file()
        && dir.join("initrd.img").is_file()
        && dir.join("guest-agent").exists()
    {
        return dir;
    }
    let script = workspace().join("ci/make-guest.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success() && dir.join("vmlinuz").is_file(),
        "building the test guest failed; run `sudo ci/make-guest.sh target/guest` (as root, on \
         Debian 12: it downloads Debian's kernel and busybox-static with apt-get)\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Runs `qmp ARGS` with a time limit; returns its output.
pub fn qmp(args: &[&str]) -> Output {
    qmp_env(args, &[])
}

/// Runs `qmp ARGS` with extra environment variables.
pub fn qmp_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(qmp_bin());
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env_remove("QMP_SOCKET")
        .env_remove("QMP_VM")
        .env_remove("QMP_LIBVIRT_URI")
        .env_remove("QMP_DOMAIN")
        .env_remove("LIBVIRT_DEFAULT_URI");
    run_limited(cmd, Duration::from_secs(60))
}

/// Runs `cmd`, killing it after `limit`.
pub fn run_limited(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cmd.get_program().to_string_lossy()));
    let id = child.id();
    let done = Arc::new(Mutex::new(false));
    let d2 = done.clone();
    let killer = std::thread::spawn(move || {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if *d2.lock().unwrap() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
    });
    let out = child.wait_with_output().expect("wait for qmp");
    *done.lock().unwrap() = true;
    let _ = killer.join();
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns standard output.
#[track_caller]
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "qmp failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Asserts failure with exit status 1 and returns standard error.
#[track_caller]
pub fn fails(o: Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit status 1:\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(err.starts_with("qmp: error: "), "{err}");
    err
}

/// Waits until `path` accepts connections.
pub fn wait_socket(path: &Path, limit: Duration) {
    let end = Instant::now() + limit;
    while UnixStream::connect(path).is_err() {
        assert!(Instant::now() < end, "{} never opened", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A QEMU process with QMP sockets `qmp.sock` (main) and `aux.sock`, and
/// the first serial port on `serial.sock`.
pub struct Vm {
    pub dir: TempDir,
    pub proc: Proc,
    pub serial: Option<UnixStream>,
    pub release: Release,
}

impl Vm {
    /// Starts QEMU with `args` added.
    pub fn start(release: Release, tag: &str, args: &[&str]) -> Vm {
        let dir = TempDir::new(tag);
        let qmp = dir.join("qmp.sock");
        let aux = dir.join("aux.sock");
        let serial = dir.join("serial.sock");
        let log = std::fs::File::create(dir.join("qemu.log")).unwrap();
        let child = Command::new(release.qemu())
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", aux.display()))
            .arg("-serial")
            .arg(format!("unix:{},server=on,wait=off", serial.display()))
            .args(["-display", "none", "-accel", "tcg", "-m", "256"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start QEMU");
        let proc = Proc(child);
        wait_socket(&qmp, Duration::from_secs(20));
        wait_socket(&aux, Duration::from_secs(20));
        // The socket file appears when QEMU binds it, a moment before it
        // listens: until then a connection is refused.
        let end = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match UnixStream::connect(&serial) {
                Ok(s) => break s,
                Err(e) => assert!(Instant::now() < end, "serial socket: {e}"),
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Vm {
            serial: Some(stream),
            dir,
            proc,
            release,
        }
    }

    /// A PC machine with no guest (SeaBIOS finds nothing to boot).
    pub fn machine(release: Release, tag: &str) -> Vm {
        Vm::start(
            release,
            tag,
            &[
                "-machine",
                "pc",
                "-nodefaults",
                "-device",
                "qemu-xhci,id=xhci",
            ],
        )
    }

    /// The test guest, booted to its shell.
    pub fn guest(release: Release, tag: &str) -> Vm {
        Vm::guest_with(release, tag, &[])
    }

    /// The test guest with QEMU arguments `extra` added, booted to its
    /// shell.
    pub fn guest_with(release: Release, tag: &str, extra: &[&str]) -> Vm {
        let g = guest_dir();
        let kernel = g.join("vmlinuz");
        let initrd = g.join("initrd.img");
        let mut vm = Vm::start(
            release,
            tag,
            &[
                "-kernel",
                kernel.to_str().unwrap(),
                "-initrd",
                initrd.to_str().unwrap(),
                "-append",
                "console=ttyS0 quiet",
                "-device",
                "qemu-xhci,id=xhci",
            ]
            .iter()
            .chain(extra)
            .copied()
            .collect::<Vec<_>>(),
        );
        vm.wait_serial("GUEST-READY", Duration::from_secs(60));
        vm
    }

    pub fn socket(&self) -> String {
        self.dir.join("qmp.sock").display().to_string()
    }

    pub fn aux(&self) -> String {
        self.dir.join("aux.sock").display().to_string()
    }

    /// `qmp --socket MAIN ARGS`.
    pub fn qmp(&self, args: &[&str]) -> Output {
        let sock = self.socket();
        let mut all = vec!["--socket", sock.as_str()];
        all.extend_from_slice(args);
        qmp(&all)
    }

    /// Reads the serial port until `marker` has been seen; returns all
    /// bytes read.
    pub fn wait_serial(&mut self, marker: &str, limit: Duration) -> Vec<u8> {
        read_until(self.serial.as_mut().expect("serial"), marker, limit)
    }
}

/// Reads the serial port `s` until `marker` has been seen; returns all
/// bytes read.
pub fn read_until(s: &mut UnixStream, marker: &str, limit: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let end = Instant::now() + limit;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if buf.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            return buf;
        }
        assert!(
            Instant::now() < end,
            "no {marker:?} on the serial port within {limit:?}; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        match s.read(&mut chunk) {
            Ok(0) => panic!(
                "serial port closed; got {:?}",
                String::from_utf8_lossy(&buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
}

/// A relay between a client and a QMP socket that records what the
/// client sends, to show what reached QEMU.
pub struct Recorder {
    pub path: PathBuf,
    pub sent: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    pub fn new(dir: &Path, upstream: PathBuf) -> Recorder {
        let path = dir.join("recorder.sock");
        let listener = UnixListener::bind(&path).expect("bind recorder");
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut up) = UnixStream::connect(&upstream) else {
                    return;
                };
                let mut up_rd = up.try_clone().unwrap();
                let mut client_wr = client.try_clone().unwrap();
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut up_rd, &mut client_wr);
                    let _ = client_wr.shutdown(std::net::Shutdown::Both);
                });
                let mut buf = [0u8; 4096];
                loop {
                    match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            log.lock().unwrap().extend_from_slice(&buf[..n]);
                            if up.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = up.shutdown(std::net::Shutdown::Both);
                let _ = t.join();
            }
        });
        Recorder { path, sent }
    }

    pub fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned()
    }
}

/// Runs `body` on a thread and fails the test if it takes longer than
/// `limit`.
pub fn within(limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        body();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => h.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("test took longer than {limit:?}")
        }
    }
}

/// Stops the daemon and kills the VMs of a runtime directory, whatever
/// happens.
pub struct Cleanup(pub PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let dir = self.0.join("qmp");
        if let Some(pid) = runtime::live_pid(&runtime::daemon_pid(&dir)) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(vm) = name.strip_suffix(".pid")
                && vm != "daemon"
                && let Some(pid) = runtime::live_pid(&entry.path())
            {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}
