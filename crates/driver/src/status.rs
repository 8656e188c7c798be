//! A typed HTTP status with the service's sub-status, and the combinations that matter.

use std::fmt;

/// An HTTP status and its `x-ms-substatus`, as the service answered.
///
/// Compare with the named constants (`status == Status::WRITE_FORBIDDEN`) or by code
/// (`status.code == 404`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Status {
    /// The HTTP status code.
    pub code: u16,
    /// The `x-ms-substatus`, if the service sent one.
    pub sub_status: Option<u32>,
}

impl Status {
    /// 200 OK.
    pub const OK: Self = Self::new(200, None);
    /// 201 Created.
    pub const CREATED: Self = Self::new(201, None);
    /// 204 No Content.
    pub const NO_CONTENT: Self = Self::new(204, None);
    /// 304 Not Modified (an `If-None-Match` hit).
    pub const NOT_MODIFIED: Self = Self::new(304, None);
    /// 400 Bad Request.
    pub const BAD_REQUEST: Self = Self::new(400, None);
    /// 401 Unauthorized: the key or signature was refused.
    pub const UNAUTHORIZED: Self = Self::new(401, None);
    /// 403 Forbidden.
    pub const FORBIDDEN: Self = Self::new(403, None);
    /// 403/3: this region no longer accepts writes (the write region moved).
    pub const WRITE_FORBIDDEN: Self = Self::new(403, Some(3));
    /// 403/1008: the account is not available in this region.
    pub const ACCOUNT_NOT_FOUND: Self = Self::new(403, Some(1008));
    /// 404 Not Found.
    pub const NOT_FOUND: Self = Self::new(404, None);
    /// 404/1002: the region has not caught up with the session token sent.
    pub const READ_SESSION_NOT_AVAILABLE: Self = Self::new(404, Some(1002));
    /// 408 Request Timeout.
    pub const REQUEST_TIMEOUT: Self = Self::new(408, None);
    /// 409 Conflict: the item exists.
    pub const CONFLICT: Self = Self::new(409, None);
    /// 412 Precondition Failed: an `If-Match` mismatch.
    pub const PRECONDITION_FAILED: Self = Self::new(412, None);
    /// 413 Request Entity Too Large.
    pub const TOO_LARGE: Self = Self::new(413, None);
    /// 429 Too Many Requests (throttled).
    pub const TOO_MANY_REQUESTS: Self = Self::new(429, None);
    /// 500 Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: Self = Self::new(500, None);
    /// 503 Service Unavailable.
    pub const SERVICE_UNAVAILABLE: Self = Self::new(503, None);

    /// A status from its parts.
    pub const fn new(code: u16, sub_status: Option<u32>) -> Self {
        Self { code, sub_status }
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// Same code, whatever the sub-status (`Status::NOT_FOUND.matches_code(s)`).
    pub fn matches_code(&self, other: Status) -> bool {
        self.code == other.code
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sub_status {
            Some(sub) => write!(f, "HTTP {}/{sub}", self.code),
            None => write!(f, "HTTP {}", self.code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_print_and_compare_with_their_sub_status() {
        assert_eq!(Status::WRITE_FORBIDDEN.to_string(), "HTTP 403/3");
        assert_eq!(Status::NOT_FOUND.to_string(), "HTTP 404");
        assert_ne!(Status::WRITE_FORBIDDEN, Status::FORBIDDEN);
        assert!(Status::FORBIDDEN.matches_code(Status::WRITE_FORBIDDEN));
        assert!(Status::CREATED.is_success() && !Status::NOT_MODIFIED.is_success());
    }
}
