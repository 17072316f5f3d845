//! The generator's snapshots (`qapi-codegen/tests/fixtures/*.rs`) compile
//! against this crate, and behave.

#[allow(deprecated, dead_code, unreachable_pub, clippy::large_enum_variant)]
pub mod types {
    include!("../../qapi-codegen/tests/fixtures/types.rs");
}

#[allow(deprecated, dead_code, unreachable_pub, clippy::module_inception)]
pub mod commands {
    include!("../../qapi-codegen/tests/fixtures/commands.rs");
}

use serde_json::json;

#[test]
fn snapshot_types_behave() {
    use types::{Color, Key, Options, OptionsBranch, Scalar};
    assert_eq!(Color::from("1"), Color::Digit1);
    assert_eq!(Color::from("unknown"), Color::UnknownValue);
    assert!(matches!(Color::from("purple"), Color::Unknown(_)));
    let k: Key = serde_json::from_value(json!({"type": "color", "data": "red"})).unwrap();
    assert_eq!(k, Key::from(Color::Red));
    let o: Options = serde_json::from_value(json!({"driver": "null", "node-name": "n"})).unwrap();
    assert_eq!(o.driver, OptionsBranch::Null);
    for (v, expect) in [
        (json!(true), Scalar::B(true)),
        (json!(1), Scalar::N(1.0)),
        (json!(null), Scalar::Z(())),
    ] {
        assert_eq!(serde_json::from_value::<Scalar>(v).unwrap(), expect);
    }
    // A JSON type no branch takes (a newer QEMU's branch) is kept.
    let v: Scalar = serde_json::from_value(json!("x")).unwrap();
    assert_eq!(v, Scalar::Unknown(json!("x")));
    assert_eq!(serde_json::to_value(&v).unwrap(), json!("x"));
}

#[test]
fn snapshot_commands_behave() {
    use commands::commands::{AddDevice, Tune};
    use qmp_types::Command;
    // Further arguments without serde_json: one property at a time.
    let d = AddDevice::new("e1000").with_property("mac", "52:54:00:12:34:56");
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        json!({"driver": "e1000", "mac": "52:54:00:12:34:56"})
    );
    assert_eq!(Tune::NAME, "tune");
    assert_eq!(
        commands::commands::VncOnly::CONDITION,
        Some("(CONFIG_VNC && CONFIG_X)")
    );
    const { assert!(!commands::commands::Reboot::SUCCESS_RESPONSE) };
    const { assert!(commands::commands::QueryNames::ALLOW_OOB) };
}
