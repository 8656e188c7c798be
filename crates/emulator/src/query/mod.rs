//! The SQL subset: lexer → parser → evaluator, plus query plans for SDK-side execution.
//! [`run_query`] and [`query_plan`] are public for fuzzing and for checking a query offline.
//!
//! Entry points take the query text and its parameters (`{"query", "parameters"}`) and
//! return every result or a [`QueryError`] naming the construct and its byte position.

mod ast;
mod builtin;
mod clause;
mod datetime;
mod eval;
mod exec;
mod expr;
mod function;
mod group;
mod lexer;
mod parser;
mod pinned;
mod plan;
mod position;
mod print;
mod rules;
mod spatial;
mod text;
mod value;
mod work;

pub use work::DEFAULT_QUERY_BUDGET;

pub(crate) use exec::Row;
pub(crate) use position::{Key, Position, fnv1a};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use parser::Params;

use crate::api_error::ApiError;
use crate::budget::Charge;

/// A query the emulator refuses: outside the subset, malformed, or badly parameterised.
/// Answered on the wire as 400 `BadRequest` with this text as the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query text: a construct outside the subset, or a syntax error, at a byte offset.
    #[error("{message} at position {position}")]
    Syntax {
        /// What is wrong, naming the construct.
        message: String,
        /// The byte offset in the query text where it starts.
        position: usize,
        /// The byte offset where it ends (the service's `location.end`).
        end: usize,
        /// The service's code for it: `SC1001` a syntax error, `SC2001` an unknown name,
        /// `SC2005` an unknown function…
        code: &'static str,
    },
    /// The request body around the query (`query`, `parameters`).
    #[error("{0}")]
    Body(String),
    /// A query near the limits whose rewritten form (for a query plan) is over them.
    #[error("the query is too complex to plan: its rewritten form is refused: {0}")]
    Plan(Box<QueryError>),
    /// The query ran out of its work budget (evaluations, copies and comparisons) and was
    /// ended.
    #[error(
        "the query exceeded its work budget of {limit} units (evaluations, bytes copied / 8, comparisons); narrow its filter or its select clause"
    )]
    Budget {
        /// The budget it ran out of.
        limit: u64,
    },
}

impl QueryError {
    pub(crate) fn new(message: impl Into<String>, position: usize) -> Self {
        Self::coded("SC1001", message, position, position)
    }

    /// An error with the service's code and location.
    pub(crate) fn coded(
        code: &'static str,
        message: impl Into<String>,
        position: usize,
        end: usize,
    ) -> Self {
        Self::Syntax {
            message: message.into(),
            position,
            end,
            code,
        }
    }

    fn body(message: impl Into<String>) -> Self {
        Self::Body(message.into())
    }

    /// The byte offset of a syntax error.
    pub fn position(&self) -> Option<usize> {
        match self {
            Self::Syntax { position, .. } => Some(*position),
            Self::Body(_) | Self::Plan(_) | Self::Budget { .. } => None,
        }
    }
}

/// Runs a query request body (`{"query": "...", "parameters": [...]}`) over `items`, as a
/// query request over one partition would, and returns every result in order.
/// It runs within [`DEFAULT_QUERY_BUDGET`].
pub fn run_query(body: &Value, items: &[Value]) -> Result<Vec<Value>, QueryError> {
    QuerySpec::from_body(body)?.run(items, DEFAULT_QUERY_BUDGET)
}

/// The query plan document a query-plan request for `body` is answered with.
pub fn query_plan(body: &Value) -> Result<Value, QueryError> {
    QuerySpec::from_body(body)?.plan()
}

/// A query request body: `{"query": "...", "parameters": [{"name": "@x", "value": 1}]}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuerySpec {
    text: String,
    /// Each value is shared by every reference to it in the parsed query.
    params: Params,
    /// The client's `x-ms-cosmos-supported-query-features` (plans need no other).
    features: Option<String>,
}

