//! What a front end may ask of the server: [`Command`]s, sent through a
//! [`Control`], each answered on a oneshot channel.
//!
//! A kick may carry a hold-off: for that long, the kicked client (the same
//! reported ip and pid) is refused if it comes back, and its close frame
//! asks it to wait that long (`retry_after`).
//!
//! A maintenance window names its clients by a [`Target`], matched here so
//! that the dashboard, stdin, the API and `hbmon top` all mean the same
//! clients by the same words.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};

use crate::feed::details::Details;
use crate::feed::query::Filter;
use crate::feed::snapshot::{ClientView, Snapshot};

/// Where an answer goes: the registry always answers, a feed from across a
/// socket may say why it could not.
pub type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

/// A request from a front end. Each carries where to send the answer.
#[derive(Debug)]
pub enum Command {
    /// Close these live clients, each with a close frame saying why.
    Kick {
        peers: Vec<SocketAddr>,
        /// Who asked, for the record.
        by: String,
        hold: Option<Duration>,
        reply: Reply<Kicked>,
    },
    /// Close every client in `leave` at the moment the command arrives;
    /// answers with who was closed.
    KickLeave {
        by: String,
        hold: Option<Duration>,
        reply: Reply<Vec<SocketAddr>>,
    },
    /// A snapshot taken now, rather than the last one published.
    List { reply: Reply<Arc<Snapshot>> },
    /// One live client's story.
    Show {
        peer: SocketAddr,
        reply: Reply<Details>,
    },
    /// Puts the live clients `target` names into maintenance for `length`,
    /// or ends their windows (`None`); answers with the clients covered.
    Maintenance {
        target: Target,
        length: Option<Duration>,
        by: String,
        reply: Reply<Maintained>,
    },
}

/// Which live clients a maintenance window covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Exactly these connections.
    Peers(Vec<SocketAddr>),
    /// Every client that reported this ip.
    Ip(String),
    /// Every client that reported this pid.
    Pid(u32),
    /// Every client whose row the dashboard's `/` filter would show.
    Filter(String),
}

impl Target {
    /// A test for the clients this target names, to run over a whole
    /// table: what it needs (the filter's lowered text, a set of peers) is
    /// made once, not per client.
    pub fn picker(&self) -> impl FnMut(&ClientView) -> bool + '_ {
        let filter = match self {
            Target::Filter(text) => Some(Filter::new(text)),
            _ => None,
        };
        let peers: HashSet<SocketAddr> = match self {
            Target::Peers(peers) => peers.iter().copied().collect(),
            _ => HashSet::new(),
        };
        let mut scratch = String::new();
        move |client| match self {
            Target::Peers(_) => peers.contains(&client.peer),
            Target::Ip(ip) => client.ip.as_deref() == Some(ip.as_str()),
            Target::Pid(pid) => client.pid == Some(*pid),
            Target::Filter(_) => filter
                .as_ref()
                .is_some_and(|filter| filter.client(&mut scratch, client)),
        }
    }
}

/// The answer to a maintenance command: the clients it covers, and when
/// their window ends (`None` when it ended them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintained {
    pub clients: Vec<SocketAddr>,
    pub until: Option<SystemTime>,
}

/// The answer to a kick: who was closed, and who had already gone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kicked {
    pub kicked: Vec<SocketAddr>,
    pub gone: Vec<SocketAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no live client at {0}")]
    NoSuchClient(SocketAddr),
    #[error("the server has stopped")]
    Stopped,
    /// Across a socket: the server could not be reached, or refused.
    #[error("{0}")]
    Remote(String),
}

/// Sends commands to the server and waits for its answers.
#[derive(Clone, Debug)]
pub struct Control {
    tx: mpsc::Sender<Command>,
}

impl Control {
    pub fn new(tx: mpsc::Sender<Command>) -> Self {
        Control { tx }
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(command(reply))
            .await
            .map_err(|_| CommandError::Stopped)?;
        answer.await.map_err(|_| CommandError::Stopped)?
    }

    /// Closes the live client at `peer` with a close frame; `by` names who
    /// asked, for the record.
    pub async fn kick(
        &self,
        peer: SocketAddr,
        by: &str,
        hold: Option<Duration>,
    ) -> Result<(), CommandError> {
        let answer = self.kick_each(vec![peer], by, hold).await?;
        match answer.gone.first() {
            Some(&gone) => Err(CommandError::NoSuchClient(gone)),
            None => Ok(()),
        }
    }

    /// Closes exactly these clients, those of them still connected.
    pub async fn kick_each(
        &self,
        peers: Vec<SocketAddr>,
        by: &str,
        hold: Option<Duration>,
    ) -> Result<Kicked, CommandError> {
        let by = by.to_owned();
        self.ask(|reply| Command::Kick {
            peers,
            by,
            hold,
            reply,
        })
        .await
    }

    /// Closes every client in `leave`; returns who was closed.
    pub async fn kick_leave(
        &self,
        by: &str,
        hold: Option<Duration>,
    ) -> Result<Vec<SocketAddr>, CommandError> {
        let by = by.to_owned();
        self.ask(|reply| Command::KickLeave { by, hold, reply })
            .await
    }

    /// A snapshot taken now.
    pub async fn list(&self) -> Result<Arc<Snapshot>, CommandError> {
        self.ask(|reply| Command::List { reply }).await
    }

    /// Puts the clients `target` names into maintenance for `length`, or
    /// ends their windows when `length` is `None`.
    pub async fn maintenance(
        &self,
        target: Target,
        length: Option<Duration>,
        by: &str,
    ) -> Result<Maintained, CommandError> {
        let by = by.to_owned();
        self.ask(|reply| Command::Maintenance {
            target,
            length,
            by,
            reply,
        })
        .await
    }

    /// The story of the live client at `peer`.
    pub async fn show(&self, peer: SocketAddr) -> Result<Details, CommandError> {
        self.ask(|reply| Command::Show { peer, reply }).await
    }
}
