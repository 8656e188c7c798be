//! A query's work budget: every expression evaluated costs a unit, every value copied out
//! of an item or a parameter one unit per 8 bytes, and sorting its comparisons; a query
//! that runs out is ended with [`QueryError::Budget`](super::QueryError::Budget) instead of
//! holding a thread (and, before snapshots, the store) for as long as it likes.
//!
//! What a query holds until it ends — its result rows and its aggregates' arguments — is
//! also charged to its request's memory budget, when it runs for a request: a query whose
//! results do not fit is ended with the budget's own answer (429/3200, or 413 past the
//! request's limit).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use serde_json::Value;

use crate::api_error::ApiError;
use crate::budget::{Charge, value_size};

/// The default work budget of one query, in units: about a second of evaluation.
pub const DEFAULT_QUERY_BUDGET: u64 = 20_000_000;

/// Bytes of a copied value per unit of work.
pub(crate) const BYTES_PER_UNIT: usize = 8;

/// What one query has spent of its budget.
#[derive(Debug)]
pub(crate) struct Work {
    used: Cell<u64>,
    limit: u64,
    /// The request the values the query holds are charged to (none offline).
    memory: Option<Arc<Charge>>,
    /// The memory budget's refusal, once it refused: the query ends with it.
    refused: RefCell<Option<ApiError>>,
}

impl Work {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            used: Cell::new(0),
            limit,
            memory: None,
            refused: RefCell::new(None),
        }
    }

    /// A budget of `limit` units whose held values are charged to `memory` too.
    pub(crate) fn charged(limit: u64, memory: Arc<Charge>) -> Self {
        Self {
            memory: Some(memory),
            ..Self::new(limit)
        }
    }

    /// A value the query holds until it ends (a result row, an aggregate's argument):
    /// charged to the request's memory budget. False once the budget refused it; the query
    /// is then spent (see [`refusal`](Self::refusal)).
    pub(crate) fn hold(&self, value: &Value) -> bool {
        let Some(memory) = &self.memory else {
            return true;
        };
        match memory.add(value_size(value)) {
            Ok(()) => true,
            Err(refused) => {
                self.refused.borrow_mut().get_or_insert(refused);
                false
            }
        }
    }

    /// The memory budget's refusal, if it ended the query.
    pub(crate) fn refusal(&self) -> Option<ApiError> {
        self.refused.borrow_mut().take()
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

    /// Whether the query must end: its work budget is spent, or the memory budget refused
    /// what it holds.
    pub(crate) fn exceeded(&self) -> bool {
        self.used.get() > self.limit || self.refused.borrow().is_some()
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
