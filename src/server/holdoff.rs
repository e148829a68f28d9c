//! Clients an operator kicked with a hold-off: until it ends, a connection
//! whose heartbeat reports the same ip and pid is closed again at once, with
//! the time left as its `retry_after`. The registry owns one of these.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Default)]
pub(crate) struct HoldOffs(HashMap<(String, u32), Instant>);

impl HoldOffs {
    /// Refuses the client reporting `ip` and `pid` until `until`.
    pub(crate) fn hold(&mut self, ip: &str, pid: u32, until: Instant) {
        self.0.insert((ip.to_owned(), pid), until);
    }

    /// How much longer the client reporting `ip` and `pid` is held off, if
    /// it is.
    pub(crate) fn remaining(&self, ip: &str, pid: u32, now: Instant) -> Option<Duration> {
        let until = self.0.get(&(ip.to_owned(), pid))?;
        Some(until.saturating_duration_since(now)).filter(|left| !left.is_zero())
    }

    /// Forgets the hold-offs that have ended, so the table stays as small as
    /// the kicks still in force.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.0.retain(|_, until| *until > now);
    }
}
