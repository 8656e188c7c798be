//! The admin API under `/_emulator/` (global endpoint, loopback clients, no master key).

use std::sync::Arc;

use http::{Method, Request, Response};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::json;

use crate::api_error::ApiError;
use crate::budget::Charge;
use crate::counters::Counters;
use crate::error::EmulatorError;
use crate::faults::FaultRule;
use crate::http::{Body, RequestBody, error_response, json_response, read_json, respond};
use crate::keys::KeyKind;
use crate::lock::lock;
use crate::outage::OutageRequest;
use crate::replication::FailoverMode;
use crate::state::State;
use crate::topology::TopologyError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Failover {
    write_region: String,
    #[serde(default)]
    mode: FailoverMode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lag {
    #[serde(default)]
    region: Option<String>,
    lag_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Regenerate {
    key: KeyKind,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PerPartitionFailover {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRegion {
    name: String,
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "BadRequest", message)
}

impl From<TopologyError> for ApiError {
    fn from(error: TopologyError) -> Self {
        let status = match error {
            TopologyError::UnknownRegion(_) => 404,
            TopologyError::DuplicateRegion(_) => 409,
            TopologyError::Bind(_) => 500,
            _ => 400,
        };
        ApiError::new(status, "BadRequest", error.to_string())
    }
}

async fn body<T: serde::de::DeserializeOwned>(
    request: Request<impl RequestBody>,
    charge: &Charge,
) -> Result<T, ApiError> {
    let value = read_json(request.into_body(), charge).await?;
    serde_json::from_value(value).map_err(|e| bad_request(format!("unexpected body: {e}")))
}

pub(crate) async fn handle(
    state: &Arc<State>,
    request: Request<impl RequestBody>,
    charge: &Charge,
) -> Response<Body> {
    route(state, request, charge)
        .await
        .unwrap_or_else(|error| error_response(&error))
}

async fn route(
    state: &Arc<State>,
    request: Request<impl RequestBody>,
    charge: &Charge,
) -> Result<Response<Body>, ApiError> {
    let path = request.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<String> = path
        .trim_start_matches("/_emulator")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let no_content = || respond(204, None, None);
    let method = request.method().clone();
    Ok(match (&method, segments.as_slice()) {
        (&Method::GET, ["stats"]) => {
            let mut stats = json!(lock(&state.counters).clone());
            stats["memory"] = json!(state.memory.stats());
            json_response(200, &stats)
        }
        (&Method::POST, ["stats", "reset"]) => {
            *lock(&state.counters) = Counters::default();
            state.memory.reset_peak();
            no_content()
        }
        (&Method::GET, ["topology"]) => {
            let topology = lock(&state.topology);
            json_response(
                200,
                &json!({
                    "write_region": topology.write_region,
                    "multi_write": topology.multi_write,
                    "regions": topology.infos(),
                }),
            )
        }
        (&Method::POST, ["failover"]) => {
            let failover: Failover = body(request, charge).await?;
            // The count of dropped writes is in the stats (`dropped_writes`).
            state.failover_with(&failover.write_region, failover.mode)?;
            no_content()
        }
        (&Method::GET, ["replication"]) => json_response(200, &state.replication_status()),
        (&Method::POST, ["replication"]) => {
            let lag: Lag = body(request, charge).await?;
            state
                .set_replication_lag(
                    lag.region.as_deref(),
                    std::time::Duration::from_millis(lag.lag_ms),
                )
                .map_err(|e| match e {
                    EmulatorError::Topology(e) => ApiError::from(e),
                    other => bad_request(other.to_string()),
                })?;
            no_content()
        }
        (&Method::POST, ["regions"]) => {
            let region: NewRegion = body(request, charge).await?;
            json_response(201, &json!(state.add_region(&region.name)?))
        }
        (&Method::POST, ["regions", name, "drain"]) => {
            state.drain_region(name)?;
            no_content()
        }
        (&Method::POST, ["regions", name, "down"]) => {
            state.region_down(name)?;
            no_content()
        }
        (&Method::POST, ["regions", name, "outage"]) => {
            let request: OutageRequest = body(request, charge).await?;
            let outage = request.outage().map_err(bad_request)?;
            state.set_outage(name, outage)?;
            no_content()
        }
        (&Method::POST, ["regions", name, "up"]) => {
            state.region_up(name)?;
            no_content()
        }
        (&Method::DELETE, ["regions", name]) => {
            state.remove_region(name)?;
            no_content()
        }
        (_, ["entra", ..]) => {
            crate::entra_admin::route(state, &method, &segments[1..], request, charge).await?
        }
        (&Method::GET, ["keys"]) => json_response(200, &json!(lock(&state.keys).current())),
        (&Method::POST, ["keys", "regenerate"]) => {
            let Regenerate { key: kind } = body(request, charge).await?;
            let key = lock(&state.keys).regenerate(kind);
            json_response(200, &json!({"kind": kind, "key": key}))
        }
        (&Method::POST, ["faults"]) => {
            let rule: FaultRule = body(request, charge).await?;
            let id = lock(&state.faults).add(rule).map_err(bad_request)?;
            json_response(201, &json!({"id": id}))
        }
        (&Method::POST, ["per_partition_failover"]) => {
            let body: PerPartitionFailover = body(request, charge).await?;
            lock(&state.topology).per_partition_failover = body.enabled;
            no_content()
        }
        (_, ["partitions", db, coll, rest @ ..]) => {
            crate::range_admin::route(state, &method, (db, coll), rest, request, charge).await?
        }
        (&Method::GET, ["faults"]) => json_response(200, &json!(lock(&state.faults).list())),
        (&Method::DELETE, ["faults"]) => {
            lock(&state.faults).clear();
            no_content()
        }
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("no admin route {method} {path}"),
            ));
        }
    })
}
