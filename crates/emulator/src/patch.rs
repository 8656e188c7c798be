//! `PATCH` of items: `add set replace remove incr move`, with an optional SQL condition.
//! `copy` (like `test`) is refused, as the service refuses it.

use serde_json::Value;

use crate::api_error::{ApiError, ApiResult};
use crate::data::{DataStore, ItemRequest, partition_key};
use crate::items::ItemAt;
use crate::query::{DEFAULT_QUERY_BUDGET, QuerySpec, add_numbers};

/// The most operations one patch may carry (the service's limit).
const MAX_OPERATIONS: usize = 10;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

impl DataStore {
    /// Applies the body's `operations` to the item, if its `condition` (`FROM c WHERE …`)
    /// holds (else 412). All operations apply, or none.
    pub(crate) fn patch_item(
        &mut self,
        at: ItemAt<'_>,
        body: &Value,
        request: &ItemRequest,
    ) -> ApiResult {
        let (pk, _) = partition_key(request.partition_key.as_deref())?;
        // `{"operations": [...], "condition": ...}`, or the bare array (as Node's SDK sends it).
        let operations = match body
            .as_array()
            .or_else(|| body.get("operations")?.as_array())
        {
            Some(ops) if !ops.is_empty() && ops.len() <= MAX_OPERATIONS => ops,
            _ => {
                return Err(bad(format!(
                    "the body must hold `operations`: 1 to {MAX_OPERATIONS} patch operations"
                )));
            }
        };
        let condition = match body.get("condition") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                return Err(bad(
                    "`condition` must be a string like \"FROM c WHERE c.n > 1\"",
                ));
            }
        };
        let container = self.container_mut(at.db, at.coll)?;
        let key = (pk, at.id.to_string());
        let current = container.existing(&key, request)?;
        if let Some(condition) = condition {
            let spec = QuerySpec::new(format!("SELECT VALUE 1 {condition}"));
            let held = spec
                .run([current], DEFAULT_QUERY_BUDGET)
                .map_err(|e| bad(format!("the patch condition is not valid: {e}")))?;
            if held.is_empty() {
                return Err(ApiError::precondition_failed(
                    "the patch condition does not hold",
                ));
            }
        }
        let mut patched = current.clone();
        for (index, operation) in operations.iter().enumerate() {
            apply(&mut patched, operation, &container.partition_key_path)
                .map_err(|message| bad(format!("patch operation {index}: {message}")))?;
        }
        let Value::Object(resource) = patched else {
            return Err(bad("the patched item is not an object"));
        };
        let resource = container.store(key, resource)?;
        Ok((200, Some(resource)))
    }
}

/// A JSON pointer (`/a/b`, `~1` for `/`, `~0` for `~`) as segments, refused when it is
/// the id, a system property, or the partition key or anything above or below it.
fn segments(path: &str, pk_path: &[String]) -> Result<Vec<String>, String> {
    let segments: Vec<String> = match path.strip_prefix('/') {
        Some(rest) if !rest.is_empty() => rest
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
        _ => {
            return Err(format!(
                "path `{path}` must start with / and name a property"
            ));
        }
    };
    let first = segments.first().map(String::as_str).unwrap_or_default();
    // The partition key may not change: neither its path nor anything above it.
    let touches_key = segments.starts_with(pk_path) || pk_path.starts_with(&segments);
    if first == "id" || first.starts_with('_') || touches_key {
        return Err(format!(
            "path `{path}` is the id, the partition key or a system property"
        ));
    }
    Ok(segments)
}

/// `move`: takes the value at `from` (which must exist, and must not be a proper prefix of
/// `path`: nothing moves into its own child) out of `item`; the caller adds it at `path`.
fn take_from(
    item: &mut Value,
    operation: &Value,
    to: &[String],
    pk_path: &[String],
) -> Result<Value, String> {
    let from = operation
        .get("from")
        .and_then(Value::as_str)
        .ok_or("`move` needs a `from` string like \"/a/b\"")?;
    let from_segments = segments(from, pk_path)?;
    if to.len() > from_segments.len() && to.starts_with(&from_segments) {
        return Err(format!("`{from}` cannot be moved into its own child"));
    }
    let (last, parents) = from_segments.split_last().ok_or("empty path")?;
    let mut parent = item;
    for segment in parents {
        parent = child(parent, segment).ok_or_else(|| format!("`from` `{from}` does not exist"))?;
    }
    let missing = || format!("`from` `{from}` does not exist");
    match parent {
        Value::Object(map) => map.remove(last).ok_or_else(missing),
        Value::Array(items) => {
            let at = array_index(last, items.len()).map_err(|_| missing())?;
            Ok(items.remove(at))
        }
        _ => Err(missing()),
    }
}

