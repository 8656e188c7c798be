//! The location store's event → effect function and the retry budgets.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use meridian_location_store::{
    Action, GiveUpReason, Next, OperationKind, OperationOutcome, RetryPolicy, RetryState, TransportErrorKind, classify,
};

#[derive(Debug, Arbitrary)]
struct Input {
    write: bool,
    idempotent: bool,
    transport: Option<(u8, bool)>,
    status: u16,
    sub_status: Option<u32>,
    retry_after_ms: Option<u16>,
    regions: u8,
    jitter: u8,
}

fuzz_target!(|input: Input| {
    let kind = if input.write { OperationKind::Write } else { OperationKind::Read };
    let outcome = match input.transport {
        Some((error, sent)) => {
            let error = [TransportErrorKind::ConnectionRefused, TransportErrorKind::ConnectionReset, TransportErrorKind::Timeout, TransportErrorKind::Other][usize::from(error) % 4];
            OperationOutcome::transport(kind, error, sent)
        }
        None => OperationOutcome::response(kind, input.status, input.sub_status)
            .with_retry_after(Duration::from_millis(u64::from(input.retry_after_ms.unwrap_or(0)))),
    }
    .idempotent(input.idempotent);
    let effect = classify(&outcome);

    // A write that may have been applied and is not idempotent is never retried.
    let maybe_applied = matches!(outcome.result, meridian_location_store::AttemptResult::Transport { sent: true, error } if error != TransportErrorKind::ConnectionRefused);
    if input.write && !input.idempotent && maybe_applied {
        assert_eq!(effect.action, Action::GiveUp(GiveUpReason::MaybeApplied));
    }
    // Successes neither mark nor refresh.
    if matches!(effect.action, Action::Done) {
        assert!(effect.mark.is_none() && !effect.refresh);
    }
    // Repeating the same outcome always exhausts its budget within a bounded number of steps.
    let mut retries = RetryState::new(RetryPolicy::default(), usize::from(input.regions));
    let jitter = f64::from(input.jitter) / 255.0;
    let mut steps = 0;
    while let Next::Retry { delay, .. } = retries.next(&effect.action, jitter) {
        assert!(delay <= Duration::from_secs(30));
        steps += 1;
        assert!(steps <= 300, "unbounded retries for {outcome:?}");
    }
});
