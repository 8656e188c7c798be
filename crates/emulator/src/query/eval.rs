//! Expression evaluation with the service's semantics: `None` is *undefined*, comparisons
//! across types are undefined, and a filter keeps an item only when it is exactly `true`.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::ast::{BinaryOp, Expr, Query, SubqueryKind, UnaryOp};
use super::builtin::call;
use super::text::like;
use super::value::{Val, number};
use super::work::{Work, text_units};

/// Runs a subquery in the scope of the row around it: every result, or `None` once the
/// budget is spent. (A function pointer, so evaluation and execution do not name each other.)
pub(crate) type RunSubquery = for<'s, 'a> fn(&'a Query, &Scope<'s, 'a>) -> Option<Vec<Value>>;

/// What an expression is evaluated against: the row's bindings (and the rows of the
/// queries around it), the aggregate results (if any) and the query's work budget.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'s, 'a> {
    /// This query's row: one value per source.
    pub(crate) vars: &'s [Val<'a>],
    /// The row of the query around this one (for a subquery).
    pub(crate) outer: Option<&'s Scope<'s, 'a>>,
    pub(crate) aggregates: &'s [Option<Value>],
    pub(crate) work: &'s Work,
    pub(crate) subquery: RunSubquery,
}

/// The value of binding `slot` of the row `up` scopes out.
fn var<'a>(scope: &Scope<'_, 'a>, up: usize, slot: usize) -> Option<Val<'a>> {
    let mut scope = scope;
    for _ in 0..up {
        scope = scope.outer?;
    }
    match scope.vars.get(slot)? {
        Cow::Borrowed(value) => Some(Cow::Borrowed(value)),
        // A computed array's element: copied (and charged) on each use.
        Cow::Owned(value) => scope.work.own(Cow::Borrowed(value)).map(Cow::Owned),
    }
}

/// Evaluates `expr`; `None` is undefined (and every value, once the budget is spent).
pub(crate) fn eval<'a>(expr: &'a Expr, scope: &Scope<'_, 'a>) -> Option<Val<'a>> {
    if !scope.work.step() {
        return None;
    }
    match expr {
        Expr::Literal(value) => Some(Cow::Borrowed(value)),
        Expr::Param(_, value) => Some(Cow::Borrowed(value.as_ref())),
        Expr::Undefined => None,
        Expr::Var { up, slot, .. } => var(scope, *up, *slot),
        Expr::Member(base, name) => member(eval(base, scope)?, name),
        Expr::Index(base, index) => {
            let index = eval(index, scope)?;
            let base = eval(base, scope)?;
            match index.as_ref() {
                Value::String(name) => member(base, name),
                Value::Number(n) => element(base, usize::try_from(n.as_u64()?).ok()?),
                _ => None,
            }
        }
        Expr::Unary(op, operand) => {
            let value = eval(operand, scope)?;
            match (op, value.as_ref()) {
                (UnaryOp::Not, Value::Bool(b)) => Some(Cow::Owned(Value::Bool(!b))),
                (UnaryOp::Neg, Value::Number(n)) => Some(Cow::Owned(number(-n.as_f64()?))),
                (UnaryOp::Plus, Value::Number(_)) => Some(value),
                _ => None,
            }
        }
        Expr::Binary(BinaryOp::And, left, right) => {
            let (l, r) = (eval(left, scope), eval(right, scope));
            let result = match (l.as_deref(), r.as_deref()) {
                (Some(Value::Bool(false)), _) | (_, Some(Value::Bool(false))) => false,
                (Some(Value::Bool(true)), Some(Value::Bool(true))) => true,
                _ => return None,
            };
            Some(Cow::Owned(Value::Bool(result)))
        }
        Expr::Binary(BinaryOp::Or, left, right) => {
            let (l, r) = (eval(left, scope), eval(right, scope));
            let result = match (l.as_deref(), r.as_deref()) {
                (Some(Value::Bool(true)), _) | (_, Some(Value::Bool(true))) => true,
                (Some(Value::Bool(false)), Some(Value::Bool(false))) => false,
                _ => return None,
            };
            Some(Cow::Owned(Value::Bool(result)))
        }
        Expr::Binary(op, left, right) => {
            let (left, right) = (eval(left, scope)?, eval(right, scope)?);
            if let (BinaryOp::Concat, Value::String(a), Value::String(b)) =
                (op, left.as_ref(), right.as_ref())
                && !scope.work.charge(text_units(a.len() + b.len()))
            {
                return None;
            }
            binary(*op, &left, &right).map(Cow::Owned)
        }
        Expr::In(operand, items, negated) => {
            let value = eval(operand, scope)?;
            let mut found = false;
            for item in items {
                if let Some(candidate) = eval(item, scope)
                    && compare(&value, &candidate) == Some(Ordering::Equal)
                {
                    found = true;
                    break;
                }
            }
            Some(Cow::Owned(Value::Bool(found != *negated)))
        }
        Expr::Between(operand, low, high, negated) => {
            let value = eval(operand, scope)?;
            if value.is_array() || value.is_object() {
                return None;
            }
            let (low, high) = (eval(low, scope)?, eval(high, scope)?);
            let above = compare(&value, &low)? != Ordering::Less;
            let below = compare(&value, &high)? != Ordering::Greater;
            Some(Cow::Owned(Value::Bool((above && below) != *negated)))
        }
        Expr::Like(operand, pattern, escape, negated) => {
            let value = eval(operand, scope)?;
            let pattern = eval(pattern, scope)?;
            let escape = match escape {
                Some(escape) => Some(eval(escape, scope)?),
                None => None,
            };
            let escape = match escape.as_deref() {
                None => None,
                Some(Value::String(e)) => Some(e.chars().next()?),
                Some(_) => return None,
            };
            let (Value::String(text), Value::String(pattern)) = (value.as_ref(), pattern.as_ref())
            else {
                return None;
            };
            if !scope
                .work
                .charge(text_units(text.len() * pattern.len().max(1)))
            {
                return None;
            }
            let matched = like(text, pattern, escape);
            Some(Cow::Owned(Value::Bool(matched != *negated)))
        }
        Expr::Ternary(condition, yes, no) => {
            if eval(condition, scope).as_deref() == Some(&Value::Bool(true)) {
                eval(yes, scope)
            } else {
                eval(no, scope)
            }
        }
        Expr::Coalesce(first, second) => eval(first, scope).or_else(|| eval(second, scope)),
        Expr::Call(function, args) => {
            let values: Vec<Option<Val<'a>>> = args.iter().map(|a| eval(a, scope)).collect();
            call(*function, &values, scope.work).map(Cow::Owned)
        }
        Expr::Aggregate(_, index) => scope
            .aggregates
            .get(*index)
            .and_then(Option::as_ref)
            .map(|value| Cow::Owned(value.clone())),
        Expr::Subquery(kind, query) => {
            let rows = (scope.subquery)(query, scope)?;
            let value = match kind {
                SubqueryKind::Exists => Value::Bool(!rows.is_empty()),
                SubqueryKind::Array => Value::Array(rows),
                SubqueryKind::Scalar => rows.into_iter().next()?,
            };
            Some(Cow::Owned(value))
        }
        Expr::Array(items) => {
            // Undefined elements are left out, as the service does.
            let mut array = Vec::new();
            for item in items {
                if let Some(value) = eval(item, scope) {
                    array.push(scope.work.own(value)?);
                }
            }
            Some(Cow::Owned(Value::Array(array)))
        }
        Expr::Object(fields) => {
            let mut object = Map::new();
            for (name, value) in fields {
                if let Some(value) = eval(value, scope) {
                    object.insert(name.clone(), scope.work.own(value)?);
                }
            }
            Some(Cow::Owned(Value::Object(object)))
        }
    }
}

