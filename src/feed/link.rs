//! How a feed reaches its server, kept beside what the server says: the
//! snapshots are the server's state, and only that; whether they are still
//! coming is the viewer's own state, and travels here. A model:
//! tokio-console's `conn.rs`, whose connection state sits beside the data
//! it streams.
//!
//! A feed in the server's own process is always connected. A feed from
//! across a socket (`remote`) goes `Lost` when its server stops answering,
//! keeps the last snapshot for the screen, and is `Connected` again once a
//! new one arrives.

use tokio::sync::watch;

/// Whether a feed's snapshots are live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Connection {
    #[default]
    Connected,
    /// The server went away, and this says why (in words, for the
    /// operator): the snapshots stop at the last picture it sent while the
    /// feed tries to reach it again.
    Lost(String),
    /// The server answers but cannot be followed as it is (it needs a
    /// token this viewer was not given, or it is not hbmon): a list of
    /// servers says so rather than "disconnected". Retried like a loss.
    Refused(Refusal, String),
}

/// Why a server that answers cannot be followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NeedsToken,
    NotHbmon,
}

impl Connection {
    /// Why the server is lost, if it is.
    pub fn lost(&self) -> Option<&str> {
        match self {
            Connection::Connected => None,
            Connection::Lost(why) | Connection::Refused(_, why) => Some(why),
        }
    }
}

/// A front end's view of its feed's [`Connection`].
#[derive(Clone, Debug)]
pub struct Link(watch::Receiver<Connection>);

impl Link {
    pub fn new(receiver: watch::Receiver<Connection>) -> Self {
        Link(receiver)
    }

    /// The link of a feed in the server's own process: connected for as
    /// long as the feed lasts.
    pub fn in_process() -> Self {
        Link(watch::channel(Connection::Connected).1)
    }

    /// The state now.
    pub fn now(&self) -> Connection {
        self.0.borrow().clone()
    }

    /// The next state, once it changes. Never returns when nothing can
    /// change it any more (an in-process feed, or a remote feed that has
    /// ended), so a front end can wait on it in a `select!` unconditionally.
    pub async fn changed(&mut self) -> Connection {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.0.borrow_and_update().clone()
    }
}
