//! The batching window: handling many clients' heartbeats per wake-up of the
//! server thread instead of one each.
//!
//! Ten thousand clients at 1 Hz are ten thousand socket events a second,
//! spread evenly. Left alone, the thread sleeps in `epoll_wait` and is woken
//! for nearly each one, and on a virtual machine the wake-up costs more than
//! the heartbeat. The pacer holds the thread for at most one window between
//! scheduler turns, so the events of a window are handled in one turn.
//!
//! It adapts: a turn that took as long as the window is followed by no
//! pause at all (a flood is never slowed), and after a window in which no
//! bytes arrived it parks until the next read (an idle server does not wake
//! at all). The cost is up to one window of latency (2 ms by default) on
//! reads, kicks and ticks.
//!
//! It blocks the thread on purpose, so it belongs on the server's own
//! single-threaded runtime.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_millis(2);

#[derive(Debug)]
pub(crate) struct Pacer {
    window: Duration,
    reads: AtomicU64,
    parked: AtomicBool,
    unpark: Notify,
}

impl Pacer {
    pub(crate) fn new(window: Duration) -> Self {
        Pacer {
            window,
            reads: AtomicU64::new(0),
            parked: AtomicBool::new(false),
            unpark: Notify::new(),
        }
    }

    /// Connection side, once per read: counts it, and wakes a parked pacer.
    pub(crate) fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.unpark.notify_one();
        }
    }

    /// Paces the runtime it runs on until `stop`.
    pub(crate) async fn run(&self, stop: CancellationToken) {
        let mut worked = Duration::ZERO;
        loop {
            let seen = self.reads.load(Ordering::SeqCst);
            let pause = self.window.saturating_sub(worked);
            if !pause.is_zero() {
                // Deliberately blocking: this is the window in which events
                // pile up, to be handled together below.
                std::thread::sleep(pause);
            }
            let turn = Instant::now();
            // Let the scheduler poll for I/O and run everything now ready.
            tokio::task::yield_now().await;
            worked = turn.elapsed();
            if stop.is_cancelled() {
                return;
            }
            if self.reads.load(Ordering::SeqCst) == seen {
                // A whole window without a read: sleep until the next one.
                self.parked.store(true, Ordering::SeqCst);
                if self.reads.load(Ordering::SeqCst) != seen {
                    self.parked.store(false, Ordering::SeqCst);
                    continue;
                }
                tokio::select! {
                    _ = self.unpark.notified() => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn parked_pacer_wakes_on_a_read_and_parks_again_when_idle() {
        let pacer = Arc::new(Pacer::new(Duration::from_millis(1)));
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let (pacer, stop) = (Arc::clone(&pacer), stop.clone());
            async move { pacer.run(stop).await }
        });
        // With no reads it parks.
        while !pacer.parked.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        pacer.read();
        assert!(!pacer.parked.load(Ordering::SeqCst), "a read unparks it");
        // And with no further reads it parks again.
        while !pacer.parked.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        stop.cancel();
        task.await.unwrap();
    }
}
