//! The split row: the official SDK reads and writes a container with several partition key
//! ranges while the emulator splits one of them (`/_emulator/partitions/…/split`).
//!
//! Two SDK clients, each with its own routing map: the *busy* one keeps upserting, reading
//! and querying across partitions through the split's 410/1007 window and after it; the
//! *stale* one cached the ranges before the split and queries only after the window, so
//! its first fan-out names the old range id and meets 410/1002. Every operation must
//! succeed and every cross-partition query must see every item written.

use std::collections::BTreeSet;
use std::time::Duration;

use azure_data_cosmos::models::{ContainerProperties, ThroughputProperties};
use azure_data_cosmos::options::CreateContainerOptions;
use azure_data_cosmos::{ContainerClient, FeedScope, Query};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::scenarios::{World, build_client, err};
use crate::{Step, wire};

/// The container of this row (30,000 RU/s: three ranges).
const COLL: &str = "split";
/// The throughput it is created with.
const THROUGHPUT: u64 = 30_000;
/// Partition keys written (spread over the ranges).
const KEYS: usize = 12;
/// The 410/1007 window the split asks for.
const WINDOW: Duration = Duration::from_millis(1500);
/// Busy rounds before the split, and after the window has closed.
const ROUNDS_BEFORE: usize = 3;
const ROUNDS_AFTER: usize = 5;

#[derive(Deserialize)]
struct Id {
    id: String,
}

/// What the busy client did.
#[derive(Default)]
struct Tally {
    ops: usize,
    queries: usize,
    failures: Vec<String>,
}

async fn admin(w: &World, method: &str, path: &str, body: &Value) -> Result<Value, String> {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let reply = wire::send(&w.endpoint, method, path, &[], body.as_bytes()).await?;
    if !(200..300).contains(&reply.status) {
        return Err(format!("{method} {path}: {} {}", reply.status, reply.body));
    }
    Ok(serde_json::from_str(&reply.body).unwrap_or(Value::Null))
}

/// `GET`s of the `containers` class (container reads and `pkranges`) over every listener.
async fn container_reads(w: &World) -> Result<u64, String> {
    let stats = admin(w, "GET", "/_emulator/stats", &Value::Null).await?;
    Ok(stats["listeners"]
        .as_object()
        .map(|listeners| {
            listeners
                .values()
                .filter_map(|l| l["by_class"]["containers"]["GET"].as_u64())
                .sum()
        })
        .unwrap_or(0))
}

/// What the emulator answers a feed read naming range `id` (`410/1007`, `410/1002`...).
async fn probe(w: &World, id: &str) -> Result<String, String> {
    let link = format!("dbs/interop/colls/{COLL}");
    let mut headers = wire::signed(&w.key, "GET", "docs", &link)?;
    headers.push(("x-ms-documentdb-partitionkeyrangeid", id.to_string()));
    let reply = wire::send(&w.endpoint, "GET", &format!("/{link}/docs"), &headers, b"").await?;
    Ok(match reply.sub_status {
        Some(sub) if reply.status != 200 => format!("{}/{sub}", reply.status),
        _ => reply.status.to_string(),
    })
}

/// The ids a cross-partition query of the whole container returns.
async fn all_ids(container: &ContainerClient) -> Result<BTreeSet<String>, String> {
    let mut items = container
        .query_items::<Id>(
            Query::from("SELECT c.id FROM c"),
            FeedScope::full_container(),
            None,
        )
        .await
        .map_err(err("query_items"))?;
    let mut ids = BTreeSet::new();
    while let Some(item) = items.next().await {
        ids.insert(item.map_err(err("query page"))?.id);
    }
    Ok(ids)
}

fn key(n: usize) -> String {
    format!("k{}", n % KEYS)
}

/// One busy round: an upsert of a new item, a read of it, a cross-partition query that
/// must see every item written so far.
async fn round(container: &ContainerClient, written: &mut BTreeSet<String>, tally: &mut Tally) {
    let n = written.len();
    let (id, pk) = (format!("s{n}"), key(n));
    let item = json!({"id": id, "pk": pk, "n": n});
    tally.ops += 1;
    match container.upsert_item(pk.clone(), &id, &item, None).await {
        Ok(_) => {
            written.insert(id.clone());
        }
        Err(e) => tally.failures.push(err("upsert")(e)),
    }
    tally.ops += 1;
    if let Err(e) = container.read_item(pk, &id, None).await {
        tally.failures.push(err("read")(e));
    }
    tally.ops += 1;
    tally.queries += 1;
    match all_ids(container).await {
        Ok(ids) if ids.is_superset(written) => {}
        Ok(ids) => tally.failures.push(format!(
            "query saw {} of {} items",
            ids.intersection(written).count(),
            written.len()
        )),
        Err(e) => tally.failures.push(e),
    }
}

