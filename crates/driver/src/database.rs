//! A database handle: owned and cheap, like [`Container`].

use std::sync::Arc;

use serde_json::Value;

use crate::container::Container;
use crate::driver::Driver;
use crate::error::DriverError;

/// One database of the account: a cheap, owned handle (`Clone + Send + Sync + 'static`).
#[derive(Debug, Clone)]
pub struct Database {
    driver: Driver,
    id: Arc<str>,
}

impl Database {
    pub(crate) fn new(driver: &Driver, id: &str) -> Self {
        Self {
            driver: driver.clone(),
            id: id.into(),
        }
    }

    /// The database id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A handle for item operations in container `id` of this database.
    pub fn container(&self, id: &str) -> Container {
        Container::new(&self.driver, &self.id, id)
    }

    /// Creates container `id` partitioned by `partition_key_path` (e.g. `/pk`).
    pub async fn create_container(
        &self,
        id: &str,
        partition_key_path: &str,
    ) -> Result<Value, DriverError> {
        self.driver
            .create_container(&self.id, id, partition_key_path)
            .await
    }
}