impl QuerySpec {
    /// Reads a request body (a JSON object, or a bare SQL string for hand-written clients).
    pub(crate) fn from_body(body: &Value) -> Result<Self, QueryError> {
        let text = match body {
            Value::String(text) => return Ok(Self::new(text.clone())),
            Value::Object(map) => map.get("query").and_then(Value::as_str),
            _ => None,
        }
        .ok_or_else(|| {
            QueryError::body("the body must be {\"query\": \"...\", \"parameters\": [...]}")
        })?;
        let mut params = BTreeMap::new();
        match body.get("parameters") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for param in list {
                    let name = param
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| QueryError::body("each parameter needs a string `name`"))?;
                    // A parameter without a value is undefined: leave it out.
                    if let Some(value) = param.get("value") {
                        params.insert(name.to_string(), Arc::new(value.clone()));
                    }
                }
            }
            Some(_) => return Err(QueryError::body("`parameters` must be an array")),
        }
        Ok(Self {
            text: text.to_string(),
            params,
            features: None,
        })
    }

    /// A query text without parameters.
    pub(crate) fn new(text: String) -> Self {
        Self {
            text,
            params: BTreeMap::new(),
            features: None,
        }
    }

    /// The query features the client supports, as it listed them (none: all).
    pub(crate) fn with_features(mut self, features: Option<String>) -> Self {
        self.features = features;
        self
    }

    /// Runs the query over `items` within `budget` units of work; every result in order.
    pub(crate) fn run<'a>(
        &self,
        items: impl IntoIterator<Item = &'a Value>,
        budget: u64,
    ) -> Result<Vec<Value>, QueryError> {
        static NO_KEY: Key = (String::new(), String::new());
        let query = parser::parse(&self.text, &self.params)?;
        let keyed = items.into_iter().map(|item| (&NO_KEY, item));
        let rows = exec::run(&query, keyed, &work::Work::new(budget))?;
        Ok(rows.into_iter().map(|(_, row)| row).collect())
    }

    /// What tells this query's continuations from another's: a hash of its text and
    /// parameters.
    pub(crate) fn fingerprint(&self) -> u64 {
        let params: String = self
            .params
            .iter()
            .map(|(name, value)| format!("{name}={value};"))
            .collect();
        position::fnv1a([self.text.as_bytes(), b"\0", params.as_bytes()])
    }

    /// Runs the query for a request: within `budget` units of work, and with what it holds
    /// (result rows, aggregates' arguments) charged to the request's `memory`. A refused
    /// query is answered 400 with its error, or as the memory budget refused it.
    pub(crate) fn run_charged<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a Key, &'a Value)>,
        budget: u64,
        memory: Arc<Charge>,
    ) -> Result<Vec<Row>, ApiError> {
        let query = parser::parse(&self.text, &self.params).map_err(query_error)?;
        let work = work::Work::charged(budget, memory);
        exec::run(&query, items, &work)
            .map_err(|error| work.refusal().unwrap_or_else(|| query_error(error)))
    }

    /// The service's refusals for this request to `container` (its resource: the indexing
    /// policy): a cross-partition request (`cross`) without a range id fans out itself.
    pub(crate) fn check_request(
        &self,
        container: &Value,
        cross: bool,
        headers: &http::HeaderMap,
    ) -> Result<(), ApiError> {
        let query = parser::parse(&self.text, &self.params).map_err(query_error)?;
        let fans_out = cross && !headers.contains_key("x-ms-documentdb-partitionkeyrangeid");
        let indexes = container.pointer("/indexingPolicy/compositeIndexes");
        rules::check(&query, indexes.unwrap_or(&Value::Null), fans_out)
    }

    /// Whether merging this query's results across ranges takes more than concatenating
    /// them (TOP, ORDER BY, aggregates, DISTINCT, GROUP BY, OFFSET/LIMIT): the gateway
    /// leaves such a query to the SDK when it spans several ranges.
    pub(crate) fn needs_pipeline(&self) -> Result<bool, ApiError> {
        let query = parser::parse(&self.text, &self.params).map_err(query_error)?;
        Ok(query.top.is_some()
            || !query.order_by.is_empty()
            || !query.aggregates.is_empty()
            || query.distinct
            || !query.group_by.is_empty()
            || query.offset.is_some()
            || query.limit.is_some())
    }

    /// The partition key (its values, one per path of `paths`) the query's filter pins by
    /// top-level equalities (`WHERE c.pk = @pk AND …`), if it pins every path.
    pub(crate) fn pinned_key(&self, paths: &[String]) -> Option<Vec<Value>> {
        let query = parser::parse(&self.text, &self.params).ok()?;
        pinned::pinned_key(&query, paths)
    }

    /// Whether the service answers this query from its index alone, loading no document:
    /// aggregates over constants (`SELECT VALUE COUNT(1) FROM c`) with no filter or join.
    pub(crate) fn index_only(&self) -> bool {
        let Ok(query) = parser::parse(&self.text, &self.params) else {
            return false;
        };
        query.filter.is_none()
            && query.sources.len() == 1
            && query.group_by.is_empty()
            && !query.aggregates.is_empty()
            && query
                .aggregates
                .iter()
                .all(|(_, arg)| !clause::reads_var(arg))
            && !clause::reads_rows(&query.select)
    }

    /// The query plan document for SDK-side execution.
    pub(crate) fn plan(&self) -> Result<Value, QueryError> {
        let query = parser::parse(&self.text, &self.params)?;
        rules::check_features(&query, self.features.as_deref()).map_err(QueryError::Body)?;
        if rules::composes_aggregates(&query) {
            return Err(QueryError::body(
                "Compositions of aggregates and other expressions are not allowed.",
            ));
        }
        let plan = plan::plan(&query);
        // The SDK sends the rewritten query back (placeholder filled in): it must run here.
        // It is a little deeper and longer than the original, so near the limits it may not.
        let rewritten = plan["queryInfo"]["rewrittenQuery"]
            .as_str()
            .unwrap_or_default();
        if !rewritten.is_empty() {
            let filled = rewritten.replace(plan::ORDER_BY_FILTER, "true");
            // Parameters stay references (`@p`) in it: the SDK sends them again.
            parser::parse(&filled, &self.params).map_err(|e| QueryError::Plan(Box::new(e)))?;
        }
        Ok(plan)
    }
}

