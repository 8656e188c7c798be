//! The gate's decisions, rule by rule, and a property test over random sequences.

use super::*;
use crate::backoff::Backoff;
use proptest::prelude::*;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn gate() -> RefreshGate<u64> {
    RefreshGate::new(GateConfig::default())
}

fn start(gate: &RefreshGate<u64>, now: Instant) -> Ticket {
    match gate.trigger(now, |id| id.get()) {
        Decision::Start(ticket) => ticket,
        other => panic!("expected Start, got {other:?}"),
    }
}

#[test]
fn throttles_inside_the_window_after_a_success() {
    let (gate, t0) = (gate(), Instant::now());
    start(&gate, t0).succeed(t0);
    match gate.trigger(t0 + ms(4_999), |_| 0) {
        Decision::Throttled { until } => assert_eq!(until, t0 + ms(5_000)),
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(matches!(
        gate.trigger(t0 + ms(5_000), |_| 0),
        Decision::Start(_)
    ));
    let stats = gate.stats();
    assert_eq!(
        (stats.attempts, stats.successes, stats.throttled),
        (2, 1, 1)
    );
    assert_eq!(stats.last_success, Some(t0));
}

#[test]
fn triggers_during_a_flight_join_it_and_share_its_waiter() {
    let (gate, t0) = (gate(), Instant::now());
    let ticket = start(&gate, t0);
    for i in 0..1_000 {
        match gate.trigger(t0 + ms(i), |_| panic!("a joiner must not make a waiter")) {
            Decision::Join { flight, waiter } => {
                assert_eq!(flight, ticket.flight());
                assert_eq!(waiter, ticket.flight().get());
            }
            other => panic!("expected Join, got {other:?}"),
        }
    }
    assert_eq!(gate.in_flight(), Some(ticket.flight()));
    ticket.succeed(t0 + ms(1_000));
    assert_eq!(gate.in_flight(), None);
    let stats = gate.stats();
    assert_eq!((stats.attempts, stats.joined), (1, 1_000));
}

#[test]
fn a_failure_does_not_consume_the_window() {
    let (gate, t0) = (gate(), Instant::now());
    start(&gate, t0).fail(t0, 0.0);
    // Backoff, not the 5 s window: throttled for 100 ms only.
    match gate.trigger(t0 + ms(50), |_| 0) {
        Decision::Throttled { until } => assert_eq!(until, t0 + ms(100)),
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(matches!(
        gate.trigger(t0 + ms(100), |_| 0),
        Decision::Start(_)
    ));
}

#[test]
fn backoff_doubles_and_caps_at_the_window() {
    let gate: RefreshGate<u64> =
        RefreshGate::new(GateConfig::default().with_min_interval(Duration::from_secs(1)));
    let mut now = Instant::now();
    let mut waits = Vec::new();
    for _ in 0..6 {
        start(&gate, now).fail(now, 0.0);
        let until = gate.throttled_until(now).expect("backoff after failure");
        waits.push(until.duration_since(now).as_millis());
        now = until;
    }
    assert_eq!(waits, vec![100, 200, 400, 800, 1_000, 1_000]);
    // A success resets the streak: the next failure waits 100 ms again.
    start(&gate, now).succeed(now);
    now += Duration::from_secs(1);
    start(&gate, now).fail(now, 0.0);
    assert_eq!(gate.throttled_until(now), Some(now + ms(100)));
}

#[test]
fn jittered_backoff_is_shorter_but_bounded() {
    let (gate, t0) = (gate(), Instant::now());
    start(&gate, t0).fail(t0, 1.0);
    assert_eq!(gate.throttled_until(t0), Some(t0 + ms(80)));
}

#[test]
fn a_dropped_ticket_releases_the_flight_like_a_failure() {
    let (gate, t0) = (gate(), Instant::now());
    drop(start(&gate, t0));
    assert_eq!(gate.in_flight(), None);
    assert_eq!(gate.stats().failures, 1);
    // Treated as failing when it started: backoff counts from t0.
    assert_eq!(gate.throttled_until(t0), Some(t0 + ms(100)));
    assert!(matches!(
        gate.trigger(t0 + ms(100), |_| 0),
        Decision::Start(_)
    ));
}

#[test]
fn a_periodic_success_resets_the_event_clock() {
    let (gate, t0) = (gate(), Instant::now());
    let Decision::Start(ticket) = gate.start_periodic(t0, |_| 0) else {
        panic!("periodic start");
    };
    assert_eq!(ticket.kind(), TriggerKind::Periodic);
    ticket.succeed(t0 + ms(10));
    assert!(matches!(
        gate.trigger(t0 + ms(20), |_| 0),
        Decision::Throttled { .. }
    ));

    // note_success does the same for a success reported from outside the gate.
    let other = super::RefreshGate::<u64>::default();
    other.note_success(t0);
    assert_eq!(other.throttled_until(t0 + ms(1)), Some(t0 + ms(5_000)));
}

#[test]
fn periodic_starts_ignore_the_window_but_not_the_flight() {
    let (gate, t0) = (gate(), Instant::now());
    start(&gate, t0).succeed(t0);
    let Decision::Start(periodic) = gate.start_periodic(t0 + ms(1), |_| 0) else {
        panic!("the schedule is never throttled");
    };
    assert!(matches!(
        gate.start_periodic(t0 + ms(2), |_| 0),
        Decision::Join { .. }
    ));
    assert!(matches!(
        gate.trigger(t0 + ms(2), |_| 0),
        Decision::Join { .. }
    ));
    periodic.succeed(t0 + ms(3));
}

#[test]
fn a_ticket_outliving_its_gate_is_harmless() {
    let (gate, t0) = (gate(), Instant::now());
    let ticket = start(&gate, t0);
    drop(gate);
    ticket.succeed(t0);
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Trigger,
    Periodic,
    Succeed,
    Fail(f64),
    Cancel,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..3_000).prop_map(Op::Advance),
        Just(Op::Trigger),
        Just(Op::Periodic),
        Just(Op::Succeed),
        (0.0f64..=1.0).prop_map(Op::Fail),
        Just(Op::Cancel),
    ]
}

