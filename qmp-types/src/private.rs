//! Helpers for the generated code; not part of the API.

use serde::de::{self, DeserializeOwned, Error as _, Unexpected};
use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::UnknownBranch;

pub use crate::__impl_enum as impl_enum;
pub use crate::__impl_transparent as impl_transparent;

/// Implements `Serialize` and `Deserialize` for a one-field tuple struct
/// as its field's (a boxed command's arguments), as
/// `#[serde(transparent)]` would without compiling serde's derive.
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_transparent {
    ($name:ident) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&self.0, s)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                ::serde::Deserialize::deserialize(d).map(Self)
            }
        }
    };
}

/// Implements `Serialize`, `Deserialize`, `Display` and `FromStr` for a
/// generated enum from its `as_str` and `From<&str>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_enum {
    ($name:ident) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                $crate::__private::de_enum(d)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;

            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                ::std::result::Result::Ok(Self::from(s))
            }
        }
    };
}

/// Decodes an enum from a JSON string.
pub fn de_enum<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<T: for<'a> From<&'a str>> de::Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Ok(T::from(v))
        }
    }
    d.deserialize_str(V(std::marker::PhantomData))
}

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Unexpected::Signed(i),
            (_, Some(u), _) => Unexpected::Unsigned(u),
            (_, _, Some(f)) => Unexpected::Float(f),
            _ => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// Decodes an optional member whose type has `null` as a value: present
/// `null` is `Some`, only absence is `None` (with `#[serde(default)]`).
pub fn de_some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Reads a union object: its discriminator value and the other members.
pub fn split_tag<'de, D: Deserializer<'de>>(
    d: D,
    tag: &'static str,
) -> Result<(String, Map<String, Value>), D::Error> {
    let mut map = Map::<String, Value>::deserialize(d)?;
    match map.remove(tag) {
        Some(Value::String(s)) => Ok((s, map)),
        Some(v) => Err(D::Error::invalid_type(unexpected(&v), &"a string")),
        None => Err(D::Error::missing_field(tag)),
    }
}

/// Decodes a branch from the members beside the discriminator.
pub fn de_branch<T: DeserializeOwned, E: de::Error>(rest: Map<String, Value>) -> Result<T, E> {
    T::deserialize(Value::Object(rest)).map_err(E::custom)
}

/// Decodes the `data` member of a wrapper branch.
pub fn de_wrapped<T: DeserializeOwned, E: de::Error>(mut rest: Map<String, Value>) -> Result<T, E> {
    let v = rest
        .remove("data")
        .ok_or_else(|| E::missing_field("data"))?;
    T::deserialize(v).map_err(E::custom)
}

/// Decodes a value already read as JSON.
pub fn de_value<T: DeserializeOwned, E: de::Error>(v: Value) -> Result<T, E> {
    T::deserialize(v).map_err(E::custom)
}

/// Encodes a union branch without members.
pub fn ser_unit<S: Serializer>(s: S, tag: &str, value: &str) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry(tag, value)?;
    m.end()
}

/// Encodes a union branch: the discriminator and the branch's members.
pub fn ser_branch<S: Serializer, T: Serialize>(
    s: S,
    tag: &str,
    value: &str,
    branch: &T,
) -> Result<S::Ok, S::Error> {
    let members = match serde_json::to_value(branch).map_err(S::Error::custom)? {
        Value::Object(m) => m,
        _ => return Err(S::Error::custom("union branch is not an object")),
    };
    let mut m = s.serialize_map(Some(members.len() + 1))?;
    m.serialize_entry(tag, value)?;
    for (k, v) in &members {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

/// Encodes a wrapper branch: the discriminator and `data`.
pub fn ser_wrapped<S: Serializer, T: Serialize>(
    s: S,
    tag: &str,
    value: &str,
    data: &T,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(2))?;
    m.serialize_entry(tag, value)?;
    m.serialize_entry("data", data)?;
    m.end()
}

/// Encodes a branch this build does not know, as it was received.
pub fn ser_unknown<S: Serializer>(s: S, tag: &str, u: &UnknownBranch) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(u.data().len() + 1))?;
    m.serialize_entry(tag, u.tag())?;
    for (k, v) in u.data() {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

/// The JSON type of a value, as alternates tell their branches apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Json {
    /// A string.
    String,
    /// An integer.
    Int,
    /// A number with a fraction or exponent.
    Float,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
    /// An object.
    Object,
    /// An array.
    Array,
}

/// The JSON type of `v`.
pub fn json_type(v: &Value) -> Json {
    match v {
        Value::String(_) => Json::String,
        Value::Number(n) if n.is_i64() || n.is_u64() => Json::Int,
        Value::Number(_) => Json::Float,
        Value::Bool(_) => Json::Bool,
        Value::Null => Json::Null,
        Value::Object(_) => Json::Object,
        Value::Array(_) => Json::Array,
    }
}

