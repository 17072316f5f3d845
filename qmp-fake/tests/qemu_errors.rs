//! The fake answers bad requests exactly as a real QEMU 10.0 does: the
//! same lines go to a real QEMU and to `FakeQemu::new(10.0)`, and each
//! error's class and text must be the same.

use std::path::Path;
use std::time::{Duration, Instant};

use qemu_test_support::Release as Qemu;
use qmp_fake::FakeQemu;
use qmp_types::Release;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// Requests that QEMU refuses, sent in this order on one session: the
/// negotiation ones first, then the rest once capabilities are agreed.
const LINES: &[&str] = &[
    // Before negotiation.
    r#"{"execute":"query-status"}"#,
    r#"{"execute":"nope"}"#,
    r#"{"execute":"qmp_capabilities","arguments":{"enable":["bogus"]}}"#,
    r#"{"execute":"qmp_capabilities","arguments":{"x":1}}"#,
    r#"{"execute":"qmp_capabilities","arguments":{"enable":"oob"}}"#,
    r#"{"execute":"qmp_capabilities","id":"negotiate"}"#,
    r#"{"execute":"qmp_capabilities"}"#,
    // Wrong command.
    r#"{"execute":"nope","id":1}"#,
    // In 10.2, not in 10.0.
    r#"{"execute":"qom-list-get","arguments":{"paths":["/"]},"id":2}"#,
    // In 7.2, removed before 10.0.
    r#"{"execute":"x-query-rdma"}"#,
    // Wrong argument name.
    r#"{"execute":"query-status","arguments":{"x":1},"id":{"nested":[1]}}"#,
    r#"{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"a","zz":1}]}}"#,
    r#"{"execute":"query-cpu-model-expansion","arguments":{"type":"full","model":{"name":"x","x":1}}}"#,
    // Missing argument.
    r#"{"execute":"human-monitor-command"}"#,
    r#"{"execute":"send-key","arguments":{"keys":[{"type":"qcode"}]}}"#,
    r#"{"execute":"send-key","arguments":{"keys":[{"data":"a"}]}}"#,
    r#"{"execute":"blockdev-add","arguments":{"node-name":"a"}}"#,
    r#"{"execute":"blockdev-add","arguments":{"driver":"qcow2","file":{"driver":"file"},"zz":1}}"#,
    r#"{"execute":"input-send-event","arguments":{"events":[{"type":"abs"}]}}"#,
    r#"{"execute":"query-cpu-model-expansion","arguments":{"model":{"name":"x","x":1},"y":2}}"#,
    // Wrong type.
    r#"{"execute":"human-monitor-command","arguments":{"command-line":5}}"#,
    r#"{"execute":"human-monitor-command","arguments":{"command-line":"info status","cpu-index":"a"}}"#,
    r#"{"execute":"send-key","arguments":{"keys":{"type":"qcode"}}}"#,
    r#"{"execute":"send-key","arguments":{"keys":[5]}}"#,
    r#"{"execute":"send-key","arguments":{"keys":[{"type":"number","data":"a"}]}}"#,
    r#"{"execute":"send-key","arguments":{"keys":[],"hold-time":1.5}}"#,
    r#"{"execute":"send-key","arguments":{"keys":[],"hold-time":9223372036854775808}}"#,
    r#"{"execute":"set_link","arguments":{"name":"x","up":"yes"}}"#,
    r#"{"execute":"input-send-event","arguments":{"events":[{"type":"abs","data":{"axis":"x","value":"y"}}]}}"#,
    r#"{"execute":"input-send-event","arguments":{"events":[{"type":"abs","data":5}]}}"#,
    r#"{"execute":"query-cpu-model-expansion","arguments":{"type":5,"model":{"name":"x"}}}"#,
    r#"{"execute":"netdev_add","arguments":{"type":"user","id":"n","ipv4":"x"}}"#,
    // Integers of a size.
    r#"{"execute":"migrate-set-parameters","arguments":{"multifd-channels":300}}"#,
    r#"{"execute":"migrate-set-parameters","arguments":{"multifd-channels":-1}}"#,
    r#"{"execute":"migrate-set-parameters","arguments":{"multifd-channels":"x"}}"#,
    r#"{"execute":"migrate-set-parameters","arguments":{"downtime-limit":1.5}}"#,
    r#"{"execute":"migrate-set-parameters","arguments":{"max-bandwidth":18446744073709551616}}"#,
    r#"{"execute":"migrate-set-parameters","arguments":{"x-checkpoint-delay":-1}}"#,
    r#"{"execute":"set-numa-node","arguments":{"type":"dist","src":70000,"dst":2,"val":3}}"#,
    // Enums, unions, alternates.
    r#"{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"bogus"}]}}"#,
    r#"{"execute":"send-key","arguments":{"keys":[{"type":"qcodex","data":"a"}]}}"#,
    r#"{"execute":"query-cpu-model-expansion","arguments":{"type":"bogus","model":{"name":"x"}}}"#,
    r#"{"execute":"blockdev-add","arguments":{"driver":"nope","node-name":"a"}}"#,
    r#"{"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"a","file":5}}"#,
    r#"{"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"a","file":null}}"#,
    r#"{"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"a","file":"x","cache":{"direct":"y"}}}"#,
    r#"{"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"a","file":"x","discard":"bogus"}}"#,
    r#"{"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"a","file":"x","discard":5}}"#,
    r#"{"execute":"migrate-set-parameters","arguments":{"tls-creds":5}}"#,
    r#"{"execute":"migrate-set-parameters","arguments":{"block-bitmap-mapping":5}}"#,
    // Requests that are not commands.
    r#"{"execute":"query-status","arguments":[]}"#,
    r#"{"execute":"query-status","arguments":null}"#,
    r#"{"execute":5}"#,
    r#"{"executex":"query-status"}"#,
    r#"{"arguments":{}}"#,
    r#"{"execute":"query-status","control":1}"#,
    r#"[1]"#,
];

