//! The order item the API and point-operation tests write and read back.

use serde::{Deserialize, Serialize};

/// An order: its id, its partition key and a total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub pk: String,
    pub total: u32,
}

impl Order {
    /// Order `id` in partition `pk`, of `total`.
    pub fn new(id: &str, pk: &str, total: u32) -> Self {
        Self {
            id: id.into(),
            pk: pk.into(),
            total,
        }
    }
}
