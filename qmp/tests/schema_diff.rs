//! `qmp schema-diff` against real QEMU: 11.1, newer than every release the
//! bindings are generated from, must show its known additions; 10.0, older
//! than the newest, must not show them.
//!
//! The additions asserted were found by comparing 11.1's
//! `query-qmp-schema` with `qmp-types/schema/10.2/API.txt`: `query-block`
//! takes a new argument `flat`; `object-add` accepts the new object types
//! `monitor-hmp` and `monitor-qmp` (values of its `qom-type` tag); and
//! `query-migrationthreads`, deprecated in 10.2, is gone; the event
//! `MEM_UNPLUG_ERROR`, which the bindings have until 9.2, is gone too.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// `qmp --json schema-diff` against a PC machine of `rel`.
fn schema_diff(rel: Release) -> (Value, String) {
    let vm = Vm::machine(rel, "schema-diff");
    let json: Value = serde_json::from_str(&ok(vm.qmp(&["--json", "schema-diff"])))
        .expect("schema-diff --json prints one JSON object");
    let human = ok(vm.qmp(&["schema-diff"]));
    (json, human)
}

fn list<'a>(diff: &'a Value, key: &str) -> Vec<&'a str> {
    diff[key]
        .as_array()
        .unwrap_or_else(|| panic!("no list `{key}` in {diff}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn qemu_11_1_additions_are_reported() {
    within(Duration::from_secs(120), || {
        let (diff, human) = schema_diff(Release::V11_1);
        assert!(
            diff["qemu"].as_str().unwrap().starts_with("11.1."),
            "{diff}"
        );
        assert_eq!(diff["bindings"], "10.2", "{diff}");
        let args = list(&diff, "qemu_only_arguments");
        assert!(args.contains(&"query-block.flat"), "{args:?}");
        let values = list(&diff, "qemu_only_values");
        for v in [
            "object-add.qom-type=monitor-hmp",
            "object-add.qom-type=monitor-qmp",
        ] {
            assert!(values.contains(&v), "{v} missing from {values:?}");
        }
        // A value the bindings know is not reported.
        assert!(
            !values.iter().any(|v| v.ends_with("=memory-backend-ram")),
            "{values:?}"
        );
        // The bindings list their events: one removed before 11.1 is
        // reported with its release, one 11.1 sends is not.
        let gone_events = list(&diff, "bindings_only_events");
        assert!(
            gone_events.contains(&"MEM_UNPLUG_ERROR (removed in 10.0)"),
            "{gone_events:?}"
        );
        assert!(
            !gone_events.iter().any(|e| e.starts_with("STOP")),
            "{gone_events:?}"
        );
        let gone = list(&diff, "bindings_only_commands");
        assert!(gone.contains(&"query-migrationthreads"), "{gone:?}");
        // Commands both have are in neither list.
        for both in ["query-status", "send-key", "object-add"] {
            assert!(!list(&diff, "qemu_only_commands").contains(&both), "{diff}");
            assert!(
                !gone.iter().any(|g| g.split(' ').next() == Some(both)),
                "{gone:?}"
            );
        }
        // The human form names the same addition under its heading.
        let section = human
            .split("\n\n")
            .find(|s| s.starts_with("Arguments this QEMU takes that the bindings lack"))
            .unwrap_or_else(|| panic!("no arguments section in:\n{human}"));
        assert!(
            section.contains("\n  query-block.flat\n") || section.ends_with("\n  query-block.flat"),
            "{section}"
        );
    });
}

/// 10.0 is older than the bindings' newest release: none of 11.1's
/// additions, and nothing the bindings lack among the commands and their
/// arguments (a diff that reported everything would fail here) but what
/// QEMU marks unstable (this `qmp` is built without qmp-types' `unstable`
/// feature, so its bindings lack those).
#[test]
fn qemu_10_0_has_nothing_the_bindings_lack() {
    within(Duration::from_secs(120), || {
        let (diff, _) = schema_diff(Release::V10_0);
        for key in [
            "qemu_only_commands",
            "qemu_only_events",
            "qemu_only_event_members",
            "qemu_only_arguments",
            "qemu_only_values",
        ] {
            let stable: Vec<&str> = list(&diff, key)
                .into_iter()
                .filter(|i| !i.ends_with(" (unstable)"))
                .collect();
            assert_eq!(stable, Vec::<&str>::new(), "{key} of 10.0 in {diff}");
        }
    });
}
