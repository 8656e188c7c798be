//! A query's work budget: every expression evaluated costs a unit, every value copied out
//! of an item or a parameter one unit per 8 bytes, and sorting its comparisons; a query
//! that runs out is ended with [`QueryError::Budget`](super::QueryError::Budget) instead of
//! holding a thread (and, before snapshots, the store) for as long as it likes.

use std::borrow::Cow;
use std::cell::Cell;

use serde_json::Value;

use crate::budget::value_size;

/// The default work budget of one query, in units: about a second of evaluation.
pub const DEFAULT_QUERY_BUDGET: u64 = 20_000_000;

/// Bytes of a copied value per unit of work.
pub(crate) const BYTES_PER_UNIT: usize = 8;

/// What one query has spent of its budget.
#[derive(Debug)]
pub(crate) struct Work {
    used: Cell<u64>,
    limit: u64,
}

impl Work {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            used: Cell::new(0),
            limit,
        }
    }

    /// Spends `units`; false once the budget is gone (and from then on).
    pub(crate) fn charge(&self, units: u64) -> bool {
        let used = self.used.get().saturating_add(units);
        self.used.set(used);
        used <= self.limit
    }

    /// One expression evaluated.
    pub(crate) fn step(&self) -> bool {
        self.charge(1)
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.used.get() > self.limit
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// The value itself: a borrowed one is copied, and charged for, only here; `None`
    /// (and nothing copied) when the copy does not fit the budget.
    pub(crate) fn own(&self, value: Cow<'_, Value>) -> Option<Value> {
        match value {
            Cow::Owned(value) => Some(value),
            Cow::Borrowed(_) if self.exceeded() => None,
            Cow::Borrowed(value) => {
                let units = value_size(value) / BYTES_PER_UNIT + 1;
                self.charge(u64::try_from(units).unwrap_or(u64::MAX))
                    .then(|| value.clone())
            }
        }
    }
}
