//! Building signed requests: paths, resource types and links, and the standard headers.

use std::cell::RefCell;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT as USER_AGENT_HEADER};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use meridian_location_store::Endpoint;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::credential::Signer;
use crate::header_name::Name;
use crate::session::{SESSION_TOKEN, SESSION_TOKEN_HEADER};
use crate::transport::HttpRequest;

/// The REST API version the driver speaks.
pub const API_VERSION: &str = "2020-07-15";
/// The driver's `user-agent`.
pub const USER_AGENT: &str = concat!("meridian-driver/", env!("CARGO_PKG_VERSION"));

/// Characters escaped in a path segment (ids may hold spaces and the like).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// What a request addresses, as the service signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `""`, `dbs`, `colls`, `docs`.
    pub(crate) resource_type: &'static str,
    /// The unencoded link that is signed (for a feed, the parent's).
    pub(crate) resource_link: String,
    /// The URL path below the endpoint, each segment escaped: built once per operation,
    /// so an attempt's URL is one concatenation.
    path: String,
}

impl Target {
    fn new(resource_type: &'static str, resource_link: String, segments: &[&str]) -> Self {
        let mut path = String::with_capacity(resource_link.len() + 8);
        for (i, segment) in segments.iter().enumerate() {
            if i > 0 {
                path.push('/');
            }
            for chunk in utf8_percent_encode(segment, SEGMENT) {
                path.push_str(chunk);
            }
        }
        Self {
            resource_type,
            resource_link,
            path,
        }
    }

    pub(crate) fn account() -> Self {
        Self::new("", String::new(), &[])
    }

    pub(crate) fn databases() -> Self {
        Self::new("dbs", String::new(), &["dbs"])
    }

    pub(crate) fn database(db: &str) -> Self {
        Self::new("dbs", format!("dbs/{db}"), &["dbs", db])
    }

    pub(crate) fn container(db: &str, coll: &str) -> Self {
        Self::new(
            "colls",
            format!("dbs/{db}/colls/{coll}"),
            &["dbs", db, "colls", coll],
        )
    }

    pub(crate) fn containers(db: &str) -> Self {
        Self::new("colls", format!("dbs/{db}"), &["dbs", db, "colls"])
    }

    /// The offer feed (`/offers`).
    pub(crate) fn offers() -> Self {
        Self::new("offers", String::new(), &["offers"])
    }

    /// Offer `rid` (`/offers/{rid}`): signed with the rid alone, lower-cased.
    pub(crate) fn offer(rid: &str) -> Self {
        Self::new("offers", rid.to_lowercase(), &["offers", rid])
    }

    pub(crate) fn items(db: &str, coll: &str) -> Self {
        Self::container_feed("docs", db, coll)
    }

    /// A feed of a container (`docs`, `pkranges`): signed with the container's link.
    pub(crate) fn container_feed(kind: &'static str, db: &str, coll: &str) -> Self {
        Self::new(
            kind,
            format!("dbs/{db}/colls/{coll}"),
            &["dbs", db, "colls", coll, kind],
        )
    }

    pub(crate) fn item(db: &str, coll: &str, id: &str) -> Self {
        let mut link = String::with_capacity(20 + db.len() + coll.len() + id.len());
        for part in ["dbs/", db, "/colls/", coll, "/docs/", id] {
            link.push_str(part);
        }
        Self::new("docs", link, &["dbs", db, "colls", coll, "docs", id])
    }

    pub(crate) fn url(&self, endpoint: &Endpoint) -> String {
        let base = endpoint.as_str();
        let mut url = String::with_capacity(base.len() + self.path.len());
        url.push_str(base);
        url.push_str(&self.path);
        url
    }
}

/// A fresh `x-ms-activity-id` (a random UUID v4), formatted on the stack.
fn activity_id() -> Result<HeaderValue, Unsendable> {
    let random = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
    let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(random.hyphenated().encode_lower(&mut buffer))
        .map_err(|_| Unsendable("x-ms-activity-id"))
}