/// `base.name`: borrowed from a borrowed base, taken out of an owned one.
fn member<'a>(base: Val<'a>, name: &str) -> Option<Val<'a>> {
    match base {
        Cow::Borrowed(Value::Object(map)) => map.get(name).map(Cow::Borrowed),
        Cow::Owned(Value::Object(mut map)) => map.remove(name).map(Cow::Owned),
        _ => None,
    }
}

/// `base[index]` of an array.
fn element(base: Val<'_>, index: usize) -> Option<Val<'_>> {
    match base {
        Cow::Borrowed(Value::Array(items)) => items.get(index).map(Cow::Borrowed),
        Cow::Owned(Value::Array(mut items)) => {
            (index < items.len()).then(|| Cow::Owned(items.swap_remove(index)))
        }
        _ => None,
    }
}

/// Compares two values of the same type; `None` (undefined) across types. Arrays and
/// objects compare only for equality.
pub(crate) fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            (left == right).then_some(Ordering::Equal)
        }
        _ => None,
    }
}

fn binary(op: BinaryOp, left: &Value, right: &Value) -> Option<Value> {
    let ordering = || compare(left, right);
    let structural_ne = || match (left, right) {
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            Some(left != right)
        }
        _ => ordering().map(|o| o != Ordering::Equal),
    };
    let result = match op {
        BinaryOp::Eq => Value::Bool(!structural_ne()?),
        BinaryOp::Ne => Value::Bool(structural_ne()?),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            if matches!(left, Value::Array(_) | Value::Object(_)) {
                return None;
            }
            let o = ordering()?;
            Value::Bool(match op {
                BinaryOp::Lt => o == Ordering::Less,
                BinaryOp::Le => o != Ordering::Greater,
                BinaryOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
        BinaryOp::Concat => match (left, right) {
            (Value::String(a), Value::String(b)) => Value::String(format!("{a}{b}")),
            _ => return None,
        },
        _ => {
            let (a, b) = (left.as_f64()?, right.as_f64()?);
            if !left.is_number() || !right.is_number() {
                return None;
            }
            let n = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div if b != 0.0 => a / b,
                BinaryOp::Mod if b != 0.0 => a % b,
                _ => return None,
            };
            if !n.is_finite() {
                return None;
            }
            number(n)
        }
    };
    Some(result)
}

/// The rank of a value's type in `ORDER BY`: undefined, null, booleans, numbers, strings,
/// arrays, objects.
fn type_rank(value: Option<&Value>) -> u8 {
    match value {
        None => 0,
        Some(Value::Null) => 1,
        Some(Value::Bool(_)) => 2,
        Some(Value::Number(_)) => 3,
        Some(Value::String(_)) => 4,
        Some(Value::Array(_)) => 5,
        Some(Value::Object(_)) => 6,
    }
}

/// The `ORDER BY` order: by type rank, then by value within a type.
pub(crate) fn order(left: Option<&Value>, right: Option<&Value>) -> Ordering {
    type_rank(left)
        .cmp(&type_rank(right))
        .then_with(|| match (left, right) {
            (Some(a), Some(b)) => compare(a, b).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        })
}
