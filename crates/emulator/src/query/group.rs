//! `GROUP BY` and aggregates, as rows stream in: the rows split by their keys (in order of
//! first appearance), each group holding one of its rows and one accumulator per aggregate
//! — so `SELECT VALUE COUNT(1)` over a large JOIN holds no rows.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use super::QueryError;
use super::ast::{Aggregate, Query};
use super::eval::{Scope, eval, order};
use super::value::{Val, number};
use super::work::{BYTES_PER_UNIT, text_units};
use crate::budget::value_size;

/// A group: one of its rows (for the select clause's keys) and its aggregates' values.
pub(crate) type Grouped<'a> = (Vec<Val<'a>>, Vec<Option<Value>>);

/// One aggregate over the defined values of its argument, so far.
#[derive(Debug)]
enum Acc {
    Count(u64),
    /// `SUM` and `AVG`: a non-number makes the whole aggregate undefined.
    Sum {
        sum: f64,
        count: u64,
        bad: bool,
    },
    /// `MIN` and `MAX`: an array or object makes the whole aggregate undefined.
    Extreme {
        best: Option<Value>,
        bad: bool,
    },
}

impl Acc {
    fn new(aggregate: Aggregate) -> Self {
        match aggregate {
            Aggregate::Count => Self::Count(0),
            Aggregate::Sum | Aggregate::Avg => Self::Sum {
                sum: 0.0,
                count: 0,
                bad: false,
            },
            Aggregate::Min | Aggregate::Max => Self::Extreme {
                best: None,
                bad: false,
            },
        }
    }

    fn add(&mut self, aggregate: Aggregate, value: Val<'_>) -> Option<Value> {
        match self {
            Self::Count(n) => *n += 1,
            Self::Sum { sum, count, bad } => match value.as_ref() {
                Value::Number(n) => {
                    *sum += n.as_f64().unwrap_or(0.0);
                    *count += 1;
                }
                _ => *bad = true,
            },
            Self::Extreme { best, bad } => {
                if value.is_array() || value.is_object() {
                    *bad = true;
                } else {
                    let better = best.as_ref().is_none_or(|b| {
                        let o = order(Some(&value), Some(b));
                        if aggregate == Aggregate::Min {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    });
                    if better {
                        // The caller owns (and charges for) the copy it keeps.
                        return Some(value.into_owned());
                    }
                }
            }
        }
        None
    }

    fn finish(self, aggregate: Aggregate) -> Option<Value> {
        match self {
            Self::Count(n) => Some(Value::from(n)),
            Self::Sum { bad: true, .. } | Self::Extreme { bad: true, .. } => None,
            // Past the range of a float: undefined, as arithmetic overflow is.
            Self::Sum { sum, .. } if !sum.is_finite() => None,
            Self::Sum { sum, .. } if aggregate == Aggregate::Sum => Some(number(sum)),
            Self::Sum { count: 0, .. } => None,
            Self::Sum { sum, count, .. } => Some(number(sum / count as f64)),
            Self::Extreme { best, .. } => best,
        }
    }
}

/// The groups of the rows seen so far.
pub(crate) struct Groups<'a> {
    query: &'a Query,
    index: BTreeMap<String, usize>,
    /// Each group's key (canonical JSON of its `GROUP BY` values), row and accumulators.
    groups: Vec<(String, Vec<Val<'a>>, Vec<Acc>)>,
}

impl<'a> Groups<'a> {
    /// Without `GROUP BY`, one group of every row — even of none.
    pub(crate) fn new(query: &'a Query) -> Self {
        let mut groups = Self {
            query,
            index: BTreeMap::new(),
            groups: Vec::new(),
        };
        if query.group_by.is_empty() {
            groups
                .groups
                .push((String::new(), Vec::new(), groups.accumulators()));
        }
        groups
    }

    fn accumulators(&self) -> Vec<Acc> {
        let aggregates = self.query.aggregates.iter();
        aggregates
            .map(|(aggregate, _)| Acc::new(*aggregate))
            .collect()
    }

    /// Adds one row (kept by the filter), evaluated in `scope`.
    pub(crate) fn add(&mut self, row: &[Val<'a>], scope: &Scope<'_, 'a>) -> Result<(), QueryError> {
        let work = scope.work;
        let at = if self.query.group_by.is_empty() {
            0
        } else {
            // Undefined is a key of its own, apart from null.
            let key: Vec<Value> = (self.query.group_by.iter())
                .map(|k| match eval(k, scope) {
                    Some(v) => Value::Array(vec![v.into_owned()]),
                    None => Value::Array(Vec::new()),
                })
                .collect();
            let key = Value::Array(key).to_string();
            work.charge(text_units(key.len()) + 1);
            work.spent()?;
            match self.index.get(&key) {
                Some(&at) => at,
                None => {
                    // A new group holds its row (and its key) until the query ends.
                    let slots = std::mem::size_of_val(row) + key.len();
                    work.hold_bytes(slots);
                    work.charge(u64::try_from(slots / BYTES_PER_UNIT).unwrap_or(u64::MAX));
                    self.index.insert(key.clone(), self.groups.len());
                    self.groups.push((key, row.to_vec(), self.accumulators()));
                    self.groups.len() - 1
                }
            }
        };
        let Some((_, _, accumulators)) = self.groups.get_mut(at) else {
            return Ok(());
        };
        for ((aggregate, arg), acc) in self.query.aggregates.iter().zip(accumulators) {
            if let Some(value) = eval(arg, scope)
                && let Some(best) = acc.add(*aggregate, value)
            {
                let units = value_size(&best) / BYTES_PER_UNIT + 1;
                let units = u64::try_from(units).unwrap_or(u64::MAX);
                if work.hold(&best)
                    && work.charge(units)
                    && let Acc::Extreme { best: kept, .. } = acc
                {
                    *kept = Some(best);
                }
            }
            work.spent()?;
        }
        Ok(())
    }

    /// Each group, in the order of its key (so a continuation can name one): its key, one
    /// of its rows and its aggregates' values.
    pub(crate) fn finish(mut self) -> Vec<(String, Grouped<'a>)> {
        let aggregates: Vec<Aggregate> = self.query.aggregates.iter().map(|(a, _)| *a).collect();
        self.groups.sort_by(|a, b| a.0.cmp(&b.0));
        self.groups
            .into_iter()
            .map(|(key, row, accs)| {
                let values = accs
                    .into_iter()
                    .zip(&aggregates)
                    .map(|(acc, aggregate)| acc.finish(*aggregate))
                    .collect();
                (key, (row, values))
            })
            .collect()
    }
}
