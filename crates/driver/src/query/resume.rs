//! The continuation of a cross-partition query: every range's state folded into one
//! opaque token (`meridian-xq1:` and base64url JSON), so a query resumes exactly where a
//! page ended — in this process or after a restart — without holding anything between.
//!
//! Per range it keeps the service's continuation of the page it reads and, for an
//! `ORDER BY` merge, how many of that page's results were already merged out (the
//! merge buffers a page per range: on resume the page is fetched again and those
//! results dropped). The token also keeps what is left of `OFFSET` and `TOP`/`LIMIT`,
//! and a fingerprint of the query text and parameters: another query's token is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::Query;
use crate::error::{ConfigError, ConfigReason, DriverError};

/// What every token starts with.
const PREFIX: &str = "meridian-xq1:";

/// One range's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RangeState {
    pub(super) range: String,
    /// The service's continuation of the page to read (`None`: the range's first).
    pub(super) continuation: Option<String>,
    /// Results of that page already returned (an `ORDER BY` merge).
    pub(super) consumed: usize,
    /// Whether the range has anything left.
    pub(super) more: bool,
}

/// A cross-partition query's state between two pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resume {
    pub(super) order_by: bool,
    pub(super) ranges: Vec<RangeState>,
    pub(super) skip: u64,
    pub(super) take: Option<u64>,
}

fn refused(reason: &'static str) -> DriverError {
    DriverError::Config(ConfigError::new(
        "query continuation",
        ConfigReason::Unsupported(reason),
    ))
}

/// FNV-1a of the query's text and parameters, in hex.
fn fingerprint(query: &Query) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let params: Vec<Value> = query
        .parameters
        .iter()
        .map(|(name, value)| json!([name, value]))
        .collect();
    let text = json!([query.sql, params]).to_string();
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

impl Resume {
    /// The token for `query` in this state.
    pub(super) fn token(&self, query: &Query) -> String {
        let ranges: Vec<Value> = self
            .ranges
            .iter()
            .map(|r| json!({"r": r.range, "c": r.continuation, "n": r.consumed, "m": r.more}))
            .collect();
        let value = json!({
            "q": fingerprint(query),
            "o": self.order_by,
            "s": ranges,
            "skip": self.skip,
            "take": self.take,
        });
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(value.to_string()))
    }

    /// The state a token of `query` holds; a config error for any other string.
    pub(super) fn parse(token: &str, query: &Query) -> Result<Self, DriverError> {
        let malformed = || refused("not a cross-partition continuation of this driver");
        let encoded = token.trim().strip_prefix(PREFIX).ok_or_else(malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| malformed())?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if value.get("q").and_then(Value::as_str) != Some(fingerprint(query).as_str()) {
            return Err(refused("the continuation is another query's"));
        }
        let range = |r: &Value| -> Option<RangeState> {
            Some(RangeState {
                range: r.get("r")?.as_str()?.to_string(),
                continuation: match r.get("c")? {
                    Value::Null => None,
                    c => Some(c.as_str()?.to_string()),
                },
                consumed: usize::try_from(r.get("n")?.as_u64()?).ok()?,
                more: r.get("m")?.as_bool()?,
            })
        };
        let parsed = (|| {
            Some(Self {
                order_by: value.get("o")?.as_bool()?,
                ranges: value
                    .get("s")?
                    .as_array()?
                    .iter()
                    .map(range)
                    .collect::<Option<_>>()?,
                skip: value.get("skip")?.as_u64()?,
                take: match value.get("take")? {
                    Value::Null => None,
                    t => Some(t.as_u64()?),
                },
            })
        })();
        parsed.ok_or_else(malformed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_resumes_only_its_own_query() {
        let query = Query::new("SELECT * FROM c ORDER BY c.n").param("@x", 1);
        let state = Resume {
            order_by: true,
            ranges: vec![
                RangeState {
                    range: "0".into(),
                    continuation: Some("service-token".into()),
                    consumed: 2,
                    more: true,
                },
                RangeState {
                    range: "1".into(),
                    continuation: None,
                    consumed: 0,
                    more: false,
                },
            ],
            skip: 0,
            take: Some(3),
        };
        let token = state.token(&query);
        assert_eq!(Resume::parse(&token, &query).unwrap(), state);
        let other = Query::new("SELECT * FROM c ORDER BY c.n").param("@x", 2);
        assert!(Resume::parse(&token, &other).is_err());
        for bad in ["", "meridian-xq1:", "meridian-xq1:@@", "service-token"] {
            assert!(Resume::parse(bad, &query).is_err(), "{bad}");
        }
    }
}