/// `a + b` for JSON numbers: integers stay integers while they fit; `None` when the sum
/// is past the range of a 64-bit float (JSON has no infinity).
pub(crate) fn add_numbers(a: &Value, b: &Value) -> Option<Value> {
    match (a.as_i64(), b.as_i64()) {
        (Some(a), Some(b)) if a.checked_add(b).is_some() => Some(Value::from(a + b)),
        _ => {
            let sum = a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0);
            sum.is_finite().then(|| value::number(sum))
        }
    }
}

/// A refused query: 400 `BadRequest` whose message carries the service's `errors` array
/// (`{"errors":[{"severity","location":{"start","end"},"code","message"}]}`) for what the
/// service's parser refuses too, and the plain text for the emulator's own limits.
pub(crate) fn query_error(error: QueryError) -> ApiError {
    match &error {
        QueryError::Syntax {
            message,
            position,
            end,
            code,
        } => {
            let errors = serde_json::json!({"errors": [{
                "severity": "Error",
                "location": {"start": position, "end": end},
                "code": code,
                "message": format!("{message} (at position {position})"),
            }]});
            ApiError::bad_request(format!(
                "Message: {errors}\r\nActivityId: 00000000-0000-0000-0000-000000000000, Microsoft.Azure.Documents.Common/2.14.0"
            ))
        }
        _ => ApiError::bad_request(error.to_string()),
    }
}

#[cfg(test)]
mod sql_tests;
#[cfg(test)]
mod tests;
