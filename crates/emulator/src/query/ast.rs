//! The query's syntax tree, and its printing back to SQL (for rewritten queries in plans).

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// A parsed query over one container.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    /// `TOP n`.
    pub(crate) top: Option<u64>,
    /// What each result is.
    pub(crate) select: Select,
    /// The container name after `FROM` (any name; the service ignores it).
    pub(crate) container: String,
    /// The alias items are referred to by (`c` in `FROM c` and in `FROM root c`).
    pub(crate) alias: String,
    /// `WHERE`.
    pub(crate) filter: Option<Expr>,
    /// `ORDER BY` keys; `true` = descending.
    pub(crate) order_by: Vec<(Expr, bool)>,
    /// `OFFSET m`.
    pub(crate) offset: Option<u64>,
    /// `LIMIT n`.
    pub(crate) limit: Option<u64>,
    /// Every aggregate call in the select clause; `Expr::Aggregate(_, i)` refers to entry i.
    pub(crate) aggregates: Vec<(Aggregate, Expr)>,
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

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A JSON literal.
    Literal(Value),
    /// A parameter, `@name`: its value is shared by every reference, never copied.
    Param(String, Arc<Value>),
    /// The `undefined` literal.
    Undefined,
    /// The item itself (the `FROM` alias).
    Root,
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
    /// A scalar function call.
    Call(Function, Vec<Expr>),
    /// The i-th aggregate of the query.
    Aggregate(Aggregate, usize),
    /// `[a, b]`.
    Array(Vec<Expr>),
    /// `{"k": v}`.
    Object(Vec<(String, Expr)>),
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
    fn symbol(self) -> &'static str {
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

/// The scalar functions, with their argument counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    IsDefined,
    IsNull,
    IsNumber,
    IsString,
    IsBool,
    IsArray,
    IsObject,
    StartsWith,
    EndsWith,
    Contains,
    ArrayContains,
    ArrayLength,
    Lower,
    Upper,
    Length,
    Substring,
    Concat,
    Abs,
    Floor,
    Ceiling,
    Round,
}

const FUNCTIONS: [(Function, &str, usize, usize); 21] = [
    (Function::IsDefined, "IS_DEFINED", 1, 1),
    (Function::IsNull, "IS_NULL", 1, 1),
    (Function::IsNumber, "IS_NUMBER", 1, 1),
    (Function::IsString, "IS_STRING", 1, 1),
    (Function::IsBool, "IS_BOOL", 1, 1),
    (Function::IsArray, "IS_ARRAY", 1, 1),
    (Function::IsObject, "IS_OBJECT", 1, 1),
    (Function::StartsWith, "STARTSWITH", 2, 3),
    (Function::EndsWith, "ENDSWITH", 2, 3),
    (Function::Contains, "CONTAINS", 2, 3),
    (Function::ArrayContains, "ARRAY_CONTAINS", 2, 3),
    (Function::ArrayLength, "ARRAY_LENGTH", 1, 1),
    (Function::Lower, "LOWER", 1, 1),
    (Function::Upper, "UPPER", 1, 1),
    (Function::Length, "LENGTH", 1, 1),
    (Function::Substring, "SUBSTRING", 3, 3),
    (Function::Concat, "CONCAT", 2, usize::MAX),
    (Function::Abs, "ABS", 1, 1),
    (Function::Floor, "FLOOR", 1, 1),
    (Function::Ceiling, "CEILING", 1, 1),
    (Function::Round, "ROUND", 1, 1),
];

impl Function {
    /// The function named `name` (case-insensitive) and its (min, max) argument counts.
    pub(crate) fn from_name(name: &str) -> Option<(Self, usize, usize)> {
        FUNCTIONS
            .iter()
            .find(|(_, n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|&(f, _, min, max)| (f, min, max))
    }

    fn sql(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(f, ..)| *f == self)
            .map_or("?", |(_, n, ..)| n)
    }
}

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
            Expr::Root => f.write_str(&self.query.alias),
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
