//! The naming table: every name the bindings give, over every supported
//! release of QMP, the guest agent and the storage daemon.

use std::collections::BTreeMap;
use std::path::Path;

use qapi_codegen::naming::{Name, clashes};
use qapi_codegen::{Release, names, releases};

fn schema_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../qmp-types/schema"))
}

fn supported() -> Vec<Release> {
    let rs: Vec<Release> = releases(schema_dir())
        .expect("qmp-types/schema")
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert!(rs.len() >= 3, "expected 7.2, 10.0 and 10.2, found {rs:?}");
    rs
}

/// No two items collide, in the bindings of all releases merged nor in
/// those of each release alone.
#[test]
fn no_name_collides() {
    let all = names(schema_dir(), &[]).expect("names");
    assert!(all.len() > 5_000, "only {} names", all.len());
    let found = clashes(&all);
    assert!(found.is_empty(), "{}", found.join("\n"));
    for r in supported() {
        let found = clashes(&names(schema_dir(), &[r]).expect("names"));
        assert!(found.is_empty(), "QEMU {r}:\n{}", found.join("\n"));
    }
}

/// Each wire name maps to the same Rust name in every release, and in the
/// merged bindings.
#[test]
fn every_release_names_alike() {
    let mut by_wire: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    let mut sets: Vec<(String, Vec<Name>)> = supported()
        .into_iter()
        .map(|r| (r.to_string(), names(schema_dir(), &[r]).expect("names")))
        .collect();
    sets.push(("all".into(), names(schema_dir(), &[]).expect("names")));
    for (what, set) in &sets {
        for n in set.iter().filter(|n| !n.wire.is_empty()) {
            let key = (n.scope.clone(), n.wire.clone());
            match by_wire.get(&key) {
                Some((rust, first)) => assert_eq!(
                    rust, &n.rust,
                    "`{}` in `{}`: `{rust}` in {first}, `{}` in {what}",
                    n.wire, n.scope, n.rust
                ),
                None => {
                    by_wire.insert(key, (n.rust.clone(), what.clone()));
                }
            }
        }
    }
}

/// The fixed exceptions of `naming.rs` show in real names.
#[test]
fn exceptions_apply_to_real_names() {
    let all = names(schema_dir(), &[]).expect("names");
    let find = |scope: &str, wire: &str| {
        all.iter()
            .find(|n| n.scope == scope && n.wire == wire)
            .map(|n| n.rust.as_str())
    };
    assert_eq!(find("qmp", "String"), Some("QapiString"));
    assert_eq!(find("qmp::QKeyCode", "1"), Some("Digit1"));
    assert_eq!(find("qmp::commands", "drive-backup"), Some("DriveBackup"));
    assert_eq!(find("qmp", "DriveBackup"), Some("DriveBackup"));
    assert_eq!(find("qmp::Event", "DEVICE_DELETED"), Some("DeviceDeleted"));
    assert_eq!(find("qmp::QmpCommands", "send-key"), Some("send_key"));
    assert_eq!(
        find("qga::GuestAgentCommands", "guest-exec"),
        Some("guest_exec")
    );
}
