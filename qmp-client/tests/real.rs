//! Tests against real QEMU 7.2, 10.0 and 11.1: each `async fn` runs once
//! per release (see `every_release!`).

mod common;

use std::time::Duration;

use common::*;
use qmp_client::{Client, Error, GuestAgent, Launcher, RawEvent};
use qmp_types::EventMessage;
use qmp_types::qga::GuestAgentCommands as _;
use qmp_types::qmp::{
    BlockdevOptions, BlockdevOptionsBranch, BlockdevOptionsNull, Event, EventName, QapiErrorClass,
    QmpCommands as _, RunState, SchemaInfoBranch, YankInstance, commands,
};
use serde_json::json;

every_release!(
    negotiation,
    typed_commands,
    qmp_errors,
    decode_error_keeps_connection,
    raw_commands,
    concurrent_commands,
    stop_resume_events,
    out_of_band,
    qmp_schema,
    storage_daemon,
    guest_agent,
    killed_qemu_fails_every_waiter,
);

/// The greeting is read, `oob` negotiated, and the command list loaded.
async fn negotiation(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    let v = qmp.version();
    assert_eq!((v.qemu.major, v.qemu.minor), rel.major_minor());
    assert!(
        qmp.greeting().capabilities.iter().any(|c| c == "oob"),
        "{:?}",
        qmp.greeting()
    );
    assert!(qmp.oob_enabled());
    assert!(qmp.supports("query-status"));
    assert!(!qmp.supports("x-no-such-command"));
    assert!(qmp.is_connected());
}

/// Typed commands with and without arguments decode their replies.
async fn typed_commands(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    let status = qmp.query_status().await.unwrap();
    assert!(status.running, "{status:?}");
    assert_eq!(status.status, RunState::Running);
    let version = qmp.query_version().await.unwrap();
    assert_eq!(version.qemu.major, i64::from(qmp.version().qemu.major));
    assert_eq!(version.package, qmp.version().package);
    let props = qmp.qom_list("/machine").await.unwrap();
    assert!(
        props
            .iter()
            .any(|p| p.name == "type" && p.r#type == "string"),
        "{props:?}"
    );
    let hmp = qmp
        .human_monitor_command("info version", None)
        .await
        .unwrap();
    assert!(hmp.starts_with(&qmp.version().to_string()), "{hmp:?}");
    // The command struct, by value and by reference.
    let cmd = commands::QomList::new("/machine");
    assert_eq!(qmp.execute(&cmd).await.unwrap().len(), props.len());
    assert_eq!(qmp.execute(cmd).await.unwrap().len(), props.len());
}

/// QEMU's errors arrive with their class and description; a command this
/// QEMU lacks fails before anything is sent.
async fn qmp_errors(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    match qmp.qom_list("/no/such/path").await {
        Err(Error::Qmp { class, desc }) => {
            assert_eq!(class, QapiErrorClass::DeviceNotFound);
            assert!(desc.contains("/no/such/path"), "{desc}");
        }
        other => panic!("{other:?}"),
    }
    match qmp.execute(&NoSuchCommand {}).await {
        Err(Error::Unsupported { command }) => assert_eq!(command, "x-no-such-command"),
        other => panic!("{other:?}"),
    }
    // Without the command list, QEMU itself refuses it.
    let unchecked = Launcher::new(rel.bin("qemu-system-x86_64"))
        .args(["-machine", "none", "-nodefaults", "-display", "none"])
        .client(Client::builder().check_commands(false))
        .launch()
        .await
        .unwrap();
    assert!(
        unchecked.client().supports("x-no-such-command"),
        "nothing known, nothing refused"
    );
    match unchecked.client().execute(&NoSuchCommand {}).await {
        Err(Error::Qmp { class, .. }) => assert_eq!(class, QapiErrorClass::CommandNotFound),
        other => panic!("{other:?}"),
    }
    let raw = qmp.execute_raw("x-no-such-command", json!({})).await;
    assert!(matches!(raw, Err(Error::Unsupported { .. })), "{raw:?}");
}

/// A reply of the wrong type fails that command with the failing path;
/// the connection stays usable.
async fn decode_error_keeps_connection(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    match qmp.execute(&QueryStatusWrongType {}).await {
        Err(Error::Decode {
            command, path, raw, ..
        }) => {
            assert_eq!(command, "query-status");
            assert_eq!(path, "status");
            assert!(raw.contains("\"running\""), "{raw}");
        }
        other => panic!("{other:?}"),
    }
    assert!(qmp.query_status().await.unwrap().running);
}

/// `execute_raw` runs anything by name.
async fn raw_commands(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    let status = qmp.execute_raw("query-status", json!({})).await.unwrap();
    assert_eq!(status["running"], true);
    let list = qmp
        .execute_raw("qom-list", json!({ "path": "/" }))
        .await
        .unwrap();
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|p| p["name"] == "machine")),
        "{list}"
    );
    let err = qmp
        .execute_raw("qom-list", json!({ "path": 5 }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Qmp {
                class: QapiErrorClass::GenericError,
                ..
            }
        ),
        "{err:?}"
    );
}

