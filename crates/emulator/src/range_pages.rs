//! A cross-partition query the gateway serves itself over a container with several
//! partition key ranges answers range by range, as the service does: each result's
//! position leads with its item's effective partition key, so results come in range order;
//! a page holds results of one range only, and a page that ends a range continues at the
//! next one — even a range with no results gets its (empty) page. Continuations name an
//! EPK, so they stay valid across a split.

use serde_json::Value;

use crate::api_error::ApiError;
use crate::cursor::{Bounds, Positioned, page, start_after};
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
        return crate::cursor::paginate(rows, feed, fingerprint, rid, "Documents");
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
    let range_of = |position: &Position| -> usize {
        let epk = (position.keys.first())
            .and_then(|(value, _)| value.as_ref()?.as_str())
            .unwrap_or_default();
        (ranges.iter())
            .position(|r| r.min.as_str() <= epk && epk < r.max.as_str())
            .unwrap_or(0)
    };
    let (start, after) = start_after(&rows, feed, fingerprint)?;
    let current = after.as_ref().map_or(0, range_of);
    let in_range = rows[start.min(rows.len())..]
        .iter()
        .take_while(|(p, _)| p.as_ref().is_none_or(|p| range_of(p) == current))
        .count();
    // The next range starts at its lower bound: a position before all of its results.
    let at_limit = ranges.get(current + 1).map(|next| Position {
        keys: vec![(Some(Value::String(next.min.clone())), false)],
        key: (String::new(), String::new()),
    });
    let bounds = Bounds {
        start,
        limit: start + in_range,
        at_limit,
    };
    page(rows, bounds, feed, fingerprint, rid, "Documents")
}
