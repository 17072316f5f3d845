//! File descriptor passing against real QEMU 7.2 and 10.0: `add-fd` with a
//! block node on `/dev/fdset/N`, `getfd`/`closefd`, `query-fdsets`,
//! `remove-fd`, and the refusal on TCP.

mod common;

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsFd as _;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use qmp_client::{Client, Error, Launcher};
use qmp_types::qmp::{
    BlockdevOptions, BlockdevOptionsBranch, BlockdevOptionsFile, QapiErrorClass, QmpCommands as _,
};

every_release!(
    add_fd_backs_a_block_node,
    getfd_names_a_descriptor,
    passing_leaks_no_descriptor,
    tcp_refuses_descriptors,
);

/// A host file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, len: usize) -> TempFile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "qmp-client-fds-{}-{tag}-{nanos}.img",
            std::process::id()
        ));
        File::create(&path)
            .unwrap()
            .write_all(&vec![0u8; len])
            .unwrap();
        TempFile(path)
    }

    fn open_rw(&self) -> File {
        File::options()
            .read(true)
            .write(true)
            .open(&self.0)
            .unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A host file passed with `add-fd` becomes a `file` block node on
/// `/dev/fdset/N`; a pattern QEMU writes through it lands in the host
/// file. `query-fdsets` lists the descriptor and `remove-fd` removes it.
async fn add_fd_backs_a_block_node(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    assert!(qmp.can_pass_fds());
    let disk = TempFile::new(&format!("{rel:?}-disk"), 8192);
    let file = disk.open_rw();

    let info = qmp
        .add_fd(file.as_fd(), None, Some("test disk"))
        .await
        .unwrap();
    // Our descriptor stays ours: QEMU got a copy.
    drop(file);
    let sets = qmp.query_fdsets().await.unwrap();
    let set = sets
        .iter()
        .find(|s| s.fdset_id == info.fdset_id)
        .unwrap_or_else(|| panic!("fdset {} not in {sets:?}", info.fdset_id));
    assert_eq!(set.fds.len(), 1, "{set:?}");
    assert_eq!(set.fds[0].fd, info.fd);
    assert_eq!(set.fds[0].opaque.as_deref(), Some("test disk"));

    let node = BlockdevOptions::new(BlockdevOptionsBranch::File(BlockdevOptionsFile::new(
        format!("/dev/fdset/{}", info.fdset_id),
    )))
    .with_node_name("fdnode");
    qmp.blockdev_add(node).await.unwrap();
    // qemu-io prints to QEMU's stdout; the reply carries only errors.
    let out = qmp
        .human_monitor_command("qemu-io fdnode \"write -P 0xab 0 4096\"", None)
        .await
        .unwrap();
    assert!(!out.to_lowercase().contains("error"), "{out:?}");
    let bytes = std::fs::read(&disk.0).unwrap();
    assert_eq!(bytes.len(), 8192);
    assert!(bytes[..4096].iter().all(|&b| b == 0xab), "pattern missing");
    assert!(bytes[4096..].iter().all(|&b| b == 0), "wrote past 4096");

    qmp.blockdev_del("fdnode").await.unwrap();
    qmp.remove_fd(info.fdset_id, Some(info.fd)).await.unwrap();
    let sets = qmp.query_fdsets().await.unwrap();
    assert!(
        !sets
            .iter()
            .any(|s| s.fdset_id == info.fdset_id && s.fds.iter().any(|f| f.fd == info.fd)),
        "fd {} still listed: {sets:?}",
        info.fd
    );
    // A second add-fd into a chosen set is reported with that set's id.
    let again = TempFile::new(&format!("{rel:?}-again"), 4096);
    let info2 = qmp
        .add_fd(again.open_rw().as_fd(), Some(7), None)
        .await
        .unwrap();
    assert_eq!(info2.fdset_id, 7);
    qmp.remove_fd(7, None).await.unwrap();
}

/// `getfd` names a descriptor that `closefd` then closes; without the
/// descriptor attached, QEMU refuses `getfd`.
async fn getfd_names_a_descriptor(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    let (rd, _wr) = std::io::pipe().unwrap();
    qmp.getfd("pipe0", rd.as_fd()).await.unwrap();
    qmp.closefd("pipe0").await.unwrap();
    // Closed: the name is gone.
    let err = qmp.closefd("pipe0").await.unwrap_err();
    assert!(matches!(err, Error::Qmp { .. }), "{err:?}");
    // QEMU refuses names that start with a digit, after taking the fd.
    let err = qmp.getfd("0bad", rd.as_fd()).await.unwrap_err();
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
    // The generated method sends no descriptor, and QEMU says so.
    let err = qmp_types::qmp::QmpCommands::getfd(qmp, "nofd")
        .await
        .unwrap_err();
    let Error::Qmp { desc, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(desc.contains("SCM_RIGHTS"), "{desc}");
    // The connection is fine afterwards.
    assert!(qmp.query_status().await.unwrap().running);
}

/// Entries in this process's descriptor table.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Passing a descriptor many times leaves no copy open here: the client's
/// duplicates are closed once sent.
async fn passing_leaks_no_descriptor(rel: Release) {
    let qemu = monitor_only(rel).await;
    let qmp = qemu.client();
    let (rd, _wr) = std::io::pipe().unwrap();
    qmp.getfd("warmup", rd.as_fd()).await.unwrap();
    let before = open_fds();
    for _ in 0..200 {
        // The same name: QEMU closes the previous one.
        qmp.getfd("same", rd.as_fd()).await.unwrap();
    }
    let after = open_fds();
    // Other tests run in this process at the same time and open a few
    // descriptors of their own; a leak would add 200.
    assert!(after < before + 60, "{before} -> {after} open descriptors");
}

/// TCP cannot carry descriptors: the client says so before sending, and
/// the connection stays usable. A stream given to `connect_stream` is
/// treated the same way.
async fn tcp_refuses_descriptors(rel: Release) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let qemu = Launcher::new(rel.bin("qemu-system-x86_64"))
        .args(["-machine", "none", "-nodefaults", "-display", "none"])
        .arg("-qmp")
        .arg(format!("tcp:127.0.0.1:{port},server=on,wait=off"))
        .launch()
        .await
        .unwrap();
    assert!(qemu.client().can_pass_fds());
    let mut tries = 0;
    let qmp = loop {
        match Client::builder().connect_tcp(("127.0.0.1", port)).await {
            Ok(c) => break c,
            Err(e) if tries < 100 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("no TCP monitor: {e}"),
        }
    };
    assert!(!qmp.can_pass_fds());
    let (rd, _wr) = std::io::pipe().unwrap();
    let err = qmp.getfd("tcp0", rd.as_fd()).await.unwrap_err();
    assert!(matches!(err, Error::FdPassingUnsupported), "{err:?}");
    assert!(err.to_string().contains("Unix socket"), "{err}");
    let err = qmp
        .execute_raw_with_fds(
            "getfd",
            serde_json::json!({"fdname": "tcp1"}),
            &[rd.as_fd()],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::FdPassingUnsupported), "{err:?}");
    assert!(qmp.query_status().await.unwrap().running);
    // Nothing reached QEMU: no descriptor was named.
    let err = qemu.client().closefd("tcp0").await.unwrap_err();
    assert!(matches!(err, Error::Qmp { .. }), "{err:?}");
}
