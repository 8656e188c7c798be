//! Turning a returned item into the caller's type, and saying which item and which type
//! when that fails.
//!
//! The happy path parses once, straight into `T`; only a failure reads the body again,
//! for the item's `id`.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// An item the service returned does not deserialize as the caller's type. `Display`
/// names the item, its container and the type; the parser's message is
/// [`source()`](std::error::Error::source).
#[derive(Debug)]
#[non_exhaustive]
pub struct DeserializeError {
    /// The item's `id`, if the body carries one.
    pub item: Option<String>,
    /// The container's link (`dbs/{db}/colls/{coll}`).
    pub container: String,
    /// The Rust type asked for ([`std::any::type_name`]).
    pub type_name: &'static str,
    /// What the parser said.
    pub source: serde_json::Error,
}

impl fmt::Display for DeserializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.item {
            Some(id) => write!(f, "item `{id}`")?,
            None => f.write_str("an item")?,
        }
        write!(
            f,
            " of `{}` does not deserialize as `{}`",
            self.container, self.type_name
        )
    }
}

impl std::error::Error for DeserializeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn id_of(value: &Value) -> Option<String> {
    value.get("id").and_then(Value::as_str).map(str::to_string)
}

fn error<T>(
    item: Option<String>,
    container: &str,
    source: serde_json::Error,
) -> Box<DeserializeError> {
    Box::new(DeserializeError {
        item,
        container: container.to_string(),
        type_name: std::any::type_name::<T>(),
        source,
    })
}

/// Parses a response body as `T`; on failure, names the body's `id` and `container`.
pub(crate) fn from_slice<T: DeserializeOwned>(
    body: &[u8],
    container: &str,
) -> Result<T, Box<DeserializeError>> {
    serde_json::from_slice(body).map_err(|source| {
        let id = serde_json::from_slice::<Value>(body)
            .ok()
            .as_ref()
            .and_then(id_of);
        error::<T>(id, container, source)
    })
}

/// Converts one item of a page to `T`; on failure, names its `id` and `container`.
pub(crate) fn from_value<T: DeserializeOwned>(
    value: Value,
    container: &str,
) -> Result<T, Box<DeserializeError>> {
    T::deserialize(&value).map_err(|source| error::<T>(id_of(&value), container, source))
}
