//! The refresh gate: per-account rate limit and single flight, as pure decisions.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use crate::stats::RefreshStats;
use crate::time::saturating_add;

mod config;
mod signal;
mod state;
mod ticket;

pub use config::GateConfig;
pub use signal::SignalKind;
use signal::{Kinds, Quiet};
use state::{GateState, InFlight};
pub use ticket::Ticket;
use ticket::{Complete, Completion};

/// How many flights a gate had started when an operation was routed. Passed back with a
/// failure signal, it tells the gate whether a fetch has started since the failed request
/// was sent — in which case that fetch, not a new one, answers the signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FetchEpoch(u64);

impl FetchEpoch {
    /// The raw count, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Identifies one fetch ("flight") started through a gate. Unique per gate, increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlightId(u64);

impl FlightId {
    /// The raw id, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Why a flight was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TriggerKind {
    /// An explicit "refresh now": rate-limited by the window after the last success.
    Event,
    /// A failure signal (403/3, 403/1008, transport failure) from an operation: starts at
    /// once unless a fetch started since the operation was routed, or the last
    /// signal-driven fetch learned nothing (then one per window).
    Signal,
    /// The periodic tick: never throttled, but still single-flight.
    Periodic,
}

/// What a trigger should do.
///
/// `W` is the caller's "waiter" for a flight (the runtime's shared flight cell): the gate
/// stores the one made for a started flight and hands clones to joiners, so the I/O layer
/// can implement "join" while the gate stays pure.
#[derive(Debug)]
#[non_exhaustive]
pub enum Decision<W = ()> {
    /// Start a fetch now and report its outcome through the ticket.
    Start(Ticket),
    /// A fetch is in flight: await its outcome through `waiter`.
    Join {
        /// The flight being joined.
        flight: FlightId,
        /// A clone of the waiter made when the flight started.
        waiter: W,
    },
    /// Refused; the caller should keep using the current topology.
    Throttled {
        /// The earliest instant a trigger may start a fetch.
        until: Instant,
    },
    /// A failure signal whose answer already exists: a fetch started after the failed
    /// request was routed, and its result is installed. Retry on the current topology.
    Superseded,
}

/// One account's event-driven refresh gate.
///
/// - At most one fetch is in flight; triggers during a flight [join](Decision::Join) it.
/// - After a success, explicit triggers are [throttled](Decision::Throttled) for
///   `min_interval`; a periodic success resets that clock the same way.
/// - Failure [signals](Self::signal) start at once unless a fetch started since the
///   failed request was routed ([superseded](Decision::Superseded)), or the last
///   signal-driven fetch learned nothing within `min_interval`.
/// - A failure does not consume the window: the next start is allowed after a short,
///   doubling, jittered backoff (capped at `min_interval`).
/// - A [`Ticket`] dropped without an outcome releases the flight like a failure.
///
/// Clones share state. The internal lock is held only for the few instructions of a
/// decision, never while the caller fetches.
pub struct RefreshGate<W = ()> {
    shared: Arc<GateCell<W>>,
}

struct GateCell<W> {
    config: GateConfig,
    state: Mutex<GateState<W>>,
    /// Flights started so far, readable without the lock (see [`RefreshGate::epoch`]).
    started: AtomicU64,
    /// Whether a flight runs, readable without the lock (see [`RefreshGate::is_flying`]).
    flying: AtomicBool,
}

impl<W: Clone + Send + Sync + 'static> RefreshGate<W> {
    /// A gate with `config` and nothing in flight.
    pub fn new(config: GateConfig) -> Self {
        Self {
            shared: Arc::new(GateCell {
                config,
                state: Mutex::new(GateState {
                    flight: None,
                    next_flight: 1,
                    last_success: None,
                    consecutive_failures: 0,
                    retry_not_before: None,
                    quiet: Quiet::default(),
                    stats: RefreshStats::default(),
                }),
                started: AtomicU64::new(0),
                flying: AtomicBool::new(false),
            }),
        }
    }

    /// An explicit "refresh now" at `now`: start, join, or be throttled by the window
    /// after the last success (or the failure backoff).
    ///
    /// `make_waiter` is called only when a flight starts; its value is kept until the
    /// flight ends and cloned for every joiner.
    pub fn trigger(&self, now: Instant, make_waiter: impl FnOnce(FlightId) -> W) -> Decision<W> {
        self.decide(
            now,
            TriggerKind::Event,
            FetchEpoch(u64::MAX),
            None,
            make_waiter,
        )
    }

    /// A failure signal of `kind` at `now` from an operation routed at `routed` (the
    /// [`epoch`](Self::epoch) read before it was sent).
    ///
    /// - A flight is running: [`Join`](Decision::Join) it. If the operation was routed
    ///   after that flight started, the flight may predate what the operation saw: should
    ///   it learn nothing, the next signal of this kind still starts at once.
    /// - A flight started after `routed`: [`Superseded`](Decision::Superseded) — its
    ///   result is the answer; retry on it.
    /// - The failure backoff runs, or the last signal-driven fetch answering this kind of
    ///   signal learned nothing less than `min_interval` ago:
    ///   [`Throttled`](Decision::Throttled). A region failure that learned nothing never
    ///   holds back a backend move, nor the other way round.
    /// - Otherwise [`Start`](Decision::Start), even right after another success: the first
    ///   signal of a real failover is never delayed by the window.
    pub fn signal(
        &self,
        now: Instant,
        routed: FetchEpoch,
        kind: SignalKind,
        make_waiter: impl FnOnce(FlightId) -> W,
    ) -> Decision<W> {
        self.decide(now, TriggerKind::Signal, routed, Some(kind), make_waiter)
    }

