//! `qmp record` between a client and a real QEMU 10.0, then the
//! transcript replayed through `qmp_fake::FakeQemu`: the same session
//! gets the same replies and events from the fake as from QEMU.

mod common;

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use qmp_client::Client;
use qmp_fake::FakeQemu;
use qmp_fake::transcript::Side;
use qmp_types::qmp::{EventName, QmpCommands as _};
use serde_json::{Value, json};

/// What one session saw: every reply or error, and the events awaited.
async fn session(qmp: &Client) -> Vec<Value> {
    let mut seen = Vec::new();
    let status = qmp.query_status().await.expect("query-status");
    seen.push(json!(format!("{:?}", status.status)));
    let version = qmp.query_version().await.expect("query-version");
    seen.push(json!([
        version.qemu.major,
        version.qemu.minor,
        version.package
    ]));
    // A failing command.
    let err = qmp
        .execute_raw("device_del", json!({ "id": "no-such-device" }))
        .await
        .unwrap_err();
    seen.push(json!(err.to_string()));
    // stop and cont, with their events.
    let mut events = qmp.subscribe_to([EventName::Stop, EventName::Resume]);
    qmp.stop().await.expect("stop");
    seen.push(json!(events.next().await.unwrap().unwrap().name));
    seen.push(json!(format!(
        "{:?}",
        qmp.query_status().await.unwrap().status
    )));
    qmp.cont().await.expect("cont");
    seen.push(json!(events.next().await.unwrap().unwrap().name));
    seen
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_recorded_session_replays_through_the_fake() {
    within(Duration::from_secs(60), || {
        let vm = Vm::start(
            Release::V10_0,
            "record",
            &["-machine", "none", "-nodefaults"],
        );
        let transcript = vm.dir.join("session.jsonl");
        let listen = vm.dir.join("record.sock");
        let mut recorder = Command::new(qmp_bin())
            .args(["--socket", &vm.socket(), "record"])
            .arg(&transcript)
            .arg("--listen")
            .arg(&listen)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run qmp record");
        // The recorder says when it listens.
        let mut first = String::new();
        std::io::BufReader::new(recorder.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert_eq!(first.trim(), format!("listening on {}", listen.display()));
        let mut recorder = Proc(recorder);

        // A runtime of its own: dropping it closes the client's socket,
        // which ends the recorder.
        let real = runtime().block_on(async {
            let qmp = Client::connect_unix(&listen)
                .await
                .expect("connect through the recorder");
            session(&qmp).await
        });
        assert!(recorder.0.wait().unwrap().success(), "qmp record failed");
        assert_eq!(real[0], json!("Running"));
        assert_eq!(
            real[2],
            json!("DeviceNotFound: Device 'no-such-device' not found")
        );
        assert_eq!(real[3], json!("STOP"));
        assert_eq!(real[4], json!("Paused"));
        assert_eq!(real[5], json!("RESUME"));

        let recorded = qmp_fake::Transcript::from_path(&transcript).unwrap();
        assert_eq!(recorded.entries[0].side, Side::Qemu);
        assert!(recorded.entries[0].message.get("QMP").is_some());
        assert!(
            recorded
                .entries
                .iter()
                .any(|e| e.message["event"] == "STOP")
        );

        // The same session against the replay.
        let rt = runtime();
        let fake = FakeQemu::replay_file(&transcript).unwrap();
        let replayed = rt.block_on(async {
            let qmp = fake.client().await.expect("connect to the replay");
            session(&qmp).await
        });
        assert_eq!(replayed, real);
        fake.verify()
            .expect("the replay went through the whole transcript");

        // Another session fails, naming what the transcript expected.
        let fake = FakeQemu::replay_file(&transcript).unwrap();
        rt.block_on(async {
            let qmp = fake.client().await.expect("connect to the replay");
            let err = qmp.query_version().await.unwrap_err().to_string();
            assert!(
                err.starts_with(
                    "GenericError: qmp-fake replay: request 3: expected {\"execute\":\"query-status\"}, got {\"execute\":\"query-version\""
                ),
                "{err}"
            );
        });
        let err = fake.verify().unwrap_err().to_string();
        assert!(err.contains("request 3: expected"), "{err}");
    });
}

/// `qmp daemon start --record DIR` writes each client's session; the
/// `qmp status` session replays through the fake on a Unix socket, to the
/// same `qmp status`.
#[test]
fn the_daemon_records_each_client() {
    within(Duration::from_secs(60), || {
        let tmp = TempDir::new("daemon-record");
        let run_dir = tmp.join("run");
        std::fs::create_dir_all(&run_dir).unwrap();
        let _cleanup = Cleanup(run_dir.clone());
        let env = [("XDG_RUNTIME_DIR", run_dir.as_path())];
        let run = |args: &[&str]| qmp_env(args, &env);
        let qemu = Release::V10_0.qemu();
        ok(run(&[
            "launch",
            "vm",
            "--qemu",
            qemu.to_str().unwrap(),
            "--",
            "-machine",
            "none",
            "-nodefaults",
            "-display",
            "none",
        ]));
        let records = tmp.join("records");
        ok(run(&[
            "daemon",
            "start",
            "--record",
            records.to_str().unwrap(),
        ]));
        let end = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let st: Value =
                serde_json::from_str(&ok(run(&["--json", "daemon", "status"]))).unwrap();
            if st["vms"][0]["state"] == "running" {
                break;
            }
            assert!(
                std::time::Instant::now() < end,
                "the daemon never took over the VM: {st}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(ok(run(&["--vm", "vm", "status"])).trim(), "running");
        ok(run(&["daemon", "stop"]));

        let mut files: Vec<_> = std::fs::read_dir(&records)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(
            files,
            [records.join("vm.1.jsonl")],
            "one transcript for the one client"
        );
        let recorded = qmp_fake::Transcript::from_path(&files[0]).unwrap();
        let requests: Vec<&Value> = recorded
            .entries
            .iter()
            .filter(|e| e.side == Side::Client)
            .map(|e| &e.message["execute"])
            .collect();
        assert_eq!(
            requests,
            [&json!("qmp_capabilities"), &json!("query-status")]
        );

        let fake = FakeQemu::replay_file(&files[0]).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let socket = tmp.join("fake.sock");
        let server = rt.block_on(fake.listen_unix(&socket)).unwrap();
        let out = ok(qmp(&["--socket", socket.to_str().unwrap(), "status"]));
        assert_eq!(out.trim(), "running");
        drop(server);
        fake.verify()
            .expect("qmp status replayed the recorded session");
    });
}
