//! Running a parsed query over a container's items: filter, order, aggregate, page, project.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::ast::{Aggregate, Query, Select};
use super::eval::{Scope, eval, order};
use super::expr::number;

/// Every result of `query` over `items`, in order.
pub(crate) fn run<'a>(query: &Query, items: impl IntoIterator<Item = &'a Value>) -> Vec<Value> {
    let no_aggregates: [Option<Value>; 0] = [];
    let keep = |item: &&Value| match &query.filter {
        None => true,
        Some(filter) => {
            let scope = Scope {
                item,
                aggregates: &no_aggregates,
            };
            eval(filter, &scope) == Some(Value::Bool(true))
        }
    };
    let matched: Vec<&Value> = items.into_iter().filter(keep).collect();

    let rows: Vec<Value> = if query.aggregates.is_empty() {
        let ordered = sort(query, matched);
        window(query, ordered)
            .into_iter()
            .filter_map(|item| project(query, item, &no_aggregates))
            .collect()
    } else {
        let results: Vec<Option<Value>> = query
            .aggregates
            .iter()
            .map(|(aggregate, arg)| {
                let values = matched.iter().filter_map(|item| {
                    eval(
                        arg,
                        &Scope {
                            item,
                            aggregates: &no_aggregates,
                        },
                    )
                });
                aggregate_of(*aggregate, values)
            })
            .collect();
        let row = project(query, &Value::Null, &results);
        window(query, row.into_iter().collect::<Vec<_>>())
    };
    rows
}

fn sort<'a>(query: &Query, items: Vec<&'a Value>) -> Vec<&'a Value> {
    if query.order_by.is_empty() {
        return items;
    }
    let none: [Option<Value>; 0] = [];
    let mut keyed: Vec<(Vec<Option<Value>>, &Value)> = items
        .into_iter()
        .map(|item| {
            let scope = Scope {
                item,
                aggregates: &none,
            };
            let keys = query
                .order_by
                .iter()
                .map(|(k, _)| eval(k, &scope))
                .collect();
            (keys, item)
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for ((left, right), (_, descending)) in a.iter().zip(b).zip(&query.order_by) {
            let o = order(left.as_ref(), right.as_ref());
            let o = if *descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    keyed.into_iter().map(|(_, item)| item).collect()
}

/// `OFFSET`/`LIMIT` then `TOP`.
fn window<T>(query: &Query, rows: Vec<T>) -> Vec<T> {
    let skip = query.offset.unwrap_or(0);
    let take = query
        .limit
        .unwrap_or(u64::MAX)
        .min(query.top.unwrap_or(u64::MAX));
    rows.into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(take).unwrap_or(usize::MAX))
        .collect()
}

fn project(query: &Query, item: &Value, aggregates: &[Option<Value>]) -> Option<Value> {
    let scope = Scope { item, aggregates };
    match &query.select {
        Select::Star => Some(item.clone()),
        // An undefined value is no result at all.
        Select::Value(expr) => eval(expr, &scope),
        Select::Fields(fields) => {
            let mut row = Map::new();
            for (name, expr) in fields {
                if let Some(value) = eval(expr, &scope) {
                    row.insert(name.clone(), value);
                }
            }
            Some(Value::Object(row))
        }
    }
}

/// One aggregate over the defined values of its argument.
fn aggregate_of(aggregate: Aggregate, values: impl Iterator<Item = Value>) -> Option<Value> {
    let values: Vec<Value> = values.collect();
    match aggregate {
        Aggregate::Count => Some(Value::from(values.len())),
        Aggregate::Sum | Aggregate::Avg => {
            let mut sum = 0.0;
            for value in &values {
                // A non-number makes the whole aggregate undefined.
                sum += value.as_f64().filter(|_| value.is_number())?;
            }
            if aggregate == Aggregate::Sum {
                Some(number(sum))
            } else if values.is_empty() {
                None
            } else {
                Some(number(sum / values.len() as f64))
            }
        }
        Aggregate::Min | Aggregate::Max => {
            if values.iter().any(|v| v.is_array() || v.is_object()) {
                return None;
            }
            let pick = |a: Value, b: Value| {
                let o = order(Some(&a), Some(&b));
                let keep_a = if aggregate == Aggregate::Min {
                    o != Ordering::Greater
                } else {
                    o != Ordering::Less
                };
                if keep_a { a } else { b }
            };
            values.into_iter().reduce(pick)
        }
    }
}
