//! The emulator's `authorization` header parser and signature check.
#![no_main]

use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use meridian_emulator::WELL_KNOWN_KEY;
use meridian_emulator::auth::{MasterKey, parse_authorization};

fuzz_target!(|input: (&str, &str, &str, &str)| {
    let (authorization, date, verb, link) = input;
    if let Ok(parsed) = parse_authorization(authorization) {
        assert_eq!(parsed.signature.len(), 32, "only HMAC-SHA256-sized signatures parse");
    }
    let key = MasterKey::from_base64(WELL_KNOWN_KEY).expect("the well-known key decodes");
    // Random input must never verify (and never panic).
    let verified = key.verify(verb, "docs", link, Some(authorization), Some(date), SystemTime::now());
    assert!(verified.is_err(), "random input verified");
});
