//! Reliability and security: the promises users depend on, over real sockets against the
//! in-process emulator, real time with short intervals and bounded waits. Every test
//! asserts what was kept, not only that nothing panicked.
#![allow(clippy::unwrap_used)]

mod bounds;
mod capture;
mod failovers;
mod fault_matrix;
mod runtime_drop;
mod secrets;

pub use meridian_testkit::wait_for;
