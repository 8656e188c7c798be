//! The floor: a bare hyper client that signs each request, reads the body and parses it
//! into the item type, and does nothing else — no routing, retries, session, metadata,
//! spans or pool bounds. Benchmarks and tests measure the driver against it.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use meridian_emulator::Emulator;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

/// A bare signed client of one container (`dbs/{db}/colls/{coll}`) at one regional endpoint.
pub struct BareClient {
    client: Client<HttpConnector, Full<Bytes>>,
    key: Vec<u8>,
    endpoint: String,
    container: String,
}

impl std::fmt::Debug for BareClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BareClient")
            .field("endpoint", &self.endpoint)
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

impl BareClient {
    /// A client of `db`/`coll` on `emulator`'s first region (where a driver preferring it
    /// reads and writes).
    pub fn new(emulator: &Emulator, db: &str, coll: &str) -> Self {
        Self::for_endpoint(&emulator.regions()[0].endpoint, emulator.key(), db, coll)
    }

    /// A client of `db`/`coll` at `endpoint` (`http://host:port/`), signing with `key`.
    pub fn for_endpoint(endpoint: &str, key: &str, db: &str, coll: &str) -> Self {
        // Small requests go out at once, as the driver's do (no Nagle delay).
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            key: STANDARD.decode(key).expect("the key is base64"),
            endpoint: endpoint.to_string(),
            container: format!("dbs/{db}/colls/{coll}"),
        }
    }

    /// Reads item `id` of partition key `pk` (a string).
    pub async fn read<T: DeserializeOwned>(&self, pk: &str, id: &str) -> T {
        let link = format!("{}/docs/{id}", self.container);
        self.send(Method::GET, &link, &link, pk, Bytes::new()).await
    }

    /// Upserts `item` in partition key `pk` (a string); returns the stored item.
    pub async fn upsert<T: Serialize + DeserializeOwned>(&self, pk: &str, item: &T) -> T {
        let body = Bytes::from(serde_json::to_vec(item).expect("the item serializes"));
        let path = format!("{}/docs", self.container);
        self.send(Method::POST, &path, &self.container, pk, body)
            .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        signed_link: &str,
        pk: &str,
        body: Bytes,
    ) -> T {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let upsert = method == Method::POST;
        let mut request = Request::builder()
            .uri(format!("{}{path}", self.endpoint))
            .header("x-ms-date", &date)
            .header(
                "authorization",
                self.authorization(method.as_str(), signed_link, &date),
            )
            .header("x-ms-version", "2020-07-15")
            .header("x-ms-documentdb-partitionkey", format!("[\"{pk}\"]"))
            .method(method);
        if upsert {
            request = request
                .header("content-type", "application/json")
                .header("x-ms-documentdb-is-upsert", "true");
        }
        let response = self
            .client
            .request(request.body(Full::new(body)).expect("a valid request"))
            .await
            .expect("the emulator answers");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response
            .into_body()
            .collect()
            .await
            .expect("the body arrives")
            .to_bytes();
        serde_json::from_slice(&body).expect("the body is the item")
    }

    fn authorization(&self, verb: &str, link: &str, date: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        let verb = verb.to_lowercase();
        let date = date.to_lowercase();
        mac.update(format!("{verb}\ndocs\n{link}\n{date}\n\n").as_bytes());
        let raw = format!(
            "type=master&ver=1.0&sig={}",
            STANDARD.encode(mac.finalize().into_bytes())
        );
        percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
    }
}
