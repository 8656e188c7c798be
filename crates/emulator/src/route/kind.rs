//! What a request is, as far as regions care (a read, a write, a query, a query plan),
//! and the header readers the routes share.

use http::{HeaderMap, Method};

use crate::resource::Resource;

/// What a request does, as far as regions care: queries are reads even though they POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Read,
    Write,
    Query,
    QueryPlan,
}

pub(super) fn flag(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(super) fn kind(method: &Method, resource: &Resource, headers: &HeaderMap) -> Kind {
    let query_content = header(headers, "content-type")
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/query+json"));
    let plan = flag(headers, "x-ms-cosmos-is-query-plan-request");
    let query = flag(headers, "x-ms-documentdb-isquery") || query_content;
    match (method, resource) {
        (&Method::POST, Resource::Items { .. }) if plan => Kind::QueryPlan,
        (&Method::POST, Resource::Items { .. }) if query => Kind::Query,
        (&Method::POST, Resource::Databases | Resource::Containers { .. } | Resource::Offers)
            if query =>
        {
            Kind::Query
        }
        (&Method::POST, Resource::Conflicts { .. } | Resource::Scripts { .. }) if query => {
            Kind::Query
        }
        (&Method::POST | &Method::PUT | &Method::DELETE | &Method::PATCH, _) => Kind::Write,
        _ => Kind::Read,
    }
}
