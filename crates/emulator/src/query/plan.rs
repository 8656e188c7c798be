//! The query plan document SDKs ask for (`x-ms-cosmos-is-query-plan-request`) before
//! running a cross-partition query themselves.

use serde_json::{Value, json};

use super::ast::{Expr, Query, Select, Sql};
use super::parser::reserved;

/// The placeholder SDKs replace (with `true` on a first page) in rewritten ORDER BY queries.
pub(crate) const ORDER_BY_FILTER: &str = "{documentdb-formattableorderbyquery-filter}";

/// The plan for `query`: what the SDK must do across ranges, and the query to send to each.
///
/// The emulator has one partition key range, so the SDK's merge is over one stream; the
/// plan still has the service's shape so SDK-side pipelines (ORDER BY merge, aggregates,
/// TOP, OFFSET/LIMIT) run as they would against the service.
pub(crate) fn plan(query: &Query) -> Value {
    let sql = |expr: &Expr| Sql { expr, query }.to_string();
    let alias = &query.alias;
    let top = query.top.map(|n| format!("TOP {n} ")).unwrap_or_default();
    let from = format!("FROM {} {alias}", query.container);
    let filter = query.filter.as_ref().map(sql);
    // The SDK applies OFFSET/LIMIT itself: each range returns the first offset+limit.
    let window = match (query.offset, query.limit) {
        (Some(offset), Some(limit)) => {
            format!(" OFFSET 0 LIMIT {}", offset.saturating_add(limit))
        }
        _ => String::new(),
    };
    let order_by: Vec<String> = query
        .order_by
        .iter()
        .map(|(key, descending)| {
            format!("{}{}", sql(key), if *descending { " DESC" } else { " ASC" })
        })
        .collect();
    let single_aggregate = match &query.select {
        Select::Value(Expr::Aggregate(aggregate, index)) => Some((*aggregate, *index)),
        _ => None,
    };

    let (rewritten, aggregates) = if !query.order_by.is_empty() {
        let payload = match &query.select {
            Select::Star => alias.clone(),
            Select::Value(expr) => sql(expr),
            Select::Fields(fields) => {
                let object = Expr::Object(fields.clone());
                sql(&object)
            }
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
        let rewritten = format!(
            "SELECT {top}{alias}._rid, [{}] AS orderByItems, {payload} AS payload {from} WHERE {condition} ORDER BY {}{window}",
            items.join(", "),
            order_by.join(", ")
        );
        (rewritten, Vec::new())
    } else if let Some((aggregate, index)) = single_aggregate {
        let arg = query
            .aggregates
            .get(index)
            .map_or_else(|| "undefined".to_string(), |(_, arg)| sql(arg));
        let item = match aggregate {
            super::ast::Aggregate::Avg => {
                format!("{{\"sum\": SUM({arg}), \"count\": COUNT({arg})}}")
            }
            other => format!("{}({arg})", other.sql()),
        };
        let condition = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
        let rewritten =
            format!("SELECT {top}VALUE [{{\"item\": {item}}}] {from}{condition}{window}");
        (rewritten, vec![aggregate.plan_name()])
    } else if query.offset.is_some() {
        let condition = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
        let select = match &query.select {
            Select::Star => "*".to_string(),
            Select::Value(expr) => format!("VALUE {}", sql(expr)),
            Select::Fields(fields) => fields
                .iter()
                .map(|(name, e)| {
                    // A name the parser derived (`$1`, a property name) derives again from
                    // the printed expression; only a plain identifier can follow AS.
                    let plain = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !reserved(name);
                    if plain {
                        format!("{} AS {name}", sql(e))
                    } else {
                        sql(e)
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        (
            format!("SELECT {top}{select} {from}{condition}{window}"),
            Vec::new(),
        )
    } else {
        // Nothing for the SDK to do across ranges: it sends the query as written.
        (String::new(), Vec::new())
    };

    json!({
        "partitionedQueryExecutionInfoVersion": 2,
        "queryInfo": {
            "distinctType": "None",
            "top": query.top,
            "offset": query.offset,
            "limit": query.limit,
            "orderBy": query.order_by.iter().map(|(_, d)| if *d { "Descending" } else { "Ascending" }).collect::<Vec<_>>(),
            "orderByExpressions": query.order_by.iter().map(|(k, _)| sql(k)).collect::<Vec<_>>(),
            "groupByExpressions": [],
            "groupByAliases": [],
            "aggregates": aggregates,
            "groupByAliasToAggregateType": {},
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
