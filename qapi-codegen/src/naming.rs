//! Rust names for QAPI names: every conversion the generator makes.
//!
//! QAPI names use `-` and `_` freely, may start with a digit (enum values)
//! or with a downstream prefix (`__org.qemu_x-foo`), and may be Rust
//! keywords (`type`). Types and variants become `CamelCase`, members and
//! methods `snake_case`, keywords are escaped (`r#type`).
//!
//! Every Rust name is a function of the wire name and the kind of
//! definition alone, never of what else the schema defines: importing a
//! new QEMU release cannot rename an existing item. Kinds that could
//! clash live in namespaces of their own instead:
//!
//! | kind | Rust name | where |
//! | --- | --- | --- |
//! | type `KeyValue` | `KeyValue` | `qmp::` |
//! | command `send-key` | `SendKey` | `qmp::commands::` |
//! | command `send-key` | `send_key` | methods of `qmp::QmpCommands` |
//! | event `DEVICE_DELETED` | `DeviceDeleted` | variant of `qmp::Event`, data in `qmp::events::` |
//! | enum value / branch `shift_r` | `ShiftR` | variant |
//! | member `hold-time` | `hold_time` | field, argument |
//!
//! The fixed exceptions, each for a reason no namespace removes, are all
//! here: [`PRELUDE`] names get a `Qapi` prefix, values starting with a
//! digit a `Digit` prefix, the value `unknown` becomes `UnknownValue` (the
//! catch-all variant is `Unknown`, as in smithy-rs), a union whose base
//! members sit in a struct gets its branches in a `…Branch` enum, and a
//! command QEMU does not check gets its further arguments in `extra`. The
//! table test in `tests/naming.rs` runs over every name of every supported
//! release and asserts that nothing collides.

/// The words of a QAPI name: split at `-`, `_` and `.`, downstream
/// prefix's leading `__` dropped.
fn words(name: &str) -> Vec<&str> {
    name.trim_start_matches('_')
        .split(['-', '_', '.'])
        .filter(|w| !w.is_empty())
        .collect()
}

/// `CamelCase` from words; in an all-uppercase name (events, `STOP`) the
/// words are capitalized, elsewhere existing capitals are kept
/// (`QKeyCode`, `ACPIOSTInfo`). Words that would join two digits get an
/// underscore between them (`x86_64` becomes `X86_64`).
///
/// Two wire names QEMU tells apart may still meet (`ab1` and `ab-1` are
/// both `Ab1`); no supported release has such a pair, and [`clashes`]
/// reports one if a new release brings it, rather than renaming either.
fn camel(name: &str) -> String {
    let shout = name.chars().any(|c| c.is_ascii_uppercase())
        && !name.chars().any(|c| c.is_ascii_lowercase());
    let mut out = String::new();
    for w in words(name) {
        if out.ends_with(|c: char| c.is_ascii_digit())
            && w.starts_with(|c: char| c.is_ascii_digit())
        {
            out.push('_');
        }
        let mut chars = w.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            if shout {
                out.extend(chars.flat_map(char::to_lowercase));
            } else {
                out.push_str(chars.as_str());
            }
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Digit");
    }
    if out.is_empty() {
        out.push_str("Empty");
    }
    out
}

/// Names of Rust's prelude that the generated code uses unqualified: a
/// generated type with one of these names would shadow it (QEMU has a
/// type `String`), so such a name gets the prefix `Qapi` (`QapiString`).
pub const PRELUDE: &[&str] = &[
    "Option",
    "Some",
    "None",
    "Vec",
    "String",
    "Box",
    "Result",
    "Ok",
    "Err",
    "From",
    "Into",
    "Default",
    "Send",
    "Sync",
    "Clone",
    "Debug",
    "PartialEq",
    "Eq",
    "Hash",
    "Self",
];

/// The catch-all variant of generated enums, unions and alternates.
pub const CATCH_ALL: &str = "Unknown";

/// The module of command types (its `use super::*` sees the types).
pub const COMMANDS_MODULE: &str = "commands";

/// The module of event data types.
pub const EVENTS_MODULE: &str = "events";

/// The field keeping the further arguments of a command QEMU does not
/// check against its schema (`device_add`'s device properties).
pub const EXTRA_FIELD: &str = "extra";

/// `CamelCase`, with a prelude name prefixed.
fn item(name: &str) -> String {
    let n = camel(name);
    if PRELUDE.contains(&n.as_str()) {
        format!("Qapi{n}")
    } else {
        n
    }
}

/// A Rust type name for a QAPI type: `KeyValue`, `String` → `QapiString`.
pub fn type_name(name: &str) -> String {
    item(name)
}

/// The type of a command, in [`COMMANDS_MODULE`]: `send-key` → `SendKey`.
pub fn command_type_name(name: &str) -> String {
    item(name)
}

/// A command's method: `send-key` → `send_key`.
pub fn method_name(name: &str) -> String {
    field_name(name)
}

/// An event's variant of `Event` and its data type in [`EVENTS_MODULE`]:
/// `DEVICE_DELETED` → `DeviceDeleted`.
pub fn event_name(name: &str) -> String {
    item(name)
}

/// The enum of a union's branches where the union is a struct of base
/// members plus that enum: `BlockdevOptions` → `BlockdevOptionsBranch`.
/// The suffix is unavoidable: the struct holds the enum, so both need a
/// name in the same module.
pub fn branch_enum_name(union: &str) -> String {
    format!("{}Branch", type_name(union))
}

