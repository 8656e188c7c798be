//! Queries over the database feed (`POST /dbs`), a database's container feed
//! (`POST /dbs/{db}/colls`) and the offer feed (`POST /offers`) with `x-ms-documentdb-isquery` or a query content type: reads,
//! served in every region, answered as the feed's page (`Databases`,
//! `DocumentCollections`).

use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Value, json};

use super::query_spec;
use crate::api_error::ApiError;
use crate::budget::Charge;
use crate::feed::{FeedRequest, Page, rid};
use crate::lock::lock;
use crate::resource::Resource;
use crate::snapshot::{Snapshot, query_as};
use crate::state::State;

/// Runs the query in `body` over the databases, or over database `db`'s containers.
pub(super) async fn query_resources(
    state: &State,
    resource: &Resource,
    body: Value,
    headers: &HeaderMap,
    feed: &FeedRequest,
    charge: &Arc<Charge>,
) -> Result<Page, ApiError> {
    let spec = query_spec(body, headers)?;
    let (snapshot, label) = {
        let data = lock(&state.data);
        match resource {
            Resource::Containers { db } => {
                let database = data.database(db)?;
                let containers = database.containers.values().map(|c| c.resource.clone());
                let snapshot = Snapshot::of_resources(containers, rid(&database.resource));
                (snapshot, "DocumentCollections")
            }
            Resource::Offers => {
                let offers = data.offers().into_iter();
                (Snapshot::of_resources(offers, json!("")), "Offers")
            }
            _ => {
                let databases = data.databases.values().map(|d| d.resource.clone());
                (Snapshot::of_resources(databases, json!("")), "Databases")
            }
        }
    };
    query_as(state, snapshot, spec, feed, charge, label).await
}
