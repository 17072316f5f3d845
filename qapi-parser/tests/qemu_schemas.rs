//! Every real QEMU schema under `shared/qemu` parses, and the entity counts
//! match those QEMU's own checker reports (`shared/qemu/COUNTS.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Root schemas: every `qapi-schema.json` below `dir`.
fn roots(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            roots(&p, out);
        } else if p.file_name().is_some_and(|n| n == "qapi-schema.json") {
            out.push(p);
        }
    }
}

/// `release/schema` -> counts line, from the table in COUNTS.md.
fn expected_counts(shared: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(shared.join("qemu/COUNTS.md")).expect("COUNTS.md");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | release | schema | command | event | struct | union | alternate | enum |
        if cells.len() != 10 || !cells[1].starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let n = &cells[3..9];
        out.insert(
            format!("{}/{}", cells[1], cells[2]),
            format!(
                "{} commands, {} events, {} structs, {} unions, {} alternates, {} enums",
                n[0], n[1], n[2], n[3], n[4], n[5]
            ),
        );
    }
    out
}

#[test]
fn every_release_parses_with_qemus_counts() {
    let shared = qemu_test_support::shared();
    let qemu = shared.join("qemu");
    let expected = expected_counts(&shared);
    assert!(expected.len() >= 9, "COUNTS.md table not understood");
    let mut found = Vec::new();
    roots(&qemu, &mut found);
    assert!(
        found.len() >= 10,
        "expected the schemas of 4 releases, found {found:?}"
    );
    let mut compared = 0;
    let mut failures = Vec::new();
    for root in &found {
        let rel = root.strip_prefix(&qemu).expect("below qemu/");
        let key = rel.to_string_lossy().into_owned();
        match qapi_parser::parse_file(root) {
            Err(e) => failures.push(format!("{key}: rejected:\n{e}")),
            Ok(schema) => {
                let got = schema.counts().to_string();
                if let Some(want) = expected.get(&key) {
                    compared += 1;
                    if *want != got {
                        failures.push(format!("{key}: counts {got}, QEMU says {want}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(compared, expected.len(), "every COUNTS.md row has a schema");
}

#[test]
fn simple_union_keyvalue_is_desugared() {
    let shared = qemu_test_support::shared();
    let schema = qapi_parser::parse_file(shared.join("qemu/6.1-snapshot/qapi/qapi-schema.json"))
        .unwrap_or_else(|e| panic!("6.1 schema rejected:\n{e}"));
    let kv = schema.object("KeyValue").expect("KeyValue");
    let v = kv.variants.as_ref().expect("KeyValue is a union");
    assert_eq!(v.discriminator, "type");
    assert_eq!(v.tag_type, "KeyValueKind");
    let branches: Vec<(&str, &str)> = v
        .variants
        .iter()
        .map(|b| (b.name.as_str(), b.ty.as_str()))
        .collect();
    assert_eq!(
        branches,
        [
            ("number", "q_obj_int-wrapper"),
            ("qcode", "q_obj_QKeyCode-wrapper")
        ]
    );
    let wrapper = schema
        .object("q_obj_QKeyCode-wrapper")
        .expect("wrapper struct");
    assert_eq!(wrapper.members.len(), 1);
    assert_eq!(wrapper.members[0].name, "data");
    assert_eq!(wrapper.members[0].ty.name(), "QKeyCode");
    assert!(wrapper.info.implicit);
    let kind = match schema.get("KeyValueKind") {
        Some(qapi_parser::model::Entity::Enum(e)) => e,
        other => panic!("KeyValueKind is not an enum: {other:?}"),
    };
    let values: Vec<&str> = kind.values.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(values, ["number", "qcode"]);
    assert_eq!(kv.members[0].name, "type");
}
