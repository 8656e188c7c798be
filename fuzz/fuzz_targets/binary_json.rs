//! The emulator's Cosmos binary JSON decoder, behind the 0x80 preamble.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_emulator::binary::{PREAMBLE, decode};

fuzz_target!(|body: &[u8]| {
    let mut bytes = Vec::with_capacity(body.len() + 1);
    bytes.push(PREAMBLE);
    bytes.extend_from_slice(body);
    // Never a panic; whatever decodes is a JSON value that prints.
    if let Ok(value) = decode(&bytes) {
        assert!(!value.to_string().is_empty(), "a decoded value prints");
    }
});
