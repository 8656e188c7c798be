//! The query plan document SDKs ask for (`x-ms-cosmos-is-query-plan-request`) before
//! running a cross-partition query themselves.

use serde_json::{Map, Value, json};

use super::ast::{Aggregate, Expr, Query, Select};
use super::print::{Sql, from_sql, select_sql};

/// The placeholder SDKs replace (with `true` on a first page) in rewritten ORDER BY queries.
pub(crate) const ORDER_BY_FILTER: &str = "{documentdb-formattableorderbyquery-filter}";

/// The plan for `query`: what the SDK must do across ranges, and the query to send to each.
///
/// The plan has the service's shape so SDK-side pipelines (ORDER BY merge, DISTINCT,
/// GROUP BY, aggregates, TOP, OFFSET/LIMIT) run as they would against the service.
pub(crate) fn plan(query: &Query) -> Value {
    let sql = |expr: &Expr| Sql { expr, query }.to_string();
    // With DISTINCT a range's first n rows may hold fewer than n distinct results: the
    // ranges return every row and the SDK takes TOP / OFFSET / LIMIT after removing
    // duplicates.
    let top = (query.top)
        .filter(|_| !query.distinct)
        .map(|n| format!("TOP {n} "))
        .unwrap_or_default();
    let distinct = if query.distinct { "DISTINCT " } else { "" };
    let from = from_sql(query);
    let filter = query.filter.as_ref().map(sql);
    let condition = filter
        .as_ref()
        .map(|f| format!(" WHERE {f}"))
        .unwrap_or_default();
    // The SDK applies OFFSET/LIMIT itself: each range returns the first offset+limit.
    let window = match (query.offset, query.limit) {
        (Some(offset), Some(limit)) if !query.distinct => {
            format!(" OFFSET 0 LIMIT {}", offset.saturating_add(limit))
        }
        _ => String::new(),
    };
    let single_aggregate = match &query.select {
        Select::Value(Expr::Aggregate(aggregate, index)) => Some((*aggregate, *index)),
        _ => None,
    };
    let aggregate_item = |aggregate: Aggregate, index: usize| {
        let arg = query
            .aggregates
            .get(index)
            .map_or_else(|| "undefined".to_string(), |(_, arg)| sql(arg));
        match aggregate {
            Aggregate::Avg => format!("{{\"sum\": SUM({arg}), \"count\": COUNT({arg})}}"),
            other => format!("{}({arg})", other.sql()),
        }
    };
    let grouped =
        !query.group_by.is_empty() || (!query.aggregates.is_empty() && single_aggregate.is_none());
    let mut aliases: Vec<String> = Vec::new();
    let mut alias_types = Map::new();

    // Beside aggregates (no GROUP BY: one row), ORDER BY changes nothing: the plan is the
    // aggregate's, with no order for the SDK to merge by.
    let order_by: &[(Expr, bool)] = if query.aggregates.is_empty() {
        &query.order_by
    } else {
        &[]
    };
    let (rewritten, aggregates) = if !order_by.is_empty() {
        let payload = match &query.select {
            Select::Star => query.alias().to_string(),
            Select::Value(expr) => sql(expr),
            Select::Fields(fields) => sql(&Expr::Object(fields.clone())),
        };
        let items: Vec<String> = query
            .order_by
            .iter()
            .map(|(key, _)| format!("{{\"item\": {}}}", sql(key)))
            .collect();
        let condition = match &filter {
            Some(filter) => format!("({filter}) AND ({ORDER_BY_FILTER})"),
            None => format!("({ORDER_BY_FILTER})"),
        };
        let order_by: Vec<String> = query
            .order_by
            .iter()
            .map(|(key, d)| format!("{}{}", sql(key), if *d { " DESC" } else { " ASC" }))
            .collect();
        let rewritten = format!(
            "SELECT {top}{}._rid, [{}] AS orderByItems, {payload} AS payload {from} WHERE {condition} ORDER BY {}{window}",
            query.alias(),
            items.join(", "),
            order_by.join(", ")
        );
        (rewritten, Vec::new())
    } else if grouped {
        // Each range answers its groups' keys and partial aggregates; the SDK combines them.
        let keys: Vec<String> = query
            .group_by
            .iter()
            .map(|k| format!("{{\"item\": {}}}", sql(k)))
            .collect();
        let payload = match &query.select {
            Select::Value(Expr::Aggregate(aggregate, index)) => {
                format!("[{{\"item\": {}}}]", aggregate_item(*aggregate, *index))
            }
            Select::Value(expr) => sql(expr),
            Select::Star => query.alias().to_string(),
            Select::Fields(fields) => {
                let mut parts = Vec::new();
                for (name, expr) in fields {
                    aliases.push(name.clone());
                    let (text, kind) = match expr {
                        Expr::Aggregate(aggregate, index) => (
                            format!("{{\"item\": {}}}", aggregate_item(*aggregate, *index)),
                            Value::from(aggregate.plan_name()),
                        ),
                        other => (sql(other), Value::Null),
                    };
                    alias_types.insert(name.clone(), kind);
                    parts.push(format!("{}: {text}", Value::from(name.as_str())));
                }
                format!("{{{}}}", parts.join(", "))
            }
        };
        let group_by = if keys.is_empty() {
            String::new()
        } else {
            let exprs: Vec<String> = query.group_by.iter().map(sql).collect();
            format!(" GROUP BY {}", exprs.join(", "))
        };
        let group_items = if keys.is_empty() {
            String::new()
        } else {
            format!("[{}] AS groupByItems, ", keys.join(", "))
        };
        let rewritten =
            format!("SELECT {group_items}{payload} AS payload {from}{condition}{group_by}");
        // A field-list aggregate without GROUP BY lists its aggregates too, as the service
        // does (SDKs that only combine `VALUE` aggregates refuse it from this list).
        let aggregates = match single_aggregate {
            Some((aggregate, _)) => vec![aggregate.plan_name()],
            None if query.group_by.is_empty() => query
                .aggregates
                .iter()
                .map(|(a, _)| a.plan_name())
                .collect(),
            None => Vec::new(),
        };
        (rewritten, aggregates)
    } else if let Some((aggregate, index)) = single_aggregate {
        let item = aggregate_item(aggregate, index);
        let rewritten =
            format!("SELECT {top}VALUE [{{\"item\": {item}}}] {from}{condition}{window}");
        (rewritten, vec![aggregate.plan_name()])
    } else if query.offset.is_some() {
        (
            format!(
                "SELECT {distinct}{top}{} {from}{condition}{window}",
                select_sql(query)
            ),
            Vec::new(),
        )
    } else {
        // Nothing for the SDK to do across ranges but maybe DISTINCT: it sends the query
        // as written.
        (String::new(), Vec::new())
    };

    let distinct_type = match (query.distinct, query.order_by.is_empty()) {
        (false, _) => "None",
        (true, true) => "Unordered",
        (true, false) => "Ordered",
    };
    json!({
        "partitionedQueryExecutionInfoVersion": 2,
        "queryInfo": {
            "distinctType": distinct_type,
            "top": query.top,
            "offset": query.offset,
            "limit": query.limit,
            "orderBy": order_by.iter().map(|(_, d)| if *d { "Descending" } else { "Ascending" }).collect::<Vec<_>>(),
            "orderByExpressions": order_by.iter().map(|(k, _)| sql(k)).collect::<Vec<_>>(),
            "groupByExpressions": query.group_by.iter().map(sql).collect::<Vec<_>>(),
            "groupByAliases": aliases,
            "aggregates": aggregates,
            "groupByAliasToAggregateType": alias_types,
            "rewrittenQuery": rewritten,
            "hasSelectValue": matches!(query.select, Select::Value(_)),
            "dCountInfo": null,
            "hasNonStreamingOrderBy": false,
        },
        "queryRanges": [{
            "min": "",
            "max": "FF",
            "isMinInclusive": true,
            "isMaxInclusive": false,
        }],
    })
}
