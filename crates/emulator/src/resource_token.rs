//! Resource tokens: a permission's `_token` as a credential. The service's form is
//! `type=resource&ver=1.0&sig=…`; the emulator's `sig` is its own: the permission's rid and
//! the token's expiry (epoch seconds on the emulator's clock), signed with a secret each
//! emulator draws at start (HMAC-SHA256), so a token cannot be forged or moved to another
//! permission. A fresh token is minted every time a permission is answered (create, read,
//! replace, feed, query), valid for `x-ms-documentdb-expiry-seconds` (default 3600,
//! 10 to 18,000 as the service allows; the emulator also takes 1 to 9 for tests).
//!
//! A request signed with a token is allowed when the permission still exists, the token
//! has not expired (else 401), and the request addresses the permission's resource or a
//! resource under it — or only reads (`GET`) a database or container above it, as SDKs
//! do to learn a container's partition key — with a method its mode allows (`Read`:
//! reads and queries; `All`: everything), and, when the permission has a
//! `resourcePartitionKey`, an item request carries that partition key. Anything else is
//! 403. Reading the account (`GET /`) takes any valid token, as the service does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::api_error::ApiError;
use crate::data::DataStore;
use crate::resource::Resource;
use crate::token_secret::Secret;

/// The header that sets a minted token's validity, in seconds.
pub(crate) const EXPIRY_HEADER: &str = "x-ms-documentdb-expiry-seconds";
const DEFAULT_EXPIRY_SECS: u64 = 3600;
const MAX_EXPIRY_SECS: u64 = 18_000;

/// Whether an `authorization` header value is a resource token (not a master-key one).
pub(crate) fn is_resource_token(authorization: &str) -> bool {
    percent_decode_str(authorization)
        .decode_utf8()
        .is_ok_and(|decoded| decoded.split('&').any(|pair| pair == "type=resource"))
}

/// The validity a request for a permission asks its token to have (400 if out of range).
pub(crate) fn expiry_secs(headers: &HeaderMap) -> Result<u64, ApiError> {
    let Some(value) = headers.get(EXPIRY_HEADER) else {
        return Ok(DEFAULT_EXPIRY_SECS);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|secs| (1..=MAX_EXPIRY_SECS).contains(secs))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{EXPIRY_HEADER} must be a number of seconds from 1 to {MAX_EXPIRY_SECS}"
            ))
        })
}

/// Replaces the `_token` of `permission` with a fresh one valid until `expires` (epoch
/// seconds on the emulator's clock).
pub(crate) fn mint_into(secret: &Secret, permission: &mut Value, expires: u64) {
    let Some(rid) = permission.get("_rid").and_then(Value::as_str) else {
        return;
    };
    let payload = format!("{rid}|{expires}");
    let Some(mac) = secret.mac(&payload) else {
        return;
    };
    let sig = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    if let Value::Object(map) = permission {
        map.insert(
            "_token".into(),
            Value::String(format!("type=resource&ver=1.0&sig={sig}")),
        );
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(401, "Unauthorized", message)
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(403, "Forbidden", message)
}

/// The permission rid and expiry a token names, if its signature is this emulator's.
fn open(secret: &Secret, authorization: &str) -> Result<(String, u64), ApiError> {
    let malformed = || unauthorized("the resource token is malformed");
    let decoded = percent_decode_str(authorization)
        .decode_utf8()
        .map_err(|_| malformed())?;
    let sig = decoded
        .split('&')
        .find_map(|pair| pair.strip_prefix("sig="))
        .ok_or_else(malformed)?;
    let (payload, mac) = sig.split_once('.').ok_or_else(malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    let payload = String::from_utf8(payload).map_err(|_| malformed())?;
    let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| malformed())?;
    secret
        .mac(&payload)
        .ok_or_else(malformed)?
        .verify_slice(&mac)
        .map_err(|_| unauthorized("the resource token's signature is not valid"))?;
    let (rid, expires) = payload.split_once('|').ok_or_else(malformed)?;
    let expires = expires.parse::<u64>().map_err(|_| malformed())?;
    Ok((rid.to_string(), expires))
}

/// The path of ids a resource lives at, feeds included (`dbs/d/colls/c/docs`).
fn path_of(resource: &Resource) -> Option<String> {
    Some(match resource {
        Resource::Account | Resource::Databases | Resource::Offers | Resource::Offer { .. } => {
            return None;
        }
        Resource::Database { db } => format!("dbs/{db}"),
        Resource::Containers { db } => format!("dbs/{db}/colls"),
        Resource::Container { db, coll } => format!("dbs/{db}/colls/{coll}"),
        Resource::Items { db, coll } => format!("dbs/{db}/colls/{coll}/docs"),
        Resource::PartitionKeyRanges { db, coll } => format!("dbs/{db}/colls/{coll}/pkranges"),
        Resource::Conflicts { db, coll } => format!("dbs/{db}/colls/{coll}/conflicts"),
        Resource::PartitionKeyDelete { db, coll } => {
            format!("dbs/{db}/colls/{coll}/operations/partitionkeydelete")
        }
        Resource::Item { db, coll, id } => format!("dbs/{db}/colls/{coll}/docs/{id}"),
        Resource::Scripts { db, coll, kind } => format!("dbs/{db}/colls/{coll}/{}", kind.segment()),
        Resource::Script { db, coll, kind, id } => {
            format!("dbs/{db}/colls/{coll}/{}/{id}", kind.segment())
        }
        Resource::Principals { db, user: None } => format!("dbs/{db}/users"),
        Resource::Principals { db, user: Some(u) } => format!("dbs/{db}/users/{u}/permissions"),
        Resource::Principal { db, user: None, id } => format!("dbs/{db}/users/{id}"),
        Resource::Principal {
            db,
            user: Some(u),
            id,
        } => format!("dbs/{db}/users/{u}/permissions/{id}"),
    })
}

/// Whether a request only reads: `GET`/`HEAD`, or a `POST` that is a query or plan.
fn reads_only(method: &Method, headers: &HeaderMap) -> bool {
    let has = |name: &str, wanted: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(wanted))
    };
    match *method {
        Method::GET | Method::HEAD => true,
        Method::POST => {
            has("x-ms-documentdb-isquery", "true")
                || has("x-ms-cosmos-is-query-plan-request", "true")
                || has("content-type", "application/query+json")
        }
        _ => false,
    }
}

