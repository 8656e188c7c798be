//! The system functions' values: type checks, math and arrays here; strings in `text.rs`,
//! dates in `datetime.rs`. An argument of the wrong type makes the result undefined, as the
//! service does.

use serde_json::Value;

use super::datetime;
use super::function::Function;
use super::spatial;
use super::text;
use super::value::Val;
use super::value::number;
use super::work::{Work, text_units};

/// The value of `function` over its evaluated `args` (`None` = undefined).
pub(crate) fn call(function: Function, args: &[Option<Val<'_>>], work: &Work) -> Option<Value> {
    // String functions copy their arguments: charged by length first.
    let text: usize = args
        .iter()
        .filter_map(|a| a.as_deref()?.as_str().map(str::len))
        .sum();
    if !work.charge(text_units(text)) {
        return None;
    }
    let arg = |i: usize| -> Option<&Value> { args.get(i)?.as_deref() };
    let first = arg(0);
    let num = |i: usize| arg(i).filter(|v| v.is_number())?.as_f64();
    let math = |f: fn(f64) -> f64| -> Option<Value> { finite(f(num(0)?)) };
    let is = |test: fn(&Value) -> bool| Some(Value::Bool(first.is_some_and(test)));
    match function {
        Function::IsDefined => Some(Value::Bool(first.is_some())),
        Function::IsNull => is(Value::is_null),
        Function::IsNumber | Function::IsFiniteNumber => is(Value::is_number),
        Function::IsString => is(Value::is_string),
        Function::IsBool => is(Value::is_boolean),
        Function::IsArray => is(Value::is_array),
        Function::IsObject => is(Value::is_object),
        Function::IsPrimitive => is(|v| !v.is_array() && !v.is_object()),
        Function::IsInteger => is(|v| v.is_i64() || v.is_u64()),
        Function::ArrayContains => {
            let items = first?.as_array()?;
            let needle = arg(1)?;
            let partial = text::flag(args, 2)?;
            Some(Value::Bool(
                items.iter().any(|item| contains(item, needle, partial)),
            ))
        }
        Function::ArrayLength => Some(Value::from(first?.as_array()?.len())),
        Function::ArraySlice => {
            let items = first?.as_array()?;
            let len = items.len() as f64;
            let start = num(1)?.trunc();
            let start = if start < 0.0 {
                (len + start).max(0.0)
            } else {
                start.min(len)
            };
            let count = match args.get(2) {
                None => len,
                Some(_) => num(2)?.trunc().max(0.0),
            };
            let end = (start + count).min(len);
            let slice = &items[start as usize..(end as usize).max(start as usize)];
            charge_copy(work, slice)?;
            Some(Value::Array(slice.to_vec()))
        }
        Function::ArrayConcat => {
            let mut joined = Vec::new();
            for i in 0..args.len() {
                let items = arg(i)?.as_array()?;
                charge_copy(work, items)?;
                joined.extend(items.iter().cloned());
            }
            Some(Value::Array(joined))
        }
        Function::Abs => math(f64::abs),
        Function::Floor => math(f64::floor),
        Function::Ceiling => math(f64::ceil),
        // The service rounds half away from zero, as `f64::round` does.
        Function::Round => math(f64::round),
        Function::Trunc => math(f64::trunc),
        Function::Sqrt => math(f64::sqrt),
        Function::Square => math(|n| n * n),
        Function::Exp => math(f64::exp),
        Function::Log10 => math(f64::log10),
        Function::Log => match args.get(1) {
            None => math(f64::ln),
            Some(_) => finite(num(0)?.log(num(1)?)),
        },
        Function::Power => finite(num(0)?.powf(num(1)?)),
        Function::Sign => math(|n| {
            if n > 0.0 {
                1.0
            } else if n < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        Function::Pi => finite(std::f64::consts::PI),
        Function::Sin => math(f64::sin),
        Function::Cos => math(f64::cos),
        Function::Tan => math(f64::tan),
        Function::Asin => math(f64::asin),
        Function::Acos => math(f64::acos),
        Function::Atan => math(f64::atan),
        Function::Atn2 => finite(num(1)?.atan2(num(0)?)),
        Function::Degrees => math(f64::to_degrees),
        Function::Radians => math(f64::to_radians),
        Function::StDistance => finite(spatial::distance(first?, arg(1)?)?),
        Function::GetCurrentDateTime
        | Function::GetCurrentTimestamp
        | Function::DateTimeAdd
        | Function::DateTimeDiff
        | Function::DateTimePart => datetime::call(function, args),
        _ => text::call(function, args, work),
    }
}

/// A number result; undefined when it is not finite (JSON has no NaN or infinity).
fn finite(n: f64) -> Option<Value> {
    n.is_finite().then(|| number(n))
}

/// Charges copying `items` out of their array; `None` once the budget is spent.
fn charge_copy(work: &Work, items: &[Value]) -> Option<()> {
    let bytes: usize = items.iter().map(crate::budget::value_size).sum();
    work.charge(text_units(bytes) + 1).then_some(())
}

/// `ARRAY_CONTAINS`' match: equal, or (partial) an object holding every field of `needle`.
fn contains(item: &Value, needle: &Value, partial: bool) -> bool {
    item == needle
        || (partial
            && match (item, needle) {
                (Value::Object(item), Value::Object(needle)) => {
                    needle.iter().all(|(k, v)| item.get(k) == Some(v))
                }
                _ => false,
            })
}