/// One operation `{"op", "path", "value"}` (`move`: `{"op", "from", "path"}`) applied to
/// `item`.
fn apply(item: &mut Value, operation: &Value, pk_path: &[String]) -> Result<(), String> {
    let op = operation
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let path = operation
        .get("path")
        .and_then(Value::as_str)
        .ok_or("`path` must be a string like \"/a/b\"")?;
    let segments = segments(path, pk_path)?;
    // A move is a remove at `from`, then an add at `path` of the value removed.
    let (op, value) = if op == "move" {
        ("add", Some(take_from(item, operation, &segments, pk_path)?))
    } else {
        (op, operation.get("value").cloned())
    };
    let need_value = || {
        value
            .clone()
            .ok_or_else(|| format!("`{op}` needs a `value`"))
    };
    let (last, parents) = segments.split_last().ok_or("empty path")?;
    let mut parent = item;
    for segment in parents {
        parent = child(parent, segment).ok_or_else(|| format!("path `{path}` does not exist"))?;
    }
    let missing = || format!("path `{path}` does not exist");
    match (op, parent) {
        ("add" | "set", Value::Object(map)) => {
            map.insert(last.clone(), need_value()?);
        }
        ("add", Value::Array(items)) => {
            let at = if last == "-" {
                items.len()
            } else {
                array_index(last, items.len() + 1)?
            };
            items.insert(at, need_value()?);
        }
        ("set", Value::Array(items)) => {
            let at = array_index(last, items.len() + 1)?;
            let value = need_value()?;
            if at == items.len() {
                items.push(value);
            } else {
                items[at] = value;
            }
        }
        ("replace", parent) => {
            *child(parent, last).ok_or_else(missing)? = need_value()?;
        }
        ("remove", Value::Object(map)) => {
            map.remove(last).ok_or_else(missing)?;
        }
        ("remove", Value::Array(items)) => {
            let at = array_index(last, items.len())?;
            items.remove(at);
        }
        ("incr", Value::Object(map)) => {
            let by = need_value()?;
            if !by.is_number() {
                return Err("`incr` needs a number `value`".into());
            }
            let next = match map.get(last) {
                None => by,
                Some(current @ Value::Number(_)) => add_numbers(current, &by)
                    .ok_or_else(|| format!("`incr` of `{path}` overflows a 64-bit float"))?,
                Some(_) => return Err(format!("path `{path}` is not a number")),
            };
            map.insert(last.clone(), next);
        }
        ("add" | "set" | "remove" | "incr", _) => {
            return Err(format!("the parent of `{path}` is not an object or array"));
        }
        (other, _) => {
            return Err(format!(
                "operation `{other}` is not supported (add, set, replace, remove, incr, move)"
            ));
        }
    }
    Ok(())
}

fn child<'a>(parent: &'a mut Value, segment: &str) -> Option<&'a mut Value> {
    match parent {
        Value::Object(map) => map.get_mut(segment),
        Value::Array(items) => {
            let len = items.len();
            items.get_mut(array_index(segment, len).ok()?)
        }
        _ => None,
    }
}

fn array_index(segment: &str, bound: usize) -> Result<usize, String> {
    segment
        .parse::<usize>()
        .ok()
        .filter(|i| *i < bound)
        .ok_or_else(|| format!("`{segment}` is not an index in the array"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::apply;

    #[test]
    fn a_nested_partition_key_is_protected_from_above_and_below() {
        let pk = ["a".to_string(), "b".to_string()];
        let mut item = json!({"id": "x", "a": {"b": "p1", "c": 1}});
        for path in ["/a", "/a/b", "/a/b/z", "/id", "/_etag"] {
            let op = json!({"op": "set", "path": path, "value": 2});
            assert!(apply(&mut item, &op, &pk).is_err(), "{path}");
        }
        let sibling = json!({"op": "set", "path": "/a/c", "value": 2});
        assert_eq!(apply(&mut item, &sibling, &pk), Ok(()));
        assert_eq!(item["a"], json!({"b": "p1", "c": 2}));
    }

    #[test]
    fn incr_past_a_float_is_an_error_not_null() {
        let pk = ["pk".to_string()];
        let mut item = json!({"id": "x", "n": 1.7e308, "i": 9_223_372_036_854_775_807_i64});
        let op = json!({"op": "incr", "path": "/n", "value": 1.7e308});
        let refused = apply(&mut item, &op, &pk).unwrap_err();
        assert!(refused.contains("overflows"), "{refused}");
        assert_eq!(item["n"], json!(1.7e308));
        // An integer past i64 carries on as a float.
        let op = json!({"op": "incr", "path": "/i", "value": 1});
        assert_eq!(apply(&mut item, &op, &pk), Ok(()));
        assert!(item["i"].is_f64());
    }
}
