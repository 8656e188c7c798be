//! Checks an item operation passes before anything is sent: the consistency level
//! against the account's default, the partition key value against the container's
//! definition (see [`partition_key`](crate::partition_key)).

use std::sync::Arc;

use crate::container::Container;
use crate::container_properties::PartitionKeyDefinition;
use crate::error::DriverError;
use crate::operation::Operation;
use crate::options::ConsistencyLevel;
use crate::partition_key::PartitionKey;
use crate::partition_route::PartitionRoute;
use crate::range_fetch::epk_of;
use crate::request::Target;

impl Container {
    /// Refuses a level stronger than the account's default, before anything is sent.
    pub(crate) fn check_consistency(&self, level: ConsistencyLevel) -> Result<(), DriverError> {
        let (driver, ..) = self.parts();
        driver
            .inner
            .handle
            .with_snapshot(|s| crate::options::check_consistency(level, s.default_consistency()))
            .map_err(|(requested, account)| DriverError::ConsistencyTooStrong {
                requested,
                account,
            })
    }

    /// Refuses a partition key value that cannot fit the container's definition and
    /// resolves the partition key range it addresses. The definition is read once per
    /// account and container in the runtime, the routing map likewise. If the definition
    /// cannot be read, the operation goes ahead unchecked and unresolved (the service has
    /// the last word), unless the read was refused as the operation would be (401,
    /// shutdown).
    pub(crate) async fn prepare(
        &self,
        pk: &PartitionKey,
    ) -> Result<Option<PartitionRoute>, DriverError> {
        // Every operation but a container's first: definition and map known, no await —
        // and the fetching path is boxed, so each operation's future stays small.
        let epk = match self.known_epk(pk) {
            Some(epk) => epk?,
            None => return Box::pin(self.prepare_first(pk)).await,
        };
        let Some(epk) = epk else {
            return Ok(None);
        };
        let (driver, ..) = self.parts();
        let map = match driver.inner.handle.current_routing_map(self.link()) {
            Some(map) => map,
            None => match Box::pin(self.routing_map(None)).await {
                Some(map) => map,
                None => return Ok(None),
            },
        };
        Ok(PartitionRoute::resolve(Arc::clone(self.link()), epk, map))
    }

    /// `pk` checked against the known definition and hashed in place (nothing cloned):
    /// its effective partition key (`None` for a value no point operation takes), or
    /// `None` when the definition is not known yet.
    fn known_epk(&self, pk: &PartitionKey) -> Option<Result<Option<String>, DriverError>> {
        let (driver, ..) = self.parts();
        let link = self.link();
        driver.inner.pk_shapes.with(link, |definition| {
            crate::partition_key::check(pk, definition, link).map(|()| epk_of(pk, definition))
        })
    }

    /// [`prepare`](Self::prepare) for a container's first operation in the runtime: the
    /// definition read, then the routing map.
    async fn prepare_first(
        &self,
        pk: &PartitionKey,
    ) -> Result<Option<PartitionRoute>, DriverError> {
        let Some(definition) = self.definition().await? else {
            return Ok(None);
        };
        crate::partition_key::check(pk, &definition, self.link())?;
        let Some(epk) = epk_of(pk, &definition) else {
            return Ok(None);
        };
        let Some(map) = self.routing_map(None).await else {
            return Ok(None);
        };
        Ok(PartitionRoute::resolve(Arc::clone(self.link()), epk, map))
    }

    /// The container's partition key definition, read from the service (once per account
    /// and container in the runtime: kept for every later operation); `None` when it
    /// cannot be read.
    async fn definition(&self) -> Result<Option<PartitionKeyDefinition>, DriverError> {
        let (driver, db, coll, excluded) = self.parts();
        #[derive(serde::Deserialize)]
        struct Definition {
            #[serde(rename = "partitionKey")]
            partition_key: PartitionKeyDefinition,
        }
        let read = Operation::read(Target::container(db, coll)).excluding(excluded);
        let success = match driver.inner.execute(&read).await {
            Ok(success) => success,
            Err(error @ (DriverError::Unauthorized(_) | DriverError::Shutdown)) => {
                return Err(error);
            }
            Err(_) => return Ok(None),
        };
        let Ok(found) = serde_json::from_slice::<Definition>(&success.body) else {
            return Ok(None);
        };
        driver
            .inner
            .pk_shapes
            .insert(Arc::clone(self.link()), found.partition_key.clone());
        Ok(Some(found.partition_key))
    }
}
