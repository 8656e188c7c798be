//! A plain HTTP client with its own master-key signer, written for these tests only:
//! the emulator's verification is checked against an independent implementation.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sha2::Sha256;

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn sub_status(&self) -> Option<u32> {
        self.headers
            .get("x-ms-substatus")
            .map(|v| v.to_str().unwrap().parse().unwrap())
    }
}

#[derive(Debug, Clone)]
pub struct TestClient {
    http: Client<HttpConnector, Full<Bytes>>,
    key: String,
}

pub fn sign(key: &str, verb: &str, kind: &str, link: &str, date: &str) -> String {
    let key = STANDARD.decode(key).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}\n{kind}\n{link}\n{}\n\n",
            verb.to_lowercase(),
            date.to_lowercase()
        )
        .as_bytes(),
    );
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    let raw = format!("type=master&ver=1.0&sig={sig}");
    percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub fn now_date() -> String {
    httpdate::fmt_http_date(SystemTime::now())
}

/// What to sign: resource type and link, as the service defines them.
#[derive(Debug)]
pub struct Signed<'a> {
    pub kind: &'a str,
    pub link: &'a str,
}

impl<'a> Signed<'a> {
    pub const fn new(kind: &'a str, link: &'a str) -> Self {
        Self { kind, link }
    }
}

pub const ACCOUNT: Signed<'static> = Signed::new("", "");

/// Signing parts of the usual resources (database `db`, container `c`).
pub const DATABASES: Signed<'static> = Signed::new("dbs", "");
pub const DATABASE: Signed<'static> = Signed::new("dbs", "dbs/db");
pub const COLLECTIONS: Signed<'static> = Signed::new("colls", "dbs/db");
pub const COLLECTION: Signed<'static> = Signed::new("colls", "dbs/db/colls/c");
/// Items of `dbs/db/colls/c`: the feed (create, query, read feed).
pub const DOCS: Signed<'static> = Signed::new("docs", "dbs/db/colls/c");

impl TestClient {
    pub fn new(key: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        Self {
            http: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(connector),
            key: key.to_string(),
        }
    }

    /// Sends a request; every wait is bounded by 5 s.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        signed: Option<Signed<'_>>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Reply, String> {
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        self.send_bytes(method, url, signed, headers, body).await
    }

    /// Sends a request with a body of raw bytes; every wait is bounded by 5 s.
    pub async fn send_bytes(
        &self,
        method: Method,
        url: &str,
        signed: Option<Signed<'_>>,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, String> {
        let date = now_date();
        let mut builder = Request::builder().method(method.clone()).uri(url);
        if let Some(signed) = signed {
            builder = builder.header("x-ms-date", &date).header(
                "authorization",
                sign(&self.key, method.as_str(), signed.kind, signed.link, &date),
            );
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body)).unwrap();
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| format!("request: {e:?}"))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .map_err(|_| "timed out".to_string())?
    }

    /// A signed request with an optional JSON body and no extra headers.
    pub async fn signed(
        &self,
        method: Method,
        url: &str,
        signed: Signed<'_>,
        body: Option<Value>,
    ) -> Reply {
        self.send(method, url, Some(signed), &[], body)
            .await
            .unwrap()
    }

    pub async fn get(&self, url: &str, signed: Signed<'_>) -> Reply {
        self.send(Method::GET, url, Some(signed), &[], None)
            .await
            .unwrap()
    }

    /// The status of a signed `GET /` (the account document) at `endpoint`.
    pub async fn account_status(&self, endpoint: &str) -> StatusCode {
        self.get(endpoint, ACCOUNT).await.status
    }

    /// The status of an unsigned `GET` carrying `headers` (say, auth headers a test made).
    pub async fn get_status_with(&self, url: &str, headers: &[(&str, &str)]) -> u16 {
        let reply = self.send(Method::GET, url, None, headers, None).await;
        reply.unwrap().status.as_u16()
    }

    /// An unsigned admin call.
    pub async fn admin(&self, method: Method, url: &str, body: Option<Value>) -> Reply {
        self.send(method, url, None, &[], body).await.unwrap()
    }
}

/// The items of container `c` in database `db` at one endpoint, in partition `pk`: every
/// request carries `x-ms-documentdb-partitionkey: ["pk"]` first.
#[derive(Debug)]
pub struct Items<'a> {
    client: &'a TestClient,
    base: &'a str,
    pk_header: String,
}

impl<'a> Items<'a> {
    /// The items at `base` (an endpoint URL) in partition `pk`.
    pub fn new(client: &'a TestClient, base: &'a str, pk: &str) -> Self {
        let pk_header = format!("[\"{pk}\"]");
        Self {
            client,
            base,
            pk_header,
        }
    }

    /// Sends `method` to the items feed (`id` `None`) or to item `id`, signed, with the
    /// partition key header and then `headers`.
    pub async fn send(
        &self,
        method: Method,
        id: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut all = vec![("x-ms-documentdb-partitionkey", self.pk_header.as_str())];
        all.extend_from_slice(headers);
        let link = id.map(|id| format!("dbs/db/colls/c/docs/{id}"));
        let (path, signed) = match &link {
            Some(link) => (link.as_str(), Signed::new("docs", link)),
            None => ("dbs/db/colls/c/docs", DOCS),
        };
        let url = format!("{}{path}", self.base);
        self.client
            .send(method, &url, Some(signed), &all, body)
            .await
            .unwrap()
    }

    /// `POST` of a new item.
    pub async fn create(&self, body: Value) -> Reply {
        self.send(Method::POST, None, &[], Some(body)).await
    }

    /// `POST` with `x-ms-documentdb-is-upsert: true`.
    pub async fn upsert(&self, body: Value) -> Reply {
        let upsert = [("x-ms-documentdb-is-upsert", "true")];
        self.send(Method::POST, None, &upsert, Some(body)).await
    }

    /// `GET` of item `id`.
    pub async fn read(&self, id: &str) -> Reply {
        self.send(Method::GET, Some(id), &[], None).await
    }

    /// `PUT` of item `id`.
    pub async fn replace(&self, id: &str, headers: &[(&str, &str)], body: Value) -> Reply {
        self.send(Method::PUT, Some(id), headers, Some(body)).await
    }

    /// `PATCH` of item `id` (`body`: the operations).
    pub async fn patch(&self, id: &str, headers: &[(&str, &str)], body: Value) -> Reply {
        self.send(Method::PATCH, Some(id), headers, Some(body))
            .await
    }

    /// `DELETE` of item `id`.
    pub async fn delete(&self, id: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::DELETE, Some(id), headers, None).await
    }
}
