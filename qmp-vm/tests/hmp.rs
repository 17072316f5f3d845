//! [`Vm::hmp`] against real QEMU 7.2 and 10.0: QEMU's text as it is, the
//! error forms of HMP replies, and QMP errors.

use std::time::Duration;

use qemu_test_support::Release;
use qmp_client::Launcher;
use qmp_types::qmp::QmpCommands as _;
use qmp_vm::{Error, Vm};

async fn hmp(rel: Release) {
    let qemu = Launcher::new(rel.qemu())
        .args(["-machine", "none", "-nodefaults", "-display", "none"])
        .launch()
        .await
        .unwrap_or_else(|e| panic!("cannot start QEMU {rel:?}: {e}"));
    let vm = Vm::new(qemu.client().clone());

    // The exact text `info version` prints: the version `query-version`
    // reports, the package, and HMP's own line end.
    let v = vm.client().query_version().await.unwrap();
    let expect = format!(
        "{}.{}.{}{}\r\n",
        v.qemu.major, v.qemu.minor, v.qemu.micro, v.package
    );
    assert_eq!(vm.hmp("info version").await.unwrap(), expect);
    assert_eq!(
        (v.qemu.major as u32, v.qemu.minor as u32),
        rel.major_minor()
    );

    // A command that prints nothing, and its effect seen through QMP.
    assert_eq!(vm.hmp("stop").await.unwrap(), "");
    assert!(!vm.status().await.unwrap().running);
    assert_eq!(
        vm.hmp("info status").await.unwrap(),
        "VM status: paused\r\n"
    );
    assert_eq!(vm.hmp("cont").await.unwrap(), "");
    assert!(vm.status().await.unwrap().running);

    // The error forms: the wrapped QMP command's error, an unknown
    // command, an argument the parser refuses.
    let fails = |line: &'static str| {
        let vm = &vm;
        async move {
            match vm.hmp(line).await {
                Err(Error::Hmp {
                    command_line,
                    message,
                }) => {
                    assert_eq!(command_line, line);
                    message
                }
                other => panic!("{line}: expected Error::Hmp, got {other:?}"),
            }
        }
    };
    assert_eq!(
        fails("device_del nonesuch").await,
        "Error: Device 'nonesuch' not found"
    );
    assert_eq!(
        fails("info nonesuch").await,
        "unknown command: 'info nonesuch'"
    );
    let msg = fails("memsave 0 10 /nonexistent/x").await;
    assert!(
        msg.ends_with("Try \"help memsave\" for more information"),
        "{msg:?}"
    );
    let err = vm.hmp("device_del nonesuch").await.unwrap_err().to_string();
    assert_eq!(
        err,
        "hmp `device_del nonesuch`: Error: Device 'nonesuch' not found"
    );

    // Free-form complaints are text, as documented.
    assert_eq!(
        vm.hmp("drive_del nonesuch").await.unwrap(),
        "Device 'nonesuch' not found\r\n"
    );
}

fn run(rel: Release) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), hmp(rel))
            .await
            .unwrap_or_else(|_| panic!("QEMU {rel:?}: the test took over 60 s"));
    });
}

#[test]
fn hmp_qemu_7_2() {
    run(Release::V7_2);
}

#[test]
fn hmp_qemu_10_0() {
    run(Release::V10_0);
}