proptest! {
    #[test]
    fn never_two_flights_nor_event_starts_inside_the_window(ops in proptest::collection::vec(op(), 1..200)) {
        let gate: RefreshGate<u64> = RefreshGate::new(GateConfig::default());
        let min = gate.config().min_interval();
        let t0 = Instant::now();
        let mut now = t0;
        let mut flight: Option<Ticket> = None;
        let mut last_success: Option<Instant> = None;
        for op in ops {
            match op {
                Op::Advance(d) => now += ms(d),
                Op::Trigger | Op::Periodic => {
                    let decision = if matches!(op, Op::Trigger) {
                        gate.trigger(now, |id| id.get())
                    } else {
                        gate.start_periodic(now, |id| id.get())
                    };
                    match decision {
                        Decision::Start(ticket) => {
                            prop_assert!(flight.is_none(), "two flights at once");
                            if matches!(op, Op::Trigger)
                                && let Some(at) = last_success {
                                    prop_assert!(now >= at + min, "event start inside the window");
                                }
                            flight = Some(ticket);
                        }
                        Decision::Join { flight: id, .. } => {
                            prop_assert_eq!(Some(id), flight.as_ref().map(Ticket::flight));
                        }
                        Decision::Throttled { until } => {
                            prop_assert!(flight.is_none());
                            prop_assert!(until > now);
                        }
                        Decision::Superseded => prop_assert!(false, "only signals are superseded"),
                    }
                }
                Op::Succeed => {
                    if let Some(ticket) = flight.take() {
                        ticket.succeed(now);
                        last_success = Some(now);
                    }
                }
                Op::Fail(jitter) => {
                    if let Some(ticket) = flight.take() {
                        ticket.fail(now, jitter);
                    }
                }
                Op::Cancel => drop(flight.take()),
            }
            prop_assert_eq!(gate.in_flight(), flight.as_ref().map(Ticket::flight));
        }
        let stats = gate.stats();
        let ended = stats.successes + stats.failures + u64::from(flight.is_some());
        prop_assert_eq!(stats.attempts, ended);
    }
}

fn signal(gate: &RefreshGate<u64>, now: Instant, routed: FetchEpoch) -> Decision<u64> {
    gate.signal(now, routed, SignalKind::BackendMoved, |id| id.get())
}

fn region_failure(gate: &RefreshGate<u64>, now: Instant, routed: FetchEpoch) -> Decision<u64> {
    gate.signal(now, routed, SignalKind::RegionFailure, |id| id.get())
}

#[test]
fn a_signal_routed_after_the_flight_started_is_not_silenced_by_its_stale_answer() {
    let (gate, t0) = (gate(), Instant::now());
    let Decision::Start(ticket) = signal(&gate, t0, gate.epoch()) else {
        panic!("first signal starts")
    };
    // The backend moves while the fetch runs; an operation routed now fails and joins.
    let late = gate.epoch();
    assert!(matches!(
        signal(&gate, t0 + ms(10), late),
        Decision::Join { .. }
    ));
    // The fetch read the document before the move: it learned nothing.
    ticket.succeed_unchanged(t0 + ms(20));
    // The late signal's retry fails again: it starts a fetch at once, not in 5 s.
    assert!(matches!(
        signal(&gate, t0 + ms(30), gate.epoch()),
        Decision::Start(_)
    ));
}

