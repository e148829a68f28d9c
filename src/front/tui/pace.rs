//! When the dashboard takes in the snapshots that came. Recomputing the
//! row order of a large merged table (a filter over tens of thousands of
//! rows from several servers) can cost tens of milliseconds; doing it for
//! every snapshot of every server would spend a core on it. So snapshots
//! are taken in together, no sooner after the last time than [`SHARE`]
//! times what it cost (and never more often than a frame): the dashboard
//! spends at most about 1/[`SHARE`] of a core on it, a small table is taken
//! in within a frame, and the `watch` channels keep only each server's
//! latest snapshot meanwhile.

use std::time::Duration;

use tokio::time::Instant;

/// The gap after taking in snapshots, as a multiple of what it cost.
const SHARE: u32 = 20;

/// Whether snapshots wait to be taken in, and from when they may be.
pub struct Pace {
    waiting: bool,
    next: Instant,
    /// The shortest gap: a frame.
    frame: Duration,
}

impl Pace {
    pub fn new(frame: Duration) -> Pace {
        Pace {
            waiting: false,
            next: Instant::now(),
            frame,
        }
    }

    /// A snapshot came.
    pub fn came(&mut self) {
        self.waiting = true;
    }

    /// When to take in what came, if anything did.
    pub fn due(&self) -> Option<Instant> {
        self.waiting.then_some(self.next)
    }

    /// Whether to take in what came now.
    pub fn ready(&self) -> bool {
        self.due().is_some_and(|due| due <= Instant::now())
    }

    /// What came was taken in at `started`, and it cost until now.
    pub fn took(&mut self, started: Instant) {
        let now = Instant::now();
        let gap = now.duration_since(started).saturating_mul(SHARE);
        self.waiting = false;
        self.next = now + gap.max(self.frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn snapshots_wait_twenty_times_what_the_last_take_cost_and_at_least_a_frame() {
        let frame = Duration::from_millis(33);
        let mut pace = Pace::new(frame);
        assert_eq!(pace.due(), None, "nothing came");
        pace.came();
        assert!(pace.ready(), "the first is taken in at once");
        let started = Instant::now();
        tokio::time::advance(Duration::from_millis(40)).await;
        pace.took(started);
        pace.came();
        assert_eq!(
            pace.due(),
            Some(Instant::now() + Duration::from_millis(800))
        );
        assert!(!pace.ready());
        let started = Instant::now();
        pace.took(started);
        pace.came();
        assert_eq!(
            pace.due(),
            Some(Instant::now() + frame),
            "a cheap take: a frame"
        );
    }
}
