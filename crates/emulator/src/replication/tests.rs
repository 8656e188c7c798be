//! Unit tests of the replication log: due times, pruning, token parsing.

use std::time::Duration;

use super::*;
use crate::consistency::Consistency;

#[test]
fn session_tokens_parse_in_both_formats_and_garbage_is_none() {
    assert_eq!(session_lsn("0:-1#12"), Some(12));
    assert_eq!(session_lsn("0:7"), Some(7));
    assert_eq!(session_lsn("0:-1#3,1:-1#9"), Some(9));
    assert_eq!(session_lsn("0:-1#5#1=4"), Some(5));
    assert_eq!(session_lsn("nonsense"), None);
    assert_eq!(session_lsn(""), None);
}

fn container() -> Container {
    Container {
        resource: Value::Null,
        partition_key_path: vec!["pk".into()],
        partition_key_paths: vec![vec!["pk".into()]],
        items: crate::data::ItemMap::new(),
        lsn: 0,
        log: Log::default(),
        clock: crate::clock::Clock::default(),
        expiry: imbl::OrdSet::new(),
    }
}

fn key() -> (String, String) {
    ("\"p\"".into(), "a".into())
}

#[test]
fn a_write_is_due_in_another_region_exactly_after_the_lag() {
    let replication = Replication::new(Consistency::Session, Duration::from_millis(500));
    let mut container = container();
    let t0 = Instant::now();
    container.record(key(), Some(Value::from(1)));
    replication.stamp(&mut container, "West US", t0);
    let just_before = t0 + Duration::from_millis(499);
    let due = t0 + Duration::from_millis(500);
    assert_eq!(replication.region_lsn(&container, "West US", t0), 1);
    assert_eq!(replication.region_lsn(&container, "westus", t0), 1);
    assert_eq!(
        replication.region_lsn(&container, "East US", just_before),
        0
    );
    assert_eq!(replication.region_lsn(&container, "East US", due), 1);
    // The next write prunes what every region has seen.
    container.record(key(), None);
    replication.stamp(&mut container, "West US", due);
    assert_eq!(container.log.entries.len(), 1);
    assert_eq!(replication.region_lsn(&container, "East US", due), 1);
}

#[test]
fn with_no_lag_the_log_stays_empty() {
    let replication = Replication::default();
    let mut container = container();
    container.record(key(), Some(Value::from(1)));
    replication.stamp(&mut container, "West US", Instant::now());
    assert!(container.log.entries.is_empty());
    assert_eq!(container.lsn, 1);
}

#[test]
fn consistency_parses_any_case() {
    assert_eq!("strong".parse(), Ok(Consistency::Strong));
    assert_eq!("Eventual".parse(), Ok(Consistency::Eventual));
    assert!("bounded".parse::<Consistency>().is_err());
}