#[test]
fn a_region_failure_that_learned_nothing_does_not_hold_a_backend_move() {
    let (gate, t0) = (gate(), Instant::now());
    let Decision::Start(ticket) = region_failure(&gate, t0, gate.epoch()) else {
        panic!("first signal starts")
    };
    ticket.succeed_unchanged(t0);
    assert!(matches!(
        region_failure(&gate, t0 + ms(10), gate.epoch()),
        Decision::Throttled { .. }
    ));
    assert!(matches!(
        signal(&gate, t0 + ms(10), gate.epoch()),
        Decision::Start(_)
    ));
}

#[test]
fn a_signal_starts_at_once_right_after_a_success() {
    let (gate, t0) = (gate(), Instant::now());
    start(&gate, t0).succeed(t0);
    // An operation routed after that fetch fails 1 s later, inside the 5 s window.
    let routed = gate.epoch();
    assert!(matches!(
        signal(&gate, t0 + ms(1_000), routed),
        Decision::Start(_)
    ));
}

#[test]
fn a_signal_from_before_the_last_fetch_is_superseded() {
    let (gate, t0) = (gate(), Instant::now());
    let routed = gate.epoch();
    start(&gate, t0).succeed(t0);
    assert!(matches!(signal(&gate, t0, routed), Decision::Superseded));
    assert_eq!(gate.stats().superseded, 1);
    assert_eq!(gate.stats().attempts, 1, "nothing started");
}

#[test]
fn signals_after_one_that_learned_nothing_wait_for_the_window() {
    let (gate, t0) = (gate(), Instant::now());
    let Decision::Start(ticket) = signal(&gate, t0, gate.epoch()) else {
        panic!("first signal starts")
    };
    ticket.succeed_unchanged(t0);
    match signal(&gate, t0 + ms(10), gate.epoch()) {
        Decision::Throttled { until } => assert_eq!(until, t0 + ms(5_000)),
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(matches!(
        signal(&gate, t0 + ms(5_000), gate.epoch()),
        Decision::Start(_)
    ));
}

#[test]
fn an_unchanged_periodic_fetch_does_not_hold_signals() {
    let (gate, t0) = (gate(), Instant::now());
    let Decision::Start(ticket) = gate.start_periodic(t0, |id| id.get()) else {
        panic!("periodic starts")
    };
    ticket.succeed_unchanged(t0);
    assert!(matches!(
        signal(&gate, t0 + ms(1), gate.epoch()),
        Decision::Start(_)
    ));
}

#[test]
fn a_signal_joins_a_running_flight() {
    let (gate, t0) = (gate(), Instant::now());
    let routed = gate.epoch();
    let ticket = start(&gate, t0);
    assert!(matches!(signal(&gate, t0, routed), Decision::Join { .. }));
    drop(ticket);
}

#[test]
fn huge_windows_saturate_instead_of_panicking() {
    let gate: RefreshGate<u64> = RefreshGate::new(
        GateConfig::default()
            .with_min_interval(Duration::MAX)
            .with_backoff(Backoff::new(Duration::MAX, Duration::MAX)),
    );
    let t0 = Instant::now();
    start(&gate, t0).succeed(t0);
    assert!(matches!(
        gate.trigger(t0, |_| 0),
        Decision::Throttled { .. }
    ));
    start_periodic_fail(&gate, t0);
    assert!(matches!(
        gate.trigger(t0, |_| 0),
        Decision::Throttled { .. }
    ));
}

fn start_periodic_fail(gate: &RefreshGate<u64>, now: Instant) {
    match gate.start_periodic(now, |id| id.get()) {
        Decision::Start(ticket) => ticket.fail(now, 0.0),
        other => panic!("expected Start, got {other:?}"),
    }
}

#[test]
fn region_failures_that_learned_nothing_are_held_for_their_own_interval() {
    let gate: RefreshGate<u64> = RefreshGate::new(
        GateConfig::default().with_region_failure_interval(Duration::from_millis(500)),
    );
    let t0 = Instant::now();
    let Decision::Start(ticket) = region_failure(&gate, t0, gate.epoch()) else {
        panic!("first signal starts")
    };
    ticket.succeed_unchanged(t0);
    match region_failure(&gate, t0 + ms(100), gate.epoch()) {
        Decision::Throttled { until } => assert_eq!(until, t0 + ms(500)),
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(matches!(
        region_failure(&gate, t0 + ms(500), gate.epoch()),
        Decision::Start(_)
    ));
}