/// One side of the comparison: a QMP peer spoken to line by line.
struct Peer<S> {
    rd: BufReader<tokio::io::ReadHalf<S>>,
    wr: tokio::io::WriteHalf<S>,
}

impl<S: AsyncRead + AsyncWrite> Peer<S> {
    fn new(stream: S) -> Peer<S> {
        let (rd, wr) = tokio::io::split(stream);
        Peer {
            rd: BufReader::new(rd),
            wr,
        }
    }

    async fn read(&mut self) -> Value {
        let mut line = String::new();
        let n = self.rd.read_line(&mut line).await.expect("read");
        assert!(n > 0, "the peer closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends a line and returns the reply, skipping events.
    async fn exchange(&mut self, line: &str) -> Value {
        self.wr
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write");
        loop {
            let v = self.read().await;
            if v.get("event").is_none() {
                return v;
            }
        }
    }
}

/// A real QEMU 10.0 with a monitor and no machine; killed when dropped.
struct RealQemu {
    _child: tokio::process::Child,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn real_qemu() -> (RealQemu, tokio::net::UnixStream) {
    let dir = std::env::temp_dir().join(format!("qmp-fake-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("qmp.sock");
    let child = tokio::process::Command::new(Qemu::V10_0.bin("qemu-system-x86_64"))
        .args([
            "-machine",
            "none",
            "-nodefaults",
            "-display",
            "none",
            "-qmp",
        ])
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start QEMU 10.0 (ci/install-qemu.sh installs it)");
    let stream = connect(&socket).await;
    (
        RealQemu {
            _child: child,
            _dir: TempDir(dir),
        },
        stream,
    )
}

/// Connects once QEMU has created its socket: QEMU tells nothing else
/// when its monitor is ready, so this polls, as `qmp_client::Launcher`
/// does.
async fn connect(socket: &Path) -> tokio::net::UnixStream {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::net::UnixStream::connect(socket).await {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => {
                panic!("no QEMU monitor at {}: {e}", socket.display())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_match_qemu_10_0() {
    tokio::time::timeout(Duration::from_secs(60), compare())
        .await
        .expect("test timed out");
}

async fn compare() {
    let (_qemu, stream) = real_qemu().await;
    let mut real = Peer::new(stream);
    let fake = FakeQemu::new(Release::new(10, 0)).unwrap();
    let (near, far) = tokio::io::duplex(1 << 16);
    let server = fake.clone();
    let session = tokio::spawn(async move { server.serve(far).await });
    let mut faked = Peer::new(near);

    let real_greeting = real.read().await;
    let fake_greeting = faked.read().await;
    assert_eq!(real_greeting["QMP"]["version"]["qemu"]["major"], 10);
    assert_eq!(fake_greeting["QMP"]["version"]["qemu"]["major"], 10);
    assert_eq!(
        fake_greeting["QMP"]["version"]["qemu"]["minor"],
        real_greeting["QMP"]["version"]["qemu"]["minor"]
    );
    assert_eq!(
        fake_greeting["QMP"]["capabilities"],
        real_greeting["QMP"]["capabilities"]
    );

    let mut errors = 0;
    for line in LINES {
        let want = real.exchange(line).await;
        let got = faked.exchange(line).await;
        assert_eq!(
            got, want,
            "the fake and QEMU 10.0 answer {line} differently"
        );
        errors += usize::from(want.get("error").is_some());
    }
    // Every line but the successful negotiation is an error.
    assert_eq!(errors, LINES.len() - 1);

    drop(faked);
    session.await.unwrap().unwrap();
}

/// The same errors come through `qmp_client` as `Error::Qmp`, with the
/// typed bindings: a command 10.0 lacks, and an argument it does not know.
#[tokio::test]
async fn typed_commands_missing_from_the_release_are_not_found() {
    use qmp_types::qmp::commands;
    let fake = FakeQemu::new(Release::new(10, 0)).unwrap();
    fake.on::<commands::QomListGet>(|_| unreachable!("10.0 has no qom-list-get"));
    let qmp = fake
        .client_with(qmp_client::Builder::default().check_commands(false))
        .await
        .unwrap();
    let err = qmp
        .execute(commands::QomListGet::new(["/"]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "CommandNotFound: The command qom-list-get has not been found"
    );
    // 10.2 has it.
    let newer = FakeQemu::new(Release::new(10, 2)).unwrap();
    newer.on::<commands::QomListGet>(|_| Vec::new());
    let qmp = newer.client().await.unwrap();
    assert!(
        qmp.execute(commands::QomListGet::new(["/"]))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every command and event a real QEMU 10.0 introspects is in the fake's
/// `query-qmp-schema`, with the same members, the same optional ones,
/// and the same JSON types, three levels deep. The fake also has what
/// QEMU builds only for other targets or configurations (`if`: block
/// drivers of libblkio, s390x commands), so the comparison goes one way:
/// everything QEMU has, the fake has alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_matches_qemu_10_0() {
    let qemu = qmp_client::Launcher::new(Qemu::V10_0.bin("qemu-system-x86_64"))
        .args(["-machine", "none", "-nodefaults", "-display", "none"])
        .launch()
        .await
        .expect("start QEMU 10.0 (ci/install-qemu.sh installs it)");
    let real = qemu
        .client()
        .execute_raw("query-qmp-schema", serde_json::json!({}))
        .await
        .unwrap();
    let fake = FakeQemu::new(Release::new(10, 0)).unwrap();
    let ours = fake
        .client()
        .await
        .unwrap()
        .execute_raw("query-qmp-schema", serde_json::json!({}))
        .await
        .unwrap();
    let (real, ours) = (Index::new(&real), Index::new(&ours));
    let mut compared = 0;
    for (name, entry) in &real.by_name {
        let meta = entry["meta-type"].as_str().unwrap();
        if meta != "command" && meta != "event" {
            continue;
        }
        let Some(mine) = ours.by_name.get(name) else {
            panic!("the fake lacks {meta} {name}");
        };
        let (theirs, mine) = (
            real.shape(&entry["arg-type"], 3),
            ours.shape(&mine["arg-type"], 3),
        );
        assert!(
            covers(&mine, &theirs),
            "the arguments of {meta} {name} differ:\n QEMU: {theirs}\n fake: {mine}"
        );
        compared += 1;
    }
    assert!(
        compared > 250,
        "only {compared} commands and events compared"
    );
}

/// `query-qmp-schema` by name.
struct Index<'a> {
    by_name: std::collections::BTreeMap<&'a str, &'a Value>,
}

impl<'a> Index<'a> {
    fn new(list: &'a Value) -> Index<'a> {
        Index {
            by_name: list
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["name"].as_str().unwrap(), e))
                .collect(),
        }
    }

    /// A type as a value free of numbered names, `depth` levels deep:
    /// objects as their members (name, optional, type) and branches,
    /// enums as their values.
    fn shape(&self, ty: &Value, depth: u32) -> Value {
        let e = self.by_name[ty.as_str().unwrap()];
        match e["meta-type"].as_str().unwrap() {
            "builtin" => e["json-type"].clone(),
            "enum" => e["values"].clone(),
            _ if depth == 0 => e["meta-type"].clone(),
            "array" => serde_json::json!([self.shape(&e["element-type"], depth - 1)]),
            "alternate" => Value::Array(
                e["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| self.shape(&m["type"], depth - 1))
                    .collect(),
            ),
            _ => {
                let members: serde_json::Map<String, Value> = e["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        let shape = serde_json::json!({
                            "optional": m.get("default").is_some(),
                            "type": self.shape(&m["type"], depth - 1),
                        });
                        (m["name"].as_str().unwrap().to_owned(), shape)
                    })
                    .collect();
                let variants: serde_json::Map<String, Value> = e["variants"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .map(|b| {
                                (
                                    b["case"].as_str().unwrap().to_owned(),
                                    self.shape(&b["type"], depth - 1),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({"members": members, "tag": e["tag"], "variants": variants})
            }
        }
    }
}

/// Whether `ours` has everything `theirs` has: the same scalars, every
/// member of their objects, an element for each of their list elements.
fn covers(ours: &Value, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => t
            .iter()
            .all(|(k, v)| o.get(k).is_some_and(|m| covers(m, v))),
        (Value::Array(o), Value::Array(t)) => t.iter().all(|v| o.iter().any(|m| covers(m, v))),
        _ => ours == theirs,
    }
}
