//! Values the generated types keep when this build does not know them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An enum value this build does not know, kept verbatim.
///
/// Generated enums are `#[non_exhaustive]` and decode values that a newer
/// QEMU added into their `Unknown` variant instead of failing. Match on
/// [`as_str`](UnknownValue::as_str) of the enum rather than on this type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnknownValue(String);

impl UnknownValue {
    #[doc(hidden)]
    pub fn new(value: &str) -> UnknownValue {
        UnknownValue(value.to_owned())
    }

    /// The value as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A union branch this build does not know: its discriminator value and
/// the members beside it, kept verbatim.
#[derive(Clone, Debug, PartialEq)]
pub struct UnknownBranch {
    tag: String,
    data: Map<String, Value>,
}

impl UnknownBranch {
    #[doc(hidden)]
    pub fn new(tag: String, data: Map<String, Value>) -> UnknownBranch {
        UnknownBranch { tag, data }
    }

    /// The discriminator's value.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The other members of the branch.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }
}

/// When QEMU sent an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Microseconds past `seconds`.
    pub microseconds: i64,
}

/// A whole event message: the event (such as `qmp::Event`) and when it
/// happened.
///
/// Decodes QEMU's `{"event": "STOP", "data": {...}, "timestamp": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventMessage<E> {
    /// The event and its data.
    #[serde(flatten)]
    pub event: E,
    /// When QEMU sent it.
    pub timestamp: Timestamp,
}
