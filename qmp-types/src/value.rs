//! Values the generated types keep when this build does not know them.

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::{Error as _, SerializeMap as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
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
#[derive(Clone, Debug, PartialEq)]
pub struct EventMessage<E> {
    /// The event and its data.
    pub event: E,
    /// When QEMU sent it.
    pub timestamp: Timestamp,
}

// Written out rather than derived: serde's derive would be compiled in
// every user's build for these two types alone.

impl crate::__private::FromMembers for Timestamp {
    fn from_members(m: &mut crate::__private::Members) -> Result<Self, serde_json::Error> {
        Ok(Timestamp {
            seconds: m.required("seconds")?,
            microseconds: m.required("microseconds")?,
        })
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::__private::de_struct(d)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("seconds", &self.seconds)?;
        m.serialize_entry("microseconds", &self.microseconds)?;
        m.end()
    }
}

/// The event sees every member but `timestamp` (`event`, `data`).
impl<'de, E: DeserializeOwned> Deserialize<'de> for EventMessage<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut members = Map::<String, Value>::deserialize(d)?;
        let timestamp = members
            .remove("timestamp")
            .ok_or_else(|| D::Error::missing_field("timestamp"))?;
        Ok(EventMessage {
            event: E::deserialize(Value::Object(members)).map_err(D::Error::custom)?,
            timestamp: Timestamp::deserialize(timestamp).map_err(D::Error::custom)?,
        })
    }
}

impl<E: Serialize> Serialize for EventMessage<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Value::Object(members) = serde_json::to_value(&self.event).map_err(S::Error::custom)?
        else {
            return Err(S::Error::custom("an event must encode as a JSON object"));
        };
        let mut m = s.serialize_map(Some(members.len() + 1))?;
        for (k, v) in &members {
            m.serialize_entry(k, v)?;
        }
        m.serialize_entry("timestamp", &self.timestamp)?;
        m.end()
    }
}