/// 64 commands from 16 tasks over one connection each get their own
/// reply: the errors name the path each task asked for.
async fn concurrent_commands(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client().clone();
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let qmp = qmp.clone();
            tokio::spawn(async move {
                for i in 0..4 {
                    if (t + i) % 2 == 0 {
                        let path = format!("/task-{t}/call-{i}");
                        match qmp.qom_list(&path).await {
                            Err(Error::Qmp { desc, .. }) => {
                                assert!(desc.contains(&path), "{desc} for {path}")
                            }
                            other => panic!("{other:?}"),
                        }
                    } else {
                        let v = qmp.query_version().await.unwrap();
                        assert_eq!(v.package, qmp.version().package);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// `stop` and `cont` cause STOP and RESUME, seen typed and raw.
async fn stop_resume_events(rel: Release) {
    let qemu = with_machine(rel).await;
    let qmp = qemu.client();
    let mut all = qmp.subscribe();

    let (qmp_types::Empty {}, stopped) = qmp
        .execute_and_wait(
            commands::Stop::new(),
            &["STOP"],
            |e: &EventMessage<Event>| matches!(e.event, Event::Stop),
        )
        .await
        .unwrap();
    assert!(matches!(stopped.event, Event::Stop), "{stopped:?}");
    assert!(stopped.timestamp.seconds > 1_600_000_000);
    assert_eq!(qmp.query_status().await.unwrap().status, RunState::Paused);

    let mut typed = qmp.subscribe_to([EventName::Resume]).typed::<Event>();
    qmp.cont().await.unwrap();
    let resumed = typed
        .wait_for(|e| matches!(e, Event::Resume))
        .await
        .unwrap();
    assert!(matches!(resumed, Event::Resume), "{resumed:?}");

    // The unfiltered raw stream saw both, in order.
    let first: RawEvent = all.next().await.unwrap().unwrap();
    assert_eq!(first.name, "STOP");
    let second = loop {
        let e = all.next().await.unwrap().unwrap();
        if e.name != "STOP" {
            break e;
        }
    };
    assert_eq!(second.name, "RESUME");
    assert!(second.timestamp >= first.timestamp);
}

/// QEMU offers `oob`; commands marked allow-oob run with `exec-oob`.
async fn out_of_band(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    assert!(qmp.oob_enabled());
    let schema = qmp.load_schema().await.unwrap();
    assert!(schema.allows_oob("migrate-pause"));
    assert!(schema.allows_oob("query-yank"));
    assert!(!schema.allows_oob("query-status"));
    let yank = qmp.query_yank().await.unwrap();
    assert!(
        yank.iter().all(|i| matches!(i, YankInstance::Chardev(_))),
        "{yank:?}"
    );
    match qmp.migrate_pause().await {
        Err(Error::Qmp { class, desc }) => {
            assert_eq!(class, QapiErrorClass::GenericError);
            assert!(desc.contains("postcopy"), "{desc}");
        }
        other => panic!("{other:?}"),
    }
    // Raw commands learn allow-oob from the loaded schema.
    assert_eq!(
        qmp.execute_raw("query-yank", json!({})).await.unwrap(),
        serde_json::to_value(&yank).unwrap()
    );
    // OOB and in-band commands mixed concurrently.
    let (a, b, c) = tokio::join!(qmp.query_yank(), qmp.query_status(), qmp.query_yank());
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
}

/// The ~200 KB `query-qmp-schema` reply decodes into typed entries.
async fn qmp_schema(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    let schema = qmp.query_qmp_schema().await.unwrap();
    assert!(schema.len() > 1000, "{}", schema.len());
    let status = schema.iter().find(|e| e.name == "query-status").unwrap();
    let SchemaInfoBranch::Command(command) = &status.meta_type else {
        panic!("{status:?}")
    };
    assert!(!command.ret_type.is_empty(), "{command:?}");
    assert!(
        schema.iter().any(|e| e.name == command.ret_type),
        "{command:?}"
    );
    let oob: Vec<_> = schema
        .iter()
        .filter(
            |e| matches!(&e.meta_type, SchemaInfoBranch::Command(c) if c.allow_oob == Some(true)),
        )
        .map(|e| e.name.as_str())
        .collect();
    assert!(oob.contains(&"migrate-recover"), "{oob:?}");
    let loaded = qmp.load_schema().await.unwrap();
    assert_eq!(loaded.entries().len(), schema.len());
    assert!(loaded.commands().any(|c| c == "blockdev-add"));
}

/// qemu-storage-daemon speaks the same QMP.
async fn storage_daemon(rel: Release) {
    let qsd = Launcher::storage_daemon(rel.bin("qemu-storage-daemon"))
        .launch()
        .await
        .unwrap();
    let qmp = qsd.client();
    assert_eq!(
        (qmp.version().qemu.major, qmp.version().qemu.minor),
        rel.major_minor()
    );
    let null0 = BlockdevOptions::new(BlockdevOptionsBranch::NullCo(BlockdevOptionsNull::new()))
        .with_node_name("null0");
    qmp.blockdev_add(null0.clone()).await.unwrap();
    let nodes = qmp.query_named_block_nodes(None).await.unwrap();
    assert!(
        nodes
            .iter()
            .any(|n| n.node_name.as_deref() == Some("null0") && n.drv == "null-co"),
        "{nodes:?}"
    );
    let dup = qmp.execute(commands::BlockdevAdd(null0)).await;
    assert!(matches!(dup, Err(Error::Qmp { .. })), "{dup:?}");
}

/// qemu-ga without a guest: ping, info, time, sync, files.
async fn guest_agent(rel: Release) {
    let dir = tempdir();
    let sock = dir.join("qga.sock");
    let mut agent = tokio::process::Command::new(rel.bin("qemu-ga"))
        .arg("-m")
        .arg("unix-listen")
        .arg("-p")
        .arg(&sock)
        .arg("-t")
        .arg(&dir)
        .arg("-f")
        .arg(dir.join("qga.pid"))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ga = loop {
        match GuestAgent::connect_unix(&sock).await {
            Ok(ga) => break ga,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    ga.guest_ping().await.unwrap();
    let info = ga.guest_info().await.unwrap();
    let (major, minor) = rel.major_minor();
    assert!(
        info.version.starts_with(&format!("{major}.{minor}.")),
        "{}",
        info.version
    );
    assert!(
        info.supported_commands
            .iter()
            .any(|c| c.name == "guest-sync-delimited" && c.enabled)
    );
    let now = ga.guest_get_time().await.unwrap();
    assert!(now > 1_600_000_000_000_000_000);
    ga.sync().await.unwrap();

    let file = dir.join("hello.txt");
    std::fs::write(&file, "hello agent").unwrap();
    let handle = ga
        .guest_file_open(file.display().to_string(), Some("r".into()))
        .await
        .unwrap();
    let read = ga.guest_file_read(handle, Some(100)).await.unwrap();
    assert_eq!(read.count, 11);
    assert_eq!(read.buf_b64, "aGVsbG8gYWdlbnQ=");
    assert!(read.eof);
    ga.guest_file_close(handle).await.unwrap();
    let close = qmp_types::qga::commands::GuestFileClose::new(handle);
    let err = ga.execute(&close).await.unwrap_err();
    assert!(matches!(err, Error::Qmp { .. }), "{err:?}");
    let raw = ga.execute_raw("guest-ping", json!({})).await.unwrap();
    assert_eq!(raw, json!({}));

    agent.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGKILL on a QEMU with commands in flight: every waiter gets
/// `Disconnected`, carrying the exit status, within a second.
async fn killed_qemu_fails_every_waiter(rel: Release) {
    let mut qemu = monitor_only(rel).await;
    let qmp = qemu.client().clone();
    let mut events = qmp.subscribe();
    let pid = qemu.pid().unwrap().to_string();
    // Freeze QEMU so the commands stay in flight.
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap();
    assert!(stopped.success());
    let waiters: Vec<_> = (0..20)
        .map(|_| {
            let qmp = qmp.clone();
            tokio::spawn(async move { qmp.query_status().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = std::time::Instant::now();
    let status = qemu.kill().await;
    for w in waiters {
        match w.await.unwrap() {
            Err(Error::Disconnected { status: Some(s) }) => {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(s.signal(), Some(9));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));
    assert!(events.next().await.is_none(), "the event stream ends");
    assert!(matches!(
        qmp.query_status().await,
        Err(Error::Disconnected { .. })
    ));
    assert!(!qmp.is_connected());
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "qmp-client-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
