//! Whole-request handling in the emulator: arbitrary method, path, headers and body,
//! served in process (no socket). Admin paths are skipped: a fuzzed admin call could
//! install a `hang` fault and stall every later input.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use meridian_emulator::Emulator;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    method: u8,
    path: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
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
        builder = builder.header(*name, *value);
    }
    let Ok(request) = builder.body(bytes::Bytes::copy_from_slice(input.body)) else { return };
    let (runtime, emulator) = runtime();
    let response = runtime.block_on(emulator.handle(request, 1 << 20));
    // Unsigned fuzz input can never be authorized.
    assert!(response.status().as_u16() >= 400, "unsigned request answered {}", response.status());
});
