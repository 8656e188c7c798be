//! A container body's properties as the service checks and completes them: partition key
//! paths (`Hash`: one; `MultiHash`: one to three; quoted segments), `defaultTtl`, and the
//! default indexing, conflict and geospatial policies.

use serde_json::{Map, Value, json};

use crate::api_error::ApiError;

/// A partition key path's segments: `/a/b`, where a segment may be quoted (`"…"` or `'…'`)
/// to hold `/` and other characters; `None` for a malformed path.
fn split_path(path: &str) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = path.strip_prefix('/')?;
    while !rest.is_empty() {
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'');
        let (segment, after) = match quote {
            Some(q) => {
                let end = rest[1..].find(q)? + 1;
                (&rest[1..end], &rest[end + 1..])
            }
            None => rest.split_at(rest.find('/').unwrap_or(rest.len())),
        };
        if segment.is_empty() {
            return None;
        }
        segments.push(segment.to_string());
        rest = match after.strip_prefix('/') {
            Some(next) if !next.is_empty() => next,
            Some(_) => return None,
            None if after.is_empty() => after,
            None => return None,
        };
    }
    (!segments.is_empty()).then_some(segments)
}

/// The partition key paths of a container body, split into segments: exactly one path
/// for `Hash` (the default kind), one to three for `MultiHash`.
pub(crate) fn key_paths(resource: &Map<String, Value>) -> Result<Vec<Vec<String>>, ApiError> {
    let pk = resource.get("partitionKey");
    let multi = pk.and_then(|pk| pk.get("kind")).and_then(Value::as_str) == Some("MultiHash");
    let paths = pk
        .and_then(|pk| pk.get("paths"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let allowed = if multi { 1..=3 } else { 1..=1 };
    let split: Option<Vec<Vec<String>>> = paths
        .iter()
        .map(|path| match path {
            Value::String(path) if path.starts_with('/') && path.len() > 1 => split_path(path),
            _ => None,
        })
        .collect();
    match split {
        Some(split) if allowed.contains(&split.len()) => Ok(split),
        // The service's words, which SDK tests look for.
        Some(split) if split.len() > *allowed.end() => Err(ApiError::bad_request(format!(
            "Too many partition key paths: a {} key takes at most {} (\"/pk\" each), {} were given",
            if multi { "MultiHash" } else { "Hash" },
            allowed.end(),
            split.len()
        ))),
        _ if multi => Err(ApiError::bad_request(
            "partitionKey.paths of a MultiHash key must hold one to three paths like \"/pk\"",
        )),
        _ => Err(ApiError::bad_request(
            "partitionKey.paths must hold exactly one path like \"/pk\"",
        )),
    }
}

/// What a container body holds when its creator leaves it out, as the service fills it:
/// an indexing policy (consistent, automatic, `/*` included, `/"_etag"/?` always
/// excluded, legacy per-path `indexes` dropped), last-writer-wins conflict resolution and
/// geography.
pub(crate) fn container_defaults(resource: &mut Map<String, Value>) {
    let policy = resource
        .entry("indexingPolicy")
        .or_insert_with(|| json!({}));
    if !policy.is_object() {
        *policy = json!({});
    }
    if let Value::Object(policy) = policy {
        policy
            .entry("indexingMode")
            .or_insert_with(|| json!("consistent"));
        policy.entry("automatic").or_insert(json!(true));
        let included = policy
            .entry("includedPaths")
            .or_insert_with(|| json!([{"path": "/*"}]));
        if let Value::Array(paths) = included {
            for path in paths.iter_mut().filter_map(Value::as_object_mut) {
                path.remove("indexes");
            }
        }
        let excluded = policy.entry("excludedPaths").or_insert_with(|| json!([]));
        let etag = json!({"path": "/\"_etag\"/?"});
        if let Value::Array(paths) = excluded
            && !paths.iter().any(|p| p["path"] == etag["path"])
        {
            paths.push(etag);
        }
    }
    resource.entry("conflictResolutionPolicy").or_insert_with(|| {
        json!({"mode": "LastWriterWins", "conflictResolutionPath": "/_ts", "conflictResolutionProcedure": ""})
    });
    resource
        .entry("geospatialConfig")
        .or_insert_with(|| json!({"type": "Geography"}));
}

/// The service's rule for `defaultTtl`: absent or null (off), -1 (on: items live until
/// their own `ttl`) or a positive number of seconds; anything else is 400.
pub(crate) fn check_default_ttl(resource: &Map<String, Value>) -> Result<(), ApiError> {
    match resource.get("defaultTtl") {
        None | Some(Value::Null) => Ok(()),
        Some(ttl) if ttl.as_i64().is_some_and(|t| t == -1 || t > 0) => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "defaultTtl must be -1 or a positive number of seconds",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{key_paths, split_path};
    use serde_json::json;

    #[test]
    fn too_many_partition_key_paths_are_named_so() {
        for (kind, paths) in [("MultiHash", 4), ("Hash", 2)] {
            let paths: Vec<String> = (0..paths).map(|n| format!("/p{n}")).collect();
            let body = json!({"partitionKey": {"paths": paths, "kind": kind}});
            let error = key_paths(body.as_object().unwrap()).unwrap_err();
            assert!(
                error.message.contains("Too many partition key paths"),
                "{error:?}"
            );
        }
    }

    #[test]
    fn partition_key_paths_split_on_unquoted_slashes() {
        let split = |p: &str| split_path(p).map(|s| s.join("|"));
        assert_eq!(split("/a/b").as_deref(), Some("a|b"));
        assert_eq!(
            split(r#"/"level' 1*()"/"le/vel2""#).as_deref(),
            Some("level' 1*()|le/vel2")
        );
        assert_eq!(
            split(r#"/'level" 1*()'/'le/vel2'"#).as_deref(),
            Some("level\" 1*()|le/vel2")
        );
        for bad in ["", "/", "a", "/a//b", "/a/", "/\"open"] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }
}
