//! What an operation has seen so far: read after its deadline cut it short.

use std::time::Duration;

use crate::error::{DriverError, Failure};
use crate::metadata::ResponseMetadata;
use crate::status::Status;

/// What an operation has seen so far; read after its deadline cut it short.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) meta: ResponseMetadata,
    pub(crate) status: Option<Status>,
}

impl Progress {
    /// The operation stopped at its deadline, with what it had seen.
    pub(crate) fn deadline_exceeded(&self, timeout: Duration) -> DriverError {
        DriverError::DeadlineExceeded {
            timeout,
            failure: Failure {
                status: self.status,
                message: "the operation was stopped".to_string(),
                metadata: Box::new(self.meta.clone()),
            },
        }
    }
}
