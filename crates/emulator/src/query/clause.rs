//! The clauses after `SELECT …`: `FROM` with its `JOIN`s, `WHERE`, `GROUP BY`, `ORDER BY`,
//! `OFFSET … LIMIT`, the names they bind, and the checks on a whole query.

use super::QueryError;
use super::ast::{Expr, Query, Select, Source, SubqueryKind};
use super::lexer::Token;
use super::parser::{MAX_SUBQUERY_DEPTH, Parser, reserved};

/// The most `JOIN`s in one (sub)query, as the service allows by default.
const MAX_JOINS: usize = 10;

/// The clauses after `FROM`'s sources.
pub(super) struct Rest {
    pub(super) filter: Option<Expr>,
    pub(super) group_by: Vec<Expr>,
    pub(super) order_by: Vec<(Expr, bool)>,
    /// Where `ORDER BY` starts, for its refusals.
    pub(super) order_pos: usize,
    pub(super) offset: Option<u64>,
    pub(super) limit: Option<u64>,
}

/// A query's container name (top level only), its sources and the clauses after them.
pub(super) type Clauses = (Option<String>, Vec<Source>, Rest);

impl Parser<'_> {
    /// A query, or (`nested`) a subquery ending at its closing parenthesis.
    pub(super) fn query(&mut self, nested: bool) -> Result<Query, QueryError> {
        if self.scopes.len() > MAX_SUBQUERY_DEPTH {
            return Err(QueryError::new(
                format!("subqueries nested deeper than {MAX_SUBQUERY_DEPTH} are not supported"),
                self.pos(),
            ));
        }
        self.expect_keyword("SELECT")?;
        let distinct = self.eat_keyword("DISTINCT");
        let top = if self.eat_keyword("TOP") {
            Some(self.count("TOP")?)
        } else {
            None
        };
        // The names the select clause uses are bound after it: read FROM … first.
        let select_at = self.at;
        let from_at = self.find_from()?;
        self.at = from_at + 1;
        let outer_aggregates = std::mem::take(&mut self.aggregates);
        let outer_allowed = std::mem::replace(&mut self.aggregates_allowed, false);
        self.scopes.push(Vec::new());
        let clauses = self.clauses(nested, top.is_some());
        let end_at = self.at;
        let query = clauses.and_then(|(container, sources, rest)| {
            self.at = select_at;
            self.aggregates_allowed = true;
            let select_pos = self.pos();
            let select = self.select()?;
            self.aggregates_allowed = false;
            if self.at != from_at {
                return Err(self.unexpected("expected FROM"));
            }
            let query = Query {
                top,
                distinct,
                select,
                container,
                sources,
                filter: rest.filter,
                group_by: rest.group_by,
                order_by: rest.order_by,
                offset: rest.offset,
                limit: rest.limit,
                aggregates: std::mem::take(&mut self.aggregates),
            };
            check(&query, select_pos, rest.order_pos)?;
            Ok(query)
        });
        self.scopes.pop();
        self.aggregates = outer_aggregates;
        self.aggregates_allowed = outer_allowed;
        self.at = end_at;
        query
    }

    /// The token index of this query's `FROM` (outside any brackets).
    fn find_from(&mut self) -> Result<usize, QueryError> {
        let mut depth = 0_i32;
        let mut at = self.at;
        while let Some(spanned) = self.tokens.get(at) {
            match &spanned.token {
                Token::Sym("(" | "[" | "{") => depth += 1,
                Token::Sym(")" | "]" | "}") => {
                    depth -= 1;
                    if depth < 0 {
                        break;
                    }
                }
                Token::Ident(w) if depth == 0 && w.eq_ignore_ascii_case("FROM") => {
                    return Ok(at);
                }
                _ => {}
            }
            at += 1;
        }
        let pos = self.tokens.get(at).map_or(self.end, |t| t.pos);
        Err(QueryError::new("expected FROM", pos))
    }

    /// `(SELECT …)` after its opening parenthesis, to its closing one.
    pub(super) fn subquery(&mut self, kind: SubqueryKind) -> Result<Expr, QueryError> {
        self.enter()?;
        let query = self.query(true);
        self.nesting -= 1;
        let query = query?;
        self.expect(")")?;
        Ok(Expr::Subquery(kind, Box::new(query)))
    }

    /// `FROM …` (after the keyword) to the end of the (sub)query.
    pub(super) fn clauses(&mut self, nested: bool, has_top: bool) -> Result<Clauses, QueryError> {
        let mut sources = Vec::new();
        let container = if nested {
            // A subquery iterates an array of the rows around it: `FROM x IN expr`.
            let name = self.name("a name to iterate with")?;
            if !self.eat_keyword("IN") {
                return Err(self.unexpected("expected IN (a subquery iterates an array)"));
            }
            let over = self.expr()?;
            self.bind(&name);
            sources.push(Source {
                name,
                over: Some(over),
            });
            None
        } else {
            let container = self.name("a container name")?;
            if self.is_keyword("IN") {
                return Err(QueryError::new(
                    "FROM … IN over the container is not supported: use FROM c JOIN x IN c.path",
                    self.pos(),
                ));
            }
            self.eat_keyword("AS");
            let alias = if matches!(self.peek(), Some(Token::Ident(w)) if !reserved(w)) {
                self.name("an alias")?
            } else {
                container.clone()
            };
            self.bind(&alias);
            sources.push(Source {
                name: alias,
                over: None,
            });
            Some(container)
        };
        while self.is_keyword("JOIN") {
            if sources.len() > MAX_JOINS {
                return Err(QueryError::new(
                    format!("more than {MAX_JOINS} JOINs in one query are not supported"),
                    self.pos(),
                ));
            }
            self.at += 1;
            let name = self.name("a name to join with")?;
            self.expect_keyword("IN")?;
            let over = self.expr()?;
            self.bind(&name);
            sources.push(Source {
                name,
                over: Some(over),
            });
        }
        let filter = if self.eat_keyword("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.eat_keyword("GROUP") {
            self.expect_keyword("BY")?;
            loop {
                group_by.push(self.expr()?);
                if !self.eat(",") {
                    break;
                }
            }
        }
        let order_pos = self.pos();
        let mut order_by = Vec::new();
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            loop {
                let key = self.expr()?;
                let descending = if self.eat_keyword("DESC") {
                    true
                } else {
                    self.eat_keyword("ASC");
                    false
                };
                order_by.push((key, descending));
                if !self.eat(",") {
                    break;
                }
            }
        }
        let (mut offset, mut limit) = (None, None);
        if self.is_keyword("OFFSET") && has_top {
            return Err(QueryError::new(
                "TOP together with OFFSET LIMIT is not supported",
                self.pos(),
            ));
        }
        if self.eat_keyword("OFFSET") {
            offset = Some(self.count("OFFSET")?);
            self.expect_keyword("LIMIT")?;
            limit = Some(self.count("LIMIT")?);
        }
        let ended = if nested {
            matches!(self.peek(), Some(Token::Sym(")")))
        } else {
            self.peek().is_none()
        };
        if !ended {
            return Err(self.unexpected("expected the end of the query"));
        }
        let rest = Rest {
            filter,
            group_by,
            order_by,
            order_pos,
            offset,
            limit,
        };
        Ok((container, sources, rest))
    }

    fn bind(&mut self, name: &str) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(name.to_string());
        }
    }

    /// The binding `word` names, innermost first; `None` if nothing binds it.
    pub(super) fn resolve(&self, word: &str) -> Option<Expr> {
        self.scopes
            .iter()
            .rev()
            .enumerate()
            .find_map(|(up, scope)| {
                let slot = scope.iter().rposition(|name| name == word)?;
                Some(Expr::Var {
                    name: word.to_string(),
                    up,
                    slot,
                })
            })
    }
}

