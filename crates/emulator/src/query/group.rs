//! `GROUP BY` and aggregates: the rows split by their keys (in order of first appearance),
//! each group's aggregates over the defined values of their arguments.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use super::QueryError;
use super::ast::{Aggregate, Query};
use super::eval::{Scope, eval, order};
use super::value::Val;
use super::value::number;
use super::work::text_units;

/// A group: one of its rows (for the select clause's keys) and its aggregates' values.
pub(crate) type Grouped<'a> = (Vec<Val<'a>>, Vec<Option<Value>>);

/// Each group of `rows`: a row of it (for the select clause's keys) and its aggregates.
/// Without `GROUP BY`, one group of every row — even of none.
pub(crate) fn groups<'s, 'a>(
    query: &'a Query,
    rows: Vec<Vec<Val<'a>>>,
    base: Scope<'s, 'a>,
) -> Result<Vec<Grouped<'a>>, QueryError> {
    let work = base.work;
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut grouped: Vec<(Vec<Val<'a>>, Vec<usize>)> = Vec::new();
    if query.group_by.is_empty() {
        grouped.push((Vec::new(), (0..rows.len()).collect()));
    }
    for (i, row) in rows
        .iter()
        .enumerate()
        .filter(|_| !query.group_by.is_empty())
    {
        let scope = Scope { vars: row, ..base };
        // Undefined is a key of its own, apart from null.
        let key: Vec<Value> = query
            .group_by
            .iter()
            .map(|k| match eval(k, &scope) {
                Some(v) => Value::Array(vec![v.into_owned()]),
                None => Value::Array(Vec::new()),
            })
            .collect();
        let key = Value::Array(key).to_string();
        work.charge(text_units(key.len()) + 1);
        work.spent()?;
        match index.get(&key) {
            Some(&g) => grouped[g].1.push(i),
            None => {
                index.insert(key, grouped.len());
                grouped.push((row.clone(), vec![i]));
            }
        }
    }
    let mut results = Vec::with_capacity(grouped.len());
    for (first, members) in grouped {
        let mut aggregates = Vec::with_capacity(query.aggregates.len());
        for (aggregate, arg) in &query.aggregates {
            let mut values = Vec::new();
            for &i in &members {
                let scope = Scope {
                    vars: &rows[i],
                    ..base
                };
                if let Some(value) = eval(arg, &scope).and_then(|v| work.own(v)) {
                    if work.hold(&value) {
                        values.push(value);
                    }
                }
                work.spent()?;
            }
            aggregates.push(aggregate_of(*aggregate, values));
        }
        results.push((first, aggregates));
    }
    Ok(results)
}

/// One aggregate over the defined values of its argument.
pub(crate) fn aggregate_of(aggregate: Aggregate, values: Vec<Value>) -> Option<Value> {
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
