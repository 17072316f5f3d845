//! Listen mode against real QEMU 7.2, 10.0 and 11.1: the client binds the
//! socket and QEMU (`server=off`) connects to it; the launcher works that
//! way.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use qmp_client::{Client, Error, Launcher};
use qmp_types::qmp::QmpCommands as _;

every_release!(qemu_connects, launcher, launcher_reports_early_exit);

/// QEMU started with a client-mode monitor connects to the listener; the
/// accepted client runs commands and can pass descriptors.
async fn qemu_connects(rel: Release) {
    let dir = tempdir();
    let sock = dir.join("mon.sock");
    let listener = Client::builder().listen_unix(&sock).await.unwrap();
    assert_eq!(listener.path(), sock);
    let mut qemu = tokio::process::Command::new(rel.bin("qemu-system-x86_64"))
        .args(["-machine", "none", "-nodefaults", "-display", "none"])
        .arg("-chardev")
        .arg(format!("socket,id=mon,path={},server=off", sock.display()))
        .args(monitor_option(rel))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let qmp = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("QEMU connects within 10 s")
        .unwrap();
    let (major, minor) = rel.major_minor();
    assert_eq!(
        (qmp.version().qemu.major, qmp.version().qemu.minor),
        (major, minor)
    );
    assert!(qmp.oob_enabled());
    assert!(qmp.query_status().await.unwrap().running);
    assert!(qmp.can_pass_fds());

    // A second listener on the same path is refused, naming the path.
    let taken = Client::builder().listen_unix(&sock).await.unwrap_err();
    assert!(
        matches!(&taken, Error::Io(e) if e.to_string().contains("mon.sock")),
        "{taken:?}"
    );
    // Dropping the listener removes the socket file, not the connection.
    drop(listener);
    assert!(!sock.exists());
    assert!(qmp.query_status().await.unwrap().running);

    qemu.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The launcher listens and QEMU connects: a command runs, and the
/// listening socket is gone once QEMU is connected.
async fn launcher(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    assert!(qmp.query_status().await.unwrap().running);
    assert!(qmp.can_pass_fds());
    assert!(!qemu.dir().join("qmp.sock").exists());
}

/// QEMU that exits before connecting fails the launch at once, quoting
/// its standard error, instead of waiting for the start timeout.
async fn launcher_reports_early_exit(rel: Release) {
    let start = std::time::Instant::now();
    let err = Launcher::new(rel.bin("qemu-system-x86_64"))
        .args(["-machine", "none", "-no-such-option"])
        .start_timeout(Duration::from_secs(20))
        .launch()
        .await
        .unwrap_err();
    match &err {
        Error::Launch(msg) => {
            assert!(msg.contains("exited"), "{msg}");
            assert!(msg.contains("no-such-option"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// The monitor on chardev `mon`: `-mon`, which QEMU 11.1 deprecates in
/// favour of a `monitor-qmp` object.
fn monitor_option(rel: Release) -> [&'static str; 2] {
    if rel.major_minor() >= (11, 0) {
        ["-object", "monitor-qmp,id=qmp0,chardev=mon"]
    } else {
        ["-mon", "chardev=mon,mode=control"]
    }
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "qmp-client-listen-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
