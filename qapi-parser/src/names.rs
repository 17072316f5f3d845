//! QAPI naming rules.

use crate::model::Builtin;

/// One character of QEMU's `c_name` (without keyword protection): every
/// character that is not an ASCII letter, digit or underscore becomes `_`.
/// Two names clash when their C names are equal. The checks compare C
/// names character by character rather than build them.
pub(crate) fn c_char(c: char) -> char {
    if c.is_ascii_alphanumeric() { c } else { '_' }
}

/// Whether `c_name(name)` starts with `prefix`, without building it (the
/// checks run for every name in a schema; plain loops, which stay cheap in
/// unoptimised builds too).
pub(crate) fn c_name_starts_with(name: &str, prefix: &str) -> bool {
    let mut chars = name.chars();
    for p in prefix.chars() {
        match chars.next() {
            Some(c) if c_char(c) == p => {}
            _ => return false,
        }
    }
    true
}

/// Whether `c_name(name) == c`, without building it.
pub(crate) fn c_name_is(name: &str, c: &str) -> bool {
    let mut chars = name.chars();
    for p in c.chars() {
        match chars.next() {
            Some(x) if c_char(x) == p => {}
            _ => return false,
        }
    }
    chars.next().is_none()
}

/// Splits a valid name into its stem: without the downstream `__RFQDN_`
/// prefix and the experimental `x-` prefix. `None` if the name is invalid:
/// it must be letters, digits, `-` and `_`, starting with a letter (after the
/// prefixes), and must not map to a C name starting with `q_`, a namespace
/// QEMU reserves for itself. With the stem comes the classes of its
/// characters: [`UPPER`], [`UNDERSCORE`] and [`LOWER_OR_DASH`] or-ed
/// together, found on the same pass that checks them.
pub(crate) fn stem_classes(name: &str) -> Option<(&str, u8)> {
    let mut rest = name;
    if let Some(after) = rest.strip_prefix("__") {
        // The RFQDN: [a-z0-9.-]+ (any case), then '_'. The regex is greedy
        // with backtracking, so the prefix ends at the last '_' that leaves
        // a valid stem; RFQDNs contain no '_', so take the first.
        let end = after.find('_')?;
        let rfqdn = &after[..end];
        if rfqdn.is_empty() {
            return None;
        }
        // Bytes rather than characters: no byte of a non-ASCII character
        // passes an ASCII test, so the answer is the same.
        for &b in rfqdn.as_bytes() {
            if !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
                return None;
            }
        }
        rest = &after[end + 1..];
    }
    if let Some(after) = rest.strip_prefix("x-").or_else(|| rest.strip_prefix("X-"))
        && after.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        rest = after;
    }
    let bytes = rest.as_bytes();
    let first = *bytes.first()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let mut classes = NAME_BYTE[usize::from(first)];
    for &b in &bytes[1..] {
        let class = NAME_BYTE[usize::from(b)];
        if class == 0 {
            return None;
        }
        classes |= class;
    }
    if c_name_starts_with(name, "q_") {
        return None;
    }
    Some((rest, classes & !VALID))
}

/// A byte a name may contain after its first letter.
const VALID: u8 = 1;
/// An upper-case letter.
pub(crate) const UPPER: u8 = 2;
/// An underscore.
pub(crate) const UNDERSCORE: u8 = 4;
/// A lower-case letter or `-`.
pub(crate) const LOWER_OR_DASH: u8 = 8;

/// The classes of each byte in names: 0 for bytes a name may not contain
/// (anything but ASCII letters, digits, `-` and `_`). A table, because
/// every name in a schema is checked byte by byte.
const NAME_BYTE: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_uppercase() {
            VALID | UPPER
        } else if c.is_ascii_lowercase() || c == b'-' {
            VALID | LOWER_OR_DASH
        } else if c == b'_' {
            VALID | UNDERSCORE
        } else if c.is_ascii_digit() {
            VALID
        } else {
            0
        };
        b += 1;
    }
    table
};

