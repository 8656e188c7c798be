//! An authorised wire request → the data operation it names → the response, with the
//! headers SDKs read (etag, session token, item count, continuation, request charge).

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response};
use tokio::time::Instant;

use crate::api_error::{ApiError, ApiResult};
use crate::batch::{BatchAt, BatchRequest, total_charge};
use crate::budget::Charge;
use crate::change_feed::{ChangeFeedRequest, ChangeView, Changes};
use crate::data::{DataStore, ItemRequest};
use crate::feed::{FeedRequest, Scope};
use crate::http::{Body, RequestBody, read_body, read_json};
use crate::http::{SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND, SUB_STATUS_WRITE_FORBIDDEN};
use crate::items::ItemAt;
use crate::lock::lock;
use crate::resource::Resource;
use crate::snapshot::Snapshot;
use crate::state::State;
use crate::topology::ListenerId;

mod answer;
mod container_read;
mod kind;
mod metrics;
mod moved_writes;
mod offers;
mod principals;
mod query_request;
mod ranges;
mod resource_query;
mod scripts;
mod session;

use answer::{Answer, not_modified, resource_answer, response};
use kind::{Kind, flag, header, kind};
use query_request::{
    check_servable, gateway_ranges, items_query_scope, narrow_to_epks, query_scope, query_spec,
};
use session::{check_session, session_token, touched_ranges};

