//! The account document parser, and routing over whatever it accepts.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use meridian_location_store::{
    DatabaseAccount, Endpoint, LocationStore, OperationKind, RouteRequest, StoreConfig,
    ValidatedAccount,
};

fuzz_target!(|data: &[u8]| {
    let Ok(account) = DatabaseAccount::from_slice(data) else { return };
    // Validation may refuse what the parser accepted: a typed error, never a panic.
    let Ok(account) = ValidatedAccount::new(account) else { return };
    // Whatever validation accepts, the store must install and route without panicking,
    // and every route must be an advertised endpoint or the default one.
    let default = Endpoint::parse("https://fuzz.documents.example/").expect("static URL");
    let store: LocationStore = LocationStore::new(default.clone(), StoreConfig::default().with_preferred_regions(["West US"]));
    let _ = store.install(account, Instant::now());
    let snapshot = store.snapshot();
    for kind in [OperationKind::Read, OperationKind::Write] {
        let routed = snapshot.route(kind, &RouteRequest::default());
        assert!(routed == &default || snapshot.region_of(routed).is_some());
    }
});