/// Reads an event object: its name and `data`, other members ignored.
pub fn split_event<'de, D: Deserializer<'de>>(d: D) -> Result<(String, Option<Value>), D::Error> {
    let mut map = Map::<String, Value>::deserialize(d)?;
    let name = match map.remove("event") {
        Some(Value::String(s)) => s,
        Some(v) => return Err(D::Error::invalid_type(unexpected(&v), &"a string")),
        None => return Err(D::Error::missing_field("event")),
    };
    Ok((name, map.remove("data")))
}

/// Decodes an event's data (absent counts as `{}`).
pub fn de_data<T: DeserializeOwned, E: de::Error>(data: Option<Value>) -> Result<T, E> {
    T::deserialize(data.unwrap_or_else(|| Value::Object(Map::new()))).map_err(E::custom)
}

/// Encodes an event's name and data.
pub fn ser_event<S: Serializer, T: Serialize>(
    s: S,
    name: &str,
    data: Option<&T>,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1 + usize::from(data.is_some())))?;
    m.serialize_entry("event", name)?;
    if let Some(d) = data {
        m.serialize_entry("data", d)?;
    }
    m.end()
}

// ---- structs ------------------------------------------------------------
//
// Generated structs decode through `Members` instead of `serde_derive`: a
// derive expands to a field enum, a visitor and a sequence form per type,
// and rustc spent most of a clean build type- and borrow-checking ~800 of
// them. Here each struct is one short `from_members` body; the generic
// parts (one per deserializer, one per member type) are shared.

/// The members of a JSON object being decoded into a generated struct.
pub struct Members(Map<String, Value>);

/// A generated struct built from its JSON members.
pub trait FromMembers: Sized {
    /// Takes this struct's members out of `m`; the rest stay.
    fn from_members(m: &mut Members) -> Result<Self, serde_json::Error>;
}

/// Decodes a generated struct: reads the object, then builds it.
pub fn de_struct<'de, D: Deserializer<'de>, T: FromMembers>(d: D) -> Result<T, D::Error> {
    let map = Map::<String, Value>::deserialize(d)?;
    T::from_members(&mut Members(map)).map_err(D::Error::custom)
}

/// Decodes a member's value, tracking where inside it a mismatch is, and
/// reports one as `at NAME[i].inner: message` (see `crate::decode`).
fn member<T: DeserializeOwned>(name: &str, v: Value) -> Result<T, serde_json::Error> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let (inner, message) = crate::decode::split_located(&e.inner().to_string());
        let within =
            crate::decode::join_path(&e.path().to_string(), inner.as_deref().unwrap_or("."));
        let path = crate::decode::join_path(name, &within);
        <serde_json::Error as de::Error>::custom(format_args!("at {path}: {message}"))
    })
}

impl Members {
    /// A member that must be present.
    pub fn required<T: DeserializeOwned>(
        &mut self,
        name: &'static str,
    ) -> Result<T, serde_json::Error> {
        match self.0.remove(name) {
            Some(v) => member(name, v),
            None => Err(<serde_json::Error as de::Error>::missing_field(name)),
        }
    }

    /// An optional member: absent or `null` is `None`.
    pub fn optional<T: DeserializeOwned>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<T>, serde_json::Error> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => member(name, v).map(Some),
        }
    }

    /// An optional member whose type has `null` as a value: only absence
    /// is `None`.
    pub fn nullable<T: DeserializeOwned>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<T>, serde_json::Error> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(v) => member(name, v).map(Some),
        }
    }

    /// The members no other field took, decoded as one value (a union's
    /// branch, a command's further arguments).
    pub fn rest<T: DeserializeOwned>(&mut self) -> Result<T, serde_json::Error> {
        T::deserialize(Value::Object(std::mem::take(&mut self.0)))
    }
}

/// Encodes a generated struct's members as a JSON object.
pub fn ser_struct<S: Serializer>(s: S) -> Result<S::SerializeMap, S::Error> {
    s.serialize_map(None)
}

/// Encodes an optional member if it is present.
pub fn ser_optional<M: SerializeMap, T: Serialize>(
    m: &mut M,
    name: &'static str,
    v: &Option<T>,
) -> Result<(), M::Error> {
    match v {
        Some(v) => m.serialize_entry(name, v),
        None => Ok(()),
    }
}

/// Encodes a value's members beside the others (a union's branch, a
/// command's further arguments).
pub fn ser_flatten<M: SerializeMap, T: Serialize>(m: &mut M, v: &T) -> Result<(), M::Error> {
    match serde_json::to_value(v).map_err(M::Error::custom)? {
        Value::Object(members) => {
            for (k, v) in &members {
                m.serialize_entry(k, v)?;
            }
            Ok(())
        }
        _ => Err(M::Error::custom("flattened member is not an object")),
    }
}
