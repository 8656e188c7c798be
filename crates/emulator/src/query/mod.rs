//! The SQL subset: lexer → parser → evaluator, plus query plans for SDK-side execution.
//!
//! Entry points take the query text and its parameters (`{"query", "parameters"}`) and
//! return every result or a [`QueryError`] naming the construct and its byte position.

mod ast;
mod eval;
mod exec;
mod lexer;
mod parser;
mod plan;

use serde_json::{Map, Value};

/// A query the emulator refuses: outside the subset, malformed, or badly parameterised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", .position.map(|p| format!(" at position {p}")).unwrap_or_default())]
pub(crate) struct QueryError {
    pub(crate) message: String,
    pub(crate) position: Option<usize>,
}

impl QueryError {
    pub(crate) fn new(message: impl Into<String>, position: usize) -> Self {
        Self {
            message: message.into(),
            position: Some(position),
        }
    }

    fn body(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            position: None,
        }
    }
}

/// A query request body: `{"query": "...", "parameters": [{"name": "@x", "value": 1}]}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuerySpec {
    text: String,
    params: Map<String, Value>,
}

impl QuerySpec {
    /// Reads a request body (a JSON object, or a bare SQL string for hand-written clients).
    pub(crate) fn from_body(body: &Value) -> Result<Self, QueryError> {
        let text = match body {
            Value::String(text) => return Ok(Self::new(text.clone(), Map::new())),
            Value::Object(map) => map.get("query").and_then(Value::as_str),
            _ => None,
        }
        .ok_or_else(|| {
            QueryError::body("the body must be {\"query\": \"...\", \"parameters\": [...]}")
        })?;
        let mut params = Map::new();
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
                        params.insert(name.to_string(), value.clone());
                    }
                }
            }
            Some(_) => return Err(QueryError::body("`parameters` must be an array")),
        }
        Ok(Self::new(text.to_string(), params))
    }

    /// A query text with its parameters (names with their `@`).
    pub(crate) fn new(text: String, params: Map<String, Value>) -> Self {
        Self { text, params }
    }

    /// Runs the query over `items`; every result in order.
    pub(crate) fn run<'a>(
        &self,
        items: impl IntoIterator<Item = &'a Value>,
    ) -> Result<Vec<Value>, QueryError> {
        let query = parser::parse(&self.text, &self.params)?;
        Ok(exec::run(&query, items))
    }

    /// The query plan document for SDK-side execution.
    pub(crate) fn plan(&self) -> Result<Value, QueryError> {
        let query = parser::parse(&self.text, &self.params)?;
        Ok(plan::plan(&query))
    }
}

/// `a + b` for JSON numbers: integers stay integers while they fit.
pub(crate) fn add_numbers(a: &Value, b: &Value) -> Value {
    match (a.as_i64(), b.as_i64()) {
        (Some(a), Some(b)) if a.checked_add(b).is_some() => Value::from(a + b),
        _ => parser::number(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
    }
}

#[cfg(test)]
mod tests;
