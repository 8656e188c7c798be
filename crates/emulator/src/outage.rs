//! Region outage shapes: how a regional listener fails — refusing, a black hole, 503s or
//! slowness — for its reads, its writes or both; how the admin API and CLI spell them.
//! What a request meets on the wire is `disruption.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

/// The sub-status of an `unavailable` region's 503: the service's "server generated 503"
/// (sub-statuses from 21001 up are transient service conditions).
pub const SUB_STATUS_SERVER_GENERATED_503: u32 = 21008;
/// The longest delay a `slow` outage may ask for (delay plus jitter), in milliseconds.
pub const MAX_OUTAGE_DELAY_MS: u64 = 3_600_000;

/// Which requests of a region an outage applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutageScope {
    /// Reads: `GET`, `HEAD` and queries.
    Reads,
    /// Everything that is not a read.
    Writes,
    /// Every request.
    #[default]
    Both,
}

/// How a region fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutageShape {
    /// Connections are refused (the port is closed). For reads or writes only, the
    /// listener stays up and each such request's connection is closed unanswered.
    Refuse,
    /// Connections are accepted and requests are never answered. When the outage ends,
    /// the connections of the requests it held are closed unanswered.
    Blackhole,
    /// Requests are answered 503 with sub-status [`SUB_STATUS_SERVER_GENERATED_503`].
    Unavailable,
    /// Requests are answered normally after `delay` plus a uniformly random part of
    /// `jitter`.
    Slow {
        /// The fixed delay.
        delay: Duration,
        /// The most added at random to each request's delay.
        jitter: Duration,
    },
}

/// A region's outage: a shape and the requests it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outage {
    /// How the region fails.
    pub shape: OutageShape,
    /// Which of its requests.
    pub applies_to: OutageScope,
}

impl Outage {
    /// Connections refused (for [`reads`](Self::reads) or [`writes`](Self::writes)
    /// only: those requests' connections closed unanswered).
    pub fn refuse() -> Self {
        Self::of(OutageShape::Refuse)
    }

    /// Connections accepted, requests never answered.
    pub fn blackhole() -> Self {
        Self::of(OutageShape::Blackhole)
    }

    /// 503 with the service's sub-status.
    pub fn unavailable() -> Self {
        Self::of(OutageShape::Unavailable)
    }

    /// Every answer `delay` late.
    pub fn slow(delay: Duration) -> Self {
        Self::of(OutageShape::Slow {
            delay,
            jitter: Duration::ZERO,
        })
    }

    /// Adds up to `jitter` at random to a `slow` outage's delay (no effect on others).
    pub fn jitter(mut self, jitter: Duration) -> Self {
        if let OutageShape::Slow { jitter: j, .. } = &mut self.shape {
            *j = jitter;
        }
        self
    }

    /// Applies to reads only.
    pub fn reads(mut self) -> Self {
        self.applies_to = OutageScope::Reads;
        self
    }

    /// Applies to writes only.
    pub fn writes(mut self) -> Self {
        self.applies_to = OutageScope::Writes;
        self
    }

    fn of(shape: OutageShape) -> Self {
        Self {
            shape,
            applies_to: OutageScope::Both,
        }
    }

    /// Whether the whole listener is closed (refusing every request).
    pub(crate) fn closes_the_port(&self) -> bool {
        self.shape == OutageShape::Refuse && self.applies_to == OutageScope::Both
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if let OutageShape::Slow { delay, jitter } = self.shape {
            let total = delay.saturating_add(jitter);
            if total > Duration::from_millis(MAX_OUTAGE_DELAY_MS) {
                return Err(format!(
                    "a slow region's delay plus jitter is capped at {MAX_OUTAGE_DELAY_MS} ms"
                ));
            }
        }
        Ok(())
    }

    /// The outage as the admin API shows it.
    pub(crate) fn to_json(self) -> serde_json::Value {
        let (shape, delay, jitter) = match self.shape {
            OutageShape::Refuse => ("refuse", None, None),
            OutageShape::Blackhole => ("blackhole", None, None),
            OutageShape::Unavailable => ("unavailable", None, None),
            OutageShape::Slow { delay, jitter } => {
                ("slow", Some(millis(delay)), Some(millis(jitter)))
            }
        };
        let mut value = json!({"shape": shape, "applies_to": self.applies_to});
        if let (Some(delay), Some(jitter)) = (delay, jitter) {
            value["delay_ms"] = json!(delay);
            value["jitter_ms"] = json!(jitter);
        }
        value
    }
}

/// Parses the admin API's body (`{"shape": "slow", "delay_ms": 500}`), or a bare shape
/// name without parameters (`blackhole`, `unavailable`, `refuse`).
impl std::str::FromStr for Outage {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let json = if text.starts_with('{') {
            text.to_string()
        } else {
            json!({ "shape": text }).to_string()
        };
        serde_json::from_str::<OutageRequest>(&json)
            .map_err(|e| format!("not an outage: {e}"))?
            .outage()
    }
}

impl Serialize for Outage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The admin API's body: `{"shape": "slow", "applies_to": "reads", "delay_ms": 500,
/// "jitter_ms": 50}` (`applies_to` defaults to `both`; the delays only for `slow`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutageRequest {
    shape: ShapeName,
    #[serde(default)]
    applies_to: OutageScope,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    jitter_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ShapeName {
    Refuse,
    Blackhole,
    Unavailable,
    Slow,
}

impl OutageRequest {
    pub(crate) fn outage(self) -> Result<Outage, String> {
        let shape = match (self.shape, self.delay_ms, self.jitter_ms) {
            (ShapeName::Slow, Some(delay), jitter) => OutageShape::Slow {
                delay: Duration::from_millis(delay),
                jitter: Duration::from_millis(jitter.unwrap_or(0)),
            },
            (ShapeName::Slow, None, _) => return Err("a slow outage needs delay_ms".into()),
            (_, Some(_), _) | (_, _, Some(_)) => {
                return Err("delay_ms and jitter_ms are for the slow shape only".into());
            }
            (ShapeName::Refuse, ..) => OutageShape::Refuse,
            (ShapeName::Blackhole, ..) => OutageShape::Blackhole,
            (ShapeName::Unavailable, ..) => OutageShape::Unavailable,
        };
        let outage = Outage {
            shape,
            applies_to: self.applies_to,
        };
        outage.validate()?;
        Ok(outage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_bodies_parse_into_outages() {
        let parse = |text: &str| {
            serde_json::from_str::<OutageRequest>(text)
                .map_err(|e| e.to_string())
                .and_then(OutageRequest::outage)
        };
        assert_eq!(parse(r#"{"shape":"blackhole"}"#), Ok(Outage::blackhole()));
        assert_eq!(
            parse(r#"{"shape":"slow","delay_ms":500,"jitter_ms":20,"applies_to":"reads"}"#),
            Ok(Outage::slow(Duration::from_millis(500))
                .jitter(Duration::from_millis(20))
                .reads())
        );
        assert!(parse(r#"{"shape":"slow"}"#).is_err());
        assert!(parse(r#"{"shape":"refuse","delay_ms":1}"#).is_err());
        assert!(parse(r#"{"shape":"explode"}"#).is_err());
        assert!(parse(r#"{"shape":"slow","delay_ms":3600000,"jitter_ms":1}"#).is_err());
    }
}
