//! The query plan (`x-ms-cosmos-is-query-plan-request: true`): what the driver must do
//! across partition key ranges, and the query to send to each, as the official SDKs read it.

use serde_json::Value;

use crate::error::DriverError;

/// The placeholder of rewritten `ORDER BY` queries; the first (and, here, every) page of a
/// range replaces it with `true` (the driver resumes a range with its continuation, not
/// with a filter on the last `ORDER BY` values).
const ORDER_BY_FILTER: &str = "{documentdb-formattableorderbyquery-filter}";

/// An aggregate the driver combines across ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Count,
    Sum,
    Min,
    Max,
    /// Each range answers `{"sum", "count"}`.
    Average,
}

/// How the driver removes duplicates across ranges (`queryInfo.distinctType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Distinct {
    /// No `DISTINCT`.
    #[default]
    None,
    /// Results arrive in order (`DISTINCT` with `ORDER BY`): drop a repeat of the last one.
    Ordered,
    /// Drop any result seen before.
    Unordered,
}

/// A `GROUP BY` (or field-list aggregate) query: each range answers its groups'
/// `groupByItems` and a `payload` of partial values the driver combines per group.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct GroupBy {
    /// `SELECT VALUE …`: the payload is the value (`[{"item": partial}]` with `value_aggregate`).
    pub(crate) value: bool,
    /// The aggregate of a `SELECT VALUE AGG(…) … GROUP BY`.
    pub(crate) value_aggregate: Option<Aggregate>,
    /// Each field of the payload and its aggregate (`None`: a grouping key, kept as is).
    pub(crate) fields: Vec<(String, Option<Aggregate>)>,
}

impl Aggregate {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "Count" => Self::Count,
            "Sum" => Self::Sum,
            "Min" => Self::Min,
            "Max" => Self::Max,
            "Average" => Self::Average,
            _ => return None,
        })
    }
}

/// The parts of a plan the driver executes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// The query each range runs (the original when the plan rewrites nothing).
    pub(crate) query: String,
    /// `true` per `ORDER BY` key that is descending; empty without `ORDER BY`.
    pub(crate) descending: Vec<bool>,
    /// The aggregate of a `SELECT VALUE AGG(…)` query.
    pub(crate) aggregate: Option<Aggregate>,
    /// `TOP n`, applied to the merged results.
    pub(crate) top: Option<u64>,
    /// `OFFSET m`, applied to the merged results.
    pub(crate) offset: Option<u64>,
    /// `LIMIT n`, applied to the merged results.
    pub(crate) limit: Option<u64>,
    /// `DISTINCT`, applied to the merged results.
    pub(crate) distinct: Distinct,
    /// Groups to combine across ranges.
    pub(crate) group_by: Option<GroupBy>,
}

/// A plan the driver cannot execute: reported as a response that could not be parsed.
fn invalid(why: &str) -> DriverError {
    DriverError::Serialization(serde::de::Error::custom(format!("query plan: {why}")))
}