/// The checks on a whole query the service makes too.
pub(super) fn check(query: &Query, select_pos: usize, order_pos: usize) -> Result<(), QueryError> {
    if matches!(query.select, Select::Star) && query.sources.len() > 1 {
        return Err(QueryError::coded(
            "SC2031",
            "'SELECT *' is only valid with a single input set.",
            select_pos,
            select_pos + 1,
        ));
    }
    if query.aggregates_only() && reads_rows(&query.select) {
        return Err(QueryError::coded(
            "SC2102",
            "Property reference is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.",
            select_pos,
            select_pos,
        ));
    }
    if !query.group_by.is_empty() && !select_is_grouped(query) {
        return Err(QueryError::coded(
            "SC2102",
            "Property reference is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.",
            select_pos,
            select_pos,
        ));
    }
    if !query.group_by.is_empty() && matches!(query.select, Select::Star) {
        return Err(QueryError::coded(
            "SC2102",
            "'SELECT *' is not valid with GROUP BY.",
            select_pos,
            select_pos + 1,
        ));
    }
    // The service takes ORDER BY beside aggregates without GROUP BY (one result row: the
    // order changes nothing), and refuses it with GROUP BY.
    if !query.order_by.is_empty() && !query.group_by.is_empty() {
        return Err(QueryError::coded(
            "SC2104",
            "ORDER BY is not supported together with GROUP BY.",
            order_pos,
            order_pos,
        ));
    }
    Ok(())
}

/// Whether every value the select clause reads outside aggregates is a `GROUP BY` key (or
/// built from keys and literals).
fn select_is_grouped(query: &Query) -> bool {
    fn grouped(expr: &Expr, keys: &[Expr]) -> bool {
        if keys.contains(expr) {
            return true;
        }
        match expr {
            Expr::Var { up: 0, .. } => false,
            Expr::Aggregate(..) | Expr::Subquery(..) => true,
            other => other.children().into_iter().all(|e| grouped(e, keys)),
        }
    }
    match &query.select {
        Select::Star => true,
        Select::Value(expr) => grouped(expr, &query.group_by),
        Select::Fields(fields) => fields.iter().all(|(_, e)| grouped(e, &query.group_by)),
    }
}

/// Whether a select clause with aggregates also reads the rows outside them.
pub(super) fn reads_rows(select: &Select) -> bool {
    match select {
        Select::Star => true,
        Select::Value(expr) => reads_var(expr),
        Select::Fields(fields) => fields.iter().any(|(_, e)| reads_var(e)),
    }
}

pub(super) fn reads_var(expr: &Expr) -> bool {
    match expr {
        Expr::Var { up: 0, .. } => true,
        Expr::Subquery(..) => false,
        other => other.children().into_iter().any(reads_var),
    }
}
