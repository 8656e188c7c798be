//! The typed [`Emulator`] methods for partition key ranges: list, split, merge, fail one
//! range in one region (the same operations as `/_emulator/partitions/…`).

use std::time::Duration;

use serde_json::Value;

use crate::api_error::ApiError;
use crate::emulator::Emulator;
use crate::error::EmulatorError;
use crate::partitions::RangeFailure;
use crate::range_admin::{Fail, Merge, Split, fail, list, merge, split};

fn typed(error: ApiError) -> EmulatorError {
    EmulatorError::Partition(error.message)
}

impl Emulator {
    /// A container's partition key ranges in EPK order: `id`, `minInclusive`,
    /// `maxExclusive`, `parents` (as `GET /_emulator/partitions/{db}/{coll}` shows).
    pub fn partition_key_ranges(&self, db: &str, coll: &str) -> Result<Value, EmulatorError> {
        list(&self.state, db, coll).map_err(typed)
    }

    /// How many `GET …/pkranges` requests of `db/coll` were answered (304s included)
    /// since the container was created.
    pub fn partition_key_range_reads(&self, db: &str, coll: &str) -> u64 {
        self.state.partitions.reads(db, coll)
    }

    /// The id of the range holding items of `partition_key` (its JSON value, an array
    /// for a hierarchical key) — where the emulator stores them, by its own hash.
    pub fn range_holding(
        &self,
        (db, coll): (&str, &str),
        partition_key: &Value,
    ) -> Result<String, EmulatorError> {
        let rid = crate::partitions::container_rid(&self.state.data, db, coll).map_err(typed)?;
        let epk = crate::epk::epk_of_key(partition_key)
            .ok_or_else(|| EmulatorError::Partition("not a partition key value".to_owned()))?;
        let ranges = self.state.partitions.ranges(&rid, db, coll);
        ranges
            .into_iter()
            .find(|r| r.holds(&epk))
            .map(|r| r.id)
            .ok_or_else(|| EmulatorError::Partition("no range holds the key".to_owned()))
    }

    /// Splits range `range` at its EPK midpoint; returns the two children's ids. Requests
    /// naming the old id are answered 410/1007 (split in progress) for `window`, then
    /// 410/1002 (gone), as the service does.
    pub fn split_range(
        &self,
        (db, coll): (&str, &str),
        range: &str,
        window: Duration,
    ) -> Result<[String; 2], EmulatorError> {
        let request = Split {
            range: range.to_owned(),
            window_ms: Some(u64::try_from(window.as_millis()).unwrap_or(u64::MAX)),
        };
        let answer = split(&self.state, (db, coll), request).map_err(typed)?;
        serde_json::from_value(answer["children"].clone())
            .map_err(|e| EmulatorError::Partition(e.to_string()))
    }

    /// Merges two adjacent ranges into one; returns its id. Both old ids are gone as
    /// after a split.
    pub fn merge_ranges(
        &self,
        (db, coll): (&str, &str),
        ranges: [&str; 2],
        window: Duration,
    ) -> Result<String, EmulatorError> {
        let request = Merge {
            ranges: ranges.map(str::to_owned),
            window_ms: Some(u64::try_from(window.as_millis()).unwrap_or(u64::MAX)),
        };
        let answer = merge(&self.state, (db, coll), &request).map_err(typed)?;
        Ok(answer["merged"].as_str().unwrap_or_default().to_owned())
    }

    /// Sets the account's `enablePerPartitionFailoverBehavior` (off by default): clients
    /// that honour it move one partition's writes to the next region when that partition
    /// answers 403/3 or 503 (per-partition automatic failover).
    pub fn set_per_partition_failover(&self, enabled: bool) {
        crate::lock::lock(&self.state.topology).per_partition_failover = enabled;
    }

    /// Fails range `range` in `region` (`None` heals it); the region's other ranges, and
    /// the range in other regions, keep serving.
    pub fn fail_range(
        &self,
        (db, coll): (&str, &str),
        range: &str,
        region: &str,
        failure: Option<RangeFailure>,
    ) -> Result<(), EmulatorError> {
        let request = Fail {
            range: range.to_owned(),
            region: region.to_owned(),
            failure,
        };
        fail(&self.state, (db, coll), &request).map_err(typed)
    }
}
