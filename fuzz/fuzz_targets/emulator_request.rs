//! Whole-request handling in the emulator: arbitrary method, path, headers and body,
//! served in process (no socket). Admin paths are skipped: a fuzzed admin call could
//! install a `hang` fault and stall every later input. Most inputs are signed with the
//! emulator's key (for the resource their path names), so the data-plane handlers behind
//! the auth check are fuzzed too, not only the check.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use meridian_emulator::auth::MasterKey;
use meridian_emulator::{Emulator, Resource, WELL_KNOWN_KEY};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    /// Sign the request (most inputs) or leave it unsigned.
    signed: bool,
    method: u8,
    path: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

fn key() -> &'static MasterKey {
    static KEY: OnceLock<MasterKey> = OnceLock::new();
    KEY.get_or_init(|| MasterKey::from_base64(WELL_KNOWN_KEY).expect("the well-known key"))
}

fn runtime() -> &'static (tokio::runtime::Runtime, Emulator) {
    static CELL: OnceLock<(tokio::runtime::Runtime, Emulator)> = OnceLock::new();
    CELL.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let emulator = runtime.block_on(Emulator::builder().start()).expect("emulator");
        (runtime, emulator)
    })
}

fuzz_target!(|input: Input<'_>| {
    if input.path.starts_with("/_emulator") || !input.path.starts_with('/') {
        return;
    }
    let method = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"][usize::from(input.method) % 6];
    let mut builder = http::Request::builder().method(method).uri(input.path);
    for (name, value) in &input.headers {
        let auth = name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("x-ms-date");
        if input.signed && auth {
            continue;
        }
        builder = builder.header(*name, *value);
    }
    let Ok(mut request) = builder.body(bytes::Bytes::copy_from_slice(input.body)) else { return };
    // Sign exactly what the emulator will parse: the request's own path.
    let resource = Resource::parse(request.uri().path());
    let signed = input.signed && resource.is_some();
    if let (true, Some(resource)) = (signed, &resource) {
        let (kind, link) = resource.signing_parts();
        let date = httpdate_now();
        let authorization = key().sign(method, kind, &link, &date);
        let (Ok(date), Ok(authorization)) =
            (http::HeaderValue::from_str(&date), http::HeaderValue::from_str(&authorization))
        else {
            return;
        };
        request.headers_mut().insert("x-ms-date", date);
        request.headers_mut().insert("authorization", authorization);
    }
    let (runtime, emulator) = runtime();
    let response = runtime.block_on(emulator.handle(request, 1 << 20));
    let status = response.status().as_u16();
    if signed {
        // Signed with the right key and a fresh date: past the check.
        assert_ne!(status, 401, "a signed request was refused by the auth check");
    } else {
        // Unsigned fuzz input can never be authorized.
        assert!(status >= 400, "unsigned request answered {status}");
    }
});

/// `x-ms-date` for now, in the HTTP date format.
fn httpdate_now() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}
