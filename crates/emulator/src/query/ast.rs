//! The query's syntax tree (printed back to SQL by `print.rs`).

use std::sync::Arc;

use serde_json::Value;

pub(crate) use super::function::Function;

/// A parsed query: the top-level one over a container, or a subquery over an array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    /// `TOP n`.
    pub(crate) top: Option<u64>,
    /// `SELECT DISTINCT`.
    pub(crate) distinct: bool,
    /// What each result is.
    pub(crate) select: Select,
    /// The container name after `FROM` (any name; the service ignores it); `None` in a
    /// subquery, whose first source iterates an array.
    pub(crate) container: Option<String>,
    /// The bindings of a row, in order: the `FROM` source, then each `JOIN`. Slot `i` of a
    /// row is `sources[i]`; `Expr::Var` refers to it.
    pub(crate) sources: Vec<Source>,
    /// `WHERE`.
    pub(crate) filter: Option<Expr>,
    /// `GROUP BY` keys.
    pub(crate) group_by: Vec<Expr>,
    /// `ORDER BY` keys; `true` = descending.
    pub(crate) order_by: Vec<(Expr, bool)>,
    /// `OFFSET m`.
    pub(crate) offset: Option<u64>,
    /// `LIMIT n`.
    pub(crate) limit: Option<u64>,
    /// Every aggregate call in the select clause; `Expr::Aggregate(_, i)` refers to entry i.
    pub(crate) aggregates: Vec<(Aggregate, Expr)>,
}

impl Query {
    /// The name the item is referred to by (`c` in `FROM c` and in `FROM root c`).
    pub(crate) fn alias(&self) -> &str {
        self.sources.first().map_or("c", |s| s.name.as_str())
    }

    /// Whether the select clause is only aggregates (one result row over all rows).
    pub(crate) fn aggregates_only(&self) -> bool {
        !self.aggregates.is_empty() && self.group_by.is_empty()
    }
}

/// One binding of a row: `FROM name` (the item), `FROM name IN expr` or `JOIN name IN expr`
/// (each element of an array).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Source {
    /// The name it is referred to by.
    pub(crate) name: String,
    /// The array iterated; `None` for the container's item.
    pub(crate) over: Option<Expr>,
}

/// The select clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Select {
    /// `SELECT *`.
    Star,
    /// `SELECT VALUE expr`.
    Value(Expr),
    /// `SELECT expr [AS name], …`: the names are resolved (alias, last path segment or `$n`).
    Fields(Vec<(String, Expr)>),
}