/// A Rust variant name for an enum value, union or alternate branch:
/// `shift_r` → `ShiftR`, `1` → `Digit1`, `unknown` → `UnknownValue`.
pub fn variant_name(value: &str) -> String {
    let n = camel(value);
    if n == CATCH_ALL {
        format!("{n}Value")
    } else {
        n
    }
}

/// A Rust field, argument or method name: `hold-time` → `hold_time`,
/// `type` → `r#type`, `backingFile` → `backing_file`.
pub fn field_name(name: &str) -> String {
    let mut out = String::new();
    for w in words(name) {
        if !out.is_empty() {
            out.push('_');
        }
        let mut prev_lower = false;
        for c in w.chars() {
            if c.is_ascii_uppercase() && prev_lower {
                out.push('_');
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    escape(out)
}

/// Rust's keywords (strict and reserved, 2024 edition).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Escapes a keyword as a raw identifier; names that cannot be raw get a
/// trailing underscore.
fn escape(name: String) -> String {
    match name.as_str() {
        "self" | "super" | "crate" | "Self" | "_" => name + "_",
        n if KEYWORDS.contains(&n) => format!("r#{n}"),
        _ => name,
    }
}

/// One name the generator gives: the Rust `name` of wire name `wire` in
/// `scope` (a module such as `qmp` or `qmp::commands`, a type's variants
/// or fields such as `qmp::QKeyCode`, or a trait's methods).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    /// Where the name must be unique.
    pub scope: String,
    /// The QAPI name it comes from; empty for names the generator fixes.
    pub wire: String,
    /// The Rust name.
    pub rust: String,
}

/// The clashes among `names`: two different wire names (or a wire name
/// and a fixed name) with one Rust name in one scope, each as a sentence.
pub fn clashes(names: &[Name]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<(&str, &str), &str> = Default::default();
    let mut out = Vec::new();
    for n in names {
        let rust = n.rust.trim_start_matches("r#");
        match seen.insert((&n.scope, rust), &n.wire) {
            Some(prev) if prev != n.wire => out.push(format!(
                "in `{}`, `{}` and `{}` are both named `{}`: give one kind of name a namespace \
                 or a rule in qapi-codegen/src/naming.rs",
                n.scope, prev, n.wire, n.rust
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&str) -> String, cases: &[(&str, &str)]) {
        for (input, expect) in cases {
            assert_eq!(f(input), *expect, "{input}");
        }
    }

    #[test]
    fn types() {
        check(
            type_name,
            &[
                ("send-key", "SendKey"),
                ("KeyValue", "KeyValue"),
                ("BlockdevOptions", "BlockdevOptions"),
                ("QKeyCode", "QKeyCode"),
                ("ACPIOSTInfo", "ACPIOSTInfo"),
                ("STOP", "Stop"),
                ("BLOCK_JOB_COMPLETED", "BlockJobCompleted"),
                ("query-cpus-fast", "QueryCpusFast"),
                ("__org.qemu_x-Foo", "OrgQemuXFoo"),
                ("__com.redhat_drive-mirror", "ComRedhatDriveMirror"),
                ("x-query-ramblock", "XQueryRamblock"),
                ("X86CPURegister32", "X86CPURegister32"),
            ],
        );
    }

    #[test]
    fn variants() {
        check(
            variant_name,
            &[
                ("shift_r", "ShiftR"),
                ("qcode", "Qcode"),
                ("1", "Digit1"),
                ("2d", "Digit2d"),
                ("ab-1", "Ab1"),
                ("aes-128", "Aes128"),
                ("3des", "Digit3des"),
                ("unknown", "UnknownValue"),
                ("x86_64", "X86_64"),
                ("GenericError", "GenericError"),
                ("EAX", "Eax"),
                ("__org.qemu_x-value", "OrgQemuXValue"),
                ("kvm-hv-synic", "KvmHvSynic"),
            ],
        );
    }

    #[test]
    fn fields() {
        check(
            field_name,
            &[
                ("hold-time", "hold_time"),
                ("type", "r#type"),
                ("send-key", "send_key"),
                ("backing_file", "backing_file"),
                ("cpu-index", "cpu_index"),
                ("CPU", "cpu"),
                ("rootHint", "root_hint"),
                ("__org.qemu_x-member", "org_qemu_x_member"),
                ("self", "self_"),
                ("match", "r#match"),
                ("gen", "r#gen"),
                ("0-hz", "_0_hz"),
                ("query-status", "query_status"),
            ],
        );
    }

    #[test]
    fn clashes_are_reported_not_renamed() {
        let name = |scope: &str, wire: &str| Name {
            scope: scope.into(),
            wire: wire.into(),
            rust: variant_name(wire),
        };
        let names = [name("E", "ab1"), name("E", "ab-1"), name("F", "ab1")];
        assert_eq!(
            clashes(&names),
            [
                "in `E`, `ab1` and `ab-1` are both named `Ab1`: give one kind of name a \
              namespace or a rule in qapi-codegen/src/naming.rs"
            ]
        );
        assert!(clashes(&names[1..]).is_empty());
    }

    #[test]
    fn prelude_names_get_a_prefix() {
        assert_eq!(type_name("String"), "QapiString");
        assert_eq!(command_type_name("default"), "QapiDefault");
        assert_eq!(event_name("OK"), "QapiOk");
        assert_eq!(type_name("StringWrapper"), "StringWrapper");
        assert_eq!(branch_enum_name("BlockdevOptions"), "BlockdevOptionsBranch");
    }
}