    /// The current epoch: how many flights have started. One atomic load, no lock: read
    /// it when routing an operation and pass it to [`signal`](Self::signal).
    pub fn epoch(&self) -> FetchEpoch {
        FetchEpoch(self.shared.started.load(Ordering::Acquire))
    }

    /// The periodic tick at `now`: start, or join the flight already running. Never
    /// throttled, so the schedule is kept even right after an event-driven refresh.
    pub fn start_periodic(
        &self,
        now: Instant,
        make_waiter: impl FnOnce(FlightId) -> W,
    ) -> Decision<W> {
        self.decide(
            now,
            TriggerKind::Periodic,
            FetchEpoch(u64::MAX),
            None,
            make_waiter,
        )
    }

    fn decide(
        &self,
        now: Instant,
        kind: TriggerKind,
        routed: FetchEpoch,
        signal: Option<SignalKind>,
        make_waiter: impl FnOnce(FlightId) -> W,
    ) -> Decision<W> {
        let mut state = self.lock();
        let started = self.shared.started.load(Ordering::Relaxed);
        if let Some(flight) = &mut state.flight {
            if let Some(signal) = signal {
                if routed.0 < started {
                    flight.answers.add(signal);
                } else {
                    flight.answers.remove(signal);
                }
            }
            let (flight, waiter) = (flight.id, flight.waiter.clone());
            if kind != TriggerKind::Periodic {
                state.stats.joined += 1;
            }
            return Decision::Join { flight, waiter };
        }
        let min_interval = self.shared.config.min_interval();
        let blocked = match kind {
            TriggerKind::Event => state.blocked_until(now, min_interval),
            TriggerKind::Signal => {
                if started > routed.0 {
                    state.stats.superseded += 1;
                    return Decision::Superseded;
                }
                state.signal_blocked_until(now, signal)
            }
            TriggerKind::Periodic => None,
        };
        if let Some(until) = blocked {
            state.stats.throttled += 1;
            return Decision::Throttled { until };
        }
        let id = FlightId(state.next_flight);
        state.next_flight += 1;
        state.stats.attempts += 1;
        // Written under the lock, so a signal deciding after this sees the new epoch.
        self.shared.started.fetch_add(1, Ordering::Release);
        self.shared.flying.store(true, Ordering::Release);
        state.flight = Some(InFlight {
            id,
            waiter: make_waiter(id),
            answers: signal.map(Kinds::of).unwrap_or_default(),
        });
        Decision::Start(Ticket {
            gate: Arc::downgrade(&self.shared) as Weak<dyn Complete>,
            flight: id,
            kind,
            started: now,
            done: false,
        })
    }

    /// Records a success that did not go through a ticket (for example a periodic fetch
    /// made by other means): resets the event window and the failure backoff.
    pub fn note_success(&self, now: Instant) {
        self.lock().record_success(now);
    }

    /// Whether a flight is in progress: one atomic load, no lock (a hint that may be stale
    /// by the time it is read; decisions still go through the lock).
    pub fn is_flying(&self) -> bool {
        self.shared.flying.load(Ordering::Acquire)
    }

    /// The flight in progress, if any.
    pub fn in_flight(&self) -> Option<FlightId> {
        self.lock().flight.as_ref().map(|f| f.id)
    }

    /// The earliest instant an event trigger could start a fetch, if it could not at `now`
    /// (`None` when a trigger at `now` would start or join).
    pub fn throttled_until(&self, now: Instant) -> Option<Instant> {
        let state = self.lock();
        if state.flight.is_some() {
            return None;
        }
        state.blocked_until(now, self.shared.config.min_interval())
    }

    /// A copy of the counters.
    pub fn stats(&self) -> RefreshStats {
        self.lock().stats
    }

    /// The gate's settings.
    pub fn config(&self) -> GateConfig {
        self.shared.config
    }

    fn lock(&self) -> MutexGuard<'_, GateState<W>> {
        self.shared.lock()
    }
}

impl<W> GateCell<W> {
    fn lock(&self) -> MutexGuard<'_, GateState<W>> {
        // No code that can panic runs under this lock except the caller's waiter
        // constructor; a poisoned state is still consistent, so keep using it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<W> Clone for RefreshGate<W> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<W: Clone + Send + Sync + 'static> Default for RefreshGate<W> {
    fn default() -> Self {
        Self::new(GateConfig::default())
    }
}

impl<W> fmt::Debug for RefreshGate<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("RefreshGate")
            .field("config", &self.shared.config)
            .field("in_flight", &state.flight.as_ref().map(|f| f.id))
            .field("stats", &state.stats)
            .finish()
    }
}

impl<W: Send + Sync> Complete for GateCell<W> {
    fn complete(&self, flight: FlightId, kind: TriggerKind, now: Instant, outcome: Completion) {
        let mut state = self.lock();
        let answers = match &state.flight {
            Some(running) if running.id == flight => running.answers,
            _ => return,
        };
        state.flight = None;
        self.flying.store(false, Ordering::Release);
        match outcome {
            Completion::Changed => {
                state.record_success(now);
                state.quiet.clear();
            }
            Completion::Unchanged => {
                state.record_success(now);
                state.stats.unchanged += 1;
                if kind == TriggerKind::Signal {
                    // Timely signals that learned nothing: the next ones of their kinds
                    // wait for the window.
                    let config = self.config;
                    state.quiet.hold(answers, |kind| {
                        let interval = match kind {
                            SignalKind::RegionFailure => config.region_failure_interval(),
                            _ => config.min_interval(),
                        };
                        saturating_add(now, interval)
                    });
                }
            }
            Completion::Failed(jitter) => {
                state.record_failure(now, self.config.backoff(), jitter);
            }
        }
    }
}

#[cfg(test)]
mod tests;
