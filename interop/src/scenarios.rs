//! The scenarios, in order: each a user's step with the SDK's defaults. Later scenarios
//! use what earlier ones made (client, database, container) and fail fast without it.

use std::num::NonZeroU32;

use azure_core::credentials::Secret;
use azure_data_cosmos::models::{ContainerProperties, PatchInstructions, PatchOperation};
use azure_data_cosmos::options::{MaxItemCountHint, QueryOptions, Region};
use azure_data_cosmos::{
    AccountEndpoint, AccountReference, ContainerClient, CosmosClient, FeedScope, Query,
    RoutingStrategy,
};
use futures_util::StreamExt;
use meridian_emulator::Emulator;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Outcome, ScenarioFuture, Step, wire};

/// What the scenarios share: where the emulator is, and what earlier scenarios made.
pub struct World {
    pub(crate) endpoint: String,
    pub(crate) key: String,
    client: Option<CosmosClient>,
    container: Option<ContainerClient>,
}

impl World {
    /// A world around a started emulator.
    pub fn new(emulator: &Emulator) -> Self {
        Self {
            endpoint: emulator.global_endpoint(),
            key: emulator.key().to_string(),
            client: None,
            container: None,
        }
    }

    pub(crate) fn client(&self) -> Result<&CosmosClient, String> {
        self.client
            .as_ref()
            .ok_or_else(|| "needs client start".to_string())
    }

    fn container(&self) -> Result<&ContainerClient, String> {
        self.container
            .as_ref()
            .ok_or_else(|| "needs container create".to_string())
    }
}

/// An item as an application would define it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: String,
    pk: String,
    n: i64,
    price: f64,
    tags: Vec<String>,
}

fn order(id: &str, pk: &str, n: i64) -> Order {
    Order {
        id: id.into(),
        pk: pk.into(),
        n,
        price: n as f64 + 0.5,
        tags: vec!["a".into(), format!("t{n}")],
    }
}

/// A scenario: takes the world, answers an outcome.
pub type Scenario = for<'w> fn(&'w mut World) -> ScenarioFuture<'w>;

/// Every scenario, in the order they run.
pub const ALL: &[(&str, Scenario)] = &[
    ("client start", |w| {
        Box::pin(async move { outcome(client_start(w).await) })
    }),
    ("database create", |w| {
        Box::pin(async move { outcome(database_create(w).await) })
    }),
    ("container create", |w| {
        Box::pin(async move { outcome(container_create(w).await) })
    }),
    ("binary body from the SDK's encoder", |w| {
        Box::pin(async move { outcome(sdk_binary_body(w).await) })
    }),
    ("item create", |w| {
        Box::pin(async move { outcome(item_create(w).await) })
    }),
    ("item read", |w| {
        Box::pin(async move { outcome(item_read(w).await) })
    }),
    ("item upsert", |w| {
        Box::pin(async move { outcome(item_upsert(w).await) })
    }),
    ("item replace", |w| {
        Box::pin(async move { outcome(item_replace(w).await) })
    }),
    ("item patch", |w| {
        Box::pin(async move { outcome(item_patch(w).await) })
    }),
    ("item delete", |w| {
        Box::pin(async move { outcome(item_delete(w).await) })
    }),
    ("query, single partition, parameterised", |w| {
        Box::pin(async move { outcome(query_single_partition(w).await) })
    }),
    ("query, cross-partition ORDER BY, paged", |w| {
        Box::pin(async move { outcome(query_order_by_pages(w).await) })
    }),
    ("reads and writes through a split", |w| {
        Box::pin(async move { outcome(crate::split::reads_and_writes_through_a_split(w).await) })
    }),
    ("write across /_emulator/failover", |w| {
        Box::pin(async move { outcome(write_across_failover(w).await) })
    }),
    ("wrong key refused", |w| {
        Box::pin(async move { outcome(wrong_key_refused(w).await) })
    }),
];

fn outcome(step: Step) -> Outcome {
    match step {
        Ok(detail) => Outcome::Pass(detail),
        Err(detail) => Outcome::Fail(detail),
    }
}

/// The error and its causes, one level each, so a row says why.
pub(crate) fn err(context: &str) -> impl Fn(azure_data_cosmos::CosmosError) -> String + '_ {
    move |e| {
        let mut text = format!("{context}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(&format!(" <- {cause}"));
            source = cause.source();
        }
        text
    }
}

pub(crate) async fn build_client(endpoint: &str, key: &str) -> Result<CosmosClient, String> {
    let endpoint: AccountEndpoint = endpoint.parse().map_err(|e| format!("endpoint: {e}"))?;
    let account =
        AccountReference::with_authentication_key(endpoint, Secret::from(key.to_string()));
    CosmosClient::builder()
        .build(account, RoutingStrategy::ProximityTo(Region::WEST_US))
        .await
        .map_err(err("build"))
}

