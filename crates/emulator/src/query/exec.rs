//! Running a parsed query over a container's items: filter, order, aggregate, page, project
//! — within the query's work budget.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::QueryError;
use super::ast::{Aggregate, Query, Select};
use super::eval::{Scope, eval, order};
use super::expr::number;
use super::position::{Key, Position};
use super::work::{BYTES_PER_UNIT, Work};

/// The item aggregate-only select clauses are projected over.
static NOTHING: Value = Value::Null;

/// One result and, unless it is an aggregate's, its position in the query's order.
pub(crate) type Row = (Option<Position>, Value);

/// Every result of `query` over `items` (each with its key, in key order), in order and
/// with its position; [`QueryError::Budget`] once `work` is spent.
pub(crate) fn run<'a>(
    query: &Query,
    items: impl IntoIterator<Item = (&'a Key, &'a Value)>,
    work: &Work,
) -> Result<Vec<Row>, QueryError> {
    let no_aggregates: [Option<Value>; 0] = [];
    let scope = |item| Scope {
        item,
        aggregates: &no_aggregates,
        work,
    };
    let mut matched: Vec<(&Key, &Value)> = Vec::new();
    for (key, item) in items {
        let keep = match &query.filter {
            None => work.step(),
            Some(filter) => eval(filter, &scope(item)).as_deref() == Some(&Value::Bool(true)),
        };
        spent(work)?;
        if keep {
            matched.push((key, item));
        }
    }

    let rows: Vec<Row> = if query.aggregates.is_empty() {
        let ordered = sort(query, matched, work)?;
        let mut rows = Vec::new();
        for (position, item) in window(query, ordered) {
            let row = project(query, &scope(item));
            if let Some(row) = &row {
                work.hold(row);
            }
            spent(work)?;
            rows.extend(row.map(|row| (Some(position), row)));
        }
        rows
    } else {
        let mut results: Vec<Option<Value>> = Vec::new();
        for (aggregate, arg) in &query.aggregates {
            let mut values = Vec::new();
            for (_, item) in &matched {
                if let Some(value) = eval(arg, &scope(item)).and_then(|v| work.own(v)) {
                    if work.hold(&value) {
                        values.push(value);
                    }
                }
                spent(work)?;
            }
            results.push(aggregate_of(*aggregate, values.into_iter()));
        }
        let scope = Scope {
            item: &NOTHING,
            aggregates: &results,
            work,
        };
        let row = project(query, &scope);
        spent(work)?;
        window(query, row.into_iter().map(|row| (None, row)).collect())
    };
    Ok(rows)
}

/// The budget error once `work` is spent.
fn spent(work: &Work) -> Result<(), QueryError> {
    if work.exceeded() {
        return Err(QueryError::Budget {
            limit: work.limit(),
        });
    }
    Ok(())
}

/// The items in the query's order, each with its position (only its key when the query
/// has no `ORDER BY`).
fn sort<'a>(
    query: &Query,
    items: Vec<(&'a Key, &'a Value)>,
    work: &Work,
) -> Result<Vec<(Position, &'a Value)>, QueryError> {
    let position = |key: &Key, keys: Vec<(Option<Value>, bool)>| Position {
        keys,
        key: key.clone(),
    };
    if query.order_by.is_empty() {
        return Ok(items
            .into_iter()
            .map(|(key, item)| (position(key, Vec::new()), item))
            .collect());
    }
    let none: [Option<Value>; 0] = [];
    type Keyed<'k, 'a> = (Vec<Option<Cow<'k, Value>>>, (&'a Key, &'a Value));
    let mut keyed: Vec<Keyed<'_, 'a>> = Vec::with_capacity(items.len());
    // Each item's keys are held until the sort ends: charged as bytes copied.
    let slots = query.order_by.len() * std::mem::size_of::<Option<Cow<'_, Value>>>();
    let slot_units = u64::try_from(slots / BYTES_PER_UNIT + 1).unwrap_or(u64::MAX);
    for (key, item) in items {
        work.charge(slot_units);
        let scope = Scope {
            item,
            aggregates: &none,
            work,
        };
        let keys = query
            .order_by
            .iter()
            .map(|(k, _)| eval(k, &scope))
            .collect();
        spent(work)?;
        keyed.push((keys, (key, item)));
    }
    // The comparisons are paid up front: n log n of them, each over every key.
    let n = keyed.len() as u64;
    let comparisons = n.saturating_mul(u64::from(n.max(2).ilog2()) + 1);
    work.charge(comparisons.saturating_mul(query.order_by.len() as u64));
    spent(work)?;
    keyed.sort_by(|(a, _), (b, _)| {
        for ((left, right), (_, descending)) in a.iter().zip(b).zip(&query.order_by) {
            let o = order(left.as_deref(), right.as_deref());
            let o = if *descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let directions = query.order_by.iter().map(|(_, descending)| *descending);
    Ok(keyed
        .into_iter()
        .map(|(keys, (key, item))| {
            let keys = keys
                .into_iter()
                .map(|k| k.map(Cow::into_owned))
                .zip(directions.clone())
                .collect();
            (position(key, keys), item)
        })
        .collect())
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

/// One result row (copied here, and charged for); `None` for an undefined value.
fn project(query: &Query, scope: &Scope<'_>) -> Option<Value> {
    let work = scope.work;
    match &query.select {
        Select::Star => work.own(Cow::Borrowed(scope.item)),
        // An undefined value is no result at all.
        Select::Value(expr) => work.own(eval(expr, scope)?),
        Select::Fields(fields) => {
            let mut row = Map::new();
            for (name, expr) in fields {
                if let Some(value) = eval(expr, scope) {
                    row.insert(name.clone(), work.own(value)?);
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
            if !sum.is_finite() {
                // Past the range of a float: undefined, as arithmetic overflow is.
                None
            } else if aggregate == Aggregate::Sum {
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
