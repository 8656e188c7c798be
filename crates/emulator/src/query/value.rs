//! Values as evaluation sees them (a leaf): borrowed where they can be, and numbers printed
//! as the service prints them.

use std::borrow::Cow;

use serde_json::{Number, Value};

/// A value evaluated: borrowed from the item, a literal or a parameter where it can be,
/// so nothing is copied until a result is built.
pub(crate) type Val<'a> = Cow<'a, Value>;

/// A JSON number: integral values as integers, like the service prints them.
pub(crate) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}
