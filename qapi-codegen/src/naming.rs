//! Rust names for QAPI names: every conversion the generator makes.
//!
//! QAPI names use `-` and `_` freely, may start with a digit (enum values)
//! or with a downstream prefix (`__org.qemu_x-foo`), and may be Rust
//! keywords (`type`). Types and variants become `CamelCase`, members and
//! methods `snake_case`, keywords are escaped (`r#type`), and [`Namer`]
//! disambiguates names that clash after conversion.

use std::collections::HashSet;

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
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// A Rust type name for a QAPI type, command or event: `KeyValue`,
/// `send-key` → `SendKey`, `STOP` → `Stop`.
pub fn type_name(name: &str) -> String {
    camel(name)
}

/// A Rust variant name for an enum value or union branch: `shift_r` →
/// `ShiftR`, `1` → `_1`.
pub fn variant_name(value: &str) -> String {
    camel(value)
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

/// Hands out names unique within one scope, first come first served: a
/// name already taken gets the lowest free numeric suffix (`Foo2`,
/// `foo_2`). Call it in a fixed order and the result is deterministic.
#[derive(Debug, Default)]
pub struct Namer {
    taken: HashSet<String>,
}

impl Namer {
    /// An empty scope.
    pub fn new() -> Namer {
        Namer::default()
    }

    /// Reserves `name` as is (it may clash; used for fixed names).
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_owned());
    }

    /// Whether `name` is taken.
    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains(name)
    }

    /// `name`, or `name` with a suffix if it is taken.
    pub fn unique(&mut self, name: String) -> String {
        if self.taken.insert(name.clone()) {
            return name;
        }
        let snake = name.starts_with(|c: char| c.is_ascii_lowercase()) || name.starts_with("r#");
        let base = name.trim_start_matches("r#");
        for n in 2.. {
            let candidate = if snake {
                format!("{base}_{n}")
            } else {
                format!("{base}{n}")
            };
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
        unreachable!("some suffix is free")
    }
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
                ("1", "_1"),
                ("2d", "_2d"),
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
    fn clashes_get_deterministic_suffixes() {
        let mut n = Namer::new();
        n.reserve("Unknown");
        assert_eq!(n.unique(variant_name("unknown")), "Unknown2");
        assert_eq!(n.unique(variant_name("a-b")), "AB");
        assert_eq!(n.unique(variant_name("a_b")), "AB2");
        assert_eq!(n.unique(variant_name("a.b")), "AB3");
        let mut f = Namer::new();
        assert_eq!(f.unique(field_name("foo-bar")), "foo_bar");
        assert_eq!(f.unique(field_name("foo_bar")), "foo_bar_2");
        assert_eq!(f.unique(field_name("type")), "r#type");
        assert_eq!(f.unique(field_name("type")), "type_2");
    }
}
