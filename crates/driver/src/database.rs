//! A database handle: owned and cheap, like [`Container`].

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use crate::container::Container;
use crate::driver::Driver;
use crate::error::DriverError;
use crate::operation::Operation;
use crate::request::Target;

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

    pub(crate) fn driver_ref(&self) -> &Driver {
        &self.driver
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

impl Driver {
    /// Creates a database.
    pub async fn create_database(&self, id: &str) -> Result<Value, DriverError> {
        let body = Bytes::from(json!({"id": id}).to_string());
        let operation = Operation::write(Method::POST, Target::databases(), false, Some(body));
        Ok(serde_json::from_slice(
            &self.inner.execute(&operation).await?.body,
        )?)
    }

    /// Creates a container in `db` partitioned by `partition_key_path` (e.g. `/pk`), with
    /// hash version 2 as the official SDKs create them (the service takes a definition
    /// without a version as version 1).
    pub async fn create_container(
        &self,
        db: &str,
        id: &str,
        partition_key_path: &str,
    ) -> Result<Value, DriverError> {
        let body = json!({"id": id, "partitionKey": {"paths": [partition_key_path], "kind": "Hash", "version": 2}});
        let operation = Operation::write(
            Method::POST,
            Target::containers(db),
            false,
            Some(Bytes::from(body.to_string())),
        );
        Ok(serde_json::from_slice(
            &self.inner.execute(&operation).await?.body,
        )?)
    }

    /// A handle of database `id` (owned, cheap to clone).
    pub fn database(&self, id: &str) -> Database {
        Database::new(self, id)
    }
}
