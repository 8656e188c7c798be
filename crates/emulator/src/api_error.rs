//! The service's error answer as a value: status, sub-status, `code`, `message` and an
//! optional retry delay. Every layer returns it; the wire layer renders it.

use serde_json::Value;

/// A service-style error: status, optional sub-status, `code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) sub_status: Option<u32>,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// `x-ms-retry-after-ms`, for answers a client should retry later (429).
    pub(crate) retry_after_ms: Option<u64>,
    /// The body's `additionalErrorInfo` (a JSON document as a string): the query plan of a
    /// cross-partition query the gateway does not serve itself (400/1004).
    pub(crate) additional_info: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            sub_status: None,
            code,
            message: message.into(),
            retry_after_ms: None,
            additional_info: None,
        }
    }

    pub(crate) fn with_retry_after(mut self, ms: u64) -> Self {
        self.retry_after_ms = Some(ms);
        self
    }

    pub(crate) fn with_sub_status(mut self, sub_status: u32) -> Self {
        self.sub_status = Some(sub_status);
        self
    }

    /// With the body's `additionalErrorInfo`.
    pub(crate) fn with_additional_info(mut self, info: String) -> Self {
        self.additional_info = Some(info);
        self
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(404, "NotFound", format!("{what} does not exist"))
    }

    pub(crate) fn conflict(what: &str) -> Self {
        Self::new(409, "Conflict", format!("{what} already exists"))
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 413: a body, item or request over its size limit.
    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }

    pub(crate) fn precondition_failed(message: &str) -> Self {
        Self::new(412, "PreconditionFailed", message)
    }
}

pub(crate) type ApiResult = Result<(u16, Option<Value>), ApiError>;
