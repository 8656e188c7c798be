//! The clauses after `SELECT …`: `FROM` with its `JOIN`s, `WHERE`, `GROUP BY`, `ORDER BY`,
//! `OFFSET … LIMIT`, the names they bind, and the checks on a whole query.

use super::QueryError;
use super::ast::{Expr, Query, Select, Source};
use super::lexer::Token;
use super::parser::{Parser, reserved};

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
        while self.eat_keyword("JOIN") {
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
    if !query.group_by.is_empty() && matches!(query.select, Select::Star) {
        return Err(QueryError::coded(
            "SC2102",
            "'SELECT *' is not valid with GROUP BY.",
            select_pos,
            select_pos + 1,
        ));
    }
    if !query.order_by.is_empty() && (!query.aggregates.is_empty() || !query.group_by.is_empty()) {
        return Err(QueryError::coded(
            "SC2104",
            "ORDER BY is not supported together with aggregates or GROUP BY.",
            order_pos,
            order_pos,
        ));
    }
    Ok(())
}

/// Whether a select clause with aggregates also reads the rows outside them.
fn reads_rows(select: &Select) -> bool {
    match select {
        Select::Star => true,
        Select::Value(expr) => reads_var(expr),
        Select::Fields(fields) => fields.iter().any(|(_, e)| reads_var(e)),
    }
}

fn reads_var(expr: &Expr) -> bool {
    match expr {
        Expr::Var { up: 0, .. } => true,
        Expr::Subquery(..) => false,
        other => other.children().into_iter().any(reads_var),
    }
}
