//! Cosmos binary JSON: the decoder against hand-checked fixtures of every wire form,
//! hostile input (never a panic), a round trip through a test encoder, and item bodies
//! sent in binary over a real socket.

use bytes::Bytes;
use http::Method;
use meridian_emulator::binary::{BinaryError, MAX_DEPTH, decode, is_binary};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::client::Signed;
use crate::start;

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// (name, bytes after the 0x80 preamble, the JSON they mean).
fn fixtures() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("null", "D0", json!(null)),
        ("false", "D1", json!(false)),
        ("true", "D2", json!(true)),
        ("literal 0", "00", json!(0)),
        ("literal 31", "1F", json!(31)),
        ("number uint8", "C8 C8", json!(200)),
        ("number int16", "C9 18 FC", json!(-1000)),
        ("number int32", "CA 70 11 01 00", json!(70000)),
        (
            "number int64",
            "CB 00 0E FA D5 FE FF FF FF",
            json!(-5_000_000_000_i64),
        ),
        (
            "number uint64",
            "C7 FE FF FF FF FF FF FF FF",
            json!(18_446_744_073_709_551_614_u64),
        ),
        ("number double", "CC 00 00 00 00 00 00 0C 40", json!(3.5)),
        ("int8", "D8 FB", json!(-5)),
        ("uint8", "D7 C8", json!(200)),
        ("int16", "D9 18 FC", json!(-1000)),
        ("int32", "DA 90 EE FE FF", json!(-70000)),
        (
            "int64",
            "DB 00 0E FA D5 FE FF FF FF",
            json!(-5_000_000_000_i64),
        ),
        ("uint32", "DC FE FF FF FF", json!(4_294_967_294_u64)),
        ("float32", "CD 00 00 C0 3F", json!(1.5)),
        ("float64", "CE 00 00 00 00 00 00 02 C0", json!(-2.25)),
        ("system string first", "20", json!("$s")),
        ("system string id", "2C", json!("id")),
        ("system string last", "3F", json!("_id")),
        ("empty string", "80", json!("")),
        ("short string", "82 68 69", json!("hi")),
        (
            "string, 1-byte length",
            "C0 05 68 65 6C 6C 6F",
            json!("hello"),
        ),
        ("string, 2-byte length", "C1 03 00 61 62 63", json!("abc")),
        (
            "string, 4-byte length",
            "C2 05 00 00 00 68 65 6C 6C 6F",
            json!("hello"),
        ),
        ("utf-8 string", "82 C3 A9", json!("é")),
        (
            "guid string lower",
            "75 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F",
            json!("00102030-4050-6070-8090-a0b0c0d0e0f0"),
        ),
        (
            "guid string upper",
            "76 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F",
            json!("00102030-4050-6070-8090-A0B0C0D0E0F0"),
        ),
        (
            "guid string quoted",
            "77 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F",
            json!("\"00102030-4050-6070-8090-a0b0c0d0e0f0\""),
        ),
        (
            "guid value",
            "D3 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F",
            json!("03020100-0504-0706-0809-0a0b0c0d0e0f"),
        ),
        ("base64, no padding", "71 01 00 66 6F 6F", json!("Zm9v")),
        ("base64, one pad", "71 01 01 66 6F", json!("Zm8=")),
        ("base64, two pads", "71 01 02 41", json!("QQ==")),
        ("base64, pads left off", "71 01 FD 41", json!("QQ")),
        (
            "base64, 2-byte groups",
            "72 02 00 00 66 6F 6F 62 61 72",
            json!("Zm9vYmFy"),
        ),
        (
            "base64 standard alphabet",
            "71 01 00 FB FF FE",
            json!("+//+"),
        ),
        ("base64 url alphabet", "73 01 00 FB FF FE", json!("-__-")),
        (
            "base64 url, 2-byte groups",
            "74 01 00 00 FB FF FE",
            json!("-__-"),
        ),
        ("lower hex", "78 04 A1 B2", json!("1a2b")),
        ("upper hex", "79 04 A1 B2", json!("1A2B")),
        ("odd hex", "78 01 0F", json!("f")),
        ("date-time", "7A 07 13 53 1C 02", json!("2024-01")),
        ("packed 4-bit", "7B 04 30 10 32", json!("0123")),
        ("packed 5-bit", "7C 03 61 20 08", json!("abc")),
        ("packed 6-bit", "7D 04 61 40 20 0C", json!("abcd")),
        ("packed 7-bit", "7E 02 C8 34", json!("Hi")),
        ("packed 7-bit, 2-byte length", "7F 02 00 C8 34", json!("Hi")),
        ("bytes", "DD 04 DE AD BE EF", json!("3q2+7w==")),
        ("no bytes", "DD 00", json!("")),
        ("bytes, 2-byte length", "DE 03 00 01 02 03", json!("AQID")),
        (
            "bytes, 4-byte length",
            "DF 04 00 00 00 DE AD BE EF",
            json!("3q2+7w=="),
        ),
        ("empty array", "E0", json!([])),
        ("one-item array", "E1 D2", json!([true])),
        (
            "array, 1-byte length",
            "E2 03 00 01 D0",
            json!([0, 1, null]),
        ),
        (
            "array, 2-byte length",
            "E3 03 00 00 01 D0",
            json!([0, 1, null]),
        ),
        (
            "array, 4-byte length",
            "E4 03 00 00 00 00 01 D0",
            json!([0, 1, null]),
        ),
        (
            "array, 1-byte length and count",
            "E5 03 03 00 01 D0",
            json!([0, 1, null]),
        ),
        (
            "array, 2-byte length and count",
            "E6 03 00 03 00 00 01 D0",
            json!([0, 1, null]),
        ),
        (
            "array, 4-byte length and count",
            "E7 03 00 00 00 03 00 00 00 00 01 D0",
            json!([0, 1, null]),
        ),
        ("empty object", "E8", json!({})),
        ("one-member object", "E9 2C D2", json!({"id": true})),
        (
            "object, 1-byte length",
            "EA 04 2C 00 3B 01",
            json!({"id": 0, "type": 1}),
        ),
        (
            "object, 2-byte length",
            "EB 04 00 2C 00 3B 01",
            json!({"id": 0, "type": 1}),
        ),
        (
            "object, 4-byte length",
            "EC 04 00 00 00 2C 00 3B 01",
            json!({"id": 0, "type": 1}),
        ),
        (
            "object, 1-byte length and count",
            "ED 04 02 2C 00 3B 01",
            json!({"id": 0, "type": 1}),
        ),
        (
            "object, 2-byte length and count",
            "EE 04 00 02 00 2C 00 3B 01",
            json!({"id": 0, "type": 1}),
        ),
        (
            "object, 4-byte length and count",
            "EF 04 00 00 00 02 00 00 00 2C 00 3B 01",
            json!({"id": 0, "type": 1}),
        ),
        ("nested", "E2 05 E1 00 E9 2C 01", json!([[0], {"id": 1}])),
        (
            "uniform int32",
            "F0 DA 03 01 00 00 00 02 00 00 00 03 00 00 00",
            json!([1, 2, 3]),
        ),
        ("uniform uint8", "F0 D7 03 0A 14 1E", json!([10, 20, 30])),
        ("uniform int8", "F0 D8 03 FB 00 05", json!([-5, 0, 5])),
        ("uniform empty", "F0 DA 00", json!([])),
        (
            "uniform int16, 2-byte count",
            "F1 D9 03 00 FF FF 00 00 E8 03",
            json!([-1, 0, 1000]),
        ),
        (
            "uniform float32",
            "F0 CD 02 00 00 C0 3F 00 00 80 BE",
            json!([1.5, -0.25]),
        ),
        (
            "uniform float64",
            "F0 CE 02 00 00 00 00 00 00 F8 3F 00 00 00 00 00 00 02 C0",
            json!([1.5, -2.25]),
        ),
        (
            "uniform arrays",
            "F2 F0 DA 02 02 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00",
            json!([[1, 2], [3, 4]]),
        ),
        (
            "uniform arrays, 2-byte counts",
            "F3 F1 DA 02 00 02 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00",
            json!([[1, 2], [3, 4]]),
        ),
        (
            "reference, 1-byte offset",
            "E2 05 82 68 69 C3 03",
            json!(["hi", "hi"]),
        ),
        (
            "reference, 2-byte offset",
            "E2 06 82 68 69 C4 03 00",
            json!(["hi", "hi"]),
        ),
        (
            "reference, 3-byte offset",
            "E2 07 82 68 69 C5 03 00 00",
            json!(["hi", "hi"]),
        ),
        (
            "reference, 4-byte offset",
            "E2 08 82 68 69 C6 03 00 00 00",
            json!(["hi", "hi"]),
        ),
        // What the SDK's encoder writes for a typical item: LC framing, sized strings.
        (
            "sdk-style item",
            "ED 16 03 82 69 64 81 31 82 70 6B 82 70 31 81 6E CB 20 00 00 00 00 00 00 00",
            json!({"id": "1", "pk": "p1", "n": 32}),
        ),
    ]
}

