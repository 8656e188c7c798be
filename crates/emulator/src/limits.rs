//! Descriptor pressure: the default connection limit and the accept loop's backoff.
//!
//! Every open connection holds a file descriptor. The emulator serves at most
//! `max_connections` at once (the listeners stop accepting at the limit, so further
//! connections wait in the kernel's backlog), and when `accept` fails anyway (EMFILE,
//! ENFILE: descriptors exhausted by something else) the accept loop backs off
//! exponentially and logs at most once per second instead of spinning.

use std::time::Duration;

use tokio::time::Instant;

/// The connection limit when the descriptor limit is unknown (non-Linux).
pub const FALLBACK_MAX_CONNECTIONS: usize = 512;

/// The largest default connection limit, however high the descriptor limit is.
pub const MAX_DEFAULT_CONNECTIONS: usize = 4096;

/// The default connection limit: half the process's soft descriptor limit (the rest is
/// left for listeners, the runtime and files), at most [`MAX_DEFAULT_CONNECTIONS`];
/// [`FALLBACK_MAX_CONNECTIONS`] where the limit cannot be read.
pub fn default_max_connections() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| soft_open_files(&limits))
        .map_or(FALLBACK_MAX_CONNECTIONS, |soft| {
            (soft / 2).clamp(1, MAX_DEFAULT_CONNECTIONS)
        })
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text (`None` if absent or
/// `unlimited`).
fn soft_open_files(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The accept loop's reaction to failures: exponential backoff from 10 ms to 1 s
/// (reset by a successful accept) and at most one log line per second, counting the
/// failures it did not log.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    delay: Duration,
    last_log: Option<Instant>,
    unlogged: u64,
}

const FIRST_DELAY: Duration = Duration::from_millis(10);
const MAX_DELAY: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(1);

impl AcceptBackoff {
    pub(crate) fn new() -> Self {
        Self {
            delay: FIRST_DELAY,
            last_log: None,
            unlogged: 0,
        }
    }

    /// Records a failed accept at `now`: returns how long to wait before the next one,
    /// and whether to log it (with the number of failures not logged since the last
    /// line).
    pub(crate) fn failed(&mut self, now: Instant) -> (Duration, Option<u64>) {
        let delay = self.delay;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        let log = match self.last_log {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
                self.unlogged += 1;
                None
            }
            _ => {
                self.last_log = Some(now);
                Some(std::mem::take(&mut self.unlogged))
            }
        };
        (delay, log)
    }

    /// Records a successful accept: the next failure starts the backoff over.
    pub(crate) fn succeeded(&mut self) {
        self.delay = FIRST_DELAY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
                    Max cpu time              unlimited            unlimited            seconds\n\
                    Max open files            1024                 1048576              files\n";
        assert_eq!(soft_open_files(text), Some(1024));
        assert_eq!(
            soft_open_files("Max open files unlimited unlimited files"),
            None
        );
        assert_eq!(soft_open_files(""), None);
    }

    #[test]
    fn backs_off_and_logs_once_per_second() {
        let mut backoff = AcceptBackoff::new();
        let start = Instant::now();
        let mut elapsed = Duration::ZERO;
        let mut logged = Vec::new();
        let mut delays = Vec::new();
        for _ in 0..12 {
            let (delay, log) = backoff.failed(start + elapsed);
            delays.push(delay.as_millis());
            if let Some(unlogged) = log {
                logged.push((elapsed.as_millis(), unlogged));
            }
            elapsed += delay;
        }
        assert_eq!(
            delays,
            [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000, 1000]
        );
        // 0 ms, then the first failure a second or more after the last line.
        assert_eq!(
            logged,
            [
                (0, 0),
                (1270, 6),
                (2270, 0),
                (3270, 0),
                (4270, 0),
                (5270, 0)
            ]
        );
        backoff.succeeded();
        assert_eq!(backoff.failed(start + elapsed).0, FIRST_DELAY);
    }
}
