//! The partition key a query's filter pins: `WHERE c.pk = @pk AND …` names one logical
//! partition, so the service serves it without the cross-partition header, as if the
//! request had carried that key.

use serde_json::Value;

use super::ast::{BinaryOp, Expr, Query};
use super::rules::path;

/// The values of `paths` (the container's partition key paths, `/a/b`) that `query`'s
/// filter requires by top-level `AND`ed equalities with a constant; `None` unless every
/// path is pinned to a string, number, boolean or null.
pub(super) fn pinned_key(query: &Query, paths: &[String]) -> Option<Vec<Value>> {
    let mut conjuncts = Vec::new();
    collect(query.filter.as_ref()?, &mut conjuncts);
    paths
        .iter()
        .map(|key| {
            conjuncts.iter().find_map(|(left, right)| {
                let value = match (path(left), path(right)) {
                    (Some(p), _) if &p == key => constant(right)?,
                    (_, Some(p)) if &p == key => constant(left)?,
                    _ => return None,
                };
                (!value.is_array() && !value.is_object()).then(|| value.clone())
            })
        })
        .collect()
}

/// The `a = b` operands of `filter`'s top-level `AND` chain.
fn collect<'q>(filter: &'q Expr, out: &mut Vec<(&'q Expr, &'q Expr)>) {
    match filter {
        Expr::Binary(BinaryOp::And, left, right) => {
            collect(left, out);
            collect(right, out);
        }
        Expr::Binary(BinaryOp::Eq, left, right) => out.push((left, right)),
        _ => {}
    }
}

fn constant(expr: &Expr) -> Option<&Value> {
    match expr {
        Expr::Literal(value) => Some(value),
        Expr::Param(_, value) => Some(value),
        _ => None,
    }
}
