//! The service's refusals that depend on the request and the container, not on the text
//! alone: non-`VALUE` aggregates across partitions, and multi-field `ORDER BY` without a
//! composite index.

use serde_json::Value;

use super::ast::{Expr, Query, Select};
use crate::api_error::ApiError;

/// Refuses `query` as the service would for a container with these `indexes`
/// (`indexingPolicy.compositeIndexes`); `cross_partition` when the request fans out itself
/// (no partition key, no range id).
pub(crate) fn check(query: &Query, indexes: &Value, cross_partition: bool) -> Result<(), ApiError> {
    let value_aggregate = matches!(query.select, Select::Value(Expr::Aggregate(..)));
    if cross_partition && query.aggregates_only() && !value_aggregate {
        return Err(ApiError::bad_request(
            "Cross partition query only supports 'VALUE <AggregateFunction>' for aggregates.",
        ));
    }
    if query.order_by.len() > 1 && !has_composite_index(query, indexes) {
        return Err(ApiError::bad_request(
            "The order by query does not have a corresponding composite index that it can be served from.",
        ));
    }
    Ok(())
}

/// Whether the container's `indexingPolicy.compositeIndexes` holds one with the query's
/// `ORDER BY` paths in order, each with its direction (or every direction reversed).
fn has_composite_index(query: &Query, indexes: &Value) -> bool {
    let Some(keys) = query
        .order_by
        .iter()
        .map(|(key, descending)| Some((path(key)?, *descending)))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    indexes.as_array().into_iter().flatten().any(|index| {
        let Some(index) = index.as_array() else {
            return false;
        };
        let entries: Option<Vec<(String, bool)>> = index
            .iter()
            .map(|entry| {
                let path = entry.get("path")?.as_str()?.to_string();
                let order = entry
                    .get("order")
                    .and_then(Value::as_str)
                    .unwrap_or("ascending");
                Some((path, order.eq_ignore_ascii_case("descending")))
            })
            .collect();
        let Some(entries) = entries else {
            return false;
        };
        entries.len() == keys.len()
            && [false, true].iter().any(|flip| {
                entries
                    .iter()
                    .zip(&keys)
                    .all(|((p, d), (k, kd))| p == k && *d == (*kd != *flip))
            })
    })
}

/// `c.a.b` → `/a/b`; `None` for anything but a path from the item.
pub(super) fn path(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Var { up: 0, slot: 0, .. } => Some(String::new()),
        Expr::Member(base, name) => Some(format!("{}/{name}", path(base)?)),
        Expr::Index(base, index) => match index.as_ref() {
            Expr::Literal(Value::String(name)) => Some(format!("{}/{name}", path(base)?)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the select clause has an aggregate inside another expression
/// (`SELECT VALUE {"n": COUNT(1)}`, `COUNT(1) + 1`): the service cannot combine those across
/// ranges, and refuses to plan them.
pub(crate) fn composes_aggregates(query: &Query) -> bool {
    fn nested(expr: &Expr) -> bool {
        expr.children()
            .into_iter()
            .any(|e| matches!(e, Expr::Aggregate(..)) || nested(e))
    }
    match &query.select {
        Select::Star => false,
        Select::Value(expr) => nested(expr),
        Select::Fields(fields) => fields.iter().any(|(_, e)| nested(e)),
    }
}

/// The query features (as SDKs name them in `x-ms-cosmos-supported-query-features`) a
/// cross-partition run of `query` needs from the client.
fn features(query: &Query) -> Vec<&'static str> {
    let mut needed = Vec::new();
    let value_aggregate = matches!(query.select, Select::Value(Expr::Aggregate(..)));
    if !query.aggregates.is_empty() && query.group_by.is_empty() {
        needed.push(if value_aggregate {
            "Aggregate"
        } else {
            "CompositeAggregate"
        });
    }
    if !query.group_by.is_empty() {
        needed.push("GroupBy");
    }
    if query.distinct {
        needed.push("Distinct");
    }
    match query.order_by.len() {
        0 => {}
        1 => needed.push("OrderBy"),
        _ => needed.push("MultipleOrderBy"),
    }
    if query.offset.is_some() {
        needed.push("OffsetAndLimit");
    }
    if query.top.is_some() {
        needed.push("Top");
    }
    needed
}

/// Refuses a plan request whose query needs a feature the client did not list in
/// `x-ms-cosmos-supported-query-features` (no header: every feature is assumed).
pub(crate) fn check_features(query: &Query, supported: Option<&str>) -> Result<(), String> {
    let Some(supported) = supported else {
        return Ok(());
    };
    let listed: Vec<&str> = supported.split(',').map(str::trim).collect();
    let missing: Vec<String> = features(query)
        .into_iter()
        .filter(|f| !listed.iter().any(|l| l.eq_ignore_ascii_case(f)))
        .map(|f| format!("    Query contained {f}, which the calling client does not support."))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Query contains 1 or more unsupported features. Upgrade your SDK to a version that does support the requested features:\r\n{}",
        missing.join("\r\n")
    ))
}
