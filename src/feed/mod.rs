//! The feed: everything a front end may know about the server and say to
//! it, and nothing else. It is the one contract between the server and its
//! front ends:
//!
//! - [`snapshot`]: the immutable picture of the client table, published at a
//!   bounded rate over a `watch` channel;
//! - [`event`]: every decision as it is made, on a broadcast ring;
//! - [`control`]: the commands a front end sends back, and their errors;
//! - [`link`]: whether a feed from across a socket still reaches its
//!   server, beside the snapshots rather than inside them;
//! - [`query`]: choosing and ordering clients, as the dashboard and the
//!   operator API both do;
//! - [`wire`]: snapshots across a socket, as whole ones and then changes.
//!
//! A front end holds a [`Feed`] and cannot tell where it comes from, so the
//! same dashboard can run in the server's process or, later, across a
//! socket. This module must never depend on the server's insides or on a
//! particular front end (no ratatui here).

pub mod client_line;
pub mod control;
pub mod details;
pub mod event;
pub mod link;
pub mod merged;
pub mod query;
pub mod snapshot;
pub mod sources;
pub mod wire;

use std::sync::Arc;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

pub use control::{Command, CommandError, Control};
pub use event::{Event, EventKind};
pub use link::{Connection, Link};
pub use snapshot::Snapshot;

/// Subscribes readers to the event stream, each from the moment it asks.
/// It holds only a weak sender: no receiver is kept that nobody reads,
/// which would hold the whole ring of events in memory.
#[derive(Clone, Debug)]
pub struct Subscriber(broadcast::WeakSender<Event>);

impl Subscriber {
    pub fn new(sender: &broadcast::Sender<Event>) -> Self {
        Subscriber(sender.downgrade())
    }

    /// Every event from now on; a stream that has already ended once the
    /// server has stopped.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        match self.0.upgrade() {
            Some(sender) => sender.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// How many receivers the stream has now.
    #[cfg(test)]
    pub(crate) fn receivers(&self) -> usize {
        self.0.upgrade().map_or(0, |s| s.receiver_count())
    }
}

/// What a front end reads and how it acts. Front ends run on threads and
/// runtimes of their own: writing to a terminal or a pipe blocks, and that
/// must never stall the server's thread.
pub struct Feed {
    /// The latest published snapshot, and every one after it.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Every event from when the feed was made. A front end that does not
    /// read events drops this at once: an unread receiver holds the whole
    /// ring of events in memory.
    pub events: broadcast::Receiver<Event>,
    /// More readers of the same stream, each from when it subscribes: for a
    /// front end that serves many (the operator API's `/v1/events`).
    pub subscriber: Subscriber,
    pub control: Control,
    /// Whether the snapshots still come from a live server.
    pub link: Link,
    /// Cancelled when the server is told to stop (a signal, or a front end's
    /// quit); cancelling it stops the server.
    pub stop: CancellationToken,
}
