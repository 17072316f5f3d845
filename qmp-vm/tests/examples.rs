//! The first programs of `examples/` (`first_*.rs`) run as a user runs
//! them, against real QEMU 7.2 and 10.0 and their `qemu-ga`: each test
//! starts what the example talks to, runs the example's binary, and
//! checks its exit status, what it printed and what it left behind.
//!
//! `cargo test -p qmp-vm` builds the examples before running this;
//! `cargo test --test examples` alone does not, and [`example`] refuses
//! a binary older than its source.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use qemu_test_support::Release;

/// The example's binary, built next to this test's (`target/debug/examples`).
fn example(name: &str) -> PathBuf {
    qemu_test_support::example_binary(env!("CARGO_PKG_NAME"), env!("CARGO_MANIFEST_DIR"), name)
}

/// Runs example `name` with `args`; returns its output and, for messages,
/// everything it printed.
fn run(name: &str, args: &[&Path]) -> (Output, String) {
    let out = Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"));
    let shown = format!(
        "{name}: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, shown)
}

/// Panics unless `stdout` has each of `lines` (as substrings, in order).
fn assert_lines(stdout: &[u8], lines: &[&str], shown: &str) {
    let stdout = String::from_utf8_lossy(stdout);
    let mut rest = &*stdout;
    for want in lines {
        match rest.find(want) {
            Some(at) => rest = &rest[at + want.len()..],
            None => panic!("expected {want:?} (in this order) in the output of\n{shown}"),
        }
    }
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "qmp-vm-examples-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits until `sock` exists (the program listens), for up to 10 s.
fn wait_socket(sock: &Path, child: &mut Proc) {
    let start = Instant::now();
    while !sock.exists() {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("{} exited before listening: {status}", sock.display());
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} did not appear in 10 s",
            sock.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The guest agent of `rel`, on this host, on a Unix socket: ping, info,
/// and `uname -r` whose output is this machine's kernel release.
fn first_guest_agent(rel: Release) {
    let dir = TempDir::new("ga");
    let sock = dir.0.join("ga.sock");
    let mut agent = Proc(
        Command::new(rel.bin("qemu-ga"))
            .args(["-m", "unix-listen", "-p"])
            .arg(&sock)
            .arg("-t")
            .arg(&dir.0)
            .arg("-f")
            .arg(dir.0.join("qemu-ga.pid"))
            // Nothing here may stop or freeze the host.
            .args(["-b", "guest-shutdown,guest-suspend-disk,guest-suspend-ram"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start qemu-ga"),
    );
    wait_socket(&sock, &mut agent);

    let release = Command::new("uname").arg("-r").output().unwrap();
    let release = String::from_utf8(release.stdout).unwrap();
    let (major, minor) = rel.major_minor();
    let (out, shown) = run("first_guest_agent", &[&sock]);
    assert!(out.status.success(), "{shown}");
    assert_lines(
        &out.stdout,
        &[
            "ping: the agent answers",
            &format!("qemu-ga {major}.{minor}."),
            " commands enabled",
            &format!("uname -r exited with Some(0): {}", release.trim_end()),
        ],
        &shown,
    );
}

/// Status, pause and resume, a PNG screenshot of the VGA card, keys and
/// text, on a PC machine of `rel` with a second QMP socket for the
/// example.
fn first_automation(rel: Release) {
    let dir = TempDir::new("vm");
    let sock = dir.0.join("vm.qmp");
    let png = dir.0.join("screen.png");
    let mut qemu = Proc(
        Command::new(rel.qemu())
            .args(["-machine", "pc", "-accel", "tcg", "-m", "64"])
            .args(["-display", "none", "-nodefaults", "-device", "VGA"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .stdin(Stdio::null())
            .spawn()
            .expect("start QEMU"),
    );
    wait_socket(&sock, &mut qemu);

    let (out, shown) = run("first_automation", &[&sock, &png]);
    assert!(out.status.success(), "{shown}");
    assert_lines(
        &out.stdout,
        &[
            "status: Running",
            "paused: Paused",
            "resumed: Running",
            &format!("screendump: {} (", png.display()),
            "keys: ctrl-alt-f2",
            "typed: hello",
        ],
        &shown,
    );
    // A real PNG of the size it reported.
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}\n{shown}", png.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG\n{shown}"
    );
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("({width}x{height})")),
        "the PNG is {width}x{height}\n{shown}"
    );
    assert!(width >= 320 && height >= 200, "{width}x{height}");
}

#[test]
fn first_guest_agent_qemu_7_2() {
    first_guest_agent(Release::V7_2);
}

#[test]
fn first_guest_agent_qemu_10_0() {
    first_guest_agent(Release::V10_0);
}

#[test]
fn first_automation_qemu_7_2() {
    first_automation(Release::V7_2);
}

#[test]
fn first_automation_qemu_10_0() {
    first_automation(Release::V10_0);
}

/// Without arguments, or with sockets nobody listens on, both examples
/// say why and exit non-zero.
#[test]
fn failures_exit_non_zero() {
    let dir = TempDir::new("none");
    let nowhere = dir.0.join("nobody.sock");
    for name in ["first_guest_agent", "first_automation"] {
        let (out, shown) = run(name, &[]);
        assert!(!out.status.success(), "{shown}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("usage:"),
            "{shown}"
        );
        let (out, shown) = run(name, &[&nowhere, &dir.0.join("x.png")]);
        assert!(!out.status.success(), "{shown}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Error"),
            "{shown}"
        );
    }
}
