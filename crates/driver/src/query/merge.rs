//! Combining what the partition key ranges answered: the `ORDER BY` k-way merge and the
//! cross-range aggregates, in the service's type order.

use std::cmp::Ordering;
use std::collections::VecDeque;

use serde_json::{Number, Value};

use super::plan::Aggregate;

/// The service's order of types: undefined, null, booleans, numbers, strings, then
/// arrays and objects (which have no order among themselves).
fn rank(value: Option<&Value>) -> u8 {
    match value {
        None => 0,
        Some(Value::Null) => 1,
        Some(Value::Bool(_)) => 2,
        Some(Value::Number(_)) => 3,
        Some(Value::String(_)) => 4,
        Some(Value::Array(_)) => 5,
        Some(Value::Object(_)) => 6,
    }
}

/// Compares two values (`None`: undefined) in the service's order.
pub(crate) fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Bool(a)), Some(Value::Bool(b))) => a.cmp(b),
        (Some(Value::Number(a)), Some(Value::Number(b))) => {
            let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            a.partial_cmp(&b).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(a)), Some(Value::String(b))) => a.cmp(b),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The `ORDER BY` values of one rewritten result (`orderByItems: [{"item": v}, …]`).
fn keys(result: &Value) -> Vec<Option<&Value>> {
    result
        .get("orderByItems")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(|i| i.get("item")).collect())
        .unwrap_or_default()
}