#[test]
fn binary_decodes_every_wire_form() {
    for (name, body, expected) in fixtures() {
        let mut bytes = vec![0x80];
        bytes.extend(hex(body));
        assert!(is_binary(&bytes), "{name}");
        assert_eq!(decode(&bytes), Ok(expected), "{name}");
    }
}

/// Whether an error is the expected one.
type Expect = fn(&BinaryError) -> bool;

#[test]
fn binary_refuses_malformed_buffers_with_typed_errors() {
    let cases: Vec<(&str, &str, Expect)> = vec![
        ("empty", "", |e| matches!(e, BinaryError::MissingPreamble)),
        ("json text", "7B 7D", |e| {
            matches!(e, BinaryError::MissingPreamble)
        }),
        ("preamble only", "80", |e| {
            matches!(e, BinaryError::Truncated { .. })
        }),
        ("truncated int32", "80 CA 01 02", |e| {
            matches!(e, BinaryError::Truncated { .. })
        }),
        ("truncated string", "80 85 68", |e| {
            matches!(e, BinaryError::Truncated { .. })
        }),
        ("container past end", "80 E2 09 00", |e| {
            matches!(e, BinaryError::Truncated { .. })
        }),
        ("trailing bytes", "80 D0 D0", |e| {
            matches!(e, BinaryError::TrailingBytes { offset: 2 })
        }),
        ("reserved marker", "80 68", |e| {
            matches!(
                e,
                BinaryError::InvalidMarker {
                    marker: 0x68,
                    offset: 1
                }
            )
        }),
        ("invalid marker", "80 FF", |e| {
            matches!(e, BinaryError::InvalidMarker { marker: 0xFF, .. })
        }),
        ("user string", "80 40", |e| {
            matches!(e, BinaryError::Unsupported { .. })
        }),
        ("float16", "80 CF 00 3C", |e| {
            matches!(e, BinaryError::Unsupported { .. })
        }),
        ("nan", "80 CC 00 00 00 00 00 00 F8 7F", |e| {
            matches!(e, BinaryError::Malformed { .. })
        }),
        ("bad utf-8", "80 81 FF", |e| {
            matches!(e, BinaryError::Malformed { .. })
        }),
        ("count mismatch", "80 E5 01 02 00", |e| {
            matches!(e, BinaryError::Malformed { .. })
        }),
        ("item past container", "80 E2 01 C8 05", |e| {
            matches!(e, BinaryError::Malformed { .. })
        }),
        ("number as member name", "80 EA 02 00 00", |e| {
            matches!(e, BinaryError::InvalidMarker { .. })
        }),
        ("forward reference", "80 E2 02 C3 04 82", |e| {
            matches!(e, BinaryError::Malformed { .. })
        }),
        ("reference to a number", "80 E2 03 05 C3 03", |e| {
            matches!(e, BinaryError::Malformed { .. })
        }),
        ("bad base64 padding", "80 71 01 07 41", |e| {
            matches!(e, BinaryError::Malformed { .. })
        }),
        ("non-zero hex pad", "80 78 01 FF", |e| {
            matches!(e, BinaryError::Malformed { .. })
        }),
        ("non-number uniform", "80 F0 D0 01 00", |e| {
            matches!(e, BinaryError::InvalidMarker { .. })
        }),
    ];
    for (name, bytes, expected) in cases {
        let error = decode(&hex(bytes)).expect_err(name);
        assert!(expected(&error), "{name}: {error:?}");
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn binary_bounds_depth_and_expansion() {
    // One-item arrays nested far deeper than allowed: refused, no stack overflow.
    let mut deep = vec![0x80];
    deep.extend(std::iter::repeat_n(0xE1, 100_000));
    deep.push(0xD0);
    assert_eq!(decode(&deep), Err(BinaryError::TooDeep));
    let mut ok = vec![0x80];
    ok.extend(std::iter::repeat_n(0xE1, MAX_DEPTH));
    ok.push(0xD0);
    assert!(decode(&ok).is_ok());

    // A 63-byte string referenced from 60 000 places would expand to ~3.8 MB from
    // ~180 KB of input: refused by the output budget.
    let count: usize = 60_000;
    let mut body = vec![0xBF];
    body.extend([b'x'; 63]);
    for _ in 0..count {
        body.extend([0xC3, 0x06]);
    }
    let mut bytes = vec![0x80, 0xE4];
    bytes.extend(u32::try_from(body.len()).unwrap().to_le_bytes());
    bytes.extend(body);
    assert!(matches!(decode(&bytes), Err(BinaryError::TooLarge { .. })));
}

/// A minimal encoder for the round trip, in the verbose forms the SDK writes.
fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0xD0),
        Value::Bool(b) => out.push(if *b { 0xD2 } else { 0xD1 }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                out.push(0xCB);
                out.extend(i.to_le_bytes());
            }
            (None, Some(u), _) => {
                out.push(0xC7);
                out.extend(u.to_le_bytes());
            }
            (_, _, f) => {
                out.push(0xCC);
                out.extend(f.unwrap().to_le_bytes());
            }
        },
        Value::String(s) => {
            out.push(0xC2);
            out.extend(u32::try_from(s.len()).unwrap().to_le_bytes());
            out.extend(s.as_bytes());
        }
        Value::Array(items) => framed(0xE7, items.len(), out, |inner| {
            items.iter().for_each(|item| encode(item, inner))
        }),
        Value::Object(map) => framed(0xEF, map.len(), out, |inner| {
            for (name, item) in map {
                encode(&Value::String(name.clone()), inner);
                encode(item, inner);
            }
        }),
    }
}

