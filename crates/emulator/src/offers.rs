//! Offers: each container's provisioned throughput as the service's offer resource
//! (`/offers`, `/offers/{rid}`), read, queried and replaced. A container's offer has the
//! container's rid as its own and the throughput its creation offered
//! (`x-ms-offer-throughput`, or autoscale's `maxThroughput`), else 400 RU/s, until
//! replaced, manual or autoscale (content `offerAutopilotSettings.maxThroughput`, reported
//! with a tenth of it as `offerThroughput`, as the service does). A database has an offer
//! only when its creation offered throughput (shared by its containers). The emulator does
//! not enforce throughput, it only keeps what was set.

use serde_json::{Value, json};

use crate::api_error::{ApiError, ApiResult};
use crate::data::{DataStore, new_etag};

/// Throughput of a container whose offer was never replaced.
const DEFAULT_THROUGHPUT: u64 = 400;
/// The service's lowest manual throughput.
const MIN_THROUGHPUT: u64 = 400;
/// The service's lowest autoscale maximum; maxima are whole thousands.
const MIN_AUTOSCALE_MAX: u64 = 1000;

impl DataStore {
    /// Every container's offer, and those of databases with shared throughput.
    pub(crate) fn offers(&self) -> Vec<Value> {
        let databases = self
            .databases
            .values()
            .filter(|d| {
                d.resource["_rid"]
                    .as_str()
                    .is_some_and(|r| self.throughput.contains_key(r))
            })
            .map(|d| self.offer_of(&d.resource));
        let containers = self
            .databases
            .values()
            .flat_map(|d| d.containers.values())
            .map(|c| self.offer_of(&c.resource));
        databases.chain(containers).collect()
    }

    /// A database or container was created (`created`, its body) by a request that offered
    /// `throughput`: its offer starts there. 400 below the service's minimum is left to
    /// the offer's replace; a creation keeps what it asked.
    pub(crate) fn provision(&mut self, created: Option<&Value>, throughput: Option<u64>) {
        let rid = created.and_then(|c| c["_rid"].as_str());
        if let (Some(rid), Some(throughput)) = (rid, throughput) {
            self.throughput.insert(rid.to_string(), throughput);
        }
    }

    fn offer_of(&self, container: &Value) -> Value {
        let rid = container["_rid"].as_str().unwrap_or_default();
        let throughput = self
            .throughput
            .get(rid)
            .copied()
            .unwrap_or(DEFAULT_THROUGHPUT);
        json!({
            "id": rid,
            "_rid": rid,
            "_self": format!("offers/{rid}/"),
            "resource": container["_self"],
            "offerResourceId": rid,
            "offerType": "Invalid",
            "offerVersion": "V2",
            "content": match self.autoscale.get(rid) {
                Some(max) => json!({"offerThroughput": throughput,
                    "offerAutopilotSettings": {"maxThroughput": max},
                    "offerIsRUPerMinuteThroughputEnabled": false}),
                None => json!({"offerThroughput": throughput,
                    "offerIsRUPerMinuteThroughputEnabled": false}),
            },
            "_etag": new_etag(),
            "_ts": container["_ts"],
        })
    }

    /// `GET /offers/{rid}`.
    pub(crate) fn read_offer(&self, rid: &str) -> ApiResult {
        let offer = self.offers().into_iter().find(|o| o["_rid"] == rid);
        let offer = offer.ok_or_else(|| ApiError::not_found(&format!("offer {rid}")))?;
        Ok((200, Some(offer)))
    }

    /// `PUT /offers/{rid}`: sets `content.offerThroughput` (manual, a whole number ≥ 400)
    /// or `content.offerAutopilotSettings.maxThroughput` (autoscale, a whole number of
    /// thousands ≥ 1000).
    pub(crate) fn replace_offer(&mut self, rid: &str, body: &Value) -> ApiResult {
        self.read_offer(rid)?;
        let content = &body["content"];
        if let Some(settings) = content
            .get("offerAutopilotSettings")
            .filter(|s| !s.is_null())
        {
            let max = settings["maxThroughput"]
                .as_u64()
                .filter(|m| *m >= MIN_AUTOSCALE_MAX && m % 1000 == 0)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "content.offerAutopilotSettings.maxThroughput must be a whole number \
                         of thousands, at least {MIN_AUTOSCALE_MAX}"
                    ))
                })?;
            self.autoscale.insert(rid.to_string(), max);
            self.throughput.insert(rid.to_string(), max / 10);
            return self.read_offer(rid);
        }
        let throughput = content["offerThroughput"]
            .as_u64()
            .filter(|t| *t >= MIN_THROUGHPUT)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "content.offerThroughput must be a whole number of at least {MIN_THROUGHPUT}"
                ))
            })?;
        self.autoscale.remove(rid);
        self.throughput.insert(rid.to_string(), throughput);
        self.read_offer(rid)
    }
}
