//! A container's provisioned throughput (its offer): read and replace, manual or
//! autoscale.
//!
//! The service keeps throughput in an offer resource (`/offers/{rid}`) whose
//! `offerResourceId` is the container's `_rid`: the driver reads the container's rid,
//! finds its offer in the offer feed, and replaces the offer's `content` — `offerThroughput`
//! for manual throughput, `offerAutopilotSettings.maxThroughput` for autoscale (the
//! service then reports a tenth of the maximum as the current `offerThroughput`).

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use crate::container::Container;
use crate::error::DriverError;
use crate::operation::Operation;
use crate::request::Target;

/// A container's throughput: manual RU/s, or autoscale up to a maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThroughputProperties {
    /// Manual throughput in RU/s; for autoscale, the current floor the service reports
    /// (a tenth of the maximum). `None` when building an autoscale setting.
    pub throughput: Option<u64>,
    /// Autoscale: the most RU/s the container scales to. `None` for manual throughput.
    pub autoscale_max_throughput: Option<u64>,
    /// The offer's `_rid` (empty when building a setting).
    pub offer_id: String,
    /// The offer's etag, if read from the service.
    pub etag: Option<String>,
}

impl ThroughputProperties {
    /// Manual throughput of `ru_per_second` RU/s (the service's minimum is 400).
    pub fn manual(ru_per_second: u64) -> Self {
        Self {
            throughput: Some(ru_per_second),
            autoscale_max_throughput: None,
            offer_id: String::new(),
            etag: None,
        }
    }

    /// Autoscale up to `max_ru_per_second` RU/s (at least 1000, a multiple of 1000).
    pub fn autoscale(max_ru_per_second: u64) -> Self {
        Self {
            throughput: None,
            autoscale_max_throughput: Some(max_ru_per_second),
            offer_id: String::new(),
            etag: None,
        }
    }

    /// Whether this is autoscale throughput.
    pub fn is_autoscale(&self) -> bool {
        self.autoscale_max_throughput.is_some()
    }

    fn from_offer(offer: &Value) -> Self {
        let content = &offer["content"];
        Self {
            throughput: content["offerThroughput"].as_u64(),
            autoscale_max_throughput: content["offerAutopilotSettings"]["maxThroughput"].as_u64(),
            offer_id: offer["_rid"].as_str().unwrap_or_default().to_string(),
            etag: offer["_etag"].as_str().map(str::to_string),
        }
    }

    fn content(&self) -> Value {
        match self.autoscale_max_throughput {
            Some(max) => json!({"offerAutopilotSettings": {"maxThroughput": max}}),
            None => json!({"offerThroughput": self.throughput.unwrap_or_default()}),
        }
    }
}

impl Container {
    /// The container's provisioned throughput; `None` if it has no offer of its own (it
    /// shares its database's throughput). A token (Entra ID) identity may read it.
    pub async fn read_throughput(&self) -> Result<Option<ThroughputProperties>, DriverError> {
        Ok(self
            .offer()
            .await?
            .map(|offer| ThroughputProperties::from_offer(&offer)))
    }

    /// Sets the container's throughput to `throughput` (manual or autoscale) and returns
    /// the offer as the service answered; `None` if the container has no offer of its
    /// own. A control-plane write: refused to token identities (403, sub-status 5300).
    pub async fn replace_throughput(
        &self,
        throughput: &ThroughputProperties,
    ) -> Result<Option<ThroughputProperties>, DriverError> {
        let Some(mut offer) = self.offer().await? else {
            return Ok(None);
        };
        offer["content"] = throughput.content();
        let rid = offer["_rid"].as_str().unwrap_or_default().to_string();
        let target = Target::offer(&rid);
        let link = target.resource_link.clone();
        let sent = Bytes::from(serde_json::to_vec(&offer)?);
        let (driver, ..) = self.parts();
        let success = driver
            .inner
            .execute(&Operation::write(Method::PUT, target, true, Some(sent)))
            .await?;
        let answer: Value = crate::decode::from_slice(&success.body, &link)?;
        Ok(Some(ThroughputProperties::from_offer(&answer)))
    }

    /// The container's offer: its rid looked up in the offer feed.
    async fn offer(&self) -> Result<Option<Value>, DriverError> {
        let (driver, db, coll, _) = self.parts();
        let container = driver.database(db).read_container(coll).await?;
        let rid = container
            .other
            .get("_rid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let offers: Vec<Value> = driver.list(Target::offers(), "Offers").await?;
        Ok(offers
            .into_iter()
            .find(|offer| offer["offerResourceId"].as_str() == Some(rid.as_str())))
    }
}