fn framed(marker: u8, count: usize, out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    fill(&mut inner);
    out.push(marker);
    out.extend(u32::try_from(inner.len()).unwrap().to_le_bytes());
    out.extend(u32::try_from(count).unwrap().to_le_bytes());
    out.extend(inner);
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        ".{0,80}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn binary_random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = vec![0x80];
        bytes.extend(body);
        let _ = decode(&bytes);
    }

    #[test]
    fn binary_round_trips_encoded_values(value in json_value()) {
        let mut bytes = vec![0x80];
        encode(&value, &mut bytes);
        prop_assert_eq!(decode(&bytes), Ok(value));
    }
}

#[tokio::test]
async fn binary_item_body_is_accepted_over_the_wire() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    let signed = |kind, link| Some(Signed { kind, link });
    for (url, kind, link, body) in [
        (format!("{base}dbs"), "dbs", "", json!({"id": "db"})),
        (
            format!("{base}dbs/db/colls"),
            "colls",
            "dbs/db",
            json!({"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}}),
        ),
    ] {
        let reply = client
            .send(Method::POST, &url, signed(kind, link), &[], Some(body))
            .await
            .unwrap();
        assert_eq!(reply.status, 201);
    }
    let docs = format!("{base}dbs/db/colls/c/docs");
    let pk = [
        ("x-ms-documentdb-partitionkey", "[\"p1\"]"),
        ("content-type", "application/json"),
    ];
    let mut body = vec![0x80];
    body.extend(hex(
        "ED 16 03 82 69 64 81 31 82 70 6B 82 70 31 81 6E CB 20 00 00 00 00 00 00 00",
    ));
    let created = client
        .send_bytes(
            Method::POST,
            &docs,
            signed("docs", "dbs/db/colls/c"),
            &pk,
            Bytes::from(body),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.json()["n"], 32);

    let read = client
        .send(
            Method::GET,
            &format!("{docs}/1"),
            signed("docs", "dbs/db/colls/c/docs/1"),
            &pk,
            None,
        )
        .await
        .unwrap();
    assert_eq!(read.status, 200);
    assert_eq!(
        (read.json()["id"].clone(), read.json()["pk"].clone()),
        (json!("1"), json!("p1"))
    );

    let broken = client
        .send_bytes(
            Method::POST,
            &docs,
            signed("docs", "dbs/db/colls/c"),
            &pk,
            Bytes::from_static(&[0x80, 0xED, 0x40]),
        )
        .await
        .unwrap();
    assert_eq!(broken.status, 400);
    assert_eq!(broken.json()["code"], "BadRequest");
    assert!(
        broken.json()["message"]
            .as_str()
            .unwrap()
            .contains("binary JSON")
    );
    emulator.shutdown().await;
}