/// Whether `name` is a valid condition symbol: `[A-Z][A-Z0-9_]*`.
pub(crate) fn is_cond_symbol(name: &str) -> bool {
    let bytes = name.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    for &b in &bytes[1..] {
        if !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
            return false;
        }
    }
    true
}

/// CamelCase as QEMU requires of type names: an upper-case letter, then
/// letters and digits with at least one lower-case letter.
pub(crate) fn is_camel(stem: &str) -> bool {
    let bytes = stem.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let mut lower = false;
    for &b in &bytes[1..] {
        if !b.is_ascii_alphanumeric() {
            return false;
        }
        lower |= b.is_ascii_lowercase();
    }
    lower
}

/// The built-in type `name` names: [`Builtin::from_name`] as one `match`,
/// which compiles to a switch on the length rather than fifteen string
/// comparisons (every type reference is looked up here first).
pub(crate) fn builtin(name: &str) -> Option<Builtin> {
    Some(match name {
        "str" => Builtin::Str,
        "number" => Builtin::Number,
        "int" => Builtin::Int,
        "int8" => Builtin::Int8,
        "int16" => Builtin::Int16,
        "int32" => Builtin::Int32,
        "int64" => Builtin::Int64,
        "uint8" => Builtin::Uint8,
        "uint16" => Builtin::Uint16,
        "uint32" => Builtin::Uint32,
        "uint64" => Builtin::Uint64,
        "size" => Builtin::Size,
        "bool" => Builtin::Bool,
        "null" => Builtin::Null,
        "any" => Builtin::Any,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        let cases = [
            ("send-key", Some("send-key")),
            ("x-query-foo", Some("query-foo")),
            ("__org.qemu_x-command", Some("command")),
            ("__com.redhat_drive-mirror", Some("drive-mirror")),
            ("q-unix", None),
            ("q_obj", None),
            ("_oops", None),
            ("*oops", None),
            ("1abc", None),
            ("a.b", None),
            ("__org_", None),
        ];
        for (name, want) in cases {
            assert_eq!(stem_classes(name).map(|(s, _)| s), want, "{name}");
        }
        assert_eq!(
            stem_classes("x-Ab_c"),
            Some(("Ab_c", UPPER | UNDERSCORE | LOWER_OR_DASH))
        );
        assert_eq!(stem_classes("__org.x_AB1"), Some(("AB1", UPPER)));
        assert_eq!(stem_classes("a-b"), Some(("a-b", LOWER_OR_DASH)));
    }

    #[test]
    fn builtin_agrees_with_the_model() {
        for b in Builtin::ALL {
            assert_eq!(builtin(b.name()), Some(b));
        }
        assert_eq!(builtin("intList"), None);
        assert_eq!(builtin("Int"), None);
    }

    #[test]
    fn cond_and_camel() {
        assert!(is_cond_symbol("CONFIG_VNC"));
        assert!(!is_cond_symbol("config"));
        assert!(!is_cond_symbol(""));
        assert!(is_camel("KeyValue"));
        assert!(is_camel("Abc1"));
        assert!(!is_camel("ABC"));
        assert!(!is_camel("keyValue"));
        assert!(c_name_is("one-two.x", "one_two_x"));
        assert!(c_name_is("u", "u"));
        assert!(!c_name_is("ux", "u"));
        assert!(!c_name_is("", "u"));
        assert!(c_name_starts_with("has-x", "has_"));
        assert!(c_name_starts_with("q_", "q_"));
        assert!(!c_name_starts_with("q", "q_"));
        assert!(!c_name_starts_with("qé", "q_é"));
        assert!(!is_camel("Ab-c"));
        assert!(!is_camel("A"));
        assert!(!is_cond_symbol("A-B"));
        assert_eq!(stem_classes("__org.qemu_Zé"), None);
        assert_eq!(stem_classes("__org.é_x"), None);
    }
}
