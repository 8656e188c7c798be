//! Shared test fixtures: "emulator + runtime + drivers" setup and the writer loop, in one
//! place for the driver's tests and examples.
//!
//! A dev-only crate (`publish = false`): client crates may use it only as a
//! dev-dependency, like the emulator it wraps (`cargo xtask layering` checks both). The
//! fixtures panic on setup failure, as test setup does; they assert nothing about the code
//! under test except where a doc says so.
#![deny(missing_docs)]

/// The README's program, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;

mod bare;
mod setup;
mod wait;
mod writer;

pub use bare::BareClient;
pub use setup::{
    create_database_and_container, default_driver, driver, driver_builder, driver_preferring,
    quiet_runtime, west_and_east,
};
pub use wait::{routes_writes_to, wait_for};
pub use writer::{WriteLog, Writer};
