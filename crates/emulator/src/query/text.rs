//! String system functions and `LIKE` patterns (`%`, `_`, `[a-c]`, `[^a]`, `ESCAPE`).

use serde_json::Value;

use super::function::Function;
use super::value::Val;
use super::value::number;
use super::work::Work;

/// The longest string `REPLICATE` makes (the service's limit).
const MAX_REPLICATED: usize = 10_000;

/// An optional boolean argument (`ignoreCase`, `partial`): false when absent, `None`
/// (undefined result) when not a boolean.
pub(crate) fn flag(values: &[Option<Val<'_>>], index: usize) -> Option<bool> {
    match values.get(index).map(Option::as_deref) {
        None => Some(false),
        Some(Some(Value::Bool(b))) => Some(*b),
        Some(_) => None,
    }
}

/// The value of a string function over its evaluated `args`.
pub(crate) fn call(function: Function, args: &[Option<Val<'_>>], work: &Work) -> Option<Value> {
    let arg = |i: usize| -> Option<&Value> { args.get(i)?.as_deref() };
    let s = |i: usize| arg(i)?.as_str();
    let int = |i: usize| {
        let n = arg(i).filter(|v| v.is_number())?.as_f64()?.trunc();
        Some(n.clamp(-1e15, 1e15) as i64)
    };
    let folded = |ignore_case: bool, text: &str| {
        if ignore_case {
            text.to_lowercase()
        } else {
            text.to_string()
        }
    };
    let pair = || -> Option<(String, String)> {
        let ignore_case = flag(args, 2)?;
        Some((folded(ignore_case, s(0)?), folded(ignore_case, s(1)?)))
    };
    let string = |text: String| Some(Value::String(text));
    match function {
        Function::StartsWith => pair().map(|(a, b)| Value::Bool(a.starts_with(&b))),
        Function::EndsWith => pair().map(|(a, b)| Value::Bool(a.ends_with(&b))),
        Function::Contains => pair().map(|(a, b)| Value::Bool(a.contains(&b))),
        Function::StringEquals => pair().map(|(a, b)| Value::Bool(a == b)),
        Function::IndexOf => {
            let (text, needle) = (s(0)?, s(1)?);
            let start = match args.get(2) {
                None => 0,
                Some(_) => usize::try_from(int(2)?).ok()?,
            };
            let chars: Vec<char> = text.chars().collect();
            let needle: Vec<char> = needle.chars().collect();
            if start > chars.len() {
                return Some(Value::from(-1));
            }
            let found = (start..=chars.len().saturating_sub(needle.len()))
                .find(|&i| chars[i..].starts_with(&needle));
            Some(found.map_or(Value::from(-1), Value::from))
        }
        Function::Replace => string(s(0)?.replace(s(1)?, s(2)?)),
        Function::Replicate => {
            let (text, times) = (s(0)?, usize::try_from(int(1)?).ok()?);
            if text.len().saturating_mul(times) > MAX_REPLICATED {
                return None;
            }
            string(text.repeat(times))
        }
        Function::Reverse => string(s(0)?.chars().rev().collect()),
        Function::Left => {
            let n = usize::try_from(int(1)?).ok()?;
            string(s(0)?.chars().take(n).collect())
        }
        Function::Right => {
            let (text, n) = (s(0)?, usize::try_from(int(1)?).ok()?);
            let skip = text.chars().count().saturating_sub(n);
            string(text.chars().skip(skip).collect())
        }
        Function::Ltrim => string(s(0)?.trim_start().to_string()),
        Function::Rtrim => string(s(0)?.trim_end().to_string()),
        Function::Trim => string(s(0)?.trim().to_string()),
        Function::Lower => string(s(0)?.to_lowercase()),
        Function::Upper => string(s(0)?.to_uppercase()),
        Function::Length => Some(Value::from(s(0)?.chars().count())),
        Function::Substring => {
            let start = usize::try_from(int(1)?.max(0)).ok()?;
            let length = usize::try_from(int(2)?.max(0)).ok()?;
            string(s(0)?.chars().skip(start).take(length).collect())
        }
        Function::Concat => {
            let mut joined = String::new();
            for i in 0..args.len() {
                joined.push_str(s(i)?);
            }
            string(joined)
        }
        Function::ToString => {
            let value = arg(0)?;
            if !work.charge(super::work::text_units(crate::budget::value_size(value))) {
                return None;
            }
            string(match value {
                Value::String(text) => text.clone(),
                Value::Number(n) => n
                    .as_f64()
                    .map_or_else(|| n.to_string(), |f| number(f).to_string()),
                other => other.to_string(),
            })
        }
        Function::StringToArray => parsed(s(0)?).filter(Value::is_array),
        Function::StringToObject => parsed(s(0)?).filter(Value::is_object),
        Function::StringToBoolean => parsed(s(0)?).filter(Value::is_boolean),
        Function::StringToNull => parsed(s(0)?).filter(Value::is_null),
        Function::StringToNumber => parsed(s(0)?).filter(Value::is_number),
        _ => None,
    }
}

/// The JSON in a string (surrounding whitespace allowed); `None` if it is not JSON.
fn parsed(text: &str) -> Option<Value> {
    serde_json::from_str(text.trim()).ok()
}

/// One element of a `LIKE` pattern.
#[derive(Debug, PartialEq)]
enum Piece {
    /// `%`: any run of characters.
    Any,
    /// `_`: any one character.
    One,
    /// `[…]` / `[^…]`: one character in (or not in) the ranges.
    Set(bool, Vec<(char, char)>),
    /// A character as written (or escaped).
    Char(char),
}

fn pieces(pattern: &str, escape: Option<char>) -> Vec<Piece> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if Some(c) == escape
            && let Some(&next) = chars.get(i)
        {
            out.push(Piece::Char(next));
            i += 1;
            continue;
        }
        match c {
            '%' => out.push(Piece::Any),
            '_' => out.push(Piece::One),
            '[' => match chars[i..].iter().position(|&x| x == ']') {
                Some(len) if len > 0 => {
                    let mut body = &chars[i..i + len];
                    i += len + 1;
                    let negated = body.first() == Some(&'^');
                    if negated {
                        body = &body[1..];
                    }
                    let mut ranges = Vec::new();
                    let mut j = 0;
                    while j < body.len() {
                        if j + 2 < body.len() && body[j + 1] == '-' {
                            ranges.push((body[j], body[j + 2]));
                            j += 3;
                        } else {
                            ranges.push((body[j], body[j]));
                            j += 1;
                        }
                    }
                    out.push(Piece::Set(negated, ranges));
                }
                _ => out.push(Piece::Char('[')),
            },
            other => out.push(Piece::Char(other)),
        }
    }
    out
}

/// Whether `text` matches the `LIKE` `pattern` (case-sensitive), by dynamic programming
/// over (piece, character): time is the product of their lengths, charged by the caller.
pub(crate) fn like(text: &str, pattern: &str, escape: Option<char>) -> bool {
    let text: Vec<char> = text.chars().collect();
    // matched[j]: the pieces so far match the first j characters.
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for piece in pieces(pattern, escape) {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match &piece {
                Piece::Any => matched[j] || (j > 0 && next[j - 1]),
                _ if j == 0 => false,
                Piece::One => matched[j - 1],
                Piece::Char(c) => matched[j - 1] && text[j - 1] == *c,
                Piece::Set(negated, ranges) => {
                    let inside = ranges
                        .iter()
                        .any(|(lo, hi)| (*lo..=*hi).contains(&text[j - 1]));
                    matched[j - 1] && inside != *negated
                }
            };
        }
        matched = next;
    }
    matched[text.len()]
}
