//! Fault injection: a scripted peer plays QEMU (or qemu-ga) over a socket
//! pair and misbehaves in one way per test. The client must fail only what
//! is affected, never hang and never panic.

mod common;

use std::time::Duration;

use common::*;
use qmp_client::{Builder, Client, Error, EventError, GuestAgent, RawEvent};
use qmp_types::qga::GuestAgentCommands as _;
use qmp_types::qmp::{QmpCommands as _, RunState};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "scripted"}, "capabilities": ["oob"]}}"#;

/// The scripted end of the connection.
struct Peer {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Peer {
    async fn recv(&mut self) -> Value {
        let mut line = String::new();
        let n = self.rd.read_line(&mut line).await.unwrap();
        assert!(n > 0, "client closed the connection");
        serde_json::from_str(&line).unwrap()
    }

    async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.wr.write_all(bytes.as_ref()).await.unwrap();
    }

    async fn reply(&mut self, req: &Value, ret: Value) {
        let msg = json!({ "return": ret, "id": req["id"] });
        self.send(format!("{msg}\r\n")).await;
    }
}

/// Asserts that the connection still carries a command after a fault:
/// a `query-status` the peer answers succeeds.
async fn still_works(qmp: &Client, peer: &mut Peer) {
    let call = tokio::spawn({
        let qmp = qmp.clone();
        async move { qmp.query_status().await }
    });
    let req = peer.recv().await;
    peer.reply(&req, json!({ "status": "running", "running": true }))
        .await;
    assert!(
        call.await.unwrap().is_ok(),
        "the connection no longer works"
    );
}

fn event(name: &str, n: u64) -> String {
    format!(
        "{{\"timestamp\": {{\"seconds\": 1700000000, \"microseconds\": {n}}}, \"event\": \"{name}\", \"data\": {{\"n\": {n}}}}}\r\n"
    )
}

/// Connects a client to a scripted peer that greets and accepts the
/// negotiation.
async fn scripted(builder: Builder) -> (Client, Peer) {
    scripted_after(builder, "").await
}

/// Like [`scripted`], with `before` sent ahead of the greeting.
async fn scripted_after(builder: Builder, before: &str) -> (Client, Peer) {
    let (a, b) = UnixStream::pair().unwrap();
    let (rd, wr) = b.into_split();
    let mut peer = Peer {
        rd: BufReader::new(rd),
        wr,
    };
    let server = async {
        peer.send(format!("{before}{GREETING}\r\n")).await;
        let req = peer.recv().await;
        assert_eq!(req["execute"], "qmp_capabilities");
        assert_eq!(req["arguments"], json!({ "enable": ["oob"] }));
        peer.reply(&req, json!({})).await;
    };
    let (client, ()) = tokio::join!(builder.check_commands(false).connect_stream(a), server);
    (client.unwrap(), peer)
}

macro_rules! fault_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            timed(scenarios::$name()).await
        }
    )*};
}

fault_tests!(
    garbage_bytes,
    oversized_message,
    half_message_then_eof,
    unknown_id,
    error_without_id,
    event_flood,
    zero_timeout_fails_at_once,
    peer_never_replies,
    cancelled_command,
    wrong_reply_type,
    reset_mid_command,
    at_most_eight_in_flight,
    no_response_command,
    not_a_greeting,
    event_before_greeting,
    guest_agent_resync,
);

mod scenarios {
    use super::*;

