//! The writer loop: unique items written until stopped, every outcome remembered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use meridian_driver::{Driver, DriverError};
use serde_json::json;
use tokio::task::JoinHandle;

/// What a [`Writer`] saw: the ids the service acknowledged, and the ids that failed with
/// their errors.
#[derive(Debug, Default)]
pub struct WriteLog {
    /// Ids of acknowledged creates, in order.
    pub acknowledged: Vec<String>,
    /// Ids of failed creates and why, in order.
    pub failed: Vec<(String, DriverError)>,
}

/// A task creating items `{prefix}{n}` (partition key `"p"`) in one container until
/// stopped.
///
/// It asserts one thing itself: no create fails with a conflict (a blind retry would have
/// applied it twice).
#[derive(Debug)]
pub struct Writer {
    stop: Arc<AtomicBool>,
    task: JoinHandle<WriteLog>,
}

impl Writer {
    /// Starts writing to `database`/`container` through `driver`, with `pause` between
    /// creates (zero: back to back).
    pub fn start(
        driver: &Driver,
        database: &str,
        container: &str,
        prefix: impl Into<String>,
        pause: Duration,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let container = driver.container(database, container);
        let prefix = prefix.into();
        let task = tokio::spawn({
            let stop = Arc::clone(&stop);
            async move {
                let mut log = WriteLog::default();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("{prefix}{i}");
                    match container
                        .create_item("p", &json!({"id": id, "pk": "p"}))
                        .await
                    {
                        Ok(_) => log.acknowledged.push(id),
                        Err(error) => {
                            assert!(!error.is_conflict(), "a blind retry duplicated {id}");
                            log.failed.push((id, error));
                        }
                    }
                    i += 1;
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
                log
            }
        });
        Self { stop, task }
    }

    /// Stops the writer after its current create and returns what it saw; panics if it
    /// has not stopped within `limit`.
    pub async fn stop(self, limit: Duration) -> WriteLog {
        self.stop.store(true, Ordering::Relaxed);
        let Ok(joined) = tokio::time::timeout(limit, self.task).await else {
            panic!("the writer did not stop within {limit:?}");
        };
        match joined {
            Ok(log) => log,
            // The writer's own assertion failed: fail the test with its message.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("the writer task ended abnormally: {error}"),
        }
    }
}
