//! Session consistency: the latest session token of each container, shared by every
//! handle of one driver, so a read sent to a lagging region carries the writes it must see.
//!
//! A response's `x-ms-session-token` (`0:-1#{lsn}`, or a comma-separated list of such
//! `range:token` parts) is kept per container when its LSN is not older than the one
//! held; reads send it back unless the caller opts out. A region that has not reached
//! that LSN answers 404/1002 and the read moves on (next region, then the write region).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use http::HeaderMap;

/// The response and request header.
pub(crate) const SESSION_TOKEN: &str = "x-ms-session-token";
/// [`SESSION_TOKEN`] as a name to look up in a response (no parse per lookup).
pub(crate) const SESSION_TOKEN_HEADER: http::HeaderName =
    http::HeaderName::from_static(SESSION_TOKEN);

/// The longest token kept: a hostile or broken server cannot make every read huge.
const MAX_TOKEN_LEN: usize = 2 * 1024;
/// The most containers tracked; beyond it new containers go without session tokens.
const MAX_CONTAINERS: usize = 4 * 1024;

/// How an operation takes part in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionUse {
    /// The container link, `dbs/{db}/colls/{coll}`.
    pub(crate) container: Arc<str>,
    /// Send the container's token (reads under session consistency).
    pub(crate) send: bool,
}

/// The driver's session tokens, by container link. Every read looks its container's
/// token up and every answer is checked against it, from every thread: a lock-free map
/// of slots, each container's token changed in place under its own lock (a write's new
/// token costs no allocation and nothing to reclaim).
#[derive(Debug, Default)]
pub(crate) struct SessionTokens {
    tokens: papaya::HashMap<String, Slot, foldhash::fast::RandomState>,
    /// Containers held or being added: a new container reserves its place here before it
    /// is inserted, so racing first answers cannot pass [`MAX_CONTAINERS`].
    containers: AtomicUsize,
}

/// One container's token; empty until its first answer.
#[derive(Debug, Default)]
struct Slot(Mutex<Held>);

#[derive(Debug, Default)]
struct Held {
    lsn: Option<u64>,
    token: String,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The largest global LSN over a token's parts (`0:-1#12`, `0:12`, `0:-1#12#1=4`).
fn lsn_of(token: &str) -> Option<u64> {
    token
        .split(',')
        .filter_map(|part| {
            let value = part.split_once(':').map_or(part, |(_, v)| v);
            value
                .split('#')
                .nth(1)
                .unwrap_or(value)
                .trim()
                .parse::<u64>()
                .ok()
        })
        .max()
}

impl SessionTokens {
    /// The token to send for `container`, if any.
    pub(crate) fn get(&self, container: &str) -> Option<String> {
        let tokens = self.tokens.pin();
        let held = tokens.get(container)?.lock();
        (!held.token.is_empty()).then(|| held.token.clone())
    }

    /// Keeps the response's token for `container` unless the one held is newer. `sent`:
    /// the container's token the request carried, if it did — an answer with the same
    /// token changes nothing, and is not looked up.
    pub(crate) fn update(&self, container: &str, headers: &HeaderMap, sent: Option<&str>) {
        let Some(token) = headers
            .get(&SESSION_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN && Some(*t) != sent)
        else {
            return;
        };
        let tokens = self.tokens.pin();
        let slot = match tokens.get(container) {
            Some(slot) => slot,
            None => {
                if self.containers.fetch_add(1, Ordering::AcqRel) >= MAX_CONTAINERS {
                    self.containers.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
                match tokens.try_insert(container.to_string(), Slot::default()) {
                    Ok(slot) => slot,
                    // Another answer for the same new container inserted it first: its
                    // place is taken.
                    Err(occupied) => {
                        self.containers.fetch_sub(1, Ordering::AcqRel);
                        occupied.current
                    }
                }
            }
        };
        // Compared and replaced under the slot's lock: of two answers racing, the newer
        // stays. A read usually answers with the token already held: nothing to parse.
        let mut held = slot.lock();
        if held.token == token {
            return;
        }
        let lsn = lsn_of(token);
        if matches!((held.lsn, lsn), (Some(h), Some(new)) if new < h) {
            return;
        }
        held.lsn = lsn;
        held.token.clear();
        held.token.push_str(token);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use http::HeaderValue;

    use super::*;

    fn headers(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SESSION_TOKEN, HeaderValue::from_str(token).unwrap());
        headers
    }

    #[test]
    fn the_newest_token_wins_and_an_older_one_is_ignored() {
        let tokens = SessionTokens::default();
        assert_eq!(tokens.get("dbs/d/colls/c"), None);
        tokens.update("dbs/d/colls/c", &headers("0:-1#5"), None);
        tokens.update("dbs/d/colls/c", &headers("0:-1#3"), None);
        assert_eq!(tokens.get("dbs/d/colls/c").as_deref(), Some("0:-1#5"));
        tokens.update("dbs/d/colls/c", &headers("0:-1#7"), None);
        assert_eq!(tokens.get("dbs/d/colls/c").as_deref(), Some("0:-1#7"));
        assert_eq!(tokens.get("dbs/d/colls/other"), None);
        tokens.update("dbs/d/colls/c", &HeaderMap::new(), None);
        // An answer carrying back the token its request sent is not even looked at.
        tokens.update("dbs/d/colls/other", &headers("0:-1#9"), Some("0:-1#9"));
        assert_eq!(tokens.get("dbs/d/colls/other"), None);
        assert_eq!(tokens.get("dbs/d/colls/c").as_deref(), Some("0:-1#7"));
    }

    #[test]
    fn tokens_parse_in_every_shape_and_oversized_ones_are_dropped() {
        assert_eq!(lsn_of("0:-1#12"), Some(12));
        assert_eq!(lsn_of("0:12"), Some(12));
        assert_eq!(lsn_of("0:-1#3,1:-1#9"), Some(9));
        assert_eq!(lsn_of("junk"), None);
        let tokens = SessionTokens::default();
        tokens.update("c", &headers(&"9".repeat(MAX_TOKEN_LEN + 1)), None);
        assert_eq!(tokens.get("c"), None);
    }

    #[test]
    fn the_container_cap_holds_when_first_answers_race() {
        let answer = headers("0:-1#1");
        for round in 0..20 {
            let tokens = SessionTokens::default();
            for n in 0..MAX_CONTAINERS - 1 {
                tokens.update(&format!("dbs/d/colls/{n}"), &answer, None);
            }
            // Eight first answers for eight new containers at once, one place left.
            let start = std::sync::Barrier::new(8);
            std::thread::scope(|scope| {
                for thread in 0..8 {
                    let (tokens, start, answer) = (&tokens, &start, &answer);
                    scope.spawn(move || {
                        start.wait();
                        tokens.update(&format!("dbs/d/colls/new-{thread}"), answer, None);
                    });
                }
            });
            let held = tokens.tokens.pin().len();
            assert_eq!(
                held, MAX_CONTAINERS,
                "round {round}: {held} containers held"
            );
        }
    }
}
