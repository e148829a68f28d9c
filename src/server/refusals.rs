//! Refused connections, reported at most once a second for each key (a
//! source address for refusals at accept, a cause for TLS handshakes), so
//! that a connection flood cannot turn the event stream (and the journal)
//! into an amplifier. The registry owns these.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use crate::feed::event::EventKind;

/// Refusals with one key are reported at most this often.
pub(crate) const EVERY: Duration = Duration::from_secs(1);

/// Refusals held back by key; `T` is what the latest of them said, made an
/// event with the count it stands for by `event`.
pub(crate) struct Refusals<K, T> {
    held: HashMap<K, Held<T>>,
    event: fn(T, u64) -> EventKind,
}

/// Refusals at accept, by source address.
pub(crate) type ByAddress = Refusals<IpAddr, (SocketAddr, String)>;

/// TLS handshakes refused, and certificate reloads, by cause.
pub(crate) type ByCause = Refusals<&'static str, TlsNote>;

/// What a TLS line says: its cause, the connection (none for a reload),
/// and the reason in words.
pub(crate) type TlsNote = (&'static str, Option<SocketAddr>, String);

/// The refusals with one key since its last line.
struct Held<T> {
    /// When the last line about this key went out.
    since: Instant,
    /// Refusals since then, not yet reported.
    count: u64,
    /// The latest of them.
    last: T,
}

impl ByAddress {
    pub(crate) fn by_address() -> ByAddress {
        Refusals::new(|(peer, reason), count| EventKind::Rejected {
            peer,
            reason,
            count,
        })
    }
}

impl ByCause {
    pub(crate) fn by_cause() -> ByCause {
        Refusals::new(|(cause, peer, reason), count| EventKind::Tls {
            cause: cause.to_owned(),
            peer,
            reason,
            count,
        })
    }
}

impl<K: Hash + Eq, T: Clone> Refusals<K, T> {
    fn new(event: fn(T, u64) -> EventKind) -> Self {
        Refusals {
            held: HashMap::new(),
            event,
        }
    }

    /// Records a refusal; returns the event to emit now, if the key has
    /// not been reported within the last second.
    pub(crate) fn refused(&mut self, key: K, last: T) -> Option<EventKind> {
        match self.held.entry(key) {
            Entry::Vacant(entry) => {
                entry.insert(Held {
                    since: Instant::now(),
                    count: 0,
                    last: last.clone(),
                });
                Some((self.event)(last, 1))
            }
            Entry::Occupied(mut entry) => {
                let held = entry.get_mut();
                held.count += 1;
                held.last = last;
                None
            }
        }
    }

    /// Whether anything is held (or remembered) that [`Refusals::due`] may report.
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The refusals held back for a second or more, one event for each
    /// key; forgets keys that went quiet.
    pub(crate) fn due(&mut self) -> Vec<EventKind> {
        let mut due = Vec::new();
        let event = self.event;
        self.held.retain(|_, held| {
            if held.since.elapsed() < EVERY {
                return true;
            }
            if held.count == 0 {
                return false;
            }
            due.push(event(held.last.clone(), held.count));
            held.count = 0;
            held.since = Instant::now();
            true
        });
        due
    }
}
