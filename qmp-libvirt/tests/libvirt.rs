//! The bridge against a real (private) libvirtd running QEMU 7.2 domains:
//! typed commands, QMP errors, raw commands, events, a large reply,
//! concurrency, domain shutdown and bad targets; locally and over TCP.

use qemu_test_support::Release;
use qemu_test_support::libvirt::{Libvirtd, empty_domain_xml};
use qmp_client::Error;
use qmp_types::EventMessage;
use qmp_types::qmp::{Event, EventName, QapiErrorClass, QmpCommands as _, RunState, commands};

fn emulator() -> std::path::PathBuf {
    Release::V7_2.qemu()
}

/// Typed commands, errors, raw commands, events and the schema on one
/// domain reached through `uri`.
async fn exercise(uri: &str) {
    let host = qmp_libvirt::Libvirt::open(uri).await.expect("open");
    let domains = host.domains().await.unwrap();
    assert!(
        domains.iter().any(|d| d.name == "vm1" && d.active),
        "{domains:?}"
    );
    let vm = host.connect("vm1").await.expect("connect");
    // The greeting comes from query-version.
    assert_eq!(vm.greeting().version.qemu.major, 7);
    // A typed command without arguments.
    let status = vm.query_status().await.unwrap();
    assert_eq!(status.status, RunState::Running);
    // Events: stop and cont give STOP and RESUME, typed and raw.
    let mut all = vm.subscribe();
    let (qmp_types::Empty {}, stopped) = vm
        .execute_and_wait(
            commands::Stop::new(),
            &["STOP"],
            |e: &EventMessage<Event>| matches!(e.event, Event::Stop),
        )
        .await
        .unwrap();
    assert!(stopped.timestamp.seconds > 1_600_000_000);
    assert_eq!(vm.query_status().await.unwrap().status, RunState::Paused);
    let mut typed = vm.subscribe_to([EventName::Resume]).typed::<Event>();
    vm.cont().await.unwrap();
    typed
        .wait_for(|e| matches!(e, Event::Resume))
        .await
        .unwrap();
    assert_eq!(all.next().await.unwrap().unwrap().name, "STOP");
    assert_eq!(all.next().await.unwrap().unwrap().name, "RESUME");
    // A typed command with arguments.
    let props = vm.qom_list("/machine").await.unwrap();
    assert!(props.iter().any(|p| p.name == "type"), "{props:?}");
    // A QMP error, with QEMU's class and description.
    let err = vm.qom_list("/nonesuch").await.unwrap_err();
    match &err {
        Error::Qmp { class, desc } => {
            assert_eq!(*class, QapiErrorClass::DeviceNotFound, "{err}");
            assert!(desc.contains("nonesuch"), "{desc}");
        }
        other => panic!("expected a QMP error, got {other:?}"),
    }
    // execute_raw.
    let raw = vm
        .execute_raw("query-name", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(raw["name"], "vm1", "{raw}");
    // Unknown to QEMU: refused before sending (the command list came
    // through libvirt); unchecked, QEMU's own CommandNotFound comes back.
    let err = vm
        .execute_raw("no-such-command", serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    let unchecked = host
        .connect_with("vm1", qmp_client::Client::builder().check_commands(false))
        .await
        .unwrap();
    match unchecked
        .execute_raw("no-such-command", serde_json::json!({}))
        .await
    {
        Err(Error::Qmp { class, .. }) => assert_eq!(class, QapiErrorClass::CommandNotFound),
        other => panic!("{other:?}"),
    }
    // A large reply (query-qmp-schema, about 200 KB) decodes whole.
    let schema = vm.load_schema().await.unwrap();
    assert!(schema.entries().len() > 1000, "{}", schema.entries().len());
    assert!(schema.commands().any(|c| c == "query-status"));
    // The domain has no agent channel: libvirt refuses, and says so.
    let ga = host
        .guest_agent("vm1", Some(std::time::Duration::from_secs(5)))
        .await
        .unwrap();
    match ga.execute_raw("guest-ping", serde_json::json!({})).await {
        Err(Error::Qmp { class, desc }) => {
            assert_eq!(class, QapiErrorClass::GenericError);
            assert!(desc.starts_with("libvirt refused `guest-ping`: "), "{desc}");
        }
        other => panic!("{other:?}"),
    }
    // Concurrent commands all complete.
    let all = futures_join(&vm).await;
    assert!(all.iter().all(|s| *s == RunState::Running));
}

async fn futures_join(vm: &qmp_client::Client) -> Vec<RunState> {
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let vm = vm.clone();
        tasks.push(tokio::spawn(async move {
            vm.query_status().await.unwrap().status
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_unix_socket() {
    let daemon = Libvirtd::start("local");
    daemon.create("vm1", &empty_domain_xml("vm1", &emulator()), false);
    exercise(&daemon.uri).await;
}

/// The same over a remote-style URI: libvirt's RPC over TCP on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_tcp_uri() {
    let daemon = Libvirtd::start_tcp("tcp");
    daemon.create("vm1", &empty_domain_xml("vm1", &emulator()), false);
    let uri = daemon.tcp_uri.clone().unwrap();
    assert!(uri.starts_with("qemu+tcp://127.0.0.1:"), "{uri}");
    exercise(&uri).await;
}

/// One object drives several domains on several connections at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_domains_many_uris() {
    let daemon = Libvirtd::start_tcp("many");
    for name in ["a1", "a2", "a3"] {
        daemon.create(name, &empty_domain_xml(name, &emulator()), false);
    }
    let uris = [daemon.uri.clone(), daemon.tcp_uri.clone().unwrap()];
    let hosts = std::sync::Arc::new(qmp_libvirt::Hosts::new());
    let mut tasks = Vec::new();
    for uri in &uris {
        for name in ["a1", "a2", "a3"] {
            let (hosts, uri) = (hosts.clone(), uri.clone());
            tasks.push(tokio::spawn(async move {
                let vm = hosts.connect(&uri, name).await.unwrap();
                let got = vm.execute_raw("query-name", serde_json::json!({})).await;
                (name, got.unwrap()["name"].as_str().unwrap().to_owned())
            }));
        }
    }
    for t in tasks {
        let (asked, got) = t.await.unwrap();
        assert_eq!(asked, got);
    }
}

/// A domain that stops closes its clients' streams: they report
/// `Disconnected`, like a QEMU that went away, and waiting for events ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_stop_disconnects() {
    let daemon = Libvirtd::start("stop");
    daemon.create("gone", &empty_domain_xml("gone", &emulator()), false);
    let host = qmp_libvirt::Libvirt::open(&daemon.uri).await.unwrap();
    let vm = host.connect("gone").await.unwrap();
    let mut events = vm.subscribe();
    let out = daemon.virsh(&["destroy", "gone"]);
    assert!(out.status.success(), "{out:?}");
    // QEMU's SHUTDOWN (it was killed) may come first; then the end.
    let end = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(e) = events.next().await {
            if e.is_err() {
                break;
            }
        }
    });
    end.await
        .expect("the event stream ends once the domain is gone");
    match vm.query_status().await {
        Err(Error::Disconnected { .. }) => {}
        other => panic!("expected Disconnected, got {other:?}"),
    }
    // Not running, and unknown names, are refused with what exists.
    match host.connect("gone").await {
        Err(qmp_libvirt::Error::NoDomain { domain, .. }) => assert_eq!(domain, "gone"),
        other => panic!("{other:?}"),
    }
    daemon.virsh(&["define", daemon.dir().join("gone.xml").to_str().unwrap()]);
    match host.connect("gone").await {
        Err(e @ qmp_libvirt::Error::NotRunning { .. }) => {
            assert!(e.to_string().contains("not running"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    match host.connect("nonesuch").await {
        Err(e @ qmp_libvirt::Error::NoDomain { .. }) => {
            assert!(e.to_string().contains("gone"), "lists the domains: {e}")
        }
        other => panic!("{other:?}"),
    }
    // A domain by UUID.
    let uuid = host.domains().await.unwrap()[0].uuid.clone();
    assert!(matches!(
        host.connect(&uuid).await,
        Err(qmp_libvirt::Error::NotRunning { .. })
    ));
    match qmp_libvirt::Libvirt::open("qemu:///system?socket=/nonexistent/sock").await {
        Err(e @ qmp_libvirt::Error::Libvirt { .. }) => {
            assert!(e.to_string().contains("/nonexistent/sock"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

/// The documented example queries every domain of every URI given.
#[test]
fn fleet_status_example() {
    let exe = qemu_test_support::example_binary(
        env!("CARGO_PKG_NAME"),
        env!("CARGO_MANIFEST_DIR"),
        "fleet_status",
    );
    let daemon = Libvirtd::start_tcp("example");
    for name in ["f1", "f2"] {
        daemon.create(name, &empty_domain_xml(name, &emulator()), false);
    }
    let out = daemon.virsh(&["suspend", "f2"]);
    assert!(out.status.success(), "{out:?}");
    let tcp = daemon.tcp_uri.clone().unwrap();
    let out = std::process::Command::new(&exe)
        .args([&daemon.uri, &tcp])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for uri in [&daemon.uri, &tcp] {
        assert!(text.contains(&format!("{uri} f1 running")), "{text}");
        assert!(text.contains(&format!("{uri} f2 paused")), "{text}");
    }
    // A URI that cannot be reached is reported on its line.
    let out = std::process::Command::new(&exe)
        .args([&daemon.uri, "qemu:///system?socket=/nonexistent/sock"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("/nonexistent/sock - error: "), "{text}");
    assert!(text.contains("f1 running"), "{text}");
}

/// A lost connection (libvirtd gone) closes the clients' streams too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_disconnects() {
    let daemon = Libvirtd::start("lost");
    daemon.create("vm1", &empty_domain_xml("vm1", &emulator()), false);
    let host = qmp_libvirt::Libvirt::open(&daemon.uri).await.unwrap();
    let vm = host.connect("vm1").await.unwrap();
    let mut events = vm.subscribe();
    assert!(vm.query_status().await.is_ok());
    drop(daemon);
    let end = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(e) = events.next().await {
            if e.is_err() {
                break;
            }
        }
    });
    end.await
        .expect("the event stream ends once the connection is lost");
    match vm.query_status().await {
        Err(Error::Disconnected { .. }) => {}
        other => panic!("expected Disconnected, got {other:?}"),
    }
}
