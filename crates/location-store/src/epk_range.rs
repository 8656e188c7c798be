//! Effective partition key ranges and a container's map of them.
//!
//! A physical partition owns a half-open range `[min, max)` of effective partition keys
//! (upper-case hex compared as strings, `""` the smallest, `"FF"` past the largest). A
//! [`RangeMap`] is a container's ranges, sorted and checked to tile `["", "FF")` without a
//! gap or an overlap, so every EPK has exactly one owner ([`RangeMap::holding`]) and a
//! MultiHash prefix key spans a contiguous run of them ([`RangeMap::overlapping`]).

use crate::epk::{
    EpkError, PartitionKeyComponent, PartitionKeyKind, PartitionKeyScheme, effective_partition_key,
};

/// The smallest effective partition key (inclusive start of a container's first range).
pub const MIN_EPK: &str = "";
/// The end of the hash space (exclusive end of a container's last range).
pub const MAX_EPK: &str = "FF";

/// A half-open range `[min, max)` of effective partition keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EpkRange {
    min: String,
    max: String,
}

/// What a partition key addresses: one EPK (a full key) or a span (a MultiHash prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyTarget {
    /// A full key: exactly one effective partition key.
    Point(String),
    /// A prefix of a hierarchical key: every completion falls in this range.
    Span(EpkRange),
}

impl EpkRange {
    /// `[min, max)`; `None` when `min > max` (an empty range `min == max` is allowed).
    /// Hex digits are compared upper-case, as the service writes them.
    pub fn new(min: &str, max: &str) -> Option<Self> {
        let (min, max) = (min.to_ascii_uppercase(), max.to_ascii_uppercase());
        (min <= max).then_some(Self { min, max })
    }

    /// The whole hash space, `["", "FF")`.
    pub fn full() -> Self {
        Self {
            min: MIN_EPK.to_owned(),
            max: MAX_EPK.to_owned(),
        }
    }

    /// The inclusive start.
    pub fn min(&self) -> &str {
        &self.min
    }

    /// The exclusive end.
    pub fn max(&self) -> &str {
        &self.max
    }

    /// Whether `epk` is in `[min, max)`.
    pub fn contains(&self, epk: &str) -> bool {
        self.min.as_str() <= epk && epk < self.max.as_str()
    }

    /// Whether the two ranges share at least one EPK.
    pub fn overlaps(&self, other: &EpkRange) -> bool {
        self.min < other.max && other.min < self.max
    }

    /// What `key` addresses under `scheme`: a point for a full key, the span
    /// `[epk, epk + "FF")` for a MultiHash prefix (every completion of the prefix appends
    /// at least one more 32-hex-digit hash whose first digit is below `F`).
    pub fn for_key(
        scheme: &PartitionKeyScheme,
        key: &[PartitionKeyComponent],
    ) -> Result<KeyTarget, EpkError> {
        let epk = effective_partition_key(scheme, key)?;
        let prefix = scheme.kind() == PartitionKeyKind::MultiHash && key.len() < scheme.paths();
        if !prefix {
            if key.len() != scheme.paths() {
                return Err(EpkError::WrongComponentCount {
                    given: key.len(),
                    paths: scheme.paths(),
                });
            }
            return Ok(KeyTarget::Point(epk));
        }
        let max = format!("{epk}FF");
        Ok(KeyTarget::Span(Self { min: epk, max }))
    }
}

/// Why a list of ranges is not a container's routing map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeMapError {
    /// No range at all.
    #[error("no partition key range")]
    Empty,
    /// The ranges leave a gap, overlap, or do not start at `""` / end at `"FF"`.
    #[error("the partition key ranges do not tile the hash space at {at:?}")]
    NotATiling {
        /// The EPK where the tiling breaks.
        at: String,
    },
    /// Two ranges share an id.
    #[error("a partition key range id appears twice")]
    DuplicateId,
}

/// A container's partition key ranges, sorted, tiling `["", "FF")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeMap<T> {
    /// `(range, value)`, sorted by `range.min`.
    ranges: Vec<(EpkRange, T)>,
}

impl<T> RangeMap<T> {
    /// A map from `(range, value)` pairs in any order; `id` names a value for the
    /// duplicate check (a range's id in `pkranges`).
    pub fn new<I: PartialEq>(
        mut ranges: Vec<(EpkRange, T)>,
        id: impl Fn(&T) -> I,
    ) -> Result<Self, RangeMapError> {
        if ranges.is_empty() {
            return Err(RangeMapError::Empty);
        }
        ranges.sort_by(|a, b| a.0.min.cmp(&b.0.min));
        let mut expected = MIN_EPK;
        for (range, _) in &ranges {
            if range.min != expected || range.min == range.max {
                return Err(RangeMapError::NotATiling {
                    at: expected.to_owned(),
                });
            }
            expected = &range.max;
        }
        if expected != MAX_EPK {
            return Err(RangeMapError::NotATiling {
                at: expected.to_owned(),
            });
        }
        for (i, (_, a)) in ranges.iter().enumerate() {
            if ranges[i + 1..].iter().any(|(_, b)| id(a) == id(b)) {
                return Err(RangeMapError::DuplicateId);
            }
        }
        Ok(Self { ranges })
    }

    /// The range holding `epk` and its value (`None` only for an EPK at or past `"FF"`).
    pub fn holding(&self, epk: &str) -> Option<(&EpkRange, &T)> {
        let after = self.ranges.partition_point(|(r, _)| r.min.as_str() <= epk);
        let (range, value) = self.ranges.get(after.checked_sub(1)?)?;
        range.contains(epk).then_some((range, value))
    }

    /// The ranges sharing at least one EPK with `span`, in EPK order.
    pub fn overlapping<'a>(
        &'a self,
        span: &'a EpkRange,
    ) -> impl Iterator<Item = (&'a EpkRange, &'a T)> + 'a {
        let first = self
            .ranges
            .partition_point(|(r, _)| r.max.as_str() <= span.min.as_str());
        self.ranges[first..]
            .iter()
            .take_while(move |(r, _)| r.min < span.max)
            .map(|(r, v)| (r, v))
    }

    /// The ranges a key addresses: the one holding a full key's EPK, or every range a
    /// MultiHash prefix spans.
    pub fn for_target<'a>(&'a self, target: &'a KeyTarget) -> Vec<(&'a EpkRange, &'a T)> {
        match target {
            KeyTarget::Point(epk) => self.holding(epk).into_iter().collect(),
            KeyTarget::Span(span) => self.overlapping(span).collect(),
        }
    }

    /// All ranges in EPK order.
    pub fn iter(&self) -> impl Iterator<Item = (&EpkRange, &T)> {
        self.ranges.iter().map(|(r, v)| (r, v))
    }

    /// The number of ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Always `false`: a map has at least one range.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}
