//! The reconnect policy against real QEMU 7.2, 10.0 and 11.1: QEMU is
//! killed and started again on the same socket path (or never again).

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use qmp_client::{Builder, Client, Error, EventError, Reconnect};
use qmp_types::qmp::{Event, EventName, QmpCommands as _, RunState};
use tokio::process::Child;

every_release!(restarted_qemu, gives_up);

/// A monitor-only QEMU serving QMP on `sock`, named `name`.
fn qemu_at(rel: Release, sock: &Path, name: &str) -> Child {
    tokio::process::Command::new(rel.bin("qemu-system-x86_64"))
        .args(["-machine", "none", "-nodefaults", "-display", "none"])
        .args(["-name", name])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start QEMU")
}

/// The first connection: QEMU creates its socket some time after it
/// starts, and nothing announces it, so this retries for up to 10 s.
async fn connect_when_ready(builder: Builder, sock: &Path) -> Client {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match builder.clone().connect_unix(sock).await {
            Ok(qmp) => return qmp,
            Err(e) if Instant::now() > deadline => panic!("QEMU opened no socket: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Freezes QEMU (SIGSTOP) so that commands sent to it stay in flight.
fn freeze(qemu: &Child) {
    let pid = qemu.id().expect("QEMU runs").to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap();
    assert!(stopped.success());
}

fn policy() -> Reconnect {
    Reconnect::new()
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(100))
        .give_up_after(Some(Duration::from_secs(15)))
}

/// QEMU is killed with a command in flight and started again on the same
/// path: the command fails with `Disconnected`, a command issued
/// meanwhile waits and runs on the new QEMU, the subscribers see the
/// marker and then the new QEMU's events.
async fn restarted_qemu(rel: Release) {
    let dir = tempdir();
    let sock = dir.join("qmp.sock");
    let mut first = qemu_at(rel, &sock, "first");
    let qmp = connect_when_ready(Client::builder().reconnect(policy()), &sock).await;
    assert_eq!(
        qmp.query_name().await.unwrap().name.as_deref(),
        Some("first")
    );
    let mut raw = qmp.subscribe();
    let mut typed = qmp.subscribe_to([EventName::Stop]).typed::<Event>();
    let mut waiting = qmp.subscribe_to([EventName::Stop]);

    // A command in flight at the kill: QEMU is frozen, so it cannot
    // answer. The request is queued by the future's first poll and the
    // writer keeps the order, so once the no-reply command after it is
    // written, it is written too.
    freeze(&first);
    let in_flight = qmp.query_status();
    let (in_flight, waited) = tokio::join!(in_flight, async {
        qmp.execute(FireAndForget {}).await.unwrap();
        let waited = tokio::spawn(async move {
            waiting
                .wait_for(|e: &qmp_client::RawEvent| e.name == "STOP")
                .await
        });
        first.kill().await.unwrap();
        waited.await.unwrap()
    });
    assert!(
        matches!(in_flight, Err(Error::Disconnected { .. })),
        "{in_flight:?}"
    );
    assert!(
        matches!(waited, Err(Error::Disconnected { .. })),
        "wait_for reports the loss: {waited:?}"
    );
    assert!(!qmp.is_connected());

    // Issued while nothing listens: a short timeout expires, a long one
    // waits for the new QEMU.
    let short = qmp.with_timeout(Some(Duration::from_millis(100)));
    let expired = short.query_status().await;
    assert!(matches!(expired, Err(Error::Timeout { .. })), "{expired:?}");
    let waiter = tokio::spawn({
        let qmp = qmp.with_timeout(Some(Duration::from_secs(15)));
        async move { qmp.query_name().await }
    });
    let start = Instant::now();
    let mut second = qemu_at(rel, &sock, "second");
    let name = waiter.await.unwrap().expect("runs on the new QEMU");
    assert_eq!(name.name.as_deref(), Some("second"));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(qmp.is_connected());
    let (major, minor) = rel.major_minor();
    assert_eq!(
        (qmp.version().qemu.major, qmp.version().qemu.minor),
        (major, minor)
    );
    assert!(qmp.greeting().capabilities.iter().any(|c| c == "oob"));
    assert!(qmp.oob_enabled(), "oob negotiated again");
    assert!(qmp.supports("query-status"), "command list read again");
    assert!(!qmp.supports("x-no-such-command"));
    // OOB on the new connection: query-yank allows it.
    qmp.query_yank().await.unwrap();

    // The marker, then the new QEMU's events, raw and typed.
    qmp.stop().await.unwrap();
    assert!(matches!(
        raw.next().await,
        Some(Err(EventError::Reconnecting))
    ));
    let stop = raw.next().await.unwrap().unwrap();
    assert_eq!(stop.name, "STOP");
    assert!(matches!(
        typed.next().await,
        Some(Err(EventError::Reconnecting))
    ));
    assert!(matches!(typed.next().await, Some(Ok(Event::Stop))));
    assert_eq!(qmp.query_status().await.unwrap().status, RunState::Paused);

    second.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// QEMU never comes back: after the give-up time the client is
/// disconnected for good, the waiting command fails with
/// `Disconnected` (not its longer timeout), and the streams end.
async fn gives_up(rel: Release) {
    let dir = tempdir();
    let sock = dir.join("qmp.sock");
    let mut qemu = qemu_at(rel, &sock, "only");
    let give_up = Duration::from_millis(600);
    let builder = Client::builder()
        .timeout(Some(Duration::from_secs(10)))
        .reconnect(policy().give_up_after(Some(give_up)));
    let qmp = connect_when_ready(builder, &sock).await;
    let mut events = qmp.subscribe();
    qemu.kill().await.unwrap();
    // Once the marker is out, the client knows and is reconnecting.
    assert!(matches!(
        events.next().await,
        Some(Err(EventError::Reconnecting))
    ));
    let start = Instant::now();
    let result = qmp.query_status().await;
    let took = start.elapsed();
    assert!(
        matches!(result, Err(Error::Disconnected { .. })),
        "{result:?}"
    );
    assert!(
        took >= give_up / 2 && took < Duration::from_secs(3),
        "gave up after {took:?}"
    );
    assert!(events.next().await.is_none(), "the stream ends");
    assert!(!qmp.is_connected());
    // Later commands fail at once; a new subscription ends at once.
    let start = Instant::now();
    assert!(matches!(
        qmp.query_status().await,
        Err(Error::Disconnected { .. })
    ));
    assert!(start.elapsed() < Duration::from_millis(100));
    assert!(qmp.subscribe().next().await.is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Over TCP, against a scripted peer (to drop the connection at a chosen
/// point): eight commands in flight fail with `Disconnected`, a ninth
/// that waited for a slot was never sent and runs on the new connection,
/// whose greeting the client then reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_unsent_command_runs_on_the_new_connection() {
    timed(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let builder = Client::builder().check_commands(false).reconnect(policy());
        let (qmp, mut peer) = tokio::join!(builder.connect_tcp(addr), Peer::accept(&listener, 7));
        let qmp = qmp.unwrap();
        assert_eq!(qmp.version().qemu.major, 7);
        let calls: Vec<_> = (0..9)
            .map(|_| {
                let qmp = qmp.clone();
                tokio::spawn(async move { qmp.query_status().await })
            })
            .collect();
        for _ in 0..8 {
            assert_eq!(peer.recv().await["execute"], "query-status");
        }
        drop(peer);
        let mut peer = Peer::accept(&listener, 9).await;
        let req = peer.recv().await;
        assert_eq!(req["execute"], "query-status");
        peer.reply(
            &req,
            serde_json::json!({ "status": "paused", "running": false }),
        )
        .await;
        let mut disconnected = 0;
        let mut paused = 0;
        for call in calls {
            match call.await.unwrap() {
                Err(Error::Disconnected { .. }) => disconnected += 1,
                Ok(s) if s.status == RunState::Paused => paused += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((disconnected, paused), (8, 1));
        assert_eq!(qmp.version().qemu.major, 9);
        assert_eq!(qmp.version().package, "scripted");
    })
    .await
}

/// The scripted end of a TCP connection.
struct Peer {
    rd: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl Peer {
    /// Accepts a connection, greets as QEMU `major`.0.0 and accepts the
    /// negotiation.
    async fn accept(listener: &tokio::net::TcpListener, major: u32) -> Peer {
        let (stream, _) = listener.accept().await.unwrap();
        let (rd, wr) = stream.into_split();
        let mut peer = Peer {
            rd: tokio::io::BufReader::new(rd),
            wr,
        };
        let greeting = serde_json::json!({ "QMP": {
            "version": { "qemu": { "major": major, "minor": 0, "micro": 0 }, "package": "scripted" },
            "capabilities": ["oob"],
        }});
        peer.send(format!("{greeting}\r\n")).await;
        let req = peer.recv().await;
        assert_eq!(req["execute"], "qmp_capabilities");
        peer.reply(&req, serde_json::json!({})).await;
        peer
    }

    async fn recv(&mut self) -> serde_json::Value {
        use tokio::io::AsyncBufReadExt as _;
        let mut line = String::new();
        let n = self.rd.read_line(&mut line).await.unwrap();
        assert!(n > 0, "client closed the connection");
        serde_json::from_str(&line).unwrap()
    }

    async fn send(&mut self, text: String) {
        use tokio::io::AsyncWriteExt as _;
        self.wr.write_all(text.as_bytes()).await.unwrap();
    }

    async fn reply(&mut self, req: &serde_json::Value, ret: serde_json::Value) {
        let msg = serde_json::json!({ "return": ret, "id": req["id"] });
        self.send(format!("{msg}\r\n")).await;
    }
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "qmp-client-reconnect-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