/// The scenario.
pub async fn reads_and_writes_through_a_split(w: &mut World) -> Step {
    let db = w.client()?.database_client("interop");
    let options =
        CreateContainerOptions::default().with_throughput(ThroughputProperties::manual(THROUGHPUT));
    db.create_container(ContainerProperties::new(COLL, "/pk".into()), Some(options))
        .await
        .map_err(err("create_container"))?;
    let ranges_path = format!("/_emulator/partitions/interop/{COLL}");
    let before = admin(w, "GET", &ranges_path, &Value::Null).await?;
    let count_before = before.as_array().map_or(0, Vec::len);
    if count_before < 2 {
        return Err(format!("expected several ranges, got {before}"));
    }
    let client_of = |client: azure_data_cosmos::CosmosClient| async move {
        client
            .database_client("interop")
            .container_client(COLL, None)
            .await
            .map(|c| (client, c))
            .map_err(err("container_client"))
    };
    let (_busy_client, busy) = client_of(build_client(&w.endpoint, &w.key).await?).await?;
    let (_stale_client, stale) = client_of(build_client(&w.endpoint, &w.key).await?).await?;
    let mut written = BTreeSet::new();
    let mut tally = Tally::default();
    for _ in 0..ROUNDS_BEFORE {
        round(&busy, &mut written, &mut tally).await;
    }
    // The stale client caches the ranges as they are before the split.
    let seen = all_ids(&stale).await?;
    if !seen.is_superset(&written) {
        return Err("the stale client's first query missed items".into());
    }
    let victim = before[0]["id"].as_str().unwrap_or("0").to_string();
    // Container/pkranges GETs at each step: before, window end, after the stale query, end.
    let mut gets = vec![container_reads(w).await?];
    let split = admin(
        w,
        "POST",
        &format!("{ranges_path}/split"),
        &json!({"range": victim, "window_ms": WINDOW.as_millis()}),
    )
    .await?;
    let window_ends = Instant::now() + WINDOW;
    let in_window_answer = probe(w, &victim).await?;
    let mut in_window = 0;
    while Instant::now() < window_ends {
        round(&busy, &mut written, &mut tally).await;
        in_window += 1;
    }
    tokio::time::sleep_until(window_ends + Duration::from_millis(50)).await;
    gets.push(container_reads(w).await?);
    // After the window: the old id is gone (410/1002) for whoever still names it.
    let gone_answer = probe(w, &victim).await?;
    let written_then = written.clone();
    let stale_seen = all_ids(&stale).await;
    gets.push(container_reads(w).await?);
    for _ in 0..ROUNDS_AFTER {
        round(&busy, &mut written, &mut tally).await;
    }
    gets.push(container_reads(w).await?);
    let after = admin(w, "GET", &ranges_path, &Value::Null).await?;
    let count_after = after.as_array().map_or(0, Vec::len);
    let stale_note = match stale_seen {
        Ok(ids) if ids.is_superset(&written_then) => format!(
            "the stale client's first query after the window saw all {} items",
            written_then.len()
        ),
        Ok(ids) => {
            tally.failures.push(format!(
                "stale client's query after the window saw {} of {} items",
                ids.intersection(&written_then).count(),
                written_then.len()
            ));
            String::new()
        }
        Err(e) => {
            tally.failures.push(format!("stale client: {e}"));
            String::new()
        }
    };
    let finals = all_ids(&stale).await?;
    if !finals.is_superset(&written) {
        tally.failures.push(format!(
            "stale client's last query saw {} of {} items",
            finals.intersection(&written).count(),
            written.len()
        ));
    }
    let detail = format!(
        "ranges {count_before} -> {count_after} (split {victim} into {}; range {victim} answered \
         {in_window_answer} in the window, {gone_answer} after); busy client: {} ops ({} \
         cross-partition queries, {in_window} rounds inside the window), {} failed; \
         {stale_note}; container/pkranges GETs: {} by the busy client in the window, {} by the \
         stale client's query, {} in the rounds after",
        split["children"],
        tally.ops,
        tally.queries,
        tally.failures.len(),
        gets[1].saturating_sub(gets[0]),
        gets[2].saturating_sub(gets[1]),
        gets[3].saturating_sub(gets[2]),
    );
    let answers_ok = in_window_answer == "410/1007" && gone_answer == "410/1002";
    if tally.failures.is_empty() && count_after == count_before + 1 && answers_ok {
        Ok(detail)
    } else {
        Err(format!(
            "{detail}; first failures: {:?}",
            tally.failures.iter().take(3).collect::<Vec<_>>()
        ))
    }
}
