//! Decoding tolerates what other QEMU releases send, and fails clearly on
//! what no release would.

use qmp_types::qmp::commands::SendKey;
use qmp_types::qmp::{Event, KeyValue, QKeyCode, QmpCommands, RunState, StatusInfo, VersionInfo};
use qmp_types::{Command, EventMessage, Execute, Release};
use serde_json::{Value, json};

/// A transport that records what it would send and replies from a script.
struct Recorder {
    sent: std::sync::Mutex<Vec<Value>>,
    reply: Value,
}

impl Recorder {
    fn new(reply: Value) -> Recorder {
        Recorder {
            sent: std::sync::Mutex::new(Vec::new()),
            reply,
        }
    }
}

impl Execute for Recorder {
    type Protocol = qmp_types::Qmp;
    type Error = serde_json::Error;

    fn execute<C: Command<Protocol = qmp_types::Qmp>>(
        &self,
        command: C,
    ) -> impl Future<Output = Result<C::Output, Self::Error>> + Send {
        let args = serde_json::to_value(&command).unwrap();
        self.sent
            .lock()
            .unwrap()
            .push(json!({ "execute": C::NAME, "arguments": args }));
        let reply = self.reply.clone();
        async move { serde_json::from_value(reply) }
    }
}

/// Runs a future that never waits.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    match f.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the recorder never waits"),
    }
}

#[test]
fn send_key_method_sends_the_wire_form() {
    let client = Recorder::new(json!({}));
    now(client.send_key(
        vec![
            KeyValue::Qcode(QKeyCode::Ctrl),
            KeyValue::from(QKeyCode::Alt),
            KeyValue::Number(0x1d),
        ],
        Some(100),
    ))
    .unwrap();
    let sent = client.sent.lock().unwrap();
    assert_eq!(
        sent[0],
        json!({"execute": "send-key", "arguments": {
            "keys": [
                {"type": "qcode", "data": "ctrl"},
                {"type": "qcode", "data": "alt"},
                {"type": "number", "data": 29}
            ],
            "hold-time": 100
        }})
    );
}

#[test]
fn query_method_decodes_the_reply() {
    let client = Recorder::new(json!({"running": true, "status": "running", "singlestep": false}));
    let status: StatusInfo = now(client.query_status()).unwrap();
    assert!(status.running);
    assert_eq!(status.status, RunState::Running);
}

#[test]
fn unknown_enum_value_is_kept() {
    let v: RunState = serde_json::from_value(json!("hibernating-in-2030")).unwrap();
    assert_eq!(v.as_str(), "hibernating-in-2030");
    assert!(matches!(v, RunState::Unknown(_)));
    assert_eq!(
        serde_json::to_value(&v).unwrap(),
        json!("hibernating-in-2030")
    );
    assert_eq!("paused".parse::<RunState>().unwrap(), RunState::Paused);
    assert_eq!(RunState::Paused.to_string(), "paused");
    assert!(RunState::values().contains(&"paused"));
}

#[test]
fn unknown_union_branch_is_kept() {
    let wire = json!({"type": "scancode-2030", "data": 7});
    let v: KeyValue = serde_json::from_value(wire.clone()).unwrap();
    let KeyValue::Unknown(u) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(u.tag(), "scancode-2030");
    assert_eq!(serde_json::to_value(&v).unwrap(), wire);
}

#[test]
fn unknown_event_is_kept() {
    let wire = json!({
        "event": "TIME_TRAVEL", "data": {"year": 1985},
        "timestamp": {"seconds": 1, "microseconds": 2}
    });
    let m: EventMessage<Event> = serde_json::from_value(wire.clone()).unwrap();
    assert!(matches!(&m.event, Event::Unknown { name, .. } if name == "TIME_TRAVEL"));
    assert_eq!(m.timestamp.microseconds, 2);
    assert_eq!(serde_json::to_value(&m).unwrap(), wire);
}

#[test]
fn known_event_decodes_with_its_data() {
    let m: EventMessage<Event> = serde_json::from_value(json!({
        "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"},
        "timestamp": {"seconds": 1700000000, "microseconds": 5}
    }))
    .unwrap();
    match m.event {
        Event::Shutdown(data) => assert!(data.guest),
        other => panic!("{other:?}"),
    }
    let stop: Event = serde_json::from_value(json!({"event": "STOP"})).unwrap();
    assert_eq!(stop, Event::Stop);
    assert_eq!(stop.name(), "STOP");
}

#[test]
fn extra_member_is_ignored() {
    let v: StatusInfo = serde_json::from_value(json!({
        "running": false, "status": "paused", "singlestep": false, "added-in-2030": [1]
    }))
    .unwrap();
    assert_eq!(v.status, RunState::Paused);
}

#[test]
fn member_of_another_release_may_be_missing() {
    // `singlestep` was dropped after 7.2; 10.x replies lack it.
    let v: StatusInfo =
        serde_json::from_value(json!({"running": true, "status": "running"})).unwrap();
    assert_eq!(v.singlestep, None);
}

#[test]
fn missing_required_member_is_a_located_error() {
    let reply = json!({"qemu": {"major": 10, "minor": 0}, "package": ""});
    let err = qmp_types::decode::<VersionInfo, _>(&reply).unwrap_err();
    assert_eq!(err.path(), "qemu");
    assert_eq!(err.message(), "missing field `micro`");
    // Deeper, through an array: the index and the members inside it.
    let good = json!({"qemu": {"major": 10, "minor": 0, "micro": 2}, "package": ""});
    let bad = json!({"qemu": {"major": "ten", "minor": 0, "micro": 2}, "package": ""});
    let err = qmp_types::decode::<Vec<VersionInfo>, _>(&json!([good, bad])).unwrap_err();
    assert_eq!(err.path(), "[1].qemu.major");
    assert!(
        err.message().starts_with("invalid type: string \"ten\""),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("at [1].qemu.major: {}", err.message())
    );
}

#[test]
fn commands_know_their_releases() {
    assert!(SendKey::available_in(Release::new(7, 2)));
    assert!(SendKey::available_in(Release::new(11, 0)));
    assert!(!SendKey::available_in(Release::new(1, 2)));
    assert_eq!(SendKey::NAME, "send-key");
}

#[test]
fn alternate_branch_of_a_newer_release_is_kept() {
    use qmp_types::qmp::StrOrNull;
    // StrOrNull takes a string or null; a later QEMU could add, say, an
    // integer branch. The value decodes, is kept, and encodes back.
    let v: StrOrNull = serde_json::from_value(json!(42)).unwrap();
    assert_eq!(v, StrOrNull::Unknown(json!(42)));
    assert_eq!(serde_json::to_value(&v).unwrap(), json!(42));
    // Inside a reply, the rest still decodes.
    let known: StrOrNull = serde_json::from_value(json!("node0")).unwrap();
    assert_eq!(known, StrOrNull::S("node0".into()));
}