/// Orders two rewritten results by their keys, each ascending or descending.
fn compare_results(a: &Value, b: &Value, descending: &[bool]) -> Ordering {
    let (a, b) = (keys(a), keys(b));
    for (i, desc) in descending.iter().enumerate() {
        let order = compare(a.get(i).copied().flatten(), b.get(i).copied().flatten());
        let order = if *desc { order.reverse() } else { order };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// What the merge needs next.
#[derive(Debug, PartialEq)]
pub(crate) enum Next {
    /// The next result in order (its `payload`; `None` if undefined).
    Item(Option<Value>),
    /// Range `i` has nothing buffered and more to come: fetch its next page first.
    Fetch(usize),
    /// Every range is drained.
    Done,
}

/// One range's buffered results, and whether it has more pages.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    pub(crate) results: VecDeque<Value>,
    pub(crate) more: bool,
    /// The continuation the buffered page was fetched with (for the query's token).
    pub(crate) page_token: Option<String>,
    /// Results of the buffered page merged out so far.
    pub(crate) consumed: usize,
    /// Results to drop from the next page fetched (a resumed merge).
    pub(crate) skip: usize,
}

/// The k-way merge: the smallest head among the ranges, once every range that may still
/// hold a smaller one has a result buffered. Ties go to the lower range (stable).
pub(crate) fn next(buffers: &mut [Buffer], descending: &[bool]) -> Next {
    if let Some(i) = buffers.iter().position(|b| b.results.is_empty() && b.more) {
        return Next::Fetch(i);
    }
    let mut best: Option<usize> = None;
    for (i, buffer) in buffers.iter().enumerate() {
        let Some(head) = buffer.results.front() else {
            continue;
        };
        let better = match best.and_then(|b| buffers[b].results.front()) {
            Some(current) => compare_results(head, current, descending) == Ordering::Less,
            None => true,
        };
        if better {
            best = Some(i);
        }
    }
    let popped = best.and_then(|i| {
        let buffer = &mut buffers[i];
        let result = buffer.results.pop_front()?;
        buffer.consumed += 1;
        Some(result)
    });
    match popped {
        Some(mut result) => Next::Item(result.get_mut("payload").map(Value::take)),
        None => Next::Done,
    }
}

/// One aggregate combined across ranges; `None` while undefined.
#[derive(Debug, Clone)]
pub(crate) struct Combined {
    aggregate: Aggregate,
    value: Option<Value>,
    /// `SUM` once one range answered undefined: the whole sum is undefined.
    poisoned: bool,
    sum: f64,
    count: f64,
}

fn add(a: &Value, b: &Value) -> Option<Value> {
    match (a.as_i64(), b.as_i64()) {
        (Some(a), Some(b)) => a.checked_add(b).map(Value::from),
        _ => Number::from_f64(a.as_f64()? + b.as_f64()?).map(Value::Number),
    }
}

impl Combined {
    pub(crate) fn new(aggregate: Aggregate) -> Self {
        Self {
            aggregate,
            value: None,
            poisoned: false,
            sum: 0.0,
            count: 0.0,
        }
    }

    /// Adds one range's answer (`[{"item": partial}]`).
    pub(crate) fn add(&mut self, result: &Value) {
        let partial = result
            .as_array()
            .and_then(|a| a.first())
            .and_then(|i| i.get("item"));
        match self.aggregate {
            Aggregate::Count | Aggregate::Sum => match (partial, &self.value) {
                (Some(p), _) if !p.is_number() => self.poisoned = true,
                (Some(p), None) => self.value = Some(p.clone()),
                (Some(p), Some(v)) => match add(v, p) {
                    Some(total) => self.value = Some(total),
                    None => self.poisoned = true,
                },
                (None, _) => self.poisoned = true,
            },
            Aggregate::Min | Aggregate::Max => {
                let Some(p) = partial else { return };
                let keep_new = match &self.value {
                    None => true,
                    Some(v) => {
                        let order = compare(Some(p), Some(v));
                        if self.aggregate == Aggregate::Min {
                            order == Ordering::Less
                        } else {
                            order == Ordering::Greater
                        }
                    }
                };
                if keep_new {
                    self.value = Some(p.clone());
                }
            }
            Aggregate::Average => {
                let Some(p) = partial else { return };
                let count = p.get("count").and_then(Value::as_f64).unwrap_or(0.0);
                if count > 0.0 {
                    match p.get("sum").and_then(Value::as_f64) {
                        Some(sum) => {
                            self.sum += sum;
                            self.count += count;
                        }
                        None => self.poisoned = true,
                    }
                }
            }
        }
    }

    /// The combined value; `None` when undefined (no result).
    pub(crate) fn finish(self) -> Option<Value> {
        if self.poisoned {
            return None;
        }
        match self.aggregate {
            Aggregate::Average if self.count > 0.0 => {
                Number::from_f64(self.sum / self.count).map(Value::Number)
            }
            Aggregate::Average => None,
            _ => self.value,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn row(key: Value, payload: &str) -> Value {
        json!({"_rid": "r", "orderByItems": [{"item": key}], "payload": payload})
    }

    fn buffer(rows: Vec<Value>, more: bool) -> Buffer {
        Buffer {
            results: rows.into(),
            more,
            ..Buffer::default()
        }
    }

    #[test]
    fn the_merge_interleaves_ranges_and_asks_for_a_drained_range_first() {
        let mut buffers = vec![
            buffer(vec![row(json!(1), "a1"), row(json!(4), "a4")], true),
            buffer(vec![row(json!(2), "b2"), row(json!(3), "b3")], false),
        ];
        let mut out = Vec::new();
        loop {
            match next(&mut buffers, &[false]) {
                Next::Item(payload) => out.push(payload.unwrap()),
                Next::Fetch(i) => {
                    assert_eq!(i, 0, "only range 0 has more");
                    buffers[0].results.push_back(row(json!(5), "a5"));
                    buffers[0].more = false;
                }
                Next::Done => break,
            }
        }
        assert_eq!(out, vec!["a1", "b2", "b3", "a4", "a5"]);
    }

    #[test]
    fn descending_merges_follow_the_type_order_and_ties_keep_range_order() {
        let mut buffers = vec![
            buffer(vec![row(json!("x"), "a-x"), row(json!(1), "a-1")], false),
            buffer(
                vec![json!({"orderByItems": [{}], "payload": "b-undefined"})],
                false,
            ),
            buffer(
                vec![row(json!("x"), "c-x"), row(json!(null), "c-null")],
                false,
            ),
        ];
        let mut out = Vec::new();
        while let Next::Item(payload) = next(&mut buffers, &[true]) {
            out.push(payload.unwrap());
        }
        assert_eq!(out, vec!["a-x", "c-x", "a-1", "c-null", "b-undefined"]);
    }

    fn combine(aggregate: Aggregate, partials: &[Value]) -> Option<Value> {
        let mut combined = Combined::new(aggregate);
        for p in partials {
            combined.add(p);
        }
        combined.finish()
    }

    #[test]
    fn aggregates_combine_across_ranges() {
        let item = |v: Value| json!([{"item": v}]);
        let count = [item(json!(3)), item(json!(4))];
        assert_eq!(combine(Aggregate::Count, &count), Some(json!(7)));
        let sums = [item(json!(1.5)), item(json!(2))];
        assert_eq!(combine(Aggregate::Sum, &sums), Some(json!(3.5)));
        let undefined_sum = [item(json!(1)), json!([{}])];
        assert_eq!(combine(Aggregate::Sum, &undefined_sum), None);
        let mixed = [
            item(json!(5)),
            json!([{}]),
            item(json!("a")),
            item(json!(null)),
        ];
        assert_eq!(combine(Aggregate::Min, &mixed), Some(json!(null)));
        assert_eq!(combine(Aggregate::Max, &mixed), Some(json!("a")));
        assert_eq!(combine(Aggregate::Max, &[json!([{}])]), None);
        let averages = [
            item(json!({"sum": 6, "count": 2})),
            item(json!({"sum": 0, "count": 0})),
            item(json!({"sum": 4, "count": 2})),
        ];
        assert_eq!(combine(Aggregate::Average, &averages), Some(json!(2.5)));
        assert_eq!(combine(Aggregate::Average, &[]), None);
    }
}
