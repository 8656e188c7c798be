//! A cross-partition query the gateway serves itself over a container with several
//! partition key ranges answers range by range, as the service does: each result's
//! position leads with its item's effective partition key, so results come in range order,
//! and a page ends where the next result lies in another range (one page per range at
//! least). A continuation names the EPK too, so it stays valid across a split.

use serde_json::Value;

use crate::api_error::ApiError;
use crate::cursor::{Positioned, paginate_grouped};
use crate::epk::epk_of_key;
use crate::feed::{FeedRequest, Page};
use crate::query::Position;
use crate::ranges::PkRange;

/// The page of `rows` (a query's results, each positioned by its item's key) `feed` asks
/// for, over `ranges` (fewer than two: the rows' own order and plain pages).
pub(crate) fn paginate_by_range(
    mut rows: Vec<Positioned>,
    ranges: &[PkRange],
    feed: &FeedRequest,
    fingerprint: u64,
    rid: &Value,
) -> Result<Page, ApiError> {
    if ranges.len() < 2 {
        return paginate_grouped(rows, feed, fingerprint, rid, "Documents", &|_| None);
    }
    for position in rows.iter_mut().filter_map(|(p, _)| p.as_mut()) {
        let epk = serde_json::from_str::<Value>(&position.key.0)
            .ok()
            .as_ref()
            .and_then(epk_of_key)
            .unwrap_or_default();
        position.keys.insert(0, (Some(Value::String(epk)), false));
    }
    // Stable: results of one item (a JOIN's) keep their order.
    rows.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) => a.cmp_to(b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    });
    let group = |position: &Position| -> Option<usize> {
        let epk = position.keys.first()?.0.as_ref()?.as_str()?;
        ranges
            .iter()
            .position(|r| r.min.as_str() <= epk && epk < r.max.as_str())
    };
    paginate_grouped(rows, feed, fingerprint, rid, "Documents", &group)
}
