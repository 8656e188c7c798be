//! A container's physical partitions: partition key ranges tiling the hash space
//! `["", "FF")`, made from the container's throughput at creation, split at a midpoint and
//! merged two adjacent at a time, each change a new generation (the `pkranges` etag).
//!
//! Boundaries are 16 hex digits (the top 64 bits of an effective partition key). The
//! emulator's hash clears an EPK's two top bits, so the occupied space is
//! `[0, 0x4000_0000_0000_0000)`; initial ranges divide that evenly.

/// RU/s per physical partition, the service's rule of thumb.
pub(crate) const RU_PER_RANGE: u64 = 10_000;
/// At most this many ranges from throughput (an offer beyond 640,000 RU/s gets 64).
pub(crate) const MAX_INITIAL_RANGES: u64 = 64;
/// The end of the occupied hash space, as a 64-bit prefix.
const SPACE_END: u64 = 0x4000_0000_0000_0000;

/// One partition key range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PkRange {
    pub(crate) id: String,
    /// Inclusive, upper-case hex (`""` for the first range).
    pub(crate) min: String,
    /// Exclusive, upper-case hex (`"FF"` for the last range).
    pub(crate) max: String,
    /// The ranges this one was split or merged from, oldest first.
    pub(crate) parents: Vec<String>,
}

impl PkRange {
    /// Whether `epk` is in `[min, max)`.
    pub(crate) fn holds(&self, epk: &str) -> bool {
        self.min.as_str() <= epk && epk < self.max.as_str()
    }
}

/// A container's ranges, in EPK order.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) ranges: Vec<PkRange>,
    /// Bumped by every split and merge.
    pub(crate) generation: u64,
    next_id: u64,
}

/// How many ranges an offer of `throughput` RU/s gets: one per 10,000, at least one.
pub(crate) fn ranges_for(throughput: u64) -> u64 {
    throughput
        .div_ceil(RU_PER_RANGE)
        .clamp(1, MAX_INITIAL_RANGES)
}

/// A 64-bit boundary as the EPK string that starts a range.
fn boundary(value: u64) -> String {
    format!("{value:016X}")
}

/// The 64-bit prefix of an EPK bound (`""` is 0, `"FF"` the end of the space).
fn prefix(epk: &str) -> u64 {
    if epk == "FF" {
        return SPACE_END;
    }
    let mut digits: String = epk.chars().take(16).collect();
    while digits.len() < 16 {
        digits.push('0');
    }
    u64::from_str_radix(&digits, 16).unwrap_or(SPACE_END)
}

impl Layout {
    /// `count` ranges (ids `"0"`…) dividing the hash space evenly.
    pub(crate) fn even(count: u64) -> Self {
        let count = count.clamp(1, MAX_INITIAL_RANGES);
        let step = SPACE_END / count;
        let bound = |i: u64| match i {
            0 => String::new(),
            i if i == count => "FF".to_owned(),
            i => boundary(step * i),
        };
        Self {
            ranges: (0..count)
                .map(|i| PkRange {
                    id: i.to_string(),
                    min: bound(i),
                    max: bound(i + 1),
                    parents: Vec::new(),
                })
                .collect(),
            generation: 0,
            next_id: count,
        }
    }

    /// The range named `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&PkRange> {
        self.ranges.iter().find(|r| r.id == id)
    }

    /// The range holding `epk`.
    pub(crate) fn holding(&self, epk: &str) -> Option<&PkRange> {
        self.ranges.iter().find(|r| r.holds(epk))
    }

    fn take_id(&mut self) -> String {
        let id = self.next_id.to_string();
        self.next_id += 1;
        id
    }

    /// Splits range `id` at its midpoint into two children; returns their ids.
    pub(crate) fn split(&mut self, id: &str) -> Result<[String; 2], String> {
        let at = self
            .ranges
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| format!("no partition key range {id}"))?;
        let old = self.ranges[at].clone();
        let (lo, hi) = (prefix(&old.min), prefix(&old.max));
        let mid = lo + (hi.saturating_sub(lo)) / 2;
        if mid <= lo {
            return Err(format!("partition key range {id} is too narrow to split"));
        }
        let mut parents = old.parents.clone();
        parents.push(old.id.clone());
        let (left, right) = (self.take_id(), self.take_id());
        let children = [
            PkRange {
                id: left.clone(),
                min: old.min.clone(),
                max: boundary(mid),
                parents: parents.clone(),
            },
            PkRange {
                id: right.clone(),
                min: boundary(mid),
                max: old.max,
                parents,
            },
        ];
        self.ranges.splice(at..=at, children);
        self.generation += 1;
        Ok([left, right])
    }

    /// Merges the adjacent ranges `a` and `b` (either order) into one; returns its id.
    pub(crate) fn merge(&mut self, a: &str, b: &str) -> Result<String, String> {
        let find = |id: &str| {
            self.ranges
                .iter()
                .position(|r| r.id == id)
                .ok_or_else(|| format!("no partition key range {id}"))
        };
        let (i, j) = (find(a)?, find(b)?);
        let (first, second) = (i.min(j), i.max(j));
        if second != first + 1 {
            return Err(format!("partition key ranges {a} and {b} are not adjacent"));
        }
        let (left, right) = (self.ranges[first].clone(), self.ranges[second].clone());
        let mut parents = left.parents.clone();
        parents.extend(right.parents.iter().cloned());
        parents.push(left.id.clone());
        parents.push(right.id.clone());
        let id = self.take_id();
        let merged = PkRange {
            id: id.clone(),
            min: left.min,
            max: right.max,
            parents,
        };
        self.ranges.splice(first..=second, [merged]);
        self.generation += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn throughput_splits_and_merges_keep_the_space_tiled() {
        assert_eq!(ranges_for(400), 1);
        assert_eq!(ranges_for(10_000), 1);
        assert_eq!(ranges_for(25_000), 3);
        assert_eq!(ranges_for(u64::MAX), MAX_INITIAL_RANGES);
        let mut layout = Layout::even(2);
        assert_eq!(layout.ranges[0].max, "2000000000000000");
        let [a, b] = layout.split("0").unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("2", "3"));
        assert_eq!(layout.get("3").unwrap().min, "1000000000000000");
        assert_eq!(layout.get("3").unwrap().parents, ["0"]);
        let tiled = |l: &Layout| {
            l.ranges.first().unwrap().min.is_empty()
                && l.ranges.last().unwrap().max == "FF"
                && l.ranges.windows(2).all(|w| w[0].max == w[1].min)
        };
        assert!(tiled(&layout));
        assert!(layout.merge("2", "1").is_err(), "not adjacent");
        let merged = layout.merge("3", "1").unwrap();
        assert_eq!(layout.get(&merged).unwrap().parents, ["0", "3", "1"]);
        assert!(tiled(&layout) && layout.generation == 2);
        assert!(layout.split("9").is_err());
    }
}
