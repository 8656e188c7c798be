//! Where a change feed stands: the start it was asked for and, per source (a partition
//! key range, or the one partition key), the `etag` its last answer carried — the
//! service's continuation for that source. [`Cursor::token`] folds it into one opaque,
//! self-contained string a user can save and resume from in another process.
//!
//! A resumed feed asks each source with `If-None-Match: <etag>`; a source that has not
//! answered yet is asked as the start says (nothing: the beginning; `If-None-Match: *`:
//! now; `If-Modified-Since`: a time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::header_name::{Name, header_name};

/// What every token starts with.
const PREFIX: &str = "meridian-cf1:";

/// Where a source without an etag starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Beginning,
    Now,
    /// Changes made at or after this Unix second.
    Time(u64),
}

/// One source: its range id (`None`: the partition key scope) and its etag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceCursor {
    pub(crate) range: Option<String>,
    pub(crate) etag: Option<String>,
}

/// The feed's position, over every source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The container's link (`dbs/{db}/colls/{coll}`): a token of another is refused.
    pub(crate) container: String,
    /// The partition key header of a scoped feed.
    pub(crate) partition_key: Option<String>,
    pub(crate) from: Start,
    pub(crate) sources: Vec<SourceCursor>,
}

impl Start {
    /// `time` as a start: whole seconds since the Unix epoch (earlier: the epoch).
    pub(crate) fn time(time: SystemTime) -> Self {
        Self::Time(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    /// The header a source without an etag is asked with.
    pub(crate) fn header(self) -> Option<(Name, String)> {
        match self {
            Self::Beginning => None,
            Self::Now => Some((header_name!("if-none-match"), "*".to_string())),
            Self::Time(secs) => {
                let at = UNIX_EPOCH + Duration::from_secs(secs);
                Some((
                    header_name!("if-modified-since"),
                    httpdate::fmt_http_date(at),
                ))
            }
        }
    }
}

impl Cursor {
    /// The header source `i` is asked with next.
    pub(crate) fn condition(&self, i: usize) -> Option<(Name, String)> {
        match self.sources.get(i).and_then(|s| s.etag.clone()) {
            Some(etag) => Some((header_name!("if-none-match"), etag)),
            None => self.from.header(),
        }
    }

    /// The opaque token: `meridian-cf1:` and the cursor as base64url JSON.
    pub(crate) fn token(&self) -> String {
        let from = match self.from {
            Start::Beginning => json!({"t": "beginning"}),
            Start::Now => json!({"t": "now"}),
            Start::Time(secs) => json!({"t": "time", "s": secs}),
        };
        let sources: Vec<Value> = self
            .sources
            .iter()
            .map(|s| json!({"r": s.range, "e": s.etag}))
            .collect();
        let value = json!({
            "c": self.container,
            "pk": self.partition_key,
            "f": from,
            "s": sources,
        });
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(value.to_string()))
    }

    /// The cursor a token holds; `None` for a string no change feed of this driver made.
    pub(crate) fn parse(token: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim().strip_prefix(PREFIX)?)
            .ok()?;
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        let text = |v: &Value| -> Option<Option<String>> {
            match v {
                Value::Null => Some(None),
                Value::String(s) => Some(Some(s.clone())),
                _ => None,
            }
        };
        let from = value.get("f")?;
        let from = match from.get("t")?.as_str()? {
            "beginning" => Start::Beginning,
            "now" => Start::Now,
            "time" => Start::Time(from.get("s")?.as_u64()?),
            _ => return None,
        };
        let sources = value
            .get("s")?
            .as_array()?
            .iter()
            .map(|s| {
                Some(SourceCursor {
                    range: text(s.get("r")?)?,
                    etag: text(s.get("e")?)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        if sources.is_empty() {
            return None;
        }
        Some(Self {
            container: value.get("c")?.as_str()?.to_string(),
            partition_key: text(value.get("pk")?)?,
            from,
            sources,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_round_trips_and_anything_else_is_refused() {
        let cursor = Cursor {
            container: "dbs/d/colls/c".into(),
            partition_key: None,
            from: Start::Time(1_700_000_000),
            sources: vec![
                SourceCursor {
                    range: Some("0".into()),
                    etag: Some("\"12\"".into()),
                },
                SourceCursor {
                    range: Some("1".into()),
                    etag: None,
                },
            ],
        };
        let token = cursor.token();
        assert_eq!(Cursor::parse(&token), Some(cursor.clone()));
        assert_eq!(
            cursor.condition(0),
            Some((header_name!("if-none-match"), "\"12\"".into()))
        );
        let (name, date) = cursor.condition(1).unwrap();
        assert_eq!(name, "if-modified-since");
        assert_eq!(date, "Tue, 14 Nov 2023 22:13:20 GMT");
        for bad in [
            "",
            "meridian-cf1:",
            "meridian-cf1:!!",
            "\"12\"",
            &token[1..],
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