/// The `x-ms-activity-id` a request carries (empty if none).
pub(crate) fn activity_id_of(headers: &http::HeaderMap) -> String {
    headers
        .get(&X_MS_ACTIVITY_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

thread_local! {
    /// This thread's `x-ms-date` for the current second: formatted once per second per
    /// thread, cloned (a reference count) for every request in that second.
    static DATE: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
}

/// `x-ms-date` for now, as an HTTP date.
fn date_now() -> Result<HeaderValue, Unsendable> {
    let now = SystemTime::now();
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if let Some((at, value)) = cached.as_ref()
            && *at == second
        {
            return Ok(value.clone());
        }
        let value = HeaderValue::try_from(httpdate::fmt_http_date(now))
            .map_err(|_| Unsendable("x-ms-date"))?;
        *cached = Some((second, value.clone()));
        Ok(value)
    })
}

/// A header value HTTP cannot carry (a control character, DEL): the header's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsendable(pub(crate) &'static str);

// The standard headers' names, made at compile time (`from_static` at run time
// validates the name on every call).
const X_MS_DATE: HeaderName = HeaderName::from_static("x-ms-date");
const X_MS_VERSION: HeaderName = HeaderName::from_static("x-ms-version");
pub(crate) const X_MS_ACTIVITY_ID: HeaderName = HeaderName::from_static("x-ms-activity-id");

