//! Decisions the registry makes, as events: the record every front end shows
//! and scripts parse. The serde form is the `--format json` line and the
//! journal line (minus `ts`, which [`Stamped`] adds); `Display` is the human
//! one, built from the same [`EventKind::detail`] that `hbmon history`
//! prints, so the two cannot drift apart.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::protocol::Status;

/// How a front end writes what it reads: for people, or for programs.
/// (The command line names the choices, in `cli`: the feed knows nothing
/// of clap.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// One decision, stamped with when it was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub at: SystemTime,
    /// Shared, not inline: the server's event ring is allocated whole from
    /// the start, so every slot costs what one event costs, and every
    /// reader takes its own copy of each event. A pointer keeps both small
    /// whatever the largest kind of event holds.
    pub kind: Arc<EventKind>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A connection was accepted (and, over TLS, its handshake done): the
    /// identity its certificate proved, under mutual TLS.
    Connected {
        peer: SocketAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<Arc<str>>,
    },
    Status {
        peer: SocketAddr,
        pid: Option<u32>,
        from: Status,
        to: Status,
        miss: u32,
        strikes: u32,
    },
    /// A client left the live list: its final status and why, the ip it
    /// reported (so the journal keeps who it said it was) and the identity
    /// its certificate proved, under mutual TLS.
    Closed {
        peer: SocketAddr,
        pid: Option<u32>,
        #[serde(default)]
        ip: Option<Arc<str>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<Arc<str>>,
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
    /// The server started listening: the first line of each run in the
    /// journal, so a reader can tell one run from the next.
    Started {
        listen: SocketAddr,
        version: String,
        /// What the operator was warned of at start (a token that crosses
        /// the network in clear).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The server stopped cleanly, every client closed: the last line of
    /// each run. A run without one ended in a crash or a `kill -9`.
    Stopped {
        listen: SocketAddr,
        /// Why it stopped on its own (`internal error: ...`), if it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// TLS: connections refused during the handshake, at most one line a
    /// second for each cause (`count` says how many it stands for, `peer`
    /// is the latest), or the certificate files reloaded (`reloaded`) or
    /// refused (`reload_failed`, the old pair staying in force).
    Tls {
        cause: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<SocketAddr>,
        reason: String,
        count: u64,
    },
    /// At least the silence guard's fraction of the clients went silent
    /// together: automatic closes are held.
    FleetSilent {
        fraction: f64,
        silent: usize,
        clients: usize,
        tick: u64,
    },
    /// The silent fraction fell below the guard: automatic closes resume.
    FleetRecovered {
        fraction: f64,
        silent: usize,
        clients: usize,
        tick: u64,
    },
    /// An operator put a client into maintenance until `until` (RFC 3339):
    /// until then the rules never send it to `leave` or close it, and it
    /// keeps its window if it reconnects with the same ip and pid.
    MaintenanceStarted {
        peer: SocketAddr,
        ip: Arc<str>,
        pid: u32,
        until: String,
        by: String,
    },
    /// A client's maintenance window ended: it ran out (no `by`), or an
    /// operator ended it. `peer` is its latest connection, which may have
    /// closed since. The rules judge it afresh from here.
    MaintenanceEnded {
        peer: SocketAddr,
        ip: Arc<str>,
        pid: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
}

/// Every `event` name a decision can have.
pub const EVENT_NAMES: [&str; 13] = [
    "connected",
    "status",
    "closed",
    "rejected",
    "bad_frame",
    "kick",
    "started",
    "stopped",
    "fleet_silent",
    "fleet_recovered",
    "maintenance_started",
    "maintenance_ended",
    "tls",
];

impl EventKind {
    /// The `event` field of the JSON line.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Connected { .. } => "connected",
            EventKind::Status { .. } => "status",
            EventKind::Closed { .. } => "closed",
            EventKind::Rejected { .. } => "rejected",
            EventKind::BadFrame { .. } => "bad_frame",
            EventKind::Kick { .. } => "kick",
            EventKind::Started { .. } => "started",
            EventKind::Stopped { .. } => "stopped",
            EventKind::FleetSilent { .. } => "fleet_silent",
            EventKind::FleetRecovered { .. } => "fleet_recovered",
            EventKind::MaintenanceStarted { .. } => "maintenance_started",
            EventKind::MaintenanceEnded { .. } => "maintenance_ended",
            EventKind::Tls { .. } => "tls",
        }
    }

    /// The connection the decision is about (none for the server's own
    /// start and stop).
    pub fn peer(&self) -> Option<SocketAddr> {
        match self {
            EventKind::Connected { peer, .. }
            | EventKind::Status { peer, .. }
            | EventKind::Closed { peer, .. }
            | EventKind::Rejected { peer, .. }
            | EventKind::BadFrame { peer, .. }
            | EventKind::Kick { peer, .. }
            | EventKind::MaintenanceStarted { peer, .. }
            | EventKind::MaintenanceEnded { peer, .. } => Some(*peer),
            EventKind::Tls { peer, .. } => *peer,
            EventKind::Started { .. }
            | EventKind::Stopped { .. }
            | EventKind::FleetSilent { .. }
            | EventKind::FleetRecovered { .. } => None,
        }
    }

    /// The client's pid, for the events that concern a client (rather than
    /// a bare connection) and once it has said hello.
    pub fn pid(&self) -> Option<u32> {
        match self {
            EventKind::Status { pid, .. }
            | EventKind::Closed { pid, .. }
            | EventKind::Kick { pid, .. } => *pid,
            EventKind::MaintenanceStarted { pid, .. } | EventKind::MaintenanceEnded { pid, .. } => {
                Some(*pid)
            }
            _ => None,
        }
    }

    /// Whether the decision concerns a client the server knows (and so has
    /// a pid to show, or `pid ?`), rather than a refused or broken connection.
    fn about_client(&self) -> bool {
        matches!(
            self,
            EventKind::Status { .. }
                | EventKind::Closed { .. }
                | EventKind::Kick { .. }
                | EventKind::MaintenanceStarted { .. }
                | EventKind::MaintenanceEnded { .. }
        )
    }

    /// What happened, without who it happened to.
    pub fn detail(&self) -> String {
        match self {
            EventKind::Connected { identity, .. } => match identity {
                Some(identity) => format!("connected (identity {identity})"),
                None => "connected".to_owned(),
            },
            EventKind::Status {
                from,
                to,
                miss,
                strikes,
                ..
            } => format!("{from} -> {to} (miss {miss}, strikes {strikes})"),
            EventKind::Closed {
                status,
                reason,
                identity,
                ..
            } => closed_detail(*status, reason, identity.as_deref()),
            EventKind::Rejected {
                peer,
                reason,
                count,
            } => rejected_detail(*peer, reason, *count),
            EventKind::BadFrame { reason, .. } => format!("sent a bad frame: {reason}"),
            EventKind::Kick { by, .. } => format!("kicked from {by}"),
            EventKind::Started {
                listen,
                version,
                warnings,
            } => {
                let warned = warnings.iter().map(|w| format!("; warning: {w}"));
                format!("server started on {listen} (hbmon {version})")
                    + &warned.collect::<String>()
            }
            EventKind::Stopped {
                listen,
                error: None,
            } => format!("server on {listen} stopped"),
            EventKind::Stopped {
                listen,
                error: Some(error),
            } => format!("server on {listen} stopped: {error}"),
            EventKind::FleetSilent {
                fraction,
                silent,
                clients,
                tick,
            } => format!(
                "fleet silent: {silent} of {clients} clients ({:.0}%) silent at tick {tick}; automatic closes held",
                fraction * 100.0
            ),
            EventKind::FleetRecovered {
                fraction,
                silent,
                clients,
                tick,
            } => format!(
                "fleet recovered: {silent} of {clients} clients ({:.0}%) silent at tick {tick}; automatic closes resume",
                fraction * 100.0
            ),
            EventKind::MaintenanceStarted { until, by, .. } => {
                format!("in maintenance until {until} (from {by})")
            }
            EventKind::MaintenanceEnded { by, .. } => match by {
                None => "maintenance ended: the window ran out".to_owned(),
                Some(by) => format!("maintenance ended early from {by}"),
            },
            EventKind::Tls {
                cause,
                reason,
                count,
                ..
            } => match count {
                1 => format!("tls: {reason}"),
                _ => format!("tls: {reason} ({count} {cause} in the last second)"),
            },
        }
    }
}

/// A closed client's detail: how it was when it closed, why, and the
/// identity in its certificate.
fn closed_detail(status: Status, reason: &str, identity: Option<&str>) -> String {
    let closed = match status {
        Status::Close => format!("closed: {reason}"),
        _ => format!("closed while {status}: {reason}"),
    };
    match identity {
        Some(identity) => format!("{closed} (identity {identity})"),
        None => closed,
    }
}

/// Refusals at accept: one, or the `count` a line stands for.
fn rejected_detail(peer: SocketAddr, reason: &str, count: u64) -> String {
    match count {
        1 => format!("rejected: {reason}"),
        _ => format!(
            "rejected: {reason} ({count} refusals from {} in the last second)",
            peer.ip()
        ),
    }
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
        match self.peer() {
            Some(peer) if self.about_client() => {
                write!(f, "{peer} ({}) {}", Pid(self.pid()), self.detail())
            }
            Some(peer) => write!(f, "{peer} {}", self.detail()),
            None => f.write_str(&self.detail()),
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

/// A journal or `--format json` line read back.
#[derive(Debug, Deserialize)]
pub struct Recorded {
    pub ts: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// RFC 3339 UTC with milliseconds, the `ts` of every event line.
///
/// The format has four digits of year and none before 1970, and humantime
/// panics outside them: a clock set wildly wrong is clamped to the nearest
/// time it can write rather than taking the server down.
pub fn rfc3339(at: SystemTime) -> String {
    let last = SystemTime::UNIX_EPOCH + Duration::from_secs(LAST_WRITABLE_SECOND);
    humantime::format_rfc3339_millis(at.clamp(SystemTime::UNIX_EPOCH, last)).to_string()
}

/// 9999-12-31T23:59:59Z, in seconds since the epoch.
const LAST_WRITABLE_SECOND: u64 = 253_402_300_799;

#[cfg(test)]
mod tests;
