//! What the accept loop and connection tasks tell the registry, and how a
//! connection ended. Both sides of that channel import this file; neither
//! imports the other.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::feed::snapshot::Transport;
use crate::protocol::Status;
use crate::server::link::Link;

#[derive(Debug)]
pub(crate) enum Report {
    Opened {
        id: u64,
        peer: SocketAddr,
        link: Arc<Link>,
        /// When it was accepted: the hello timeout runs from then, the TLS
        /// handshake included.
        accepted: Instant,
        /// The identity in the client's certificate, under mutual TLS.
        identity: Option<Arc<str>>,
    },
    Rejected {
        peer: SocketAddr,
        reason: String,
    },
    /// A connection refused during the TLS handshake (`peer`), or the
    /// certificate files reloaded or refused (no peer): `cause` is the
    /// label events are held back by.
    Tls {
        cause: &'static str,
        peer: Option<SocketAddr>,
        reason: String,
    },
    /// The client's first heartbeat, or one whose ip, pid or reported
    /// status differs from the last. (Heartbeats themselves are counted on
    /// the link, not reported.)
    Hello {
        id: u64,
        /// Shared with the connection, which compares later heartbeats to it.
        ip: Arc<str>,
        pid: u32,
        status: Status,
        /// Plain or TLS, and the identity in the client's certificate.
        transport: Transport,
    },
    Ended {
        id: u64,
        end: End,
    },
    /// Panics the registry: the tests' stand-in for a bug.
    #[cfg(test)]
    Panic(&'static str),
}

/// How a connection task finished.
#[derive(Debug)]
pub(crate) enum End {
    /// The client sent `status: close`.
    Goodbye,
    /// The peer closed the connection.
    Disconnected,
    /// The connection failed.
    Failed(Failure),
    /// The peer broke the protocol; the reason was sent to it.
    BadFrame(String),
    /// The first heartbeat lacked the shared secret, or had a wrong one.
    Unauthorized,
    /// The registry closed it; it already knows.
    ByServer,
}

/// Why a connection failed rather than ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// A reset, a broken pipe...
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The peer stopped reading: a notice could not be written in time.
    #[error("peer did not accept a notice within {}", humantime::format_duration(*.0))]
    WriteTimeout(Duration),
    /// A bug in the connection task; the panic was contained.
    #[error("internal error: {0}")]
    Panic(String),
}

impl End {
    /// The reason sent in the close frame when the connection, not the
    /// registry, ends things; also the reason recorded for the client.
    pub(crate) fn close_reason(&self) -> Option<String> {
        match self {
            End::Goodbye => Some("client said goodbye".to_owned()),
            End::BadFrame(reason) => Some(format!("bad frame: {reason}")),
            End::Unauthorized => Some("unauthorized".to_owned()),
            _ => None,
        }
    }
}
