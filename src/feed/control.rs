//! What a front end may ask of the server: [`Command`]s, sent through a
//! [`Control`], each answered on a oneshot channel.
//!
//! A kick may carry a hold-off: for that long, the kicked client (the same
//! reported ip and pid) is refused if it comes back, and its close frame
//! asks it to wait that long (`retry_after`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::feed::details::Details;
use crate::feed::snapshot::Snapshot;

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

    /// The story of the live client at `peer`.
    pub async fn show(&self, peer: SocketAddr) -> Result<Details, CommandError> {
        self.ask(|reply| Command::Show { peer, reply }).await
    }
}
