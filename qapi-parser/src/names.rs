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
/// checks run for every name in a schema).
pub(crate) fn c_name_starts_with(name: &str, prefix: &str) -> bool {
    let n = prefix.chars().count();
    name.chars().map(c_char).take(n).eq(prefix.chars())
}

/// Whether `c_name(name) == c`, without building it.
pub(crate) fn c_name_is(name: &str, c: &str) -> bool {
    name.chars().map(c_char).eq(c.chars())
}

/// Splits a valid name into its stem: without the downstream `__RFQDN_`
/// prefix and the experimental `x-` prefix. `None` if the name is invalid:
/// it must be letters, digits, `-` and `_`, starting with a letter (after the
/// prefixes), and must not map to a C name starting with `q_`, a namespace
/// QEMU reserves for itself.
pub(crate) fn stem(name: &str) -> Option<&str> {
    let mut rest = name;
    if let Some(after) = rest.strip_prefix("__") {
        // The RFQDN: [a-z0-9.-]+ (any case), then '_'. The regex is greedy
        // with backtracking, so the prefix ends at the last '_' that leaves
        // a valid stem; RFQDNs contain no '_', so take the first.
        let end = after.find('_')?;
        let rfqdn = &after[..end];
        if rfqdn.is_empty()
            || !rfqdn
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return None;
        }
        rest = &after[end + 1..];
    }
    if let Some(after) = rest.strip_prefix("x-").or_else(|| rest.strip_prefix("X-"))
        && after.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        rest = after;
    }
    let mut chars = rest.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return None;
    }
    if c_name_starts_with(name, "q_") {
        return None;
    }
    Some(rest)
}

/// Whether `name` is a valid condition symbol: `[A-Z][A-Z0-9_]*`.
pub(crate) fn is_cond_symbol(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// CamelCase as QEMU requires of type names: an upper-case letter, then
/// letters and digits with at least one lower-case letter.
pub(crate) fn is_camel(stem: &str) -> bool {
    let mut chars = stem.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && stem.chars().all(|c| c.is_ascii_alphanumeric())
        && stem.chars().skip(1).any(|c| c.is_ascii_lowercase())
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
            assert_eq!(stem(name), want, "{name}");
        }
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
    }
}
