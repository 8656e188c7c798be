//! Combining what the ranges answered for a `GROUP BY` plan (groups by their
//! `groupByItems`, each field's partial aggregates combined) and removing `DISTINCT`
//! duplicates across ranges.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::merge::Combined;
use super::plan::{Distinct, GroupBy};

/// One group's fields so far.
#[derive(Debug)]
enum Field {
    /// A grouping key: the first value seen (`None`: undefined).
    Key(Option<Value>),
    /// An aggregate combined across ranges.
    Aggregate(Combined),
}

/// The groups of every range, in order of first appearance.
#[derive(Debug)]
pub(crate) struct Groups {
    plan: GroupBy,
    index: BTreeMap<String, usize>,
    groups: Vec<Vec<Field>>,
}

impl Groups {
    pub(crate) fn new(plan: GroupBy) -> Self {
        Self {
            plan,
            index: BTreeMap::new(),
            groups: Vec::new(),
        }
    }

    fn fresh(&self) -> Vec<Field> {
        if self.plan.value {
            let field = match self.plan.value_aggregate {
                Some(aggregate) => Field::Aggregate(Combined::new(aggregate)),
                None => Field::Key(None),
            };
            return vec![field];
        }
        self.plan
            .fields
            .iter()
            .map(|(_, aggregate)| match aggregate {
                Some(aggregate) => Field::Aggregate(Combined::new(*aggregate)),
                None => Field::Key(None),
            })
            .collect()
    }

    /// Adds one range's result: `{"groupByItems": [...], "payload": …}`.
    pub(crate) fn add(&mut self, result: &Value) {
        let key = result
            .get("groupByItems")
            .map(Value::to_string)
            .unwrap_or_default();
        let at = match self.index.get(&key) {
            Some(&at) => at,
            None => {
                let fields = self.fresh();
                self.groups.push(fields);
                self.index.insert(key, self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let payload = result.get("payload");
        let plan = &self.plan;
        let Some(fields) = self.groups.get_mut(at) else {
            return;
        };
        if plan.value {
            if let Some(field) = fields.first_mut() {
                merge_field(field, payload, true);
            }
            return;
        }
        for ((name, _), field) in plan.fields.iter().zip(fields.iter_mut()) {
            merge_field(field, payload.and_then(|p| p.get(name)), false);
        }
    }

    /// Every group's result (a `VALUE` or an object of its fields), undefined ones left out.
    pub(crate) fn finish(self) -> Vec<Value> {
        let mut results = Vec::with_capacity(self.groups.len());
        for fields in self.groups {
            if self.plan.value {
                if let Some(value) = fields.into_iter().next().and_then(finish_field) {
                    results.push(value);
                }
                continue;
            }
            let mut object = Map::new();
            for ((name, _), field) in self.plan.fields.iter().zip(fields) {
                if let Some(value) = finish_field(field) {
                    object.insert(name.clone(), value);
                }
            }
            results.push(Value::Object(object));
        }
        results
    }
}

/// Folds one range's partial into a field: an aggregate's `{"item": partial}` (in a VALUE
/// payload, `[{"item": partial}]`), or a key's value.
fn merge_field(field: &mut Field, partial: Option<&Value>, value: bool) {
    match field {
        Field::Key(seen) => {
            if seen.is_none() {
                *seen = partial.cloned();
            }
        }
        Field::Aggregate(combined) => {
            let wrapped = match partial {
                Some(p) if value => p.clone(),
                Some(p) => Value::Array(vec![p.clone()]),
                None => Value::Array(vec![Value::Object(Map::new())]),
            };
            combined.add(&wrapped);
        }
    }
}

fn finish_field(field: Field) -> Option<Value> {
    match field {
        Field::Key(value) => value,
        Field::Aggregate(combined) => combined.finish(),
    }
}

/// Drops the results already returned, as the plan's `distinctType` says.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    kind: Distinct,
    last: Option<String>,
    seen: BTreeSet<String>,
}

impl Dedup {
    pub(crate) fn new(kind: Distinct) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// Whether the query has `DISTINCT` (and so remembers what it returned).
    pub(crate) fn active(&self) -> bool {
        self.kind != Distinct::None
    }

    /// Whether `value` is new (and so is returned). Objects compare by their fields.
    pub(crate) fn admit(&mut self, value: &Value) -> bool {
        match self.kind {
            Distinct::None => true,
            Distinct::Ordered => {
                let key = value.to_string();
                let new = self.last.as_ref() != Some(&key);
                self.last = Some(key);
                new
            }
            Distinct::Unordered => self.seen.insert(value.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::super::plan::Aggregate;
    use super::*;

    #[test]
    fn groups_from_several_ranges_combine_by_key() {
        let plan = GroupBy {
            value: false,
            value_aggregate: None,
            fields: vec![
                ("city".into(), None),
                ("n".into(), Some(Aggregate::Count)),
                ("mean".into(), Some(Aggregate::Average)),
                ("hi".into(), Some(Aggregate::Max)),
            ],
        };
        let mut groups = Groups::new(plan);
        let row = |city: &str, n: i64, sum: i64, hi: i64| {
            json!({"groupByItems": [{"item": city}], "payload": {"city": city, "n": {"item": n},
                "mean": {"item": {"sum": sum, "count": n}}, "hi": {"item": hi}}})
        };
        // Range 0, then range 1, each with its partial groups.
        for result in [row("Oslo", 2, 8, 5), row("Lima", 1, 1, 1)] {
            groups.add(&result);
        }
        for result in [row("Oslo", 1, 2, 2), row("Rome", 1, 6, 6)] {
            groups.add(&result);
        }
        assert_eq!(
            groups.finish(),
            vec![
                json!({"city": "Oslo", "n": 3, "mean": 10.0 / 3.0, "hi": 5}),
                json!({"city": "Lima", "n": 1, "mean": 1.0, "hi": 1}),
                json!({"city": "Rome", "n": 1, "mean": 6.0, "hi": 6}),
            ]
        );
        let mut value = Groups::new(GroupBy {
            value: true,
            value_aggregate: Some(Aggregate::Sum),
            fields: Vec::new(),
        });
        for (key, partial) in [("a", 1), ("b", 5), ("a", 2)] {
            value.add(&json!({"groupByItems": [{"item": key}], "payload": [{"item": partial}]}));
        }
        assert_eq!(value.finish(), vec![json!(3), json!(5)]);
    }

    #[test]
    fn distinct_drops_repeats_ordered_or_not() {
        let mut ordered = Dedup::new(Distinct::Ordered);
        let kept: Vec<i64> = [1, 1, 2, 2, 3, 1]
            .into_iter()
            .filter(|v| ordered.admit(&json!(v)))
            .collect();
        assert_eq!(kept, vec![1, 2, 3, 1]);
        let mut unordered = Dedup::new(Distinct::Unordered);
        let kept: Vec<Value> = [json!({"a": 1, "b": 2}), json!(1), json!({"b": 2, "a": 1})]
            .into_iter()
            .filter(|v| unordered.admit(v))
            .collect();
        assert_eq!(kept, vec![json!({"a": 1, "b": 2}), json!(1)]);
    }
}
