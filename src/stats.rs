//! Figures about the server's own work, as opposed to its state: how long
//! the registry spends publishing snapshots. They are for `/metrics` and
//! `hbmon bench`, which measure the server, and are no part of the feed: a
//! front end shows the server's state, and a snapshot that carried its own
//! cost would change every time it was published.
//!
//! The server owns the one writer (the registry); whoever measures holds a
//! [`PublishStats`] beside the feed and reads its totals when it likes.

use std::sync::Mutex;
use std::time::Duration;

/// The registry's publishes so far and the time they took. One lock, held
/// for a few additions a publish and never across an `.await`, so a reader
/// always sees the three totals of the same moment.
#[derive(Debug, Default)]
pub struct PublishStats(Mutex<PublishTotals>);

/// Totals since the server started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublishTotals {
    /// Snapshots published.
    pub publishes: u64,
    /// The registry's wall time spent on them, in nanoseconds (bringing
    /// each row up to date, replacing the snapshot): its reports and
    /// commands wait that long, heartbeats (on another thread) do not.
    pub publish_ns: u64,
    /// The registry thread's CPU time for the same publishes: the part of
    /// `publish_ns` it was running; the rest it waited for a core. Read just
    /// outside the wall clock's span, so it may exceed `publish_ns` by the
    /// cost of a clock read a publish.
    pub publish_cpu_ns: u64,
}

impl PublishStats {
    /// Counts one publish that took `wall`, of which the thread ran `cpu`
    /// (`None` when the CPU clock could not be read).
    pub fn record(&self, wall: Duration, cpu: Option<Duration>) {
        let mut totals = self.0.lock().unwrap_or_else(|p| p.into_inner());
        totals.publishes += 1;
        totals.publish_ns = totals.publish_ns.saturating_add(nanos(wall));
        if let Some(cpu) = cpu {
            totals.publish_cpu_ns = totals.publish_cpu_ns.saturating_add(nanos(cpu));
        }
    }

    /// The totals now.
    pub fn totals(&self) -> PublishTotals {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn nanos(span: Duration) -> u64 {
    u64::try_from(span.as_nanos()).unwrap_or(u64::MAX)
}
