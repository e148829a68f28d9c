//! What an API connection is doing, for its two timeouts: a request's head
//! must arrive whole within the head timeout of its first byte (of the
//! accept, for a connection's first request), and a kept-alive connection
//! may wait for its next request no longer than the idle timeout. While a
//! request is answered, a stream for as long as it lasts, neither runs.
//! (hyper's own header timeout starts as soon as a connection goes idle,
//! so it cannot tell the two apart.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::observed::{Observed, Observer};

/// The API's two timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From a request's first byte to the end of its head.
    pub head: Duration,
    /// From the end of an answer to the next request's first byte.
    pub idle: Duration,
}

impl Timeouts {
    /// These timeouts, neither longer than `limit`.
    pub fn at_most(self, limit: Duration) -> Timeouts {
        Timeouts {
            head: self.head.min(limit),
            idle: self.idle.min(limit),
        }
    }
}

/// No head under way.
const NONE: u64 = u64::MAX;

/// A connection's state, shared by its reader, its requests and its
/// watcher; times are milliseconds since the accept.
pub struct Activity {
    accepted: Instant,
    /// Requests being answered.
    busy: AtomicUsize,
    /// When the head under way began, or [`NONE`].
    head_since: AtomicU64,
    /// When the last answer ended.
    quiet_since: AtomicU64,
    /// Told whenever the deadline may have moved.
    changed: Notify,
}

impl Activity {
    /// A connection just accepted: its first head is under way from now.
    pub fn new() -> Activity {
        Activity {
            accepted: Instant::now(),
            busy: AtomicUsize::new(0),
            head_since: AtomicU64::new(0),
            quiet_since: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, millis: u64) -> Instant {
        self.accepted + Duration::from_millis(millis)
    }

    /// Bytes came in: between requests, they begin a head.
    fn bytes_in(&self) {
        if self.busy.load(Ordering::Acquire) == 0 {
            let now = self.now();
            let began =
                self.head_since
                    .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Acquire);
            if began.is_ok() {
                self.changed.notify_one();
            }
        }
    }

    /// A request's head is in: the connection is busy until the returned
    /// marker is dropped with the end of its answer.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Release);
        self.changed.notify_one();
        Busy(Arc::clone(self))
    }

    /// When the running timeout expires; `None` while answering.
    pub fn deadline(&self, timeouts: &Timeouts) -> Option<Instant> {
        if self.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.head_since.load(Ordering::Acquire) {
            NONE => Some(self.at(self.quiet_since.load(Ordering::Acquire)) + timeouts.idle),
            since => Some(self.at(since) + timeouts.head),
        }
    }

    /// Resolves when the deadline may have moved: a request began or
    /// ended, or a head began.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    pub fn timed_out(&self, timeouts: &Timeouts) -> bool {
        self.deadline(timeouts)
            .is_some_and(|deadline| deadline <= Instant::now())
    }
}

/// Held while a request is answered.
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let now = self.0.now();
        self.0.quiet_since.store(now, Ordering::Release);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// A connection's stream, telling its [`Activity`] when bytes come in.
pub type Watched<S> = Observed<S, Arc<Activity>>;

impl Observer for Arc<Activity> {
    fn read(&mut self, _bytes: &[u8]) {
        self.bytes_in();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        head: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn the_head_timeout_runs_from_the_accept_then_the_idle_one_between_requests() {
        let activity = Arc::new(Activity::new());
        let accepted = Instant::now();
        assert_eq!(activity.deadline(&TIMEOUTS), Some(accepted + TIMEOUTS.head));
        let busy = activity.begin();
        tokio::time::advance(Duration::from_secs(100)).await;
        assert_eq!(
            activity.deadline(&TIMEOUTS),
            None,
            "no timeout while answering"
        );
        drop(busy);
        let quiet = Instant::now();
        assert_eq!(activity.deadline(&TIMEOUTS), Some(quiet + TIMEOUTS.idle));
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.bytes_in();
        let head_began = quiet + Duration::from_secs(30);
        assert_eq!(
            activity.deadline(&TIMEOUTS),
            Some(head_began + TIMEOUTS.head)
        );
        tokio::time::advance(TIMEOUTS.head).await;
        assert!(activity.timed_out(&TIMEOUTS));
    }
}