async fn client_start(w: &mut World) -> Step {
    w.client = Some(build_client(&w.endpoint, &w.key).await?);
    Ok("CosmosClient::builder().build(key, ProximityTo(West US))".into())
}

async fn database_create(w: &mut World) -> Step {
    let response = w
        .client()?
        .create_database("interop", None)
        .await
        .map_err(err("create_database"))?;
    Ok(format!("{:?}", response.status()))
}

async fn container_create(w: &mut World) -> Step {
    let db = w.client()?.database_client("interop");
    let properties = ContainerProperties::new("orders", "/pk".into());
    let response = db
        .create_container(properties, None)
        .await
        .map_err(err("create_container"))?;
    let status = format!("{:?}", response.status());
    w.container = Some(
        db.container_client("orders", None)
            .await
            .map_err(err("container_client"))?,
    );
    Ok(status)
}

/// Not an SDK call: an item body written by the SDK's own binary encoder, POSTed over
/// HTTP/1.1 — the emulator's decoder against the real encoder, whatever the transport.
async fn sdk_binary_body(w: &mut World) -> Step {
    let item = order("bin-1", "p0", 1234);
    let body = azure_data_cosmos_driver::binary_json::to_vec(&item).map_err(|e| e.to_string())?;
    // Make the database and container over HTTP if the SDK could not (409: it did).
    for (kind, link, path, made) in [
        ("dbs", "", "/dbs", json!({"id": "interop"})),
        (
            "colls",
            "dbs/interop",
            "/dbs/interop/colls",
            json!({"id": "orders", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}}),
        ),
    ] {
        let headers = wire::signed(&w.key, "POST", kind, link)?;
        let reply = wire::send(
            &w.endpoint,
            "POST",
            path,
            &headers,
            made.to_string().as_bytes(),
        )
        .await?;
        if reply.status != 201 && reply.status != 409 {
            return Err(format!("POST {path}: {} {}", reply.status, reply.body));
        }
    }
    let link = "dbs/interop/colls/orders";
    let mut headers = wire::signed(&w.key, "POST", "docs", link)?;
    headers.push(("x-ms-documentdb-partitionkey", json!(["p0"]).to_string()));
    headers.push(("content-type", "application/json".into()));
    let reply = wire::send(
        &w.endpoint,
        "POST",
        &format!("/{link}/docs"),
        &headers,
        &body,
    )
    .await?;
    let stored: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
    if reply.status == 201 && stored["n"] == 1234 && stored["tags"][1] == "t1234" {
        Ok(format!("201, {} binary bytes decoded", body.len()))
    } else {
        Err(format!("{}: {}", reply.status, reply.body))
    }
}

async fn item_create(w: &mut World) -> Step {
    let item = order("1", "p1", 1);
    let response = w
        .container()?
        .create_item("p1", "1", &item, None)
        .await
        .map_err(err("create_item"))?;
    Ok(format!("{:?}", response.status()))
}

async fn read_back(container: &ContainerClient, pk: &str, id: &str) -> Result<Order, String> {
    let response = container
        .read_item(pk.to_string(), id, None)
        .await
        .map_err(err("read_item"))?;
    response.into_model::<Order>().map_err(err("into_model"))
}

async fn item_read(w: &mut World) -> Step {
    let read = read_back(w.container()?, "p1", "1").await?;
    expect(
        read == order("1", "p1", 1),
        "read the item as created",
        &read,
    )
}

async fn item_upsert(w: &mut World) -> Step {
    let container = w.container()?;
    let item = order("1", "p1", 2);
    container
        .upsert_item("p1", "1", &item, None)
        .await
        .map_err(err("upsert_item"))?;
    let fresh = order("2", "p1", 3);
    container
        .upsert_item("p1", "2", &fresh, None)
        .await
        .map_err(err("upsert_item (new)"))?;
    let (one, two) = (
        read_back(container, "p1", "1").await?,
        read_back(container, "p1", "2").await?,
    );
    expect(
        one == item && two == fresh,
        "upsert replaced one item and created another",
        &(one, two),
    )
}

async fn item_replace(w: &mut World) -> Step {
    let container = w.container()?;
    let item = order("1", "p1", 4);
    container
        .replace_item("p1", "1", &item, None)
        .await
        .map_err(err("replace_item"))?;
    let read = read_back(container, "p1", "1").await?;
    expect(read == item, "replace changed the item", &read)
}

async fn item_patch(w: &mut World) -> Step {
    let container = w.container()?;
    let patch = PatchInstructions::new()
        .with_operation(PatchOperation::set("/price", json!(99.5)))
        .with_operation(PatchOperation::increment("/n", 10))
        .with_operation(PatchOperation::add("/tags/-", json!("patched")));
    container
        .patch_item("p1", "1", patch, None)
        .await
        .map_err(err("patch_item"))?;
    let read = read_back(container, "p1", "1").await?;
    let mut expected = order("1", "p1", 14);
    expected.price = 99.5;
    expected.tags = vec!["a".into(), "t4".into(), "patched".into()];
    expected.n = 14;
    expect(read == expected, "set, incr and add applied", &read)
}

