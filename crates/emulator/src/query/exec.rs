//! Running a parsed query: rows (the item, then each `JOIN`'s elements, depth first) →
//! filter → group and aggregate, or order → project → distinct → OFFSET/LIMIT/TOP — within
//! the query's work budget. Subqueries run here too, over the rows around them.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::QueryError;
use super::ast::{Query, Select};
use super::eval::{Scope, eval, order};
use super::group::{Grouped, Groups};
use super::position::{Key, Position};
use super::value::Val;
use super::work::{BYTES_PER_UNIT, Work, text_units};

/// One result and, at the top level, its position in the query's order.
pub(crate) type Row = (Option<Position>, Value);

/// A row's bindings: one value per source of the query.
type Bindings<'a> = Vec<Val<'a>>;

/// A row the filter kept and, at the top level, its key: its item's, with the row's ordinal
/// among that item's rows when the query joins (so every row has a position of its own).
struct Kept<'a> {
    row: Bindings<'a>,
    key: Option<Key>,
}

/// Every result of `query` over `items` (each with its key, in key order), in order and
/// with its position; [`QueryError::Budget`] once `work` is spent.
pub(crate) fn run<'q, 'i: 'q>(
    query: &'q Query,
    items: impl IntoIterator<Item = (&'i Key, &'i Value)>,
    work: &Work,
) -> Result<Vec<Row>, QueryError> {
    let rows = items.into_iter().map(
        |(key, item): (&'i Key, &'i Value)| -> (Option<&'q Key>, Val<'q>) {
            (Some(key), Cow::Borrowed(item))
        },
    );
    execute(query, rows, None, work)
}

/// A subquery over the row `outer` is at: its `FROM x IN expr` iterates the array `expr`
/// is there (nothing when it is not an array).
fn subquery<'a>(query: &'a Query, outer: &Scope<'_, 'a>) -> Option<Vec<Value>> {
    let over = query.sources.first()?.over.as_ref()?;
    // `expr` was bound inside the subquery (before its own names): one scope in.
    let inside = scope(&[], Some(outer), &[], outer.work);
    let elements: Vec<Val<'a>> = match eval(over, &inside) {
        Some(Cow::Borrowed(Value::Array(items))) => items.iter().map(Cow::Borrowed).collect(),
        Some(Cow::Owned(Value::Array(items))) => items.into_iter().map(Cow::Owned).collect(),
        _ => Vec::new(),
    };
    let elements = elements.into_iter().map(|element| (None, element));
    let rows = execute(query, elements, Some(outer), outer.work).ok()?;
    Some(rows.into_iter().map(|(_, row)| row).collect())
}

/// The scope of `vars` (the query's sources) inside `outer`.
pub(crate) fn scope<'s, 'a>(
    vars: &'s [Val<'a>],
    outer: Option<&'s Scope<'s, 'a>>,
    aggregates: &'s [Option<Value>],
    work: &'s Work,
) -> Scope<'s, 'a> {
    Scope {
        vars,
        outer,
        aggregates,
        work,
        subquery,
    }
}

fn execute<'a>(
    query: &'a Query,
    firsts: impl Iterator<Item = (Option<&'a Key>, Val<'a>)>,
    outer: Option<&Scope<'_, 'a>>,
    work: &Work,
) -> Result<Vec<Row>, QueryError> {
    // Grouped queries fold each row into its group as it comes; others keep their rows.
    let mut groups =
        (!query.aggregates.is_empty() || !query.group_by.is_empty()).then(|| Groups::new(query));
    let mut kept: Vec<Kept<'a>> = Vec::new();
    let mut positioned = false;
    let joins = query.sources.len() > 1;
    let mut row = Vec::with_capacity(query.sources.len());
    for (key, first) in firsts {
        positioned |= key.is_some();
        let mut ordinal = 0_u32;
        let mut sink = |row: &Bindings<'a>| match &mut groups {
            Some(groups) => groups.add(row, &scope(row, outer, &[], work)),
            None => {
                let key = key.map(|(pk, id)| match joins {
                    true => (pk.clone(), format!("{id}\u{1}{ordinal:010}")),
                    false => (pk.clone(), id.clone()),
                });
                ordinal = ordinal.saturating_add(1);
                let text = key.as_ref().map_or(0, |(pk, id)| pk.len() + id.len());
                let bytes = std::mem::size_of_val(row.as_slice()) + size_of::<Kept<'_>>() + text;
                if work.hold_bytes(bytes) {
                    kept.push(Kept {
                        row: row.clone(),
                        key,
                    });
                }
                work.spent()
            }
        };
        row.push(first);
        expand(query, 1, &mut row, outer, work, &mut sink)?;
        row.clear();
        work.spent()?;
    }

    let directions = query.order_by.iter().map(|(_, descending)| *descending);
    let results: Vec<(Option<Position>, Grouped<'a>)> = match groups {
        Some(groups) => (groups.finish().into_iter())
            .map(|(key, grouped)| {
                let position = positioned.then(|| Position {
                    keys: Vec::new(),
                    key: (String::new(), key),
                });
                (position, grouped)
            })
            .collect(),
        None => (sort(query, kept, outer, work)?.into_iter())
            .map(|(keys, kept)| {
                let position = kept.key.map(|key| Position {
                    keys: keys.into_iter().zip(directions.clone()).collect(),
                    key,
                });
                (position, (kept.row, Vec::new()))
            })
            .collect(),
    };
    let project_row = |(row, aggregates): &Grouped<'a>| {
        let row = project(query, &scope(row, outer, aggregates, work));
        if let Some(row) = &row {
            work.hold(row);
        }
        work.spent().map(|()| row)
    };
    if !query.distinct {
        let mut rows = Vec::new();
        for (position, result) in window(query, results) {
            rows.extend(project_row(&result)?.map(|row| (position, row)));
        }
        return Ok(rows);
    }
    let mut seen = BTreeSet::new();
    let mut rows = Vec::new();
    for (position, result) in results {
        if let Some(row) = project_row(&result)? {
            // DISTINCT compares values: objects by their fields, whatever their order.
            let key = row.to_string();
            work.charge(text_units(key.len()));
            if seen.insert(key) {
                rows.push((position, row));
            }
        }
    }
    work.spent()?;
    Ok(window(query, rows))
}

