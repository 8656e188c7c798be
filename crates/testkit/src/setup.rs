//! The runtime and drivers most driver tests start from.

use std::time::Duration;

use meridian_driver::{AccountConfig, Driver, DriverBuilder};
use meridian_emulator::Emulator;
use meridian_runtime::Runtime;

/// The request timeout of [`driver`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A runtime whose periodic refresh stays out of the way (event-driven tests): refresh
/// every 600 s, events at most every 50 ms, 2 s fetches, 300 ms unavailability, 50 ms
/// probes.
pub fn quiet_runtime() -> Runtime {
    Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .event_min_interval(Duration::from_millis(50))
        .fetch_timeout(Duration::from_secs(2))
        .unavailability_ttl(Duration::from_millis(300))
        .probe_interval(Duration::from_millis(50))
        .build()
        .expect("the quiet runtime's settings are valid")
}

/// A driver builder for `emulator`'s account (its account endpoint and key) on `runtime`,
/// with the builder's defaults: add options, then build.
pub fn driver_builder(runtime: &Runtime, emulator: &Emulator) -> DriverBuilder {
    Driver::builder(
        runtime,
        AccountConfig::new(emulator.global_endpoint(), emulator.key()),
    )
}

/// A driver for `emulator`'s account on `runtime` with every builder default.
pub async fn default_driver(runtime: &Runtime, emulator: &Emulator) -> Driver {
    driver_builder(runtime, emulator)
        .build()
        .await
        .expect("a driver for the emulator builds")
}

/// A driver for `emulator`'s account on `runtime`, with a 2 s request timeout.
pub async fn driver(runtime: &Runtime, emulator: &Emulator) -> Driver {
    driver_builder(runtime, emulator)
        .request_timeout(REQUEST_TIMEOUT)
        .build()
        .await
        .expect("a driver for the emulator builds")
}

/// Creates database `database` and its container `container`, partitioned by `/pk`.
pub async fn create_database_and_container(driver: &Driver, database: &str, container: &str) {
    driver
        .create_database(database)
        .await
        .expect("the database is created");
    driver
        .create_container(database, container, "/pk")
        .await
        .expect("the container is created");
}

/// An emulator with two regions: West US (the write region) and East US.
pub async fn west_and_east() -> Emulator {
    Emulator::builder()
        .regions(["West US", "East US"])
        .start()
        .await
        .expect("the emulator starts")
}

/// A driver for `emulator`'s account on `runtime` whose reads prefer `region`, with a
/// request timeout of `timeout`.
pub async fn driver_preferring(
    runtime: &Runtime,
    emulator: &Emulator,
    region: &str,
    timeout: Duration,
) -> Driver {
    driver_builder(runtime, emulator)
        .preferred_regions([region])
        .request_timeout(timeout)
        .build()
        .await
        .expect("a driver for the emulator builds")
}
