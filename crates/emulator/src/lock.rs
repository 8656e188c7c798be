//! Locking that survives poisoning, for the emulator's small shared maps.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, continuing past poisoning: every update under these locks is a single
/// map or field write, so a panic elsewhere cannot leave them half-done.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
