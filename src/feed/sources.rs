//! The servers a dashboard watches, each with its own feed: one for
//! `serve`'s own dashboard and `top ADDR`, several for `top a b c`, a set
//! that changes while it runs for servers found by discovery. The dashboard
//! reads only this, so the three are one code path.
//!
//! Each [`Source`] holds the receiving ends of one server's feed (its
//! snapshots, its [`Link`], its [`Control`]); what fills them runs on a task
//! of its own, so one server that goes away, refuses or sends garbage does
//! not slow the others.

use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::feed::{Control, Feed, Link, Snapshot};

/// One server's feed, as a dashboard reads it.
#[derive(Clone, Debug)]
pub struct Source {
    /// How the operator named it (empty for `serve`'s own).
    pub name: Arc<str>,
    /// Where its feed comes from, as given.
    pub address: Arc<str>,
    /// Watched only: no kick is sent to it.
    pub read_only: bool,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub link: Link,
    pub control: Control,
    /// Which hbmon it runs, once it has said (a feed across a socket).
    pub version: watch::Receiver<Option<Arc<str>>>,
}

impl Source {
    /// The source of `feed`. Its events stream is dropped: a dashboard
    /// shows the events the snapshots carry, and an unread receiver would
    /// hold the whole ring.
    pub fn of(name: &str, address: &str, read_only: bool, feed: Feed) -> Source {
        let Feed {
            snapshots,
            events,
            control,
            link,
            ..
        } = feed;
        drop(events);
        Source {
            name: Arc::from(name),
            address: Arc::from(address),
            read_only,
            snapshots,
            link,
            control,
            version: watch::channel(None).1,
        }
    }

    /// Waits until its snapshot or its link changes; `false` once its feed
    /// has ended (the server stopped, for a feed in its process).
    pub async fn changed(&mut self) -> bool {
        tokio::select! {
            changed = self.snapshots.changed() => changed.is_ok(),
            _ = self.link.changed() => true,
        }
    }
}

/// The set of servers a dashboard watches, as it changes, and how to stop
/// watching.
pub struct Sources {
    pub list: watch::Receiver<Vec<Source>>,
    /// Cancelled when the dashboard quits; for `serve`'s own feed, it stops
    /// the server too.
    pub stop: CancellationToken,
}

impl Sources {
    /// One server: a set that never changes.
    pub fn one(source: Source, stop: CancellationToken) -> Sources {
        Sources {
            list: watch::channel(vec![source]).1,
            stop,
        }
    }
}

/// Waits until one of `sources` changes; returns which, and whether its
/// feed goes on. Never returns with no sources.
pub async fn any_changed(sources: &mut [Source]) -> (usize, bool) {
    if sources.is_empty() {
        return std::future::pending().await;
    }
    let waits = sources.iter_mut().map(|s| s.changed().boxed());
    let (goes_on, index, _) = futures_util::future::select_all(waits).await;
    (index, goes_on)
}
