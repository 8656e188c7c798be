//! The sans-I/O heart of Meridian: who is registered, when to refresh, and whether a
//! refresh may start now.
//!
//! This crate performs no I/O, spawns nothing and never reads a clock: every function
//! that needs time takes `now: Instant`, and every random choice (jitter) is passed in
//! as a number in `[0, 1]`. The I/O layer (`meridian-runtime`) owns the clock and the
//! tasks; this crate only returns decisions, so each rule is tested without a runtime.
//!
//! - [`AccountRegistry`]: accounts keyed by endpoint, shared ref-counted entries, RAII
//!   [`Registration`] guards and lock-free-for-the-caller tick snapshots.
//! - [`RefreshGate`]: the per-account rate limit (`min_interval`) and single flight for
//!   event-driven refreshes, with a failure backoff that never consumes the window.
//! - [`Schedule`]: the drift-free, jittered periodic deadline that skips missed ticks.
//! - [`FetchSlots`]: the runtime-wide fetch limit, with a slot reserved for urgent work
//!   and a cap on what failing accounts may hold.
//! - [`RefreshStats`]: a plain snapshot of what the gate saw.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use meridian_refresh_core::{AccountRegistry, Decision, GateConfig, RefreshGate};
//!
//! // Two drivers of one account share one registry entry.
//! let registry: AccountRegistry<String, &'static str> = AccountRegistry::new();
//! let a = registry.register("https://acct.example/".to_string(), "driver-a");
//! let b = registry.register("https://acct.example/".to_string(), "driver-b");
//! assert_eq!(registry.account_count(), 1);
//! assert_eq!(registry.snapshot()[0].subscribers.len(), 2);
//! drop((a, b));
//! assert_eq!(registry.account_count(), 0);
//!
//! // A storm of triggers costs one fetch: the first starts, the rest join.
//! let gate: RefreshGate = RefreshGate::new(GateConfig::default());
//! let now = Instant::now();
//! let Decision::Start(ticket) = gate.trigger(now, |_| ()) else { unreachable!() };
//! assert!(matches!(gate.trigger(now, |_| ()), Decision::Join { .. }));
//! ticket.succeed(now);
//! // Inside the window the next trigger is throttled.
//! let later = now + Duration::from_secs(1);
//! assert!(matches!(gate.trigger(later, |_| ()), Decision::Throttled { .. }));
//! ```
#![deny(missing_docs)]

/// The README's program, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;

mod backoff;
mod gate;
mod registry;
mod schedule;
mod slots;
mod stats;
mod time;

pub use backoff::Backoff;
pub use gate::{
    Decision, FetchEpoch, FlightId, GateConfig, RefreshGate, SignalKind, Ticket, TriggerKind,
};
pub use registry::{
    AccountRegistry, AccountSnapshot, ListedAccount, Registration, RegistrationId, SubscriberLink,
};
pub use schedule::{Schedule, ScheduleConfig};
pub use slots::{FetchSlots, SlotClass, SlotLease, UrgentWaiter};
pub use stats::RefreshStats;
pub use time::saturating_add;
