//! What one connection task and the registry share about one client.
//!
//! Heartbeats are counted here with atomics that only the connection writes
//! and the registry reads when it ticks or publishes: a steady client costs
//! no message and no wake-up of the registry per heartbeat. Notices go the
//! other way through a one-slot mailbox, far smaller than a channel per
//! connection (which would allocate a block of slots up front).
//!
//! The mailbox's lock is held only to swap a value, never across `.await`.
//!
//! Timeouts are judged on tokio's monotonic clock (so tests can pause it and
//! a wall-clock step cannot fire them); `last_seen` is wall time, for people.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures_util::task::AtomicWaker;
use tokio::time::Instant;

use crate::protocol::{Notice, Status};

#[derive(Debug)]
pub(crate) struct Link {
    /// When the connection was accepted.
    opened: Instant,
    /// Valid heartbeats received so far.
    heartbeats: AtomicU64,
    /// When the last one arrived, in milliseconds since the Unix epoch.
    last_seen_ms: AtomicU64,
    /// The same, on the monotonic clock: milliseconds after `opened`. For
    /// the phi detector's gaps and silences, which a wall-clock step must
    /// not distort.
    last_beat_ms: AtomicU64,
    /// Since when part of a frame has been waiting for the rest, in
    /// milliseconds after `opened`, plus one; 0 when none is.
    partial_since_ms: AtomicU64,
    /// The notice the connection has yet to write, if any. Boxed: notices
    /// are rare, and every client holds the slot.
    notice: Mutex<Option<Box<Notice>>>,
    /// The connection task, to wake when a notice is left.
    waker: AtomicWaker,
}

impl Link {
    pub(crate) fn new(opened: Instant) -> Self {
        Link {
            opened,
            heartbeats: AtomicU64::new(0),
            last_seen_ms: AtomicU64::new(0),
            last_beat_ms: AtomicU64::new(0),
            partial_since_ms: AtomicU64::new(0),
            notice: Mutex::new(None),
            waker: AtomicWaker::new(),
        }
    }

    /// When the connection was accepted.
    pub(crate) fn opened(&self) -> Instant {
        self.opened
    }

    /// Connection side: `count` heartbeats arrived at `at`.
    pub(crate) fn record(&self, count: u64, at: SystemTime) {
        self.last_seen_ms.store(unix_ms(at), Ordering::Relaxed);
        let beat = Instant::now().saturating_duration_since(self.opened);
        self.last_beat_ms
            .store(beat.as_millis() as u64, Ordering::Relaxed);
        self.heartbeats.fetch_add(count, Ordering::Release);
    }

    /// Connection side: part of a frame is waiting (since `at`), or none is.
    pub(crate) fn partial_frame(&self, since: Option<Instant>) {
        let ms = since.map_or(0, |at| {
            at.saturating_duration_since(self.opened).as_millis() as u64 + 1
        });
        self.partial_since_ms.store(ms, Ordering::Relaxed);
    }

    /// Registry side: since when part of a frame has been waiting, if it is.
    pub(crate) fn partial_since(&self) -> Option<Instant> {
        match self.partial_since_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.opened + Duration::from_millis(ms - 1)),
        }
    }

    /// Registry side: heartbeats so far, and when the last arrived.
    pub(crate) fn read(&self) -> (u64, Option<SystemTime>) {
        let heartbeats = self.heartbeats.load(Ordering::Acquire);
        let ms = self.last_seen_ms.load(Ordering::Relaxed);
        let last_seen =
            (heartbeats > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        (heartbeats, last_seen)
    }

    /// Registry side: when the last heartbeat arrived, on the monotonic
    /// clock (meaningful once there has been one).
    pub(crate) fn last_beat(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_beat_ms.load(Ordering::Relaxed))
    }

    /// Registry side: leaves a notice for the connection to write. A newer
    /// notice replaces one not yet written (only the latest status matters),
    /// but nothing replaces a close.
    pub(crate) fn send(&self, notice: Notice) {
        let mut slot = self.slot();
        if slot
            .as_ref()
            .is_none_or(|pending| pending.status != Status::Close)
        {
            *slot = Some(Box::new(notice));
        }
        drop(slot);
        self.waker.wake();
    }

    /// Connection side: whether a notice waits (else the task is woken
    /// when one is left). The notice stays in the slot until taken.
    pub(crate) fn poll_notice(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Registered before looking, so a notice left in between still wakes.
        self.waker.register(cx.waker());
        if self.slot().is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Connection side: the notice left, if any.
    pub(crate) fn take_notice(&self) -> Option<Notice> {
        self.slot().take().map(|notice| *notice)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Box<Notice>>> {
        self.notice
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for the next notice (as a connection would).
    #[cfg(test)]
    pub(crate) async fn next_notice(&self) -> Notice {
        loop {
            std::future::poll_fn(|cx| self.poll_notice(cx)).await;
            if let Some(notice) = self.take_notice() {
                return notice;
            }
        }
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn latest_notice_wins_but_close_is_never_replaced() {
        let link = Link::new(Instant::now());
        link.send(Notice::new(Status::Leave, "a"));
        link.send(Notice::new(Status::Alive, "b"));
        assert_eq!(link.next_notice().await.status, Status::Alive);
        link.send(Notice::close("kicked"));
        link.send(Notice::new(Status::Alive, "late"));
        assert_eq!(link.next_notice().await, Notice::close("kicked"));
    }

    #[tokio::test]
    async fn a_notice_sent_before_anyone_waits_is_not_lost() {
        let link = std::sync::Arc::new(Link::new(Instant::now()));
        link.send(Notice::close("early"));
        let waiter = tokio::spawn({
            let link = std::sync::Arc::clone(&link);
            async move { link.next_notice().await }
        });
        assert_eq!(waiter.await.unwrap(), Notice::close("early"));
    }

    #[tokio::test]
    async fn counts_last_seen_and_partial_frames_round_trip() {
        let opened = Instant::now();
        let link = Link::new(opened);
        assert_eq!(link.read(), (0, None));
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_790_000_000_123);
        link.record(3, at);
        link.record(2, at);
        assert_eq!(link.read(), (5, Some(at)));
        assert_eq!(link.partial_since(), None);
        let waiting = opened + Duration::from_millis(1500);
        link.partial_frame(Some(waiting));
        assert_eq!(link.partial_since(), Some(waiting));
        link.partial_frame(Some(opened));
        assert_eq!(link.partial_since(), Some(opened));
        link.partial_frame(None);
        assert_eq!(link.partial_since(), None);
    }
}