    /// Garbage lines are dropped; the reply after them still arrives.
    pub(super) async fn garbage_bytes() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let call = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_status().await }
        });
        let req = peer.recv().await;
        peer.send(b"\x01\x02\xff\xfe garbage {{{\r\n[1,2]\n{\"unknown\": 1}\n\n\"str\"\n")
            .await;
        peer.reply(&req, json!({ "status": "running", "running": true }))
            .await;
        assert!(call.await.unwrap().unwrap().running);
    }

    /// A message over the size limit fails its command (found by the id at
    /// its end) and nothing else.
    pub(super) async fn oversized_message() {
        let (qmp, mut peer) = scripted(Client::builder().max_message_size(4096)).await;
        let call = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.qom_list("/").await }
        });
        let req = peer.recv().await;
        let big: Vec<Value> = (0..1000)
            .map(|i| json!({ "name": format!("p{i}"), "type": "str" }))
            .collect();
        peer.reply(&req, Value::Array(big)).await;
        match call.await.unwrap() {
            Err(Error::Protocol(msg)) => {
                assert!(msg.contains("exceeds the limit of 4096"), "{msg}")
            }
            other => panic!("{other:?}"),
        }
        // An oversized event is dropped; the next command works.
        let mut events = qmp.subscribe();
        peer.send(format!("{{\"timestamp\": {{\"seconds\": 1, \"microseconds\": 0}}, \"event\": \"X\", \"data\": \"{}\"}}\r\n", "y".repeat(10_000))).await;
        peer.send(event("SMALL", 1)).await;
        still_works(&qmp, &mut peer).await;
        assert_eq!(events.next().await.unwrap().unwrap().name, "SMALL");
    }

    /// A message cut off by EOF: the waiter gets `Disconnected`, later calls
    /// fail at once, event streams end.
    pub(super) async fn half_message_then_eof() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let mut events = qmp.subscribe();
        let call = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_status().await }
        });
        let req = peer.recv().await;
        peer.send(format!(
            "{{\"return\": {{\"status\": \"running\", \"running\": true}}, \"id\": {}",
            req["id"]
        ))
        .await;
        drop(peer);
        assert!(matches!(
            call.await.unwrap(),
            Err(Error::Disconnected { status: None })
        ));
        assert!(matches!(
            qmp.query_status().await,
            Err(Error::Disconnected { .. })
        ));
        assert!(events.next().await.is_none());
        assert!(!qmp.is_connected());
    }

    /// Replies with ids nobody waits for are dropped.
    pub(super) async fn unknown_id() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let call = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_status().await }
        });
        let req = peer.recv().await;
        peer.send("{\"return\": {\"status\": 1}, \"id\": 999999}\r\n{\"return\": {}, \"id\": \"text\"}\r\n{\"id\": 424242, \"error\": {\"class\": \"C\", \"desc\": \"d\"}}\r\n").await;
        peer.reply(&req, json!({ "status": "paused", "running": false }))
            .await;
        assert_eq!(call.await.unwrap().unwrap().status, RunState::Paused);
    }

    /// An error without an id fails the only command in flight with QEMU's
    /// error, or every command in flight with an explanation.
    pub(super) async fn error_without_id() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let one = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_status().await }
        });
        peer.recv().await;
        peer.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n")
            .await;
        match one.await.unwrap() {
            Err(Error::Qmp { class, desc }) => assert_eq!(
                (class.as_str(), desc.as_str()),
                ("GenericError", "JSON parse error")
            ),
            other => panic!("{other:?}"),
        }
        let calls: Vec<_> = (0..3)
            .map(|_| {
                let qmp = qmp.clone();
                tokio::spawn(async move { qmp.query_status().await })
            })
            .collect();
        for _ in 0..3 {
            peer.recv().await;
        }
        peer.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"oops\"}}\r\n")
            .await;
        for c in calls {
            match c.await.unwrap() {
                Err(Error::Protocol(msg)) => {
                    assert!(
                        msg.contains(
                            "without an id while 3 commands were in flight: GenericError: oops"
                        ),
                        "{msg}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// 20,000 events while commands run: replies are not delayed, a
    /// subscriber that does not read keeps only its buffer and reports how
    /// many it lost, and a filtered subscriber loses nothing.
    pub(super) async fn event_flood() {
        let (qmp, mut peer) = scripted(Client::builder().event_buffer(16)).await;
        let mut slow = qmp.subscribe();
        let mut filtered = qmp.subscribe_to(["RARE"]);
        let runner = tokio::spawn({
            let qmp = qmp.clone();
            async move {
                for _ in 0..50 {
                    qmp.query_status().await.unwrap();
                }
            }
        });
        let mut sent = 0u64;
        for round in 0..50 {
            let req = peer.recv().await;
            let mut burst = String::new();
            for _ in 0..400 {
                burst.push_str(&event("FLOOD", sent));
                sent += 1;
            }
            if round % 10 == 0 {
                burst.push_str(&event("RARE", round));
            }
            peer.send(burst).await;
            peer.reply(&req, json!({ "status": "running", "running": true }))
                .await;
        }
        runner.await.unwrap();
        let total = sent + 5;
        match slow.next().await.unwrap() {
            Err(EventError::Lagged { lost }) => assert_eq!(lost, total - 16),
            other => panic!("{other:?}"),
        }
        let mut kept = Vec::new();
        for _ in 0..16 {
            kept.push(slow.next().await.unwrap().unwrap());
        }
        assert_eq!(kept.last().unwrap().name, "FLOOD");
        assert_eq!(kept.last().unwrap().data["n"], sent - 1);
        for round in (0..50).step_by(10) {
            let e: RawEvent = filtered.next().await.unwrap().unwrap();
            assert_eq!(
                (e.name.as_str(), e.data["n"].as_u64()),
                ("RARE", Some(round))
            );
        }
    }

    /// A zero timeout is not "no limit": a command the peer does not
    /// answer at once fails, as `Builder::timeout` documents, and the
    /// connection stays usable.
    pub(super) async fn zero_timeout_fails_at_once() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let zero = qmp.with_timeout(Some(Duration::ZERO));
        let err = zero.query_status().await.unwrap_err();
        assert!(
            matches!(err, Error::Timeout { after } if after.is_zero()),
            "{err}"
        );
        let next = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_status().await }
        });
        // The zero-timeout command may or may not have reached the peer:
        // answer what comes until the second command has its reply.
        for _ in 0..2 {
            let req = peer.recv().await;
            let reply = json!({"return": {"running": true, "status": "running"}, "id": req["id"]});
            peer.send(format!("{reply}\n")).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            if next.is_finished() {
                break;
            }
        }
        assert!(next.await.unwrap().unwrap().running);
    }

    /// A command that gets no reply times out; the connection stays usable
    /// and the late reply is dropped.
    pub(super) async fn peer_never_replies() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let quick = qmp.with_timeout(Some(Duration::from_millis(100)));
        let lost = tokio::spawn(async move { quick.query_status().await });
        let ignored = peer.recv().await;
        assert!(
            matches!(lost.await.unwrap(), Err(Error::Timeout { after }) if after == Duration::from_millis(100))
        );
        let next = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_status().await }
        });
        let req = peer.recv().await;
        peer.reply(&ignored, json!({ "status": "late", "running": false }))
            .await;
        peer.reply(&req, json!({ "status": "running", "running": true }))
            .await;
        assert_eq!(next.await.unwrap().unwrap().status, RunState::Running);
    }

    /// Dropping a command's future leaves the connection usable.
    pub(super) async fn cancelled_command() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let dropped = tokio::select! {
            r = qmp.query_status() => Some(r),
            _ = tokio::time::sleep(Duration::from_millis(50)) => None,
        };
        assert!(dropped.is_none());
        let first = peer.recv().await;
        let next = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_version().await }
        });
        let req = peer.recv().await;
        peer.reply(&first, json!({ "status": "late", "running": false }))
            .await;
        peer.reply(
            &req,
            json!({ "qemu": { "major": 7, "minor": 2, "micro": 0 }, "package": "" }),
        )
        .await;
        assert_eq!(next.await.unwrap().unwrap().qemu.minor, 2);
    }

    /// A reply of the wrong shape is a `Decode` error with its path; the
    /// next command works.
    pub(super) async fn wrong_reply_type() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let call = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.qom_list("/").await }
        });
        let req = peer.recv().await;
        peer.reply(
            &req,
            json!([{ "name": "a", "type": "str" }, { "name": "b", "type": 7 }]),
        )
        .await;
        match call.await.unwrap() {
            Err(Error::Decode {
                command, path, raw, ..
            }) => {
                assert_eq!(command, "qom-list");
                assert_eq!(path, "[1].type");
                assert!(raw.contains("\"type\":7"), "{raw}");
            }
            other => panic!("{other:?}"),
        }
        still_works(&qmp, &mut peer).await;
    }

    /// The connection is reset while commands wait.
    pub(super) async fn reset_mid_command() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let calls: Vec<_> = (0..5)
            .map(|_| {
                let qmp = qmp.clone();
                tokio::spawn(async move { qmp.query_status().await })
            })
            .collect();
        peer.recv().await;
        drop(peer);
        for c in calls {
            assert!(matches!(c.await.unwrap(), Err(Error::Disconnected { .. })));
        }
    }

    /// At most eight in-band commands are on the wire at once; the rest
    /// queue and follow as replies come. OOB commands do not count.
    pub(super) async fn at_most_eight_in_flight() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let qmp = qmp.clone();
                tokio::spawn(async move { qmp.query_status().await })
            })
            .collect();
        let mut waiting = Vec::new();
        for _ in 0..8 {
            waiting.push(peer.recv().await);
        }
        let oob = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_yank().await }
        });
        let req = peer.recv().await;
        assert_eq!(
            req["exec-oob"], "query-yank",
            "only the OOB command passes: {req}"
        );
        peer.reply(&req, json!([])).await;
        assert!(oob.await.unwrap().unwrap().is_empty());
        let mut answered = 0;
        while let Some(req) = waiting.pop() {
            assert_eq!(req["execute"], "query-status");
            peer.reply(&req, json!({ "status": "running", "running": true }))
                .await;
            answered += 1;
            if answered + waiting.len() < 20 {
                waiting.insert(0, peer.recv().await);
            }
        }
        assert_eq!(answered, 20);
        for c in calls {
            assert!(c.await.unwrap().is_ok());
        }
    }

    /// A command declared without a success response resolves once sent.
    pub(super) async fn no_response_command() {
        let (qmp, mut peer) = scripted(Client::builder()).await;
        qmp.execute(&FireAndForget {}).await.unwrap();
        let req = peer.recv().await;
        assert_eq!(req["execute"], "x-fire-and-forget");
        assert!(
            req.get("arguments").is_none(),
            "empty arguments are omitted: {req}"
        );
    }

    /// An event ahead of the greeting (real QEMU sends RESUME there when
    /// a starting VM races a new connection) is skipped, not an error.
    pub(super) async fn event_before_greeting() {
        let (qmp, _peer) = scripted_after(Client::builder(), &event("RESUME", 1)).await;
        assert_eq!(qmp.version().qemu.major, 7);
    }

    /// A peer that does not greet is refused.
    pub(super) async fn not_a_greeting() {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"{\"return\": {}}\r\n").await.unwrap();
        let err = Client::builder().connect_stream(a).await.unwrap_err();
        assert!(
            matches!(&err, Error::Protocol(m) if m.contains("expected a greeting")),
            "{err:?}"
        );
        let (a, b) = UnixStream::pair().unwrap();
        let err = Client::builder()
            .connect_timeout(Duration::from_millis(50))
            .connect_stream(a)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NoGreeting { .. }), "{err:?}");
        assert!(err.is_timeout());
        assert!(err.to_string().contains("another client may hold"), "{err}");
        drop(b);
    }

    /// A guest agent whose output holds stale replies: the client skips up
    /// to the delimiter, ignores replies with other ids, and resynchronises
    /// after a timeout.
    pub(super) async fn guest_agent_resync() {
        let (a, b) = UnixStream::pair().unwrap();
        let (rd, wr) = b.into_split();
        let mut peer = Peer {
            rd: BufReader::new(rd),
            wr,
        };
        async fn expect_sync(peer: &mut Peer) -> u64 {
            let first = peer.rd.read_u8().await.unwrap();
            assert_eq!(first, 0xff);
            let req = peer.recv().await;
            assert_eq!(req["execute"], "guest-sync-delimited");
            req["arguments"]["id"].as_u64().unwrap()
        }
        let server = async {
            let id = expect_sync(&mut peer).await;
            // Stale output from an earlier client, then the delimiter.
            peer.send(b"{\"return\": {}, \"id\": 1}\n{\"return\": 5\xff")
                .await;
            peer.send(format!("{{\"return\": {id}}}\n")).await;
            peer
        };
        let (ga, mut peer) = tokio::join!(
            GuestAgent::connect_stream(a, Some(Duration::from_millis(200))),
            server
        );
        let ga = ga.unwrap();

        let (r, ()) = tokio::join!(ga.guest_ping(), async {
            let req = peer.recv().await;
            assert_eq!(req["execute"], "guest-ping");
            peer.send(format!(
                "{{\"return\": {{\"stale\": true}}, \"id\": {}}}\n",
                req["id"].as_u64().unwrap() + 100
            ))
            .await;
            peer.reply(&req, json!({})).await;
        });
        r.unwrap();

        // No reply: timeout; the next call resynchronises first.
        let (r, ()) = tokio::join!(ga.guest_get_time(), async {
            peer.recv().await;
        });
        assert!(r.unwrap_err().is_timeout());
        let (r, ()) = tokio::join!(ga.guest_get_time(), async {
            let id = expect_sync(&mut peer).await;
            peer.send(b"{\"return\": 1, \"id\": 2}\n\xff").await;
            peer.send(format!("{{\"return\": {id}}}\n")).await;
            let req = peer.recv().await;
            assert_eq!(req["execute"], "guest-get-time");
            peer.reply(&req, json!(1234)).await;
        });
        assert_eq!(r.unwrap(), 1234);
    }
}