/// Checks a request signed with a resource token (`authorization`, the header value).
pub(crate) fn authorize(
    data: &DataStore,
    method: &Method,
    resource: &Resource,
    headers: &HeaderMap,
    authorization: &str,
) -> Result<(), ApiError> {
    let (rid, expires) = open(&data.token_secret, authorization)?;
    let permission = data
        .principals
        .iter()
        .filter(|(feed, _)| feed.ends_with("/permissions"))
        .flat_map(|(_, feed)| feed.values())
        .find(|p| p.get("_rid").and_then(Value::as_str) == Some(rid.as_str()))
        .ok_or_else(|| unauthorized("the resource token's permission no longer exists"))?;
    if data.clock.now_secs() >= expires {
        return Err(unauthorized("the resource token has expired"));
    }
    if matches!(resource, Resource::Account) && *method == Method::GET {
        return Ok(());
    }
    let granted = permission
        .get("resource")
        .and_then(Value::as_str)
        .map(|link| format!("/{}", link.trim_matches('/')))
        .and_then(|link| Resource::parse(&link))
        .map(|r| data.by_ids(r))
        .and_then(|r| path_of(&r))
        .ok_or_else(|| forbidden("the permission names no resource the emulator serves"))?;
    let wanted = path_of(&data.by_ids(resource.clone()))
        .ok_or_else(|| forbidden("a resource token does not grant this resource"))?;
    let under = wanted == granted || wanted.starts_with(&format!("{granted}/"));
    // Reading a database or container above the granted resource (its definition only).
    let above = granted.starts_with(&format!("{wanted}/"))
        && *method == Method::GET
        && matches!(
            resource,
            Resource::Database { .. } | Resource::Container { .. }
        );
    if !under && !above {
        return Err(forbidden(
            "the resource token does not grant access to this resource",
        ));
    }
    // Modes are matched as the service does, whatever their case (`All`, `all`).
    let mode = permission.get("permissionMode").and_then(Value::as_str);
    let is = |wanted: &str| mode.is_some_and(|m| m.eq_ignore_ascii_case(wanted));
    let allowed = is("all") || (is("read") && reads_only(method, headers));
    if !allowed {
        return Err(forbidden(
            "the resource token's permission mode does not allow this request",
        ));
    }
    check_partition_key(permission, resource, headers)
}

/// A permission with a `resourcePartitionKey` grants item requests of that key only.
fn check_partition_key(
    permission: &Value,
    resource: &Resource,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(granted) = permission.get("resourcePartitionKey") else {
        return Ok(());
    };
    if !matches!(
        resource,
        Resource::Items { .. } | Resource::Item { .. } | Resource::PartitionKeyDelete { .. }
    ) {
        return Ok(());
    }
    let sent = headers
        .get("x-ms-documentdb-partitionkey")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<Value>(v).ok());
    let granted = match granted {
        Value::Array(_) => granted.clone(),
        other => Value::Array(vec![other.clone()]),
    };
    if sent.as_ref() == Some(&granted) {
        Ok(())
    } else {
        Err(forbidden(
            "the resource token grants another partition key of this container",
        ))
    }
}