/// What a subquery in an expression answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubqueryKind {
    /// `EXISTS (…)`: whether it has a result.
    Exists,
    /// `ARRAY (…)`: its results as an array.
    Array,
    /// `(…)`: its first result (undefined without one).
    Scalar,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A JSON literal.
    Literal(Value),
    /// A parameter, `@name`: its value is shared by every reference, never copied.
    Param(String, Arc<Value>),
    /// The `undefined` literal.
    Undefined,
    /// A binding: slot `slot` of the row `up` queries outwards (0 = this query's row).
    Var {
        /// The name it was written with.
        name: String,
        /// How many enclosing queries out the binding is.
        up: usize,
        /// Its slot in that query's row.
        slot: usize,
    },
    /// `e.name`.
    Member(Box<Expr>, String),
    /// `e[index]`.
    Index(Box<Expr>, Box<Expr>),
    /// A unary operator.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `e [NOT] IN (…)`.
    In(Box<Expr>, Vec<Expr>, bool),
    /// `e [NOT] BETWEEN low AND high`.
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    /// `e [NOT] LIKE pattern [ESCAPE 'c']`.
    Like(Box<Expr>, Box<Expr>, Option<Box<Expr>>, bool),
    /// `cond ? a : b`.
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a ?? b`.
    Coalesce(Box<Expr>, Box<Expr>),
    /// A scalar function call.
    Call(Function, Vec<Expr>),
    /// The i-th aggregate of the query.
    Aggregate(Aggregate, usize),
    /// A subquery, correlated with the rows around it.
    Subquery(SubqueryKind, Box<Query>),
    /// `[a, b]`.
    Array(Vec<Expr>),
    /// `{"k": v}`.
    Object(Vec<(String, Expr)>),
}

impl Expr {
    /// A chain `a OP b OP c …` of an associative operator (`AND`, `OR`: three-valued logic
    /// groups either way) as a balanced tree, operands kept in order: a query the SDK
    /// generates with a thousand `OR`s (`read_items`) is ten levels deep, not a thousand.
    pub(crate) fn balanced(op: BinaryOp, mut operands: Vec<Expr>) -> Expr {
        match operands.len() {
            0 => Expr::Literal(Value::Null),
            1 => operands.pop().unwrap_or(Expr::Literal(Value::Null)),
            n => {
                let right = operands.split_off(n / 2);
                Expr::Binary(
                    op,
                    Box::new(Self::balanced(op, operands)),
                    Box::new(Self::balanced(op, right)),
                )
            }
        }
    }

    /// Every direct sub-expression (not inside subqueries).
    pub(crate) fn children(&self) -> Vec<&Expr> {
        match self {
            Self::Literal(_)
            | Self::Param(..)
            | Self::Undefined
            | Self::Var { .. }
            | Self::Aggregate(..)
            | Self::Subquery(..) => Vec::new(),
            Self::Member(e, _) | Self::Unary(_, e) => vec![e],
            Self::Index(a, b) | Self::Binary(_, a, b) | Self::Coalesce(a, b) => vec![a, b],
            Self::In(e, items, _) => std::iter::once(e.as_ref()).chain(items).collect(),
            Self::Between(a, b, c, _) | Self::Ternary(a, b, c) => vec![a, b, c],
            Self::Like(a, b, c, _) => [Some(a.as_ref()), Some(b.as_ref()), c.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
            Self::Call(_, items) | Self::Array(items) => items.iter().collect(),
            Self::Object(fields) => fields.iter().map(|(_, e)| e).collect(),
        }
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    /// `NOT`.
    Not,
    /// `-`.
    Neg,
    /// `+`.
    Plus,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinaryOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::Or => "OR",
            Self::And => "AND",
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Concat => "||",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
        }
    }
}

/// The aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

impl Aggregate {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "COUNT" => Self::Count,
            "SUM" => Self::Sum,
            "MIN" => Self::Min,
            "MAX" => Self::Max,
            "AVG" => Self::Avg,
            _ => return None,
        })
    }

    /// The SQL name.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::Count => "COUNT",
            Self::Sum => "SUM",
            Self::Min => "MIN",
            Self::Max => "MAX",
            Self::Avg => "AVG",
        }
    }

    /// The name query plans use (`"Count"`, `"Average"`…).
    pub(crate) fn plan_name(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Sum => "Sum",
            Self::Min => "Min",
            Self::Max => "Max",
            Self::Avg => "Average",
        }
    }
}

/// Whether `expr` is deeper than `limit` (recursing at most `limit` levels; a subquery's
/// clauses count as one level below it).
pub(crate) fn too_deep(expr: &Expr, limit: usize) -> bool {
    let Some(limit) = limit.checked_sub(1) else {
        return true;
    };
    if let Expr::Subquery(_, query) = expr {
        return query_exprs(query).any(|e| too_deep(e, limit));
    }
    expr.children().into_iter().any(|e| too_deep(e, limit))
}

/// Every expression directly in a query's clauses.
fn query_exprs(query: &Query) -> impl Iterator<Item = &Expr> {
    let select: Vec<&Expr> = match &query.select {
        Select::Star => Vec::new(),
        Select::Value(e) => vec![e],
        Select::Fields(fields) => fields.iter().map(|(_, e)| e).collect(),
    };
    select
        .into_iter()
        .chain(query.sources.iter().filter_map(|s| s.over.as_ref()))
        .chain(query.filter.as_ref())
        .chain(&query.group_by)
        .chain(query.order_by.iter().map(|(e, _)| e))
        .chain(query.aggregates.iter().map(|(_, e)| e))
}