pub(crate) async fn serve(
    state: &State,
    listener: &ListenerId,
    method: Method,
    resource: Resource,
    request: Request<impl RequestBody>,
    charge: &Arc<Charge>,
) -> Result<Response<Body>, ApiError> {
    let (not_found, writable, region) = {
        let topology = lock(&state.topology);
        (
            topology.not_found(listener),
            topology.accepts_writes(listener),
            topology.serving_region(listener),
        )
    };
    if not_found {
        return Err(ApiError::new(
            403,
            "Forbidden",
            "DatabaseAccountNotFound: this region no longer serves the account",
        )
        .with_sub_status(SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND));
    }
    let resource = lock(&state.data).by_ids(resource);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let location = answer::content_location(state.scheme(), &headers, &parts.uri);
    let kind = kind(&method, &resource, &headers);
    if kind == Kind::Write
        && !writable
        && !moved_writes::takes_moved_write(state, &resource, &headers, listener)
    {
        return Err(ApiError::new(
            403,
            "Forbidden",
            "WriteForbidden: this region does not accept writes",
        )
        .with_sub_status(SUB_STATUS_WRITE_FORBIDDEN));
    }
    let item_request = ItemRequest {
        partition_key: header(&headers, "x-ms-documentdb-partitionkey"),
        if_match: header(&headers, "if-match"),
        if_none_match: header(&headers, "if-none-match"),
        upsert: flag(&headers, "x-ms-documentdb-is-upsert"),
    };
    let feed = FeedRequest {
        max_item_count: header(&headers, "x-ms-max-item-count"),
        continuation: header(&headers, "x-ms-continuation"),
    };
    let session = match &resource {
        Resource::Items { db, coll }
        | Resource::Item { db, coll, .. }
        | Resource::PartitionKeyDelete { db, coll } => Some((db.clone(), coll.clone())),
        _ => None,
    };
    if kind == Kind::Write && session.is_some() {
        scripts::check_no_triggers(&headers)?;
    }
    let batch = kind == Kind::Write
        && method == Method::POST
        && flag(&headers, "x-ms-cosmos-is-batch-request");
    let now = Instant::now();
    let (range, served_by) = match &session {
        Some((db, coll)) => {
            let write = kind == Kind::Write;
            ranges::gate(state, (db, coll), &headers, &region, write, now).await?
        }
        None => (None, None),
    };
    if let (Kind::Read | Kind::Query, Some((db, coll))) = (kind, &session) {
        check_session(state, &headers, db, coll, &region, now)?;
    }
    let view = |db: &str, coll: &str| View {
        state,
        db: db.to_string(),
        coll: coll.to_string(),
        region: &region,
        now,
    };
    let mut change_feed = match (&method, &resource) {
        (&Method::GET, Resource::Items { .. }) => ChangeFeedRequest::from_headers(&headers)?,
        _ => None,
    };
    let mut extra = HeaderMap::new();
    let answer = match (kind, method, resource) {
        (Kind::QueryPlan, _, Resource::Items { db, coll }) => {
            let spec = query_spec(read_json(body, charge).await?, &headers)?;
            Answer::Resource(200, Some(lock(&state.data).query_plan(&db, &coll, &spec)?))
        }
        (Kind::Query, _, Resource::Items { db, coll }) => {
            let spec = query_spec(read_json(body, charge).await?, &headers)?;
            let resource = lock(&state.data).container(&db, &coll)?.resource.clone();
            let scope = items_query_scope(&headers, &item_request, &spec, &resource)?;
            let scope = narrow_to_epks(ranges::narrow(scope, range.as_ref()), &headers, &resource);
            check_servable(state, (&db, &coll), &spec, &scope)?;
            let snapshot = view(&db, &coll).snapshot(&scope)?;
            let cross = !matches!(scope, Scope::Partition(_));
            spec.check_request(&resource, cross, &headers)?;
            let index_only = spec.index_only();
            let key_path = resource
                .pointer("/partitionKey/paths/0")
                .and_then(|p| p.as_str());
            let key_path = key_path.filter(|_| !cross).map(str::to_string);
            let ranges = gateway_ranges(state, (&db, &coll), &scope);
            let page = crate::snapshot::query(state, snapshot, spec, &feed, charge, &ranges);
            let page = page.await?;
            extra = metrics::query_metrics(&headers, page.count, index_only, key_path.as_deref());
            Answer::Feed(page)
        }
        (
            Kind::Query,
            _,
            resource @ (Resource::Databases | Resource::Containers { .. } | Resource::Offers),
        ) => {
            let body = read_json(body, charge).await?;
            let query =
                resource_query::query_resources(state, &resource, body, &headers, &feed, charge);
            Answer::Feed(query.await?)
        }
        (_, method, r @ (Resource::Principals { .. } | Resource::Principal { .. })) => {
            principals::serve(state, &method, &r, &headers, body, &feed, charge).await?
        }
        (_, method, r @ (Resource::Scripts { .. } | Resource::Script { .. })) => {
            scripts::serve(state, &method, &r, &headers, body, &feed, charge).await?
        }
        (_, method, Resource::Offer { rid }) => {
            resource_answer(offers::offer(state, &method, &rid, body, charge).await?)
        }
        (_, Method::GET, Resource::Offers) => resource_answer(offers::list(state)),
        (_, Method::GET, Resource::Account) => {
            Answer::Resource(200, Some(lock(&state.topology).account_document()))
        }
        (_, Method::GET, Resource::Databases) => {
            Answer::Feed(lock(&state.data).list_databases(&feed)?)
        }
        (_, Method::POST, Resource::Databases) => {
            let body = read_json(body, charge).await?;
            let mut data = lock(&state.data);
            let created = data.create_database(body)?;
            data.provision(created.1.as_ref(), offers::offered(&headers));
            resource_answer(created)
        }
        (_, Method::GET, Resource::Database { db }) => {
            resource_answer(lock(&state.data).read_database(&db)?)
        }
        (_, Method::DELETE, Resource::Database { db }) => {
            let deleted = lock(&state.data).delete_database(&db)?;
            state.partitions.forget(&db, None);
            resource_answer(deleted)
        }
        (_, Method::GET, Resource::Containers { db }) => {
            Answer::Feed(lock(&state.data).list_containers(&db, &feed)?)
        }
        (_, Method::POST, Resource::Containers { db }) => {
            let body = read_json(body, charge).await?;
            let created = {
                let mut data = lock(&state.data);
                let created = data.create_container(&db, body)?;
                data.provision(created.1.as_ref(), offers::offered(&headers));
                created
            };
            ranges::created(state, &db, created.1.as_ref(), &headers);
            resource_answer(created)
        }
        (_, Method::GET, Resource::Container { db, coll }) => {
            let (answer, headers) = container_read::read(state, &db, &coll, &headers)?;
            extra = headers;
            answer
        }
        (_, Method::DELETE, Resource::Container { db, coll }) => {
            let deleted = lock(&state.data).delete_container(&db, &coll)?;
            state.partitions.forget(&db, Some(&coll));
            resource_answer(deleted)
        }
        (_, Method::PUT, Resource::Container { db, coll }) => {
            let body = read_json(body, charge).await?;
            let if_match = header(&headers, "if-match");
            let mut data = lock(&state.data);
            resource_answer(data.replace_container(&db, &coll, body, if_match.as_deref())?)
        }
        (_, Method::POST, Resource::PartitionKeyDelete { db, coll }) => {
            view(&db, &coll).write(|d| d.delete_partition(&db, &coll, &item_request))?
        }
        (Kind::Query, _, Resource::Conflicts { db, coll }) => {
            // A conflicts query is scoped like an items query: the service refuses one with
            // neither a partition key nor the cross-partition header.
            query_scope(&headers, &item_request)?;
            Answer::Feed(lock(&state.data).conflicts(&db, &coll)?)
        }
        (Kind::Read, _, Resource::Conflicts { db, coll }) => {
            Answer::Feed(lock(&state.data).conflicts(&db, &coll)?)
        }
        (_, Method::GET, Resource::PartitionKeyRanges { db, coll }) => {
            ranges::pkranges(state, &db, &coll, &headers)?
        }
        (_, Method::GET, Resource::Items { db, coll }) if change_feed.is_some() => {
            let mut request = change_feed.take().ok_or_else(|| {
                ApiError::new(
                    500,
                    "InternalServerError",
                    "the change-feed request was lost",
                )
            })?;
            request.narrow(range);
            let taken = ChangeView::take(&lock(&state.data), &db, &coll, &region, now, &request);
            match taken?.answer(&request)? {
                Changes::Page(page) => Answer::Feed(page),
                Changes::Quiet(etag) => Answer::NotModified(Some(etag)),
            }
        }
        (_, Method::GET, Resource::Items { db, coll }) => {
            let scope = match &item_request.partition_key {
                Some(pk) => Scope::Partition(pk.clone()),
                None => ranges::narrow(Scope::All, range.as_ref()),
            };
            Answer::Feed(view(&db, &coll).snapshot(&scope)?.read_feed(&feed)?)
        }
        (_, Method::POST, Resource::Items { db, coll }) if batch => {
            let body = read_json(body, charge).await?;
            let request = BatchRequest::from_headers(&headers);
            let at = BatchAt::new(&db, &coll, &region, now);
            if request.atomic {
                view(&db, &coll).write(|d| d.batch(&at, body, &request))?
            } else {
                // Bulk: each operation makes room in the log and is stamped on its own,
                // so the log's cap throttles operations, never the request as a whole.
                resource_answer(lock(&state.data).batch(&at, body, &request)?)
            }
        }
        (_, Method::POST, Resource::Items { db, coll }) => {
            let body = crate::item_body::decode(&headers, &read_body(body).await?, charge)?;
            view(&db, &coll).write(|d| d.create_item(&db, &coll, body, &item_request))?
        }
        (_, Method::GET, Resource::Item { db, coll, id }) => {
            let at = ItemAt::new(&db, &coll, &id);
            let (status, item) = lock(&state.data).read_item(at, &item_request, &region, now)?;
            not_modified(&item_request, item.as_ref()).unwrap_or(Answer::Resource(status, item))
        }
        (_, Method::PUT, Resource::Item { db, coll, id }) => {
            let body = crate::item_body::decode(&headers, &read_body(body).await?, charge)?;
            view(&db, &coll)
                .write(|d| d.replace_item(ItemAt::new(&db, &coll, &id), body, &item_request))?
        }
        (_, Method::PATCH, Resource::Item { db, coll, id }) => {
            let body = read_json(body, charge).await?;
            view(&db, &coll)
                .write(|d| d.patch_item(ItemAt::new(&db, &coll, &id), &body, &item_request))?
        }
        (_, Method::DELETE, Resource::Item { db, coll, id }) => view(&db, &coll)
            .write(|d| d.delete_item(ItemAt::new(&db, &coll, &id), &item_request))?,
        (_, method, _) => return Err(answer::method_not_allowed(&method)),
    };
    // The session token is read after the operation: it includes this request's write.
    // It is the LSN this region has reached, which lags behind the write region's.
    let (token, paths) = session
        .and_then(|(db, coll)| {
            let ranges = touched_ranges(state, &db, &coll, &headers);
            let data = lock(&state.data);
            let container = data.container(&db, &coll).ok()?;
            let lsn = data.replication.region_lsn(container, &region, now);
            Some((
                session_token(&ranges, lsn),
                answer::content_paths(&db, &coll, &container.resource),
            ))
        })
        .unwrap_or_default();
    // A batch's body is its per-operation results: never left out.
    let minimal = !batch
        && header(&headers, "prefer")
            .is_some_and(|v| v.to_ascii_lowercase().contains("return=minimal"));
    let batch_charge = match (&answer, batch) {
        (Answer::Resource(_, Some(results)), true) => Some(total_charge(results)),
        _ => None,
    };
    let mut response = response(answer, kind, token, minimal);
    response.headers_mut().extend(paths);
    if let Some(id) = served_by.and_then(|id| http::HeaderValue::from_str(&id).ok()) {
        extra.insert("x-ms-documentdb-partitionkeyrangeid", id);
    }
    response.headers_mut().extend(extra);
    response.headers_mut().extend(location);
    if let Some(value) = batch_charge.and_then(|c| HeaderValue::from_str(&c.to_string()).ok()) {
        response.headers_mut().insert("x-ms-request-charge", value);
    }
    Ok(response)
}

/// One container as the serving region sees it, at one instant.
struct View<'a> {
    state: &'a State,
    db: String,
    coll: String,
    region: &'a str,
    now: Instant,
}

impl View<'_> {
    /// A snapshot of the container as the region sees it (the lock held only to take it).
    fn snapshot(&self, scope: &Scope) -> Result<Snapshot, ApiError> {
        let data = lock(&self.state.data);
        Snapshot::take(&data, &self.db, &self.coll, self.region, self.now, scope)
    }

    /// Runs a write on the current state and logs it as made in the serving region; 429
    /// when the container's replication log is full.
    fn write(&self, op: impl FnOnce(&mut DataStore) -> ApiResult) -> Result<Answer, ApiError> {
        let mut data = lock(&self.state.data);
        if let Some((replication, container)) = data.split(&self.db, &self.coll) {
            replication.make_room(container, self.now)?;
            // Expired items leave first, logged as deletes made here (`ttl.rs`).
            container.purge_expired();
        }
        let result = op(&mut data);
        if let Some((replication, container)) = data.split(&self.db, &self.coll) {
            replication.stamp(container, self.region, self.now);
        }
        result.map(resource_answer)
    }
}
