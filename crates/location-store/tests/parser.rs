//! The account document parser against the project's own live-shaped fixtures and
//! against malformed input: every rejection is a typed error, never a panic.

#![allow(clippy::unwrap_used)]

use meridian_location_store::{AccountError, DatabaseAccount, EndpointError, MAX_DOCUMENT_BYTES};
use serde_json::{Value, json};

const SINGLE: &str = include_str!("fixtures/single_write.json");
const MULTI: &str = include_str!("fixtures/multi_write.json");
const GATEWAY_V2: &str = include_str!("fixtures/gateway_v2.json");

fn parse(value: &Value) -> Result<DatabaseAccount, AccountError> {
    DatabaseAccount::from_slice(&serde_json::to_vec(value).unwrap())
}

fn single() -> Value {
    serde_json::from_str(SINGLE).unwrap()
}

#[test]
fn single_write_fixture_parses_every_field() {
    let account = DatabaseAccount::from_slice(SINGLE.as_bytes()).unwrap();
    assert_eq!(account.id, "meridian-single");
    assert_eq!(account.rid, "meridian-single.documents.azure.com");
    assert_eq!(account.dbs, "//dbs/");
    assert!(!account.enable_multiple_write_locations);
    assert!(account.continuous_backup_enabled);
    assert_eq!(account.writable_locations.len(), 1);
    assert_eq!(account.readable_locations.len(), 3);
    assert_eq!(
        account
            .user_replication_policy
            .unwrap()
            .max_replica_set_size,
        4
    );
    assert_eq!(
        account
            .user_consistency_policy
            .clone()
            .unwrap()
            .default_consistency_level,
        "Session"
    );
    let engine: Value =
        serde_json::from_str(account.query_engine_configuration.as_deref().unwrap()).unwrap();
    assert_eq!(engine["allowNewKeywords"], true);
    let readable = account.readable().unwrap();
    assert_eq!(
        readable[1].endpoint.as_str(),
        "https://meridian-single-eastus2.documents.azure.com/"
    );
}

#[test]
fn multi_write_fixture_parses() {
    let account = DatabaseAccount::from_slice(MULTI.as_bytes()).unwrap();
    assert!(account.enable_multiple_write_locations);
    assert!(account.enable_per_partition_failover_behavior);
    assert_eq!(account.writable().unwrap().len(), 3);
}

#[test]
fn gateway_v2_fields_and_etag_are_accepted_and_ignored() {
    let account = DatabaseAccount::from_slice(GATEWAY_V2.as_bytes()).unwrap();
    assert_eq!(account.readable().unwrap().len(), 1);
}

#[test]
fn optional_fields_default_when_missing() {
    let account = parse(&json!({
        "id": "a", "_rid": "a.documents.azure.com",
        "writableLocations": [{"name": "X", "databaseAccountEndpoint": "http://127.0.0.1:1/"}],
        "readableLocations": [{"name": "X", "databaseAccountEndpoint": "http://127.0.0.1:1/"}],
    }))
    .unwrap();
    assert!(!account.enable_multiple_write_locations);
    assert_eq!(account.user_replication_policy, None);
    assert_eq!(account.media, "");
}

#[test]
fn serialization_round_trips_the_wire_names() {
    let account = DatabaseAccount::from_slice(SINGLE.as_bytes()).unwrap();
    let value = serde_json::to_value(&account).unwrap();
    for field in [
        "_self",
        "_rid",
        "_dbs",
        "writableLocations",
        "readableLocations",
        "enableMultipleWriteLocations",
        "enableNRegionSynchronousCommit",
        "enablePerPartitionFailoverBehavior",
        "continuousBackupEnabled",
        "queryEngineConfiguration",
    ] {
        assert!(value.get(field).is_some(), "missing {field}");
    }
    assert!(
        value["userReplicationPolicy"]
            .get("maxReplicasetSize")
            .is_some()
    );
    assert_eq!(
        DatabaseAccount::from_slice(&serde_json::to_vec(&value).unwrap()).unwrap(),
        account
    );
}

fn without(field: &str) -> Value {
    let mut doc = single();
    doc.as_object_mut().unwrap().remove(field);
    doc
}

fn with(field: &str, value: Value) -> Value {
    let mut doc = single();
    doc[field] = value;
    doc
}

type Case = (
    &'static str,
    Result<DatabaseAccount, AccountError>,
    fn(&AccountError) -> bool,
);

