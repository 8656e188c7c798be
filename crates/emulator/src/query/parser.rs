//! Tokens → [`Query`]: the clauses of the SQL subset (expressions are in `expr.rs`), with
//! a positioned error for everything else.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::QueryError;
use super::ast::{Aggregate, Expr, Query, Select};
use super::lexer::{Spanned, Token, tokenize};

/// Keywords that cannot be an alias or a bare name.
const RESERVED: [&str; 29] = [
    "SELECT",
    "FROM",
    "WHERE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "TOP",
    "VALUE",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "OFFSET",
    "LIMIT",
    "JOIN",
    "GROUP",
    "DISTINCT",
    "LIKE",
    "EXISTS",
    "TRUE",
    "FALSE",
    "NULL",
    "UNDEFINED",
    "HAVING",
    "ESCAPE",
    "ARRAY",
];

/// Constructs of the full language this emulator refuses, by their leading keyword.
pub(super) const UNSUPPORTED: [(&str, &str); 1] = [("HAVING", "HAVING")];

/// The most subqueries nested in one another.
pub(crate) const MAX_SUBQUERY_DEPTH: usize = 8;

/// The longest query text accepted (the service's `maxSqlQueryInputLength`).
pub(crate) const MAX_QUERY_LENGTH: usize = 256 * 1024;
/// The deepest expression accepted: parsing and evaluation recurse this deep at most.
pub(crate) const MAX_DEPTH: usize = 64;
/// The most operators and sub-expressions in one query.
pub(crate) const MAX_NODES: usize = 16 * 1024;

/// A query's parameters by name (with the `@`), each value shared by its references.
pub(crate) type Params = BTreeMap<String, Arc<Value>>;

/// Parses `text`, resolving `@name` parameters from `params` (by reference).
pub(crate) fn parse(text: &str, params: &Params) -> Result<Query, QueryError> {
    if text.len() > MAX_QUERY_LENGTH {
        return Err(QueryError::new(
            format!("the query is longer than {MAX_QUERY_LENGTH} bytes"),
            MAX_QUERY_LENGTH,
        ));
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        end: text.len(),
        params,
        aggregates: Vec::new(),
        aggregates_allowed: false,
        scopes: Vec::new(),
        nesting: 0,
        nodes: 0,
    };
    parser.query(false)
}

pub(super) struct Parser<'a> {
    pub(super) tokens: Vec<Spanned>,
    pub(super) at: usize,
    pub(super) end: usize,
    pub(super) params: &'a Params,
    pub(super) aggregates: Vec<(Aggregate, Expr)>,
    pub(super) aggregates_allowed: bool,
    /// The names bound by each enclosing query, outermost first.
    pub(super) scopes: Vec<Vec<String>>,
    /// How deep the recursive descent is now (bounded by [`MAX_DEPTH`]).
    pub(super) nesting: usize,
    /// Operators and sub-expressions parsed so far (bounded by [`MAX_NODES`]).
    pub(super) nodes: usize,
}

impl Parser<'_> {
    pub(super) fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|t| &t.token)
    }

    pub(super) fn pos(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |t| t.pos)
    }

    pub(super) fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(keyword))
    }

    pub(super) fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.is_keyword(keyword);
        if found {
            self.at += 1;
        }
        found
    }

    pub(super) fn eat(&mut self, symbol: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Sym(s)) if *s == symbol);
        if found {
            self.at += 1;
        }
        found
    }

    pub(super) fn expect_keyword(&mut self, keyword: &str) -> Result<(), QueryError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected {keyword}")))
        }
    }

    pub(super) fn expect(&mut self, symbol: &str) -> Result<(), QueryError> {
        if self.eat(symbol) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected `{symbol}`")))
        }
    }

    /// An error at the current token: an unsupported construct by name, or `what`.
    pub(super) fn unexpected(&self, what: &str) -> QueryError {
        let pos = self.pos();
        if let Some(Token::Ident(word)) = self.peek()
            && let Some((_, name)) = UNSUPPORTED
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(word))
        {
            return QueryError::new(format!("{name} is not supported"), pos);
        }
        match self.peek() {
            None => QueryError::coded(
                "SC1002",
                format!("Syntax error, unexpected end-of-file: {what}, found the end of the query"),
                pos,
                pos,
            ),
            Some(token) => QueryError::new(format!("{what}, found {}", describe(token)), pos),
        }
    }

    pub(super) fn name(&mut self, what: &str) -> Result<String, QueryError> {
        match self.peek() {
            Some(Token::Ident(w)) if !reserved(w) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.unexpected(&format!("expected {what}"))),
        }
    }

    /// A non-negative integer literal or parameter (`TOP`, `OFFSET`, `LIMIT`).
    pub(super) fn count(&mut self, clause: &str) -> Result<u64, QueryError> {
        let pos = self.pos();
        let value = match self.peek().cloned() {
            Some(Token::Number(n)) => Value::from(n),
            Some(Token::Param(name)) => {
                let value = self.param(&name, pos)?;
                Value::clone(&value)
            }
            _ => return Err(self.unexpected(&format!("expected a number after {clause}"))),
        };
        self.at += 1;
        value
            .as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= 1e15)
            .map(|n| n as u64)
            .ok_or_else(|| QueryError::new(format!("{clause} needs a non-negative integer"), pos))
    }

    pub(super) fn param(&self, name: &str, pos: usize) -> Result<Arc<Value>, QueryError> {
        self.params
            .get(&format!("@{name}"))
            .or_else(|| self.params.get(name))
            .map(Arc::clone)
            .ok_or_else(|| QueryError::new(format!("parameter @{name} is not defined"), pos))
    }

    pub(super) fn select(&mut self) -> Result<Select, QueryError> {
        if self.eat("*") {
            return Ok(Select::Star);
        }
        if self.eat_keyword("VALUE") {
            return Ok(Select::Value(self.expr()?));
        }
        let mut fields = Vec::new();
        loop {
            let expr = self.expr()?;
            let name = if self.eat_keyword("AS")
                || matches!(self.peek(), Some(Token::Ident(w)) if !reserved(w))
            {
                self.name("a field name")?
            } else {
                match &expr {
                    Expr::Member(_, name) => name.clone(),
                    Expr::Index(_, index) => match index.as_ref() {
                        Expr::Literal(Value::String(name)) => name.clone(),
                        Expr::Param(_, value) if value.is_string() => {
                            value.as_str().unwrap_or_default().to_string()
                        }
                        _ => format!("${}", fields.len() + 1),
                    },
                    _ => format!("${}", fields.len() + 1),
                }
            };
            fields.push((name, expr));
            if !self.eat(",") {
                return Ok(Select::Fields(fields));
            }
        }
    }
}

pub(super) fn reserved(word: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(w) => format!("`{w}`"),
        Token::Param(p) => format!("`@{p}`"),
        Token::Number(n) => format!("`{n}`"),
        Token::Str(s) => format!("{}", Value::from(s.as_str())),
        Token::Sym(s) => format!("`{s}`"),
    }
}
