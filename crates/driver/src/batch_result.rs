//! What a batch or bulk request answers: one [`BatchOperationResult`] per operation
//! (`statusCode`, `subStatusCode`, `requestCharge`, `eTag`, `resourceBody`,
//! `retryAfterMilliseconds`), the [`BatchResponse`], and the [`BatchFailure`] of an
//! atomic batch that applied nothing.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::metadata::ResponseMetadata;
use crate::status::Status;

/// One operation's result in a batch or bulk answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchOperationResult {
    /// Its status (201 created, 200, 204 deleted, 409, 412, 424: not run because another
    /// operation of an atomic batch failed, 429: throttled...).
    pub status: Status,
    /// The item's etag after the operation, when it has one.
    pub etag: Option<String>,
    /// Its charge (request units).
    pub request_charge: f64,
    /// For 429: how long the service asks to wait before sending it again.
    pub retry_after: Option<Duration>,
    /// The item, for operations that return one (create, upsert, replace, patch, read).
    pub body: Option<Value>,
}

impl BatchOperationResult {
    /// Reads one result of the service's array (its body moved out, not copied); `None`
    /// when it has no `statusCode`.
    pub(crate) fn parse(mut result: Value) -> Option<Self> {
        let code = u16::try_from(result.get("statusCode")?.as_u64()?).ok()?;
        // `subStatusCode` as the service and the Java and .NET SDKs spell it; the Rust
        // SDK reads `substatusCode`: either is taken.
        let sub_status = result
            .get("subStatusCode")
            .or_else(|| result.get("substatusCode"))
            .and_then(Value::as_u64)
            .and_then(|s| u32::try_from(s).ok())
            .filter(|s| *s != 0);
        Some(Self {
            status: Status::new(code, sub_status),
            etag: result
                .get("eTag")
                .and_then(Value::as_str)
                .map(str::to_string),
            request_charge: result
                .get("requestCharge")
                .and_then(Value::as_f64)
                .filter(|c| c.is_finite() && *c >= 0.0)
                .unwrap_or(0.0),
            retry_after: result
                .get("retryAfterMilliseconds")
                .and_then(Value::as_u64)
                .map(Duration::from_millis),
            body: result.get_mut("resourceBody").map(Value::take),
        })
    }

    /// 2xx (or 304 for a read whose `ifNoneMatch` held).
    pub fn is_success(&self) -> bool {
        self.status.is_success() || self.status.code == 304
    }

    /// The item deserialized, if the operation returned one.
    pub fn item<T: DeserializeOwned>(&self) -> Result<Option<T>, serde_json::Error> {
        self.body.clone().map(serde_json::from_value).transpose()
    }
}

/// Parses the service's array of operation results.
pub(crate) fn parse_results(body: &[u8]) -> Result<Vec<BatchOperationResult>, serde_json::Error> {
    let Value::Array(results) = serde_json::from_slice(body)? else {
        return Err(serde::de::Error::custom(
            "a batch answer must be a JSON array of operation results",
        ));
    };
    results
        .into_iter()
        .map(|r| {
            BatchOperationResult::parse(r).ok_or_else(|| {
                serde::de::Error::custom("a batch operation result has no statusCode")
            })
        })
        .collect()
}

/// A transactional batch's answer: every operation succeeded, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchResponse {
    /// One result per operation, in the order they were added.
    pub results: Vec<BatchOperationResult>,
    /// Total charge, session token, serving region, attempts.
    pub metadata: ResponseMetadata,
}

impl BatchResponse {
    /// How many operations it answers.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether it answers none.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// The item operation `index` returned, deserialized (`None`: it returned none).
    pub fn item<T: DeserializeOwned>(&self, index: usize) -> Result<Option<T>, serde_json::Error> {
        match self.results.get(index) {
            Some(result) => result.item(),
            None => Ok(None),
        }
    }

    /// The request charge of the whole batch (request units).
    pub fn request_charge(&self) -> f64 {
        self.metadata.request_charge
    }
}

/// An atomic batch that applied nothing: which operation failed, with which status, and
/// every operation's result (424 for the others).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchFailure {
    /// The index of the operation that failed (in the order they were added).
    pub index: usize,
    /// Its status (409, 412, 404, 400...).
    pub status: Status,
    /// Every operation's result and the response metadata.
    pub response: BatchResponse,
}

impl BatchFailure {
    /// The failure of an atomic batch whose `results` hold an error: the first
    /// operation that failed other than with 424 (failed dependency).
    pub(crate) fn of(response: BatchResponse) -> Option<Self> {
        let results = &response.results;
        let failed = |r: &&BatchOperationResult| !r.is_success();
        let (index, result) = results
            .iter()
            .enumerate()
            .find(|(_, r)| failed(r) && r.status.code != 424)
            .or_else(|| results.iter().enumerate().find(|(_, r)| failed(r)))?;
        Some(Self {
            index,
            status: result.status,
            response,
        })
    }
}

impl fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "operation {} of the transactional batch failed with {}; nothing was applied",
            self.index, self.status
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_failing_operation_is_the_one_that_is_not_a_failed_dependency() {
        let body = json!([
            {"statusCode": 424, "requestCharge": 0.0},
            {"statusCode": 412, "subStatusCode": 0, "requestCharge": 1.5},
            {"statusCode": 424},
        ])
        .to_string();
        let results = parse_results(body.as_bytes()).unwrap();
        let response = BatchResponse {
            results,
            metadata: ResponseMetadata::default(),
        };
        let failure = BatchFailure::of(response).unwrap();
        assert_eq!(
            (failure.index, failure.status),
            (1, Status::PRECONDITION_FAILED)
        );
        assert!(failure.to_string().contains("operation 1"));
        let ok = json!([{"statusCode": 201, "eTag": "\"e\"", "resourceBody": {"id": "a"},
                         "retryAfterMilliseconds": 7}]);
        let ok = parse_results(ok.to_string().as_bytes()).unwrap();
        assert_eq!(ok[0].etag.as_deref(), Some("\"e\""));
        assert_eq!(ok[0].retry_after, Some(Duration::from_millis(7)));
        assert_eq!(ok[0].item::<Value>().unwrap(), Some(json!({"id": "a"})));
        assert!(parse_results(b"{}").is_err());
        assert!(parse_results(br#"[{"requestCharge": 1}]"#).is_err());
    }
}