/// A signed request for `method` on `target` at `endpoint`, with `extra` headers and the
/// session token to send, if any; an error, and no request, if a value cannot be sent.
pub(crate) fn signed(
    signer: &Signer,
    method: Method,
    endpoint: &Endpoint,
    target: &Target,
    extra: &[(Name, String)],
    session_token: Option<&str>,
    body: Option<Bytes>,
) -> Result<HttpRequest, Unsendable> {
    let date = date_now()?;
    let authorization = match signer {
        Signer::Key(key) => {
            let signature = key.authorization(
                method.as_str(),
                target.resource_type,
                &target.resource_link,
                date.to_str().map_err(|_| Unsendable("x-ms-date"))?,
            );
            let mut value =
                HeaderValue::try_from(signature).map_err(|_| Unsendable("authorization"))?;
            // A signature is not the key, but nothing prints it (`Debug` of the request
            // shows `Sensitive`), as for a token.
            value.set_sensitive(true);
            (AUTHORIZATION, value)
        }
        Signer::Token(value) => (AUTHORIZATION, value.clone()),
    };
    // Straight into the map hyper sends: no list built first and copied over.
    let mut headers = HeaderMap::with_capacity(9 + extra.len());
    let json = HeaderValue::from_static("application/json");
    // A query says `application/query+json`; other bodies are JSON.
    let typed = extra.iter().any(|(name, _)| name.name == CONTENT_TYPE);
    let content_type = (body.is_some() && !typed).then(|| (CONTENT_TYPE, json.clone()));
    let standard = [
        (X_MS_DATE, date),
        authorization,
        (X_MS_VERSION, HeaderValue::from_static(API_VERSION)),
        (USER_AGENT_HEADER, HeaderValue::from_static(USER_AGENT)),
        (X_MS_ACTIVITY_ID, activity_id()?),
        (ACCEPT, json),
    ];
    // One loop, one copy of the map's insertion code: this runs for every request, and
    // its code is fetched again each time.
    for (name, value) in standard.into_iter().chain(content_type) {
        headers.append(name, value);
    }
    for (name, value) in extra {
        let value = HeaderValue::try_from(value.as_str()).map_err(|_| Unsendable(name.text))?;
        headers.append(name.name.clone(), value);
    }
    // Apart from `extra`, so a read adds its container's token without copying its
    // other headers.
    if let Some(token) = session_token {
        let value = HeaderValue::from_str(token).map_err(|_| Unsendable(SESSION_TOKEN))?;
        headers.append(SESSION_TOKEN_HEADER, value);
    }
    Ok(HttpRequest {
        method,
        url: target.url(endpoint),
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header_name::header_name;

    #[test]
    fn feeds_sign_the_parent_link_and_ids_are_escaped_in_the_url() {
        let endpoint = Endpoint::parse("http://127.0.0.1:1/").unwrap();
        let feed = Target::items("db", "c");
        assert_eq!(
            (feed.resource_type, feed.resource_link.as_str()),
            ("docs", "dbs/db/colls/c")
        );
        let item = Target::item("db", "c", "my id");
        assert_eq!(item.resource_link, "dbs/db/colls/c/docs/my id");
        assert_eq!(
            item.url(&endpoint),
            "http://127.0.0.1:1/dbs/db/colls/c/docs/my%20id"
        );
        assert_eq!(Target::account().url(&endpoint), "http://127.0.0.1:1/");
        assert_eq!(Target::containers("d").resource_link, "dbs/d");
    }

    #[test]
    fn requests_carry_the_standard_headers_and_no_key() {
        let key = Signer::Key(std::sync::Arc::new(
            crate::signing::MasterKey::from_base64("c2VjcmV0LWtleS1ieXRlcw==").unwrap(),
        ));
        let endpoint = Endpoint::parse("http://127.0.0.1:1/").unwrap();
        let request = signed(
            &key,
            Method::GET,
            &endpoint,
            &Target::account(),
            &[],
            None,
            None,
        )
        .unwrap();
        let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "x-ms-date",
            "authorization",
            "x-ms-version",
            "user-agent",
            "x-ms-activity-id",
        ] {
            assert!(names.contains(&expected), "{expected}");
        }
        let rendered = format!("{request:?}");
        let content_types = |request: &HttpRequest| -> Vec<String> {
            request
                .headers
                .iter()
                .filter(|(n, _)| *n == "content-type")
                .map(|(_, v)| v.to_str().unwrap().to_string())
                .collect()
        };
        let body = Some(Bytes::from_static(b"{}"));
        let json = signed(
            &key,
            Method::POST,
            &endpoint,
            &Target::account(),
            &[],
            None,
            body.clone(),
        )
        .unwrap();
        assert_eq!(content_types(&json), ["application/json"]);
        let query_type = [(
            header_name!("content-type"),
            "application/query+json".to_string(),
        )];
        let query = signed(
            &key,
            Method::POST,
            &endpoint,
            &Target::account(),
            &query_type,
            None,
            body,
        )
        .unwrap();
        assert_eq!(content_types(&query), ["application/query+json"]);
        assert!(!rendered.contains("c2VjcmV0LWtleS1ieXRlcw=="));
        // Nor the signature: the header is sensitive.
        assert!(!rendered.contains("type%3Dmaster"), "{rendered}");
    }

    #[test]
    fn an_unsendable_value_is_an_error_not_a_missing_header() {
        let key = Signer::Key(std::sync::Arc::new(
            crate::signing::MasterKey::from_base64("c2VjcmV0LWtleS1ieXRlcw==").unwrap(),
        ));
        let endpoint = Endpoint::parse("http://127.0.0.1:1/").unwrap();
        for bad in ["\"etag\"\u{1}", "a\u{7f}", "line\nbreak"] {
            let extra = [(header_name!("if-match"), bad.to_string())];
            let request = signed(
                &key,
                Method::PUT,
                &endpoint,
                &Target::account(),
                &extra,
                None,
                None,
            );
            assert_eq!(request.unwrap_err(), Unsendable("if-match"), "{bad:?}");
        }
        let good = [(header_name!("if-match"), "\"0x1\"".to_string())];
        let request = signed(
            &key,
            Method::PUT,
            &endpoint,
            &Target::account(),
            &good,
            None,
            None,
        );
        assert!(request.is_ok());
    }
}