async fn item_delete(w: &mut World) -> Step {
    let container = w.container()?;
    container
        .delete_item("p1", "2", None)
        .await
        .map_err(err("delete_item"))?;
    match container.read_item("p1", "2", None).await {
        Err(e) if status(&e) == 404 => Ok("deleted; read answers 404".into()),
        Err(e) => Err(format!("read after delete: {e}")),
        Ok(_) => Err("the item is still readable after delete".into()),
    }
}

async fn query_single_partition(w: &mut World) -> Step {
    let container = w.container()?;
    for n in 10..14 {
        let item = order(&format!("s{n}"), "p2", n);
        container
            .create_item("p2", &item.id, &item, None)
            .await
            .map_err(err("create_item"))?;
    }
    let query = Query::from("SELECT * FROM c WHERE c.n >= @min")
        .with_parameter("@min", 12)
        .map_err(err("with_parameter"))?;
    let mut items = container
        .query_items::<Order>(query, FeedScope::partition("p2"), None)
        .await
        .map_err(err("query_items"))?;
    let mut ids = Vec::new();
    while let Some(item) = items.next().await {
        ids.push(item.map_err(err("query page"))?.id);
    }
    ids.sort();
    expect(ids == ["s12", "s13"], "two items with n >= 12 in p2", &ids)
}

async fn query_order_by_pages(w: &mut World) -> Step {
    let container = w.container()?;
    for n in 20..32 {
        let item = order(&format!("o{n}"), &format!("q{}", n % 3), n);
        container
            .create_item(item.pk.clone(), &item.id, &item, None)
            .await
            .map_err(err("create_item"))?;
    }
    let query = Query::from("SELECT * FROM c WHERE c.n BETWEEN 20 AND 31 ORDER BY c.n DESC");
    let page_size = NonZeroU32::new(5).ok_or("page size")?;
    let options = QueryOptions::default().with_max_item_count(MaxItemCountHint::Limit(page_size));
    let mut pages = container
        .query_items::<Order>(query, FeedScope::full_container(), Some(options))
        .await
        .map_err(err("query_items"))?
        .into_pages();
    let (mut count, mut ns) = (0, Vec::new());
    while let Some(page) = pages.next().await {
        count += 1;
        ns.extend(
            page.map_err(err("query page"))?
                .into_items()
                .into_iter()
                .map(|o| o.n),
        );
    }
    let expected: Vec<i64> = (20..32).rev().collect();
    if ns == expected && count >= 3 {
        Ok(format!("12 items in order over {count} pages of at most 5"))
    } else {
        Err(format!("{count} pages, n = {ns:?}"))
    }
}

async fn write_across_failover(w: &mut World) -> Step {
    let container = w.container()?;
    let body = json!({"write_region": "East US"}).to_string();
    let reply = wire::send(
        &w.endpoint,
        "POST",
        "/_emulator/failover",
        &[],
        body.as_bytes(),
    )
    .await?;
    if reply.status != 204 {
        return Err(format!("failover: {} {}", reply.status, reply.body));
    }
    let item = order("after-failover", "p1", 99);
    container
        .create_item("p1", &item.id, &item, None)
        .await
        .map_err(err("create_item after failover"))?;
    let read = read_back(container, "p1", &item.id).await?;
    expect(
        read == item,
        "write accepted by the new write region (East US)",
        &read,
    )
}

async fn wrong_key_refused(w: &mut World) -> Step {
    let wrong =
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    let client = match build_client(&w.endpoint, wrong).await {
        Err(e) if e.contains("401") || e.contains("Unauthorized") => {
            return Ok(format!("build refused: {e}"));
        }
        Err(e) => return Err(format!("build failed, but not with 401: {e}")),
        Ok(client) => client,
    };
    let container = client
        .database_client("interop")
        .container_client("orders", None)
        .await;
    let result = match container {
        Ok(container) => container.read_item("p1", "1", None).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if status(&e) == 401 => Ok("401 Unauthorized".into()),
        Err(e) => Err(format!("refused, but not with 401: {e}")),
        Ok(()) => Err("a wrong key was accepted".into()),
    }
}

fn status(e: &azure_data_cosmos::CosmosError) -> u16 {
    u16::from(e.status().status_code())
}

fn expect(ok: bool, what: &str, got: &impl std::fmt::Debug) -> Step {
    if ok {
        Ok(what.to_string())
    } else {
        Err(format!("expected: {what}; got {got:?}"))
    }
}
