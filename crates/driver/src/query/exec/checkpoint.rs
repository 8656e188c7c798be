//! A cross-partition query's checkpoint: taking up the state a continuation holds, and
//! folding the engine's state after a page into the next continuation.

use super::super::merge::Buffer;
use super::super::plan::Plan;
use super::super::resume::{RangeState, Resume};
use super::super::source::Source;
use super::{Engine, Mode};
use crate::error::{ConfigError, ConfigReason, DriverError};

impl Engine {
    /// Takes up a cross-partition query where `resume` left it: its ranges, what is
    /// left of `OFFSET`/`TOP`/`LIMIT`, and for `ORDER BY` each range's page to fetch again
    /// and how many of its results to drop.
    pub(super) fn resume(&mut self, plan: &Plan, resume: Resume) -> Result<(), DriverError> {
        let order_by = !plan.descending.is_empty();
        if plan.aggregate.is_some() || resume.order_by != order_by || resume.ranges.is_empty() {
            return Err(DriverError::Config(ConfigError::new(
                "query continuation",
                ConfigReason::Unsupported("the continuation does not fit this query's plan"),
            )));
        }
        self.skip = resume.skip;
        self.take = resume.take;
        self.sources = resume
            .ranges
            .iter()
            .map(|r| Source {
                range: Some(r.range.clone()),
                continuation: r.continuation.clone(),
                more: r.more,
            })
            .collect();
        self.mode = if order_by {
            let buffers = resume.ranges.into_iter().map(|r| Buffer {
                more: r.more,
                skip: r.consumed,
                ..Buffer::default()
            });
            Mode::OrderBy {
                buffers: buffers.collect(),
                descending: plan.descending.clone(),
            }
        } else {
            Mode::Concatenate
        };
        Ok(())
    }

    /// The token that resumes a cross-partition query after the page just made; `None`
    /// once it is finished (or for an aggregate, returned in one page).
    pub(super) fn token(&self) -> Option<String> {
        if self.finished {
            return None;
        }
        let ranges = match &self.mode {
            Mode::OrderBy { buffers, .. } => self
                .sources
                .iter()
                .zip(buffers)
                .map(|(source, buffer)| {
                    // A range with results buffered is read again from that page.
                    let buffered = !buffer.results.is_empty();
                    Some(RangeState {
                        range: source.range.clone()?,
                        continuation: if buffered {
                            buffer.page_token.clone()
                        } else {
                            source.continuation.clone()
                        },
                        consumed: if buffered {
                            buffer.consumed
                        } else {
                            buffer.skip
                        },
                        more: buffered || buffer.more,
                    })
                })
                .collect::<Option<Vec<_>>>()?,
            Mode::Concatenate => self
                .sources
                .iter()
                .map(|source| {
                    Some(RangeState {
                        range: source.range.clone()?,
                        continuation: source.continuation.clone(),
                        consumed: 0,
                        more: source.more,
                    })
                })
                .collect::<Option<Vec<_>>>()?,
            Mode::Planning | Mode::Aggregate(_) => return None,
        };
        let resume = Resume {
            order_by: matches!(self.mode, Mode::OrderBy { .. }),
            ranges,
            skip: self.skip,
            take: self.take,
        };
        Some(resume.token(&self.query))
    }
}