#[test]
fn malformed_documents_are_typed_errors() {
    let huge = "x".repeat(10 * 1024 * 1024 - 100);
    let cases: Vec<Case> = vec![
        ("not json", DatabaseAccount::from_slice(b"<html>"), |e| {
            matches!(e, AccountError::Malformed(_))
        }),
        (
            "truncated",
            DatabaseAccount::from_slice(&SINGLE.as_bytes()[..SINGLE.len() / 2]),
            |e| matches!(e, AccountError::Malformed(_)),
        ),
        ("empty body", DatabaseAccount::from_slice(b""), |e| {
            matches!(e, AccountError::Malformed(_))
        }),
        ("array", parse(&json!([1, 2])), |e| {
            matches!(e, AccountError::Malformed(_))
        }),
        ("missing id", parse(&without("id")), |e| {
            matches!(e, AccountError::Malformed(_))
        }),
        ("missing _rid", parse(&without("_rid")), |e| {
            matches!(e, AccountError::Malformed(_))
        }),
        (
            "missing writableLocations",
            parse(&without("writableLocations")),
            |e| matches!(e, AccountError::Malformed(_)),
        ),
        (
            "missing readableLocations",
            parse(&without("readableLocations")),
            |e| matches!(e, AccountError::Malformed(_)),
        ),
        ("empty id", parse(&with("id", json!(""))), |e| {
            matches!(e, AccountError::Empty { field: "id" })
        }),
        ("id wrong type", parse(&with("id", json!(42))), |e| {
            matches!(e, AccountError::Malformed(_))
        }),
        (
            "flag wrong type",
            parse(&with("enableMultipleWriteLocations", json!("yes"))),
            |e| matches!(e, AccountError::Malformed(_)),
        ),
        (
            "locations wrong type",
            parse(&with("readableLocations", json!({"name": "x"}))),
            |e| matches!(e, AccountError::Malformed(_)),
        ),
        (
            "empty writable",
            parse(&with("writableLocations", json!([]))),
            |e| {
                matches!(
                    e,
                    AccountError::Empty {
                        field: "writableLocations"
                    }
                )
            },
        ),
        (
            "empty readable",
            parse(&with("readableLocations", json!([]))),
            |e| {
                matches!(
                    e,
                    AccountError::Empty {
                        field: "readableLocations"
                    }
                )
            },
        ),
        (
            "relative URL",
            parse(&with(
                "readableLocations",
                json!([{"name": "X", "databaseAccountEndpoint": "/dbs/"}]),
            )),
            |e| {
                matches!(
                    e,
                    AccountError::InvalidEndpoint {
                        field: "readableLocations",
                        index: 0,
                        source: EndpointError::NotAbsolute(_),
                        ..
                    }
                )
            },
        ),
        (
            "non-http scheme",
            parse(&with(
                "writableLocations",
                json!([{"name": "X", "databaseAccountEndpoint": "ftp://h/"}]),
            )),
            |e| {
                matches!(
                    e,
                    AccountError::InvalidEndpoint {
                        source: EndpointError::Scheme(_),
                        ..
                    }
                )
            },
        ),
        (
            "location missing endpoint",
            parse(&with("writableLocations", json!([{"name": "X"}]))),
            |e| matches!(e, AccountError::Malformed(_)),
        ),
        ("10 MB id", parse(&with("id", json!(huge))), |e| {
            matches!(e, AccountError::TooLarge { .. })
        }),
        (
            "oversized body",
            DatabaseAccount::from_slice(&vec![b' '; MAX_DOCUMENT_BYTES + 1]),
            |e| matches!(e, AccountError::TooLarge { .. }),
        ),
        (
            "long region name",
            parse(&with(
                "readableLocations",
                json!([{"name": "x".repeat(5000), "databaseAccountEndpoint": "http://h/"}]),
            )),
            |e| matches!(e, AccountError::FieldTooLong { field: "name", .. }),
        ),
        (
            "long endpoint",
            parse(&with(
                "readableLocations",
                json!([{"name": "X", "databaseAccountEndpoint": format!("http://h/{}", "p".repeat(5000))}]),
            )),
            |e| {
                matches!(
                    e,
                    AccountError::FieldTooLong {
                        field: "databaseAccountEndpoint",
                        ..
                    }
                )
            },
        ),
    ];
    for (name, result, expected) in cases {
        match result {
            Ok(_) => panic!("{name}: accepted"),
            Err(error) => {
                assert!(expected(&error), "{name}: unexpected error {error:?}");
                // Messages stay short even for huge inputs.
                assert!(error.to_string().len() < 512, "{name}: message too long");
            }
        }
    }
}

fn with_locations(count: usize) -> Value {
    let locations: Vec<Value> = (0..count)
        .map(|i| {
            json!({"name": format!("Region {i}"),
                   "databaseAccountEndpoint": format!("https://acct-r{i}.documents.azure.com/")})
        })
        .collect();
    let mut doc = single();
    doc["readableLocations"] = Value::Array(locations);
    doc
}

#[test]
fn account_with_too_many_locations_is_rejected() {
    use meridian_location_store::{
        Endpoint, LocationStore, MAX_LOCATIONS, StoreConfig, ValidatedAccount,
    };
    use std::time::Instant;

    // At the cap: accepted.
    let good = parse(&with_locations(MAX_LOCATIONS)).unwrap();
    // One over (and the 3,000 of the report): refused as invalid, with the list named.
    for count in [MAX_LOCATIONS + 1, 3_000] {
        match parse(&with_locations(count)) {
            Err(AccountError::TooManyLocations {
                field,
                count: seen,
                limit,
            }) => {
                assert_eq!(field, "readableLocations");
                assert_eq!((seen, limit), (count, MAX_LOCATIONS));
            }
            other => panic!("{count} locations: expected TooManyLocations, got {other:?}"),
        }
    }
    let mut writable = single();
    writable["writableLocations"] = with_locations(MAX_LOCATIONS + 1)["readableLocations"].clone();
    assert!(matches!(
        parse(&writable),
        Err(AccountError::TooManyLocations {
            field: "writableLocations",
            ..
        })
    ));

    // Built by hand (bypassing the parser), it cannot become a validated document either,
    // so no store can install it; the last good topology stays.
    let store = LocationStore::new(
        Endpoint::parse("https://acct.documents.azure.com/").unwrap(),
        StoreConfig::default(),
    );
    let generation = store
        .install(ValidatedAccount::new(good.clone()).unwrap(), Instant::now())
        .topology_generation();
    let mut oversized = good;
    oversized.readable_locations =
        serde_json::from_value(with_locations(MAX_LOCATIONS + 1)["readableLocations"].clone())
            .unwrap();
    assert!(matches!(
        ValidatedAccount::new(oversized),
        Err(AccountError::TooManyLocations { .. })
    ));
    let snapshot = store.snapshot();
    assert_eq!(snapshot.topology_generation(), generation);
    assert_eq!(snapshot.read_locations().len(), MAX_LOCATIONS);
}
