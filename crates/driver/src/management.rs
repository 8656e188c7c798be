//! Databases and containers: read, list, create (if not exists), replace, delete.
//!
//! Control-plane requests go through the same attempt loop as item operations (routed,
//! retried, failed over); creates and deletes are not idempotent and are never retried
//! after they may have been applied.

use bytes::Bytes;
use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::container_properties::{ContainerProperties, DatabaseProperties};
use crate::database::Database;
use crate::driver::Driver;
use crate::error::DriverError;
use crate::header_name::header_name;
use crate::operation::{Operation, Success};
use crate::request::Target;

/// Most pages a listing follows (each holds up to the service's page size).
const MAX_LIST_PAGES: usize = 10_000;

fn parse<T: DeserializeOwned>(success: &Success, link: &str) -> Result<T, DriverError> {
    Ok(crate::decode::from_slice(&success.body, link)?)
}

fn body<T: Serialize>(value: &T) -> Result<Bytes, DriverError> {
    Ok(Bytes::from(serde_json::to_vec(value)?))
}

impl Driver {
    async fn run(&self, operation: Operation) -> Result<Success, DriverError> {
        self.inner.execute(&operation).await
    }

    /// Every resource of a feed (`dbs`, `dbs/{db}/colls`), following continuations.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        target: Target,
        key: &str,
    ) -> Result<Vec<T>, DriverError> {
        let mut all = Vec::new();
        let mut continuation: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut operation = Operation::read(target.clone());
            if let Some(token) = continuation.take() {
                operation = operation.header(header_name!("x-ms-continuation"), token);
            }
            let success = self.run(operation).await?;
            for value in crate::query::results(&success.body, key)? {
                all.push(crate::decode::from_value(value, &target.resource_link)?);
            }
            continuation = success
                .headers
                .get("x-ms-continuation")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if continuation.is_none() {
                break;
            }
        }
        Ok(all)
    }

    /// Reads database `id` (404: [`DriverError::is_not_found`]).
    pub async fn read_database(&self, id: &str) -> Result<DatabaseProperties, DriverError> {
        let success = self.run(Operation::read(Target::database(id))).await?;
        parse(&success, "dbs")
    }

    /// Every database of the account.
    pub async fn list_databases(&self) -> Result<Vec<DatabaseProperties>, DriverError> {
        self.list(Target::databases(), "Databases").await
    }

    /// Deletes database `id` and everything in it.
    pub async fn delete_database(&self, id: &str) -> Result<(), DriverError> {
        self.inner.pk_shapes.forget_database(id);
        let prefix = format!("dbs/{id}/colls/");
        self.inner.handle.forget_routing_maps_under(&prefix);
        let operation = Operation::write(Method::DELETE, Target::database(id), false, None);
        self.run(operation).await.map(drop)
    }

    /// Creates database `id`, or reads it if it exists (no 409 to catch).
    pub async fn create_database_if_not_exists(
        &self,
        id: &str,
    ) -> Result<DatabaseProperties, DriverError> {
        match self.read_database(id).await {
            Err(error) if error.is_not_found() => {}
            other => return other,
        }
        let sent = body(&serde_json::json!({ "id": id }))?;
        let operation = Operation::write(Method::POST, Target::databases(), false, Some(sent));
        match self.run(operation).await {
            Ok(success) => parse(&success, "dbs"),
            // Created meanwhile by someone else, or applied before a lost answer.
            Err(error) if error.is_conflict() || matches!(error, DriverError::MaybeApplied(_)) => {
                self.read_database(id).await
            }
            Err(error) => Err(error),
        }
    }
}

impl Database {
    fn driver(&self) -> &Driver {
        self.driver_ref()
    }

    /// Reads this database.
    pub async fn read(&self) -> Result<DatabaseProperties, DriverError> {
        self.driver().read_database(self.id()).await
    }

    /// Deletes this database and everything in it.
    pub async fn delete(&self) -> Result<(), DriverError> {
        self.driver().delete_database(self.id()).await
    }

    /// Creates a container with its full definition; 409 if it exists.
    pub async fn create_container_with(
        &self,
        properties: &ContainerProperties,
    ) -> Result<ContainerProperties, DriverError> {
        let sent = body(properties)?;
        let target = Target::containers(self.id());
        let success = self
            .driver()
            .run(Operation::write(Method::POST, target, false, Some(sent)))
            .await?;
        parse(&success, &format!("dbs/{}", self.id()))
    }

    /// Creates the container, or reads it if one with this id exists (its definition
    /// is returned as it is; it is not replaced).
    pub async fn create_container_if_not_exists(
        &self,
        properties: &ContainerProperties,
    ) -> Result<ContainerProperties, DriverError> {
        match self.read_container(&properties.id).await {
            Err(error) if error.is_not_found() => {}
            other => return other,
        }
        match self.create_container_with(properties).await {
            Err(error) if error.is_conflict() || matches!(error, DriverError::MaybeApplied(_)) => {
                self.read_container(&properties.id).await
            }
            other => other,
        }
    }

    /// Reads container `id`'s definition.
    pub async fn read_container(&self, id: &str) -> Result<ContainerProperties, DriverError> {
        let target = Target::container(self.id(), id);
        let link = target.resource_link.clone();
        let success = self.driver().run(Operation::read(target)).await?;
        parse(&success, &link)
    }

    /// Every container of this database.
    pub async fn list_containers(&self) -> Result<Vec<ContainerProperties>, DriverError> {
        let target = Target::containers(self.id());
        self.driver().list(target, "DocumentCollections").await
    }

    /// Replaces a container's definition (indexing policy, unique keys, default TTL,
    /// conflict resolution); the id and the partition key cannot change (400).
    pub async fn replace_container(
        &self,
        properties: &ContainerProperties,
    ) -> Result<ContainerProperties, DriverError> {
        let target = Target::container(self.id(), &properties.id);
        let link = target.resource_link.clone();
        let sent = body(properties)?;
        self.driver().inner.pk_shapes.forget(&link);
        let success = self
            .driver()
            .run(Operation::write(Method::PUT, target, true, Some(sent)))
            .await?;
        parse(&success, &link)
    }

    /// Deletes container `id` and its items.
    pub async fn delete_container(&self, id: &str) -> Result<(), DriverError> {
        let target = Target::container(self.id(), id);
        self.driver().inner.pk_shapes.forget(&target.resource_link);
        let handle = &self.driver().inner.handle;
        handle.forget_routing_map(&target.resource_link);
        let operation = Operation::write(Method::DELETE, target, false, None);
        self.driver().run(operation).await.map(drop)
    }
}
