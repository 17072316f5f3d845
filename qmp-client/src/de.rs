//! Decoding the few protocol objects the client reads itself (greeting,
//! versions, events) without serde's derive.
//!
//! Why by hand: a derive here would compile serde_derive in every user's
//! build, for five small structs; the generated bindings have none.

use serde::de::{DeserializeOwned, Error};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Reads a JSON object to take members from.
pub(crate) fn object<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Map::deserialize(d)
}

/// Takes the member `name`, which must be there, and decodes it.
pub(crate) fn required<T: DeserializeOwned, E: Error>(
    m: &mut Map<String, Value>,
    name: &'static str,
) -> Result<T, E> {
    let v = m.remove(name).ok_or_else(|| E::missing_field(name))?;
    T::deserialize(v).map_err(|e| E::custom(format_args!("`{name}`: {e}")))
}