impl Plan {
    /// Reads the plan document the service returned for `original`.
    pub(crate) fn parse(body: &[u8], original: &str) -> Result<Self, DriverError> {
        let document: Value = serde_json::from_slice(body)?;
        let info = document
            .get("queryInfo")
            .ok_or_else(|| invalid("no queryInfo"))?;
        let descending = match info.get("orderBy") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(keys)) => keys
                .iter()
                .map(|k| match k.as_str() {
                    Some("Ascending") => Ok(false),
                    Some("Descending") => Ok(true),
                    _ => Err(invalid(
                        "an orderBy entry is neither Ascending nor Descending",
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("orderBy is not an array")),
        };
        let aggregates: Vec<Aggregate> = match info.get("aggregates") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(names)) => names
                .iter()
                .map(|n| {
                    n.as_str()
                        .and_then(Aggregate::parse)
                        .ok_or_else(|| invalid("an unknown aggregate"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("aggregates is not an array")),
        };
        let distinct = match info.get("distinctType").and_then(Value::as_str) {
            None | Some("None") => Distinct::None,
            Some("Ordered") => Distinct::Ordered,
            Some("Unordered") => Distinct::Unordered,
            Some(_) => return Err(invalid("an unknown distinctType")),
        };
        let group_by = group_by(info, aggregates.first().copied())?;
        // Several aggregates combine only as a field list's groups (the service lists a
        // field list's aggregates as well as their aliases' types).
        if aggregates.len() > 1 && group_by.is_none() {
            return Err(invalid("more than one aggregate to combine"));
        }
        if !aggregates.is_empty() && !descending.is_empty() {
            return Err(invalid("ORDER BY together with aggregates"));
        }
        let number = |name: &str| info.get(name).and_then(Value::as_u64);
        let rewritten = info
            .get("rewrittenQuery")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let query = if rewritten.is_empty() {
            original.to_string()
        } else {
            rewritten.replace(ORDER_BY_FILTER, "true")
        };
        Ok(Self {
            query,
            descending,
            aggregate: aggregates.first().copied().filter(|_| group_by.is_none()),
            distinct,
            group_by,
            top: number("top"),
            offset: number("offset"),
            limit: number("limit"),
        })
    }
}

/// The plan's `GROUP BY` part: `groupByExpressions`, `groupByAliases` and
/// `groupByAliasToAggregateType` (field-list aggregates without `GROUP BY` too).
fn group_by(
    info: &Value,
    value_aggregate: Option<Aggregate>,
) -> Result<Option<GroupBy>, DriverError> {
    let keys = info
        .get("groupByExpressions")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let types = match info.get("groupByAliasToAggregateType") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(types)) => types.clone(),
        Some(_) => return Err(invalid("groupByAliasToAggregateType is not an object")),
    };
    if keys == 0 && types.is_empty() {
        return Ok(None);
    }
    let aliases: Vec<String> = match info.get("groupByAliases") {
        Some(Value::Array(names)) => names
            .iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("a groupByAlias is not a string"))?,
        _ => types.keys().cloned().collect(),
    };
    let fields = aliases
        .into_iter()
        .map(|alias| {
            let aggregate = match types.get(&alias) {
                None | Some(Value::Null) => None,
                Some(name) => Some(
                    name.as_str()
                        .and_then(Aggregate::parse)
                        .ok_or_else(|| invalid("an unknown aggregate"))?,
                ),
            };
            Ok((alias, aggregate))
        })
        .collect::<Result<_, DriverError>>()?;
    Ok(Some(GroupBy {
        value: info.get("hasSelectValue").and_then(Value::as_bool) == Some(true),
        value_aggregate,
        fields,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn order_by_plans_are_read_and_their_filter_is_filled_in() {
        let body = json!({"queryInfo": {
            "orderBy": ["Descending", "Ascending"],
            "aggregates": [],
            "top": 5,
            "rewrittenQuery": "SELECT c._rid FROM c WHERE ({documentdb-formattableorderbyquery-filter}) ORDER BY c.a DESC, c.b ASC",
        }});
        let plan = Plan::parse(body.to_string().as_bytes(), "original").unwrap();
        assert_eq!(plan.descending, vec![true, false]);
        assert_eq!(plan.top, Some(5));
        assert_eq!(plan.aggregate, None);
        assert_eq!(
            plan.query,
            "SELECT c._rid FROM c WHERE (true) ORDER BY c.a DESC, c.b ASC"
        );
    }

    #[test]
    fn a_plan_without_a_rewrite_runs_the_original_and_bad_plans_are_errors() {
        let body = json!({"queryInfo": {"aggregates": ["Average"], "rewrittenQuery": ""}});
        let plan = Plan::parse(body.to_string().as_bytes(), "SELECT * FROM c").unwrap();
        assert_eq!(plan.query, "SELECT * FROM c");
        assert_eq!(plan.aggregate, Some(Aggregate::Average));
        for bad in [
            json!({}),
            json!({"queryInfo": {"orderBy": ["Sideways"]}}),
            json!({"queryInfo": {"aggregates": ["Median"]}}),
            json!({"queryInfo": {"aggregates": ["Count", "Sum"]}}),
        ] {
            assert!(
                Plan::parse(bad.to_string().as_bytes(), "q").is_err(),
                "{bad}"
            );
        }
        assert!(Plan::parse(b"not json", "q").is_err());
    }
}
