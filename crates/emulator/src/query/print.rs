//! Printing the syntax tree back to SQL, for the rewritten queries of plans.

use std::fmt;

use serde_json::Value;

use super::ast::{Expr, Query, Select, SubqueryKind, UnaryOp};
use super::parser::reserved;

/// Prints an expression as SQL, with `alias` for the item and `aggregates` for the
/// query's aggregate calls.
pub(crate) struct Sql<'a> {
    pub(crate) expr: &'a Expr,
    pub(crate) query: &'a Query,
}

impl fmt::Display for Sql<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sub = |expr: &'_ Expr| {
            Sql {
                expr,
                query: self.query,
            }
            .to_string()
        };
        let list = |items: &[Expr]| items.iter().map(sub).collect::<Vec<_>>().join(", ");
        match self.expr {
            Expr::Literal(value) => write!(f, "{value}"),
            Expr::Param(name, _) => write!(f, "@{name}"),
            Expr::Undefined => f.write_str("undefined"),
            Expr::Var { name, .. } => f.write_str(name),
            Expr::Member(base, name) => {
                let plain = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    write!(f, "{}.{name}", sub(base))
                } else {
                    write!(f, "{}[{}]", sub(base), Value::from(name.as_str()))
                }
            }
            Expr::Index(base, index) => write!(f, "{}[{}]", sub(base), sub(index)),
            Expr::Unary(UnaryOp::Not, e) => write!(f, "(NOT {})", sub(e)),
            Expr::Unary(UnaryOp::Neg, e) => write!(f, "(-{})", sub(e)),
            Expr::Unary(UnaryOp::Plus, e) => write!(f, "(+{})", sub(e)),
            Expr::Binary(op, l, r) => write!(f, "({} {} {})", sub(l), op.symbol(), sub(r)),
            Expr::In(e, items, negated) => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({} {not}IN ({}))", sub(e), list(items))
            }
            Expr::Between(e, low, high, negated) => write!(
                f,
                "({} {}BETWEEN {} AND {})",
                sub(e),
                if *negated { "NOT " } else { "" },
                sub(low),
                sub(high)
            ),
            Expr::Like(e, pattern, escape, negated) => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({} {not}LIKE {}", sub(e), sub(pattern))?;
                if let Some(escape) = escape {
                    write!(f, " ESCAPE {}", sub(escape))?;
                }
                f.write_str(")")
            }
            Expr::Ternary(c, a, b) => write!(f, "({} ? {} : {})", sub(c), sub(a), sub(b)),
            Expr::Coalesce(a, b) => write!(f, "({} ?? {})", sub(a), sub(b)),
            Expr::Subquery(kind, query) => {
                let keyword = match kind {
                    SubqueryKind::Exists => "EXISTS",
                    SubqueryKind::Array => "ARRAY",
                    SubqueryKind::Scalar => "",
                };
                write!(f, "{keyword}({})", query_sql(query))
            }
            Expr::Call(function, args) => {
                write!(f, "{}({})", function.sql(), list(args))
            }
            Expr::Aggregate(aggregate, i) => match self.query.aggregates.get(*i) {
                Some((_, arg)) => write!(f, "{}({})", aggregate.sql(), sub(arg)),
                None => write!(f, "{}(undefined)", aggregate.sql()),
            },
            Expr::Array(items) => {
                write!(f, "[{}]", list(items))
            }
            Expr::Object(fields) => {
                f.write_str("{")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", Value::from(name.as_str()), sub(value))?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A name printable bare (`c.name`, `AS name`).
pub(crate) fn plain(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !reserved(name)
}

/// The select list of `query` as SQL (after `SELECT [DISTINCT] [TOP n]`).
pub(crate) fn select_sql(query: &Query) -> String {
    let sql = |expr: &Expr| Sql { expr, query }.to_string();
    match &query.select {
        Select::Star => "*".to_string(),
        Select::Value(expr) => format!("VALUE {}", sql(expr)),
        Select::Fields(fields) => fields
            .iter()
            .map(|(name, e)| {
                // A name the parser derived (`$1`) derives again from the printed
                // expression; only a plain identifier can follow AS.
                if plain(name) {
                    format!("{} AS {name}", sql(e))
                } else {
                    sql(e)
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// `FROM … [JOIN …]` of `query`.
pub(crate) fn from_sql(query: &Query) -> String {
    let sql = |expr: &Expr| Sql { expr, query }.to_string();
    let mut text = String::from("FROM ");
    for (i, source) in query.sources.iter().enumerate() {
        if i > 0 {
            text.push_str(" JOIN ");
        }
        match (&source.over, &query.container) {
            (Some(over), _) => text.push_str(&format!("{} IN {}", source.name, sql(over))),
            (None, Some(container)) => text.push_str(&format!("{container} {}", source.name)),
            (None, None) => text.push_str(&source.name),
        }
    }
    text
}

/// The whole query as SQL.
pub(crate) fn query_sql(query: &Query) -> String {
    let sql = |expr: &Expr| Sql { expr, query }.to_string();
    let mut text = String::from("SELECT ");
    if query.distinct {
        text.push_str("DISTINCT ");
    }
    if let Some(top) = query.top {
        text.push_str(&format!("TOP {top} "));
    }
    text.push_str(&select_sql(query));
    text.push(' ');
    text.push_str(&from_sql(query));
    if let Some(filter) = &query.filter {
        text.push_str(&format!(" WHERE {}", sql(filter)));
    }
    if !query.group_by.is_empty() {
        let keys: Vec<String> = query.group_by.iter().map(sql).collect();
        text.push_str(&format!(" GROUP BY {}", keys.join(", ")));
    }
    if !query.order_by.is_empty() {
        let keys: Vec<String> = query
            .order_by
            .iter()
            .map(|(k, d)| format!("{}{}", sql(k), if *d { " DESC" } else { " ASC" }))
            .collect();
        text.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    if let (Some(offset), Some(limit)) = (query.offset, query.limit) {
        text.push_str(&format!(" OFFSET {offset} LIMIT {limit}"));
    }
    text
}
