//! Decisions the registry makes, as events: the record every front end shows
//! and scripts parse. The serde form is the `--format json` line (minus `ts`,
//! which the writer adds); `Display` is the human one.

use std::fmt;
use std::net::SocketAddr;
use std::time::SystemTime;

use serde::Serialize;

use crate::protocol::Status;

/// One decision, stamped with when it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: SystemTime,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    Connected {
        peer: SocketAddr,
    },
    Status {
        peer: SocketAddr,
        pid: Option<u32>,
        from: Status,
        to: Status,
        miss: u32,
        strikes: u32,
    },
    Closed {
        peer: SocketAddr,
        pid: Option<u32>,
        status: Status,
        reason: String,
    },
    /// Connections refused at accept. At most one line a second for each
    /// source address: `count` says how many refusals it stands for.
    Rejected {
        peer: SocketAddr,
        reason: String,
        count: u64,
    },
    BadFrame {
        peer: SocketAddr,
        reason: String,
    },
    /// An operator asked for a client to be closed; `by` names the front
    /// end (`stdin`, `dashboard`). A `closed` event follows.
    Kick {
        peer: SocketAddr,
        pid: Option<u32>,
        by: String,
    },
}

/// `pid 42` or `pid ?` for a client that has not said hello yet.
pub struct Pid(pub Option<u32>);

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pid) => write!(f, "pid {pid}"),
            None => f.write_str("pid ?"),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Connected { peer } => write!(f, "{peer} connected"),
            EventKind::Status {
                peer,
                pid,
                from,
                to,
                miss,
                strikes,
            } => write!(
                f,
                "{peer} ({}) {from} -> {to} (miss {miss}, strikes {strikes})",
                Pid(*pid)
            ),
            EventKind::Closed {
                peer,
                pid,
                status,
                reason,
            } => write!(f, "{peer} ({}) closed as {status}: {reason}", Pid(*pid)),
            EventKind::Rejected {
                peer,
                reason,
                count: 1,
            } => write!(f, "{peer} rejected: {reason}"),
            EventKind::Rejected {
                peer,
                reason,
                count,
            } => write!(
                f,
                "{peer} rejected: {reason} ({count} refusals from {} in the last second)",
                peer.ip()
            ),
            EventKind::BadFrame { peer, reason } => write!(f, "{peer} sent a bad frame: {reason}"),
            EventKind::Kick { peer, pid, by } => {
                write!(f, "{peer} ({}) kicked from {by}", Pid(*pid))
            }
        }
    }
}

/// A JSON line as the headless stream and the journal write it: `ts`, then
/// the body's own fields.
#[derive(Serialize)]
pub struct Stamped<'a, T> {
    pub ts: String,
    #[serde(flatten)]
    pub body: &'a T,
}

/// RFC 3339 UTC with milliseconds, the `ts` of every event line.
pub fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}
