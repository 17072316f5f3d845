//! The first programs of `examples/` (`first_*.rs`) run as a user runs
//! them, against real QEMU 7.2 and 10.0: each test starts a QEMU with a
//! QMP socket, runs the example's binary on it, and checks its exit
//! status and what it printed (and, where it changed the VM, the VM).
//!
//! `cargo test -p qmp-client` builds the examples before running this;
//! `cargo test --test examples` alone does not, and [`example`] refuses
//! a binary older than its source.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use qmp_client::{Launcher, Qemu};
use qmp_types::qmp::{QmpCommands as _, RunState};

every_release!(
    first_status,
    first_hotplug,
    first_send_key,
    first_concurrency,
    first_error,
);

/// The example's binary, built next to this test's (`target/debug/examples`).
fn example(name: &str) -> PathBuf {
    qemu_test_support::example_binary(env!("CARGO_PKG_NAME"), env!("CARGO_MANIFEST_DIR"), name)
}

/// What a run of an example left: exit success, stdout, stderr.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Panics, showing the whole output, unless the run succeeded and its
    /// stdout has every line of `lines` (as substrings, in that order).
    fn expect(&self, lines: &[&str]) {
        assert!(self.ok, "example failed:\n{self}");
        let mut rest = self.stdout.as_str();
        for want in lines {
            match rest.find(want) {
                Some(at) => rest = &rest[at + want.len()..],
                None => panic!("expected {want:?} (in this order) in the output:\n{self}"),
            }
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "success: {}\n--- stdout\n{}--- stderr\n{}",
            self.ok, self.stdout, self.stderr
        )
    }
}

/// Runs example `name` with `args`, within 20 seconds.
async fn run(name: &str, args: &[&str]) -> Run {
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(example(name))
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("example {name} did not finish in 20 s"))
    .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"));
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A PC machine (default VGA, a USB controller) with a second QMP
/// monitor on a Unix socket for the example; the launcher's own monitor
/// stays with the test. Returns QEMU and the socket's path.
async fn vm(rel: Release) -> (Qemu, String) {
    let dir = tempdir();
    let sock = dir.join("vm.qmp").display().to_string();
    let qemu = Launcher::new(rel.qemu())
        .args(["-machine", "pc", "-accel", "tcg", "-m", "64"])
        .args(["-display", "none", "-device", "qemu-xhci"])
        .arg("-qmp")
        .arg(format!("unix:{sock},server=on,wait=off"))
        .launch()
        .await
        .expect("launch QEMU");
    (qemu, sock)
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "qmp-client-examples-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Status, stop, the STOP event, cont: the guest runs again afterwards.
async fn first_status(rel: Release) {
    let (qemu, sock) = vm(rel).await;
    let (major, minor) = rel.major_minor();
    run("first_status", &[&sock]).await.expect(&[
        &format!("connected to QEMU {major}.{minor}."),
        "status: Running (running: true)",
        "event: STOP",
        "status: Paused",
        "status: Running",
    ]);
    assert_eq!(
        qemu.client().query_status().await.unwrap().status,
        RunState::Running
    );
}

/// The keyboard appears under its id, DEVICE_DELETED comes, and it is gone.
async fn first_hotplug(rel: Release) {
    let (qemu, sock) = vm(rel).await;
    run("first_hotplug", &[&sock]).await.expect(&[
        "added usb-kbd with id kbd1",
        "/machine/peripheral/kbd1 is a \"usb-kbd\"",
        "event: DEVICE_DELETED {",
        "\"device\":\"kbd1\"",
        "/machine/peripheral/kbd1 is gone: DeviceNotFound",
    ]);
    let left = qemu.client().qom_list("/machine/peripheral").await.unwrap();
    assert!(!left.iter().any(|p| p.name == "kbd1"), "{left:?}");
}

/// QEMU accepts the chord (an unknown key or a bad hold time would fail).
async fn first_send_key(rel: Release) {
    let (_qemu, sock) = vm(rel).await;
    run("first_send_key", &[&sock])
        .await
        .expect(&["sent ctrl-alt-f2"]);
}

/// Four tasks finish their commands, the join sees this QEMU, the short
/// timeout fires and the connection survives it.
async fn first_concurrency(rel: Release) {
    let (_qemu, sock) = vm(rel).await;
    let (major, minor) = rel.major_minor();
    let joined = format!("joined: status Running, QEMU {major}.{minor}.");
    let mut lines: Vec<String> = (0..4)
        .map(|t| format!("task {t}: 10 query-status done"))
        .collect();
    lines.push(joined);
    lines.push("query-qmp-schema: ".into());
    lines.push("no SHUTDOWN: timed out after 200ms".into());
    lines.push("still connected: Running".into());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    run("first_concurrency", &[&sock]).await.expect(&lines);
}

/// The typed classes: GenericError for a bad driver, DeviceNotFound for a
/// missing device.
async fn first_error(rel: Release) {
    let (_qemu, sock) = vm(rel).await;
    run("first_error", &[&sock]).await.expect(&[
        "device_add: GenericError: ",
        "no-such-device-model",
        "device_del: DeviceNotFound: ",
        "no-such-id",
        "qom-get: ",
    ]);
}

/// Without a socket, or with one nobody listens on, every example says
/// why and exits non-zero.
#[tokio::test]
async fn failures_exit_non_zero() {
    let dir = tempdir();
    let nowhere = dir.join("nobody.qmp").display().to_string();
    for name in [
        "first_status",
        "first_hotplug",
        "first_send_key",
        "first_concurrency",
        "first_error",
    ] {
        let usage = run(name, &[]).await;
        assert!(!usage.ok, "{name} without arguments:\n{usage}");
        assert!(usage.stderr.contains("usage:"), "{name}:\n{usage}");
        let refused = run(name, &[&nowhere]).await;
        assert!(!refused.ok, "{name} on {nowhere}:\n{refused}");
        assert!(refused.stderr.contains("Error"), "{name}:\n{refused}");
    }
}
