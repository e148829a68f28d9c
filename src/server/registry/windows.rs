//! The maintenance windows in force, by the ip and pid their clients
//! reported: what lets a client that reconnects within its window find it
//! again. The decider owns one (see [`maintenance`](super::maintenance)
//! for what a window does).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

/// One window, as long as it lasts.
pub(super) struct Window {
    pub(super) until: Instant,
    /// The same end on the wall clock, for front ends to show.
    pub(super) wall: SystemTime,
    /// The client's latest connection, to name it when the window ends.
    pub(super) peer: SocketAddr,
}

#[derive(Default)]
pub(super) struct Windows(HashMap<(Arc<str>, u32), Window>);

impl Windows {
    /// Opens (or moves the end of) the window of `ip` and `pid`.
    pub(super) fn open(&mut self, ip: Arc<str>, pid: u32, window: Window) {
        self.0.insert((ip, pid), window);
    }

    /// Closes the window of `ip` and `pid` that ends at `until`; one moved
    /// since (a second connection with the same ip and pid was given a new
    /// end) stays open.
    pub(super) fn close(&mut self, ip: &Arc<str>, pid: u32, until: Instant) {
        let key = (Arc::clone(ip), pid);
        if self.0.get(&key).is_some_and(|w| w.until == until) {
            self.0.remove(&key);
        }
    }

    pub(super) fn get_mut(&mut self, ip: Arc<str>, pid: u32) -> Option<&mut Window> {
        self.0.get_mut(&(ip, pid))
    }

    /// Whether any window has ended by `at`.
    pub(super) fn any_ended(&self, at: Instant) -> bool {
        self.0.values().any(|w| w.until <= at)
    }

    /// Forgets the windows that have ended by `at`; the peer, ip and pid of
    /// each.
    pub(super) fn take_ended(&mut self, at: Instant) -> Vec<(SocketAddr, Arc<str>, u32)> {
        let mut ended = Vec::new();
        self.0.retain(|(ip, pid), window| {
            let over = window.until <= at;
            if over {
                ended.push((window.peer, Arc::clone(ip), *pid));
            }
            !over
        });
        ended
    }
}
