//! Decoding QEMU's JSON into the generated types, with the place of a
//! mismatch.

use std::fmt;

use serde::Deserialize;

/// Why a JSON value did not decode into a type of this crate, and where.
///
/// ```
/// use qmp_types::qmp::StatusInfo;
///
/// let reply = serde_json::json!({"running": true, "status": 7});
/// let err = qmp_types::decode::<StatusInfo, _>(&reply).unwrap_err();
/// assert_eq!(err.path(), "status");
/// assert!(err.message().starts_with("invalid type: integer `7`"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    path: String,
    message: String,
}

impl DecodeError {
    /// Where the mismatch is: members joined by `.`, array indices as
    /// `[i]` (`blockstats[2].stats`); `.` for the value itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong there, in serde's words (`missing field `x``,
    /// `invalid type: ...`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes `T` from any serde deserializer of JSON (`&serde_json::Value`,
/// `&mut serde_json::Deserializer<_>`), locating a mismatch.
///
/// Generated structs decode from their members after reading the object,
/// so a tracking deserializer alone cannot see where inside them a
/// mismatch is; their errors carry the rest of the path, which this joins.
///
/// # Errors
///
/// [`DecodeError`], with the path of the mismatch.
pub fn decode<'de, T, D>(d: D) -> Result<T, DecodeError>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde_path_to_error::deserialize(d).map_err(|e| {
        let outer = e.path().to_string();
        let (inner, message) = split_located(&e.inner().to_string());
        DecodeError {
            path: join_path(&outer, inner.as_deref().unwrap_or(".")),
            message,
        }
    })
}

/// Joins two paths (`.` is empty): `a` + `[2].b` is `a[2].b`, `a` + `b`
/// is `a.b`.
pub(crate) fn join_path(outer: &str, inner: &str) -> String {
    match (outer, inner) {
        (".", i) => i.to_owned(),
        (o, ".") => o.to_owned(),
        (o, i) if i.starts_with('[') => format!("{o}{i}"),
        (o, i) => format!("{o}.{i}"),
    }
}

/// Splits a message of the form `at PATH: MESSAGE` (what the generated
/// structs produce) into its path and message.
pub(crate) fn split_located(message: &str) -> (Option<String>, String) {
    if let Some(rest) = message.strip_prefix("at ")
        && let Some((path, m)) = rest.split_once(": ")
        && !path.contains(' ')
    {
        return (Some(path.to_owned()), m.to_owned());
    }
    (None, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join() {
        assert_eq!(join_path(".", "."), ".");
        assert_eq!(join_path("a", "."), "a");
        assert_eq!(join_path(".", "b"), "b");
        assert_eq!(join_path("a", "b.c"), "a.b.c");
        assert_eq!(join_path("a", "[2].c"), "a[2].c");
    }

    #[test]
    fn located_messages_split() {
        assert_eq!(
            split_located("at a[1].b: missing field `x`"),
            (Some("a[1].b".into()), "missing field `x`".into())
        );
        assert_eq!(
            split_located("invalid type: null"),
            (None, "invalid type: null".into())
        );
        assert_eq!(
            split_located("at the end: x"),
            (None, "at the end: x".into())
        );
    }
}