/// Binds sources `at..` of `row` to each element of their arrays in turn (depth first, so
/// only the rows kept are held), handing `sink` the rows the filter passes.
fn expand<'a>(
    query: &'a Query,
    at: usize,
    row: &mut Bindings<'a>,
    outer: Option<&Scope<'_, 'a>>,
    work: &Work,
    sink: &mut dyn FnMut(&Bindings<'a>) -> Result<(), QueryError>,
) -> Result<(), QueryError> {
    // Each row made costs its slots, so a cross product is bounded by the budget.
    let slots = std::mem::size_of_val(row.as_slice()) + size_of::<Bindings<'_>>();
    work.charge(u64::try_from(slots / BYTES_PER_UNIT + 1).unwrap_or(u64::MAX));
    work.spent()?;
    let Some(source) = query.sources.get(at) else {
        let keep = match &query.filter {
            None => true,
            Some(filter) => {
                eval(filter, &scope(row, outer, &[], work)).as_deref() == Some(&Value::Bool(true))
            }
        };
        work.spent()?;
        return if keep { sink(row) } else { Ok(()) };
    };
    let Some(over) = &source.over else {
        return Ok(());
    };
    let elements: Vec<Val<'a>> = match eval(over, &scope(row, outer, &[], work)) {
        Some(Cow::Borrowed(Value::Array(items))) => items.iter().map(Cow::Borrowed).collect(),
        Some(Cow::Owned(Value::Array(items))) => items.into_iter().map(Cow::Owned).collect(),
        _ => Vec::new(),
    };
    for element in elements {
        row.push(element);
        let expanded = expand(query, at + 1, row, outer, work, sink);
        row.pop();
        expanded?;
    }
    Ok(())
}

/// A kept row and its `ORDER BY` values.
type Sorted<'a> = (Vec<Option<Value>>, Kept<'a>);

/// The kept rows in the query's order, each with its `ORDER BY` values (none without
/// `ORDER BY`: then the rows keep their order, the items' key order).
fn sort<'a>(
    query: &'a Query,
    rows: Vec<Kept<'a>>,
    outer: Option<&Scope<'_, 'a>>,
    work: &Work,
) -> Result<Vec<Sorted<'a>>, QueryError> {
    if query.order_by.is_empty() {
        return Ok(rows.into_iter().map(|kept| (Vec::new(), kept)).collect());
    }
    let mut keyed: Vec<Sorted<'a>> = Vec::with_capacity(rows.len());
    // Each row's keys are held until the sort ends: charged as bytes copied.
    let slots = query.order_by.len() * std::mem::size_of::<Option<Value>>();
    let slot_units = u64::try_from(slots / BYTES_PER_UNIT + 1).unwrap_or(u64::MAX);
    for kept in rows {
        work.charge(slot_units);
        let keys = {
            let scope = scope(&kept.row, outer, &[], work);
            (query.order_by.iter())
                .map(|(k, _)| eval(k, &scope).and_then(|v| work.own(v)))
                .collect()
        };
        work.spent()?;
        keyed.push((keys, kept));
    }
    // The comparisons are paid up front: n log n of them, each over every key.
    let n = keyed.len() as u64;
    let comparisons = n.saturating_mul(u64::from(n.max(2).ilog2()) + 1);
    work.charge(comparisons.saturating_mul(query.order_by.len() as u64));
    work.spent()?;
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
    Ok(keyed)
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
fn project<'a>(query: &'a Query, scope: &Scope<'_, 'a>) -> Option<Value> {
    let work = scope.work;
    match &query.select {
        Select::Star => work.own(Cow::Borrowed(scope.vars.first()?.as_ref())),
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
