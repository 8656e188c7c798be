//! Failed operations, logged as a summary: at most one WARN line per second for each
//! account, region and status, carrying how many operations failed that way since the
//! last line — not one line per operation (an outage would print thousands).
//!
//! The first failure of a kind is logged at once (`failed = 1`); later ones are counted
//! and the count is printed with the next failure of that kind a second or more after
//! the last line. A failure of a kind that never recurs after its line was printed is
//! not repeated. Each operation's own failure is at DEBUG in its `meridian.operation`
//! span.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::status::Status;

/// At most one summary line per kind per this interval.
pub(crate) const SUMMARY_INTERVAL: Duration = Duration::from_secs(1);

/// One kind of failure: region (or endpoint, if the topology names none) and status.
type Kind = (String, Option<Status>);

#[derive(Debug)]
struct Tally {
    /// Failures not yet in a printed line.
    pending: u64,
    last_line: Instant,
}

/// The failures of one account, by kind.
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    kinds: Mutex<HashMap<Kind, Tally>>,
}

/// The runtime extension: one [`FailureLog`] per account endpoint, shared by every
/// driver of the account.
#[derive(Debug, Default)]
pub(crate) struct FailureLogs {
    accounts: Mutex<HashMap<String, Arc<FailureLog>>>,
}

impl FailureLogs {
    /// The log of the account at `endpoint`.
    pub(crate) fn account(&self, endpoint: &str) -> Arc<FailureLog> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(accounts.entry(endpoint.to_string()).or_default())
    }
}

/// A summary line to print: how many operations failed this way since the last one.
#[derive(Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) failed: u64,
}

impl FailureLog {
    /// Counts one failed operation at `now`; returns the line to print, if one is due.
    pub(crate) fn record(
        &self,
        region: &str,
        status: Option<Status>,
        now: Instant,
    ) -> Option<Summary> {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (region.to_string(), status);
        match kinds.get_mut(&key) {
            None => {
                kinds.insert(
                    key,
                    Tally {
                        pending: 0,
                        last_line: now,
                    },
                );
                Some(Summary { failed: 1 })
            }
            Some(tally) => {
                tally.pending += 1;
                if now.saturating_duration_since(tally.last_line) < SUMMARY_INTERVAL {
                    return None;
                }
                let failed = std::mem::take(&mut tally.pending);
                tally.last_line = now;
                Some(Summary { failed })
            }
        }
    }

    /// Counts one failed operation now and prints the summary line if one is due.
    pub(crate) fn failed(&self, account: &str, region: &str, status: Option<Status>, error: &str) {
        if let Some(Summary { failed }) = self.record(region, status, Instant::now()) {
            let status = status.map_or_else(|| "no response".to_string(), |s| s.to_string());
            tracing::warn!(
                account,
                region,
                %status,
                failed,
                last_error = error,
                "operations failed (at most one line per second per account, region and status)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn failed_operations_are_logged_as_a_rate_limited_summary() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let log = FailureLog::default();
        let unavailable = Some(Status {
            code: 503,
            sub_status: None,
        });
        let t0 = Instant::now();
        // A thousand failures in one region over 2.5 s: a line at 0, 1 and 2 s.
        let mut printed = Vec::new();
        for i in 0..1000u64 {
            let at = t0 + Duration::from_micros(i * 2500);
            if let Some(summary) = log.record("East US", unavailable, at) {
                printed.push(summary.failed);
            }
        }
        assert_eq!(printed.len(), 3, "{printed:?}");
        assert_eq!(printed[0], 1, "the first failure is logged at once");
        assert_eq!(
            printed,
            [1, 400, 400],
            "each line counts the failures since the last"
        );
        // Another region and another status are summarised apart.
        assert!(log.record("West US", unavailable, t0).is_some());
        assert!(log.record("East US", None, t0).is_some());
        // Through tracing: one WARN line naming account, region, status and count, each
        // once.
        tracing::subscriber::with_default(subscriber, || {
            let logs = FailureLogs::default();
            logs.account("https://acct/").failed(
                "https://acct/",
                "East US",
                unavailable,
                "retries exhausted",
            );
        });
        let text = String::from_utf8(
            lines
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
        .unwrap_or_default();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("WARN") && text.contains("region=\"East US\""),
            "{text}"
        );
        assert!(
            text.contains("status=HTTP 503") && text.contains("failed=1"),
            "{text}"
        );
        assert_eq!(text.matches("https://acct/").count(), 1, "{text}");
    }
}
