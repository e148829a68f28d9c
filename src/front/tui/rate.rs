//! The heartbeat rate the header shows.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::feed::snapshot::Snapshot;

/// Heartbeats per second, over the last second or so of snapshots.
///
/// Snapshots come at irregular times (every tick, and at once on a connect,
/// a close or a kick), and the heartbeat counter is brought up to date only
/// when one is taken: the rate between two snapshots a few milliseconds
/// apart is noise, far above or below the steady rate. So the rate is taken over
/// a window of at least [`RATE_WINDOW`] of snapshots.
#[derive(Clone, Debug, Default)]
pub struct Rate {
    /// (taken, heartbeats so far), oldest first, spanning about a window.
    samples: VecDeque<(Instant, u64)>,
    per_second: f64,
}

/// The span the heartbeat rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

impl Rate {
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    pub fn update(&mut self, snapshot: &Snapshot) {
        let now = (snapshot.taken_mono, snapshot.counters.frames);
        if self.samples.back().is_some_and(|&(at, _)| now.0 <= at) {
            return;
        }
        self.samples.push_back(now);
        // Keep one sample at least a window old, and none older than that.
        while self
            .samples
            .get(1)
            .is_some_and(|&(at, _)| now.0.duration_since(at) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (at, frames) = self.samples[0];
        let span = now.0.duration_since(at);
        // Until a window has passed, any span of a quarter of one will do.
        if span >= RATE_WINDOW / 4 {
            self.per_second = now.1.saturating_sub(frames) as f64 / span.as_secs_f64();
        }
    }
}
