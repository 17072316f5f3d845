//! Scripts, events and the Unix socket, without QEMU: what the fake adds
//! on top of QEMU's checks (compared with QEMU in `qemu_errors.rs`).

use qmp_fake::{FakeQemu, QmpError};
use qmp_types::qmp::{Event, EventName, QapiErrorClass, QmpCommands as _, commands, events};
use qmp_types::{Empty, Release};
use serde_json::json;

#[tokio::test]
async fn scripted_errors_events_and_unix_sockets() {
    let fake = FakeQemu::new(Release::new(10, 0)).unwrap();
    fake.on_result::<commands::DeviceDel>(|cmd| {
        Err(QmpError::new(
            QapiErrorClass::DeviceNotFound,
            format!("Device '{}' not found", cmd.id),
        ))
    });
    let dir = std::env::temp_dir().join(format!("qmp-fake-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = fake.listen_unix(dir.join("qmp.sock")).await.unwrap();
    let qmp = qmp_client::Client::connect_unix(server.path())
        .await
        .unwrap();
    let err = qmp.device_del("nic0").await.unwrap_err();
    assert_eq!(err.to_string(), "DeviceNotFound: Device 'nic0' not found");

    // Events reach negotiated clients, checked against the schema.
    let mut deleted = qmp.subscribe_to([EventName::DeviceDeleted]);
    fake.emit(Event::DeviceDeleted(
        events::DeviceDeleted::new("/machine/peripheral/nic0").with_device("nic0"),
    ))
    .unwrap();
    assert_eq!(
        deleted.next().await.unwrap().unwrap().name,
        "DEVICE_DELETED"
    );
    let err = fake
        .emit(json!({"event": "STOP", "data": {"x": 1}}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "QEMU 10.0 cannot send this event: the data of STOP does not fit: Parameter 'x' is unexpected"
    );
    let err = fake.emit(json!({"event": "NO_SUCH_EVENT"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "QEMU 10.0 cannot send this event: QEMU 10.0 has no event NO_SUCH_EVENT"
    );

    drop(qmp);
    drop(server);
    assert!(
        !dir.join("qmp.sock").exists(),
        "the socket is removed with the server"
    );
    let _ = std::fs::remove_dir_all(&dir);
    fake.verify().unwrap();
}

#[tokio::test]
async fn replies_that_do_not_fit_the_release_are_refused_and_reported() {
    let fake = FakeQemu::new(Release::new(10, 0)).unwrap();
    fake.on_raw("query-status", |_| {
        Ok(json!({"running": "yes", "status": "running"}))
    });
    fake.on::<commands::Stop>(|_| Empty {});
    let qmp = fake.client().await.unwrap();
    let err = qmp.query_status().await.unwrap_err().to_string();
    assert_eq!(
        err,
        "GenericError: qmp-fake: the scripted reply to 'query-status' does not fit QEMU 10.0's schema: \
         Invalid parameter type for 'return.running', expected: boolean"
    );
    qmp.stop().await.unwrap();
    let err = qmp.cont().await.unwrap_err().to_string();
    assert_eq!(
        err,
        "GenericError: qmp-fake: no reply scripted for 'cont' (script one with FakeQemu::on)"
    );
    assert!(
        fake.verify()
            .unwrap_err()
            .to_string()
            .contains("'query-status' does not fit")
    );
}

/// `qmp_vm::Vm` reads `query-qmp-schema` to check arguments and key names
/// before sending: the fake's introspection serves it.
#[tokio::test]
async fn qmp_vm_works_on_the_fake() {
    let fake = FakeQemu::new(Release::new(10, 0)).unwrap();
    fake.on::<commands::SendKey>(|_| Empty {});
    let vm = qmp_vm::Vm::new(fake.client().await.unwrap());
    vm.keys(&["ctrl", "alt", "f2"], None).await.unwrap();
    let sent = fake.received();
    let send_key = sent.iter().find(|r| r["execute"] == "send-key").unwrap();
    assert_eq!(
        send_key["arguments"]["keys"],
        json!([
            {"type": "qcode", "data": "ctrl"},
            {"type": "qcode", "data": "alt"},
            {"type": "qcode", "data": "f2"}
        ])
    );
    let err = vm.keys(&["nosuchkey"], None).await.unwrap_err().to_string();
    assert!(err.contains("unknown key `nosuchkey`"), "{err}");
    let err = vm
        .exec("query-status", json!({"bogus": 1}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
    // Neither reached the fake.
    assert_eq!(fake.received().len(), sent.len());
    fake.verify().unwrap();
}
