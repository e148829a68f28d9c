//! Refused connections, reported at most once a second for each source
//! address, so that a connection flood cannot turn the event stream (and the
//! journal) into an amplifier. The registry owns one of these.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use crate::feed::event::EventKind;

/// Refusals from one address are reported at most this often.
pub(crate) const EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct Refusals(HashMap<IpAddr, Held>);

/// The refusals from one source address since its last line.
struct Held {
    /// When the last line about this address went out.
    since: Instant,
    /// Refusals since then, not yet reported.
    count: u64,
    /// The latest of them.
    last: (SocketAddr, String),
}

impl Refusals {
    /// Records a refusal; returns the event to emit now, if the address has
    /// not been reported within the last second.
    pub(crate) fn refused(&mut self, peer: SocketAddr, reason: String) -> Option<EventKind> {
        match self.0.entry(peer.ip()) {
            Entry::Vacant(entry) => {
                entry.insert(Held {
                    since: Instant::now(),
                    count: 0,
                    last: (peer, reason.clone()),
                });
                Some(EventKind::Rejected {
                    peer,
                    reason,
                    count: 1,
                })
            }
            Entry::Occupied(mut entry) => {
                let held = entry.get_mut();
                held.count += 1;
                held.last = (peer, reason);
                None
            }
        }
    }

    /// Whether anything is held (or remembered) that [`Refusals::due`] may report.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The refusals held back for a second or more, one event for each
    /// source address; forgets addresses that went quiet.
    pub(crate) fn due(&mut self) -> Vec<EventKind> {
        let mut due = Vec::new();
        self.0.retain(|_, held| {
            if held.since.elapsed() < EVERY {
                return true;
            }
            if held.count == 0 {
                return false;
            }
            let (peer, reason) = held.last.clone();
            due.push(EventKind::Rejected {
                peer,
                reason,
                count: held.count,
            });
            held.count = 0;
            held.since = Instant::now();
            true
        });
        due
    }
}
