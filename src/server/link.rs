//! What one connection task and the registry share about one client.
//!
//! Heartbeats are counted in the connection's [`Tally`], with atomics that
//! only the connection writes and the registry reads when it ticks or
//! publishes: a steady client costs no message and no wake-up of the
//! registry per heartbeat. Notices go the other way through a one-slot
//! mailbox, far smaller than a channel per connection (which would
//! allocate a block of slots up front).
//!
//! The mailbox's lock is held only to swap a value, never across `.await`.

use std::sync::Mutex;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use crate::protocol::{Notice, Status};
use crate::server::tally::Tally;

#[derive(Debug)]
pub(crate) struct Link {
    tally: Tally,
    /// The notice the connection has yet to write, if any. Boxed: notices
    /// are rare, and every client holds the slot.
    notice: Mutex<Option<Box<Notice>>>,
    /// The connection task, to wake when a notice is left.
    waker: AtomicWaker,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.tally.release();
    }
}

impl Link {
    pub(crate) fn new(tally: Tally) -> Self {
        Link {
            tally,
            notice: Mutex::new(None),
            waker: AtomicWaker::new(),
        }
    }

    /// Where the connection counts its heartbeats.
    pub(crate) fn tally(&self) -> &Tally {
        &self.tally
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tally::Tallies;

    #[tokio::test]
    async fn latest_notice_wins_but_close_is_never_replaced() {
        let link = Link::new(Tallies::new().take());
        link.send(Notice::new(Status::Leave, "a"));
        link.send(Notice::new(Status::Alive, "b"));
        assert_eq!(link.next_notice().await.status, Status::Alive);
        link.send(Notice::close("kicked"));
        link.send(Notice::new(Status::Alive, "late"));
        assert_eq!(link.next_notice().await, Notice::close("kicked"));
    }

    #[tokio::test]
    async fn a_notice_sent_before_anyone_waits_is_not_lost() {
        let link = std::sync::Arc::new(Link::new(Tallies::new().take()));
        link.send(Notice::close("early"));
        let waiter = tokio::spawn({
            let link = std::sync::Arc::clone(&link);
            async move { link.next_notice().await }
        });
        assert_eq!(waiter.await.unwrap(), Notice::close("early"));
    }
}
