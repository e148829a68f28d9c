//! The immutable picture of the server that front ends read.
//!
//! The registry builds one at a bounded rate and publishes it as an
//! `Arc<Snapshot>` over a `watch` channel; front ends clone the `Arc` and
//! never see the registry's own table, so nothing they do can slow it down.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::feed::event::Event;
use crate::liveness::{Liveness, Outlook, Rules};
use crate::protocol::Status;

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub listen: SocketAddr,
    /// Where the operator API listens (`127.0.0.1:14001`, `unix:PATH`), if
    /// it does.
    pub admin: Option<Arc<str>>,
    pub settings: Settings,
    pub started: SystemTime,
    /// When this snapshot was taken, on both clocks: wall time for display,
    /// monotonic time for the liveness outlook.
    pub taken: SystemTime,
    pub taken_mono: Instant,
    /// Live clients, in the order they connected.
    pub clients: Vec<ClientView>,
    /// Closed clients, oldest first, bounded. Shared copy-on-write with the
    /// registry, so publishing a snapshot does not copy the history.
    pub history: Arc<VecDeque<ClosedClient>>,
    /// The most recent events, oldest first, bounded; shared like `history`.
    pub recent: Arc<VecDeque<Event>>,
    pub counters: Counters,
    /// Whether the fleet is silent and automatic closes are held.
    pub fleet_silent: Option<Silence>,
}

/// The fleet has gone silent together: automatic closes are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Silence {
    pub since: SystemTime,
    /// How many of the clients that said hello are silent, as of the last tick.
    pub silent: usize,
    pub clients: usize,
}

/// Why a client due to close for the leave timeout is still here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// The fleet is silent: automatic closes wait for it to recover.
    FleetSilent,
    /// The close rate is spent: this many others close before it.
    CloseRate { ahead: u32 },
}

/// The server's settings, as front ends display them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub tick: Duration,
    pub rules: Rules,
}

/// Running totals since the server started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Valid heartbeats received.
    pub frames: u64,
    pub bad_frames: u64,
    /// Events emitted (each decision, and the server's own start and stop).
    pub events: u64,
    /// Clients closed for any reason.
    pub closed: u64,
    /// The same, by cause: indexed by [`CloseCause`] as `usize`.
    pub closed_by: [u64; CloseCause::ALL.len()],
    /// Connections refused at accept (server full).
    pub rejected: u64,
    /// Decisions the journal could not write (its queue was full, or the
    /// disk failed).
    pub journal_lost: u64,
}

impl Counters {
    /// Clients closed for this cause.
    pub fn closed_for(&self, cause: CloseCause) -> u64 {
        self.closed_by[cause as usize]
    }
}

/// Why a client was closed, as a small fixed set (for figures and alerts;
/// the `closed` event's reason says it in words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCause {
    /// In `leave` for the whole leave timeout.
    LeaveTimeout,
    /// An operator kicked it.
    Kicked,
    /// It came back while a kick's hold-off refused it.
    HeldOff,
    /// It said goodbye (`status: close`).
    Goodbye,
    /// It closed the connection.
    Disconnected,
    /// The connection failed (a reset, a write timeout).
    ConnectionError,
    BadFrame,
    /// A missing or wrong shared secret.
    Unauthorized,
    HelloTimeout,
    FrameTimeout,
    /// The server stopped.
    Shutdown,
}

impl CloseCause {
    pub const ALL: [CloseCause; 11] = [
        CloseCause::LeaveTimeout,
        CloseCause::Kicked,
        CloseCause::HeldOff,
        CloseCause::Goodbye,
        CloseCause::Disconnected,
        CloseCause::ConnectionError,
        CloseCause::BadFrame,
        CloseCause::Unauthorized,
        CloseCause::HelloTimeout,
        CloseCause::FrameTimeout,
        CloseCause::Shutdown,
    ];

    /// Its name as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            CloseCause::LeaveTimeout => "leave_timeout",
            CloseCause::Kicked => "kicked",
            CloseCause::HeldOff => "held_off",
            CloseCause::Goodbye => "goodbye",
            CloseCause::Disconnected => "disconnected",
            CloseCause::ConnectionError => "connection_error",
            CloseCause::BadFrame => "bad_frame",
            CloseCause::Unauthorized => "unauthorized",
            CloseCause::HelloTimeout => "hello_timeout",
            CloseCause::FrameTimeout => "frame_timeout",
            CloseCause::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct ClientView {
    /// The connection's number. Connections are numbered in the order they
    /// opened, and a snapshot lists its clients in that order.
    pub id: u64,
    pub peer: SocketAddr,
    /// As reported in the client's last heartbeat; `None` before the first.
    pub ip: Option<Arc<str>>,
    pub pid: Option<u32>,
    pub reported: Option<Status>,
    pub liveness: Liveness,
    pub heartbeats: u64,
    pub connected_at: SystemTime,
    pub last_seen: Option<SystemTime>,
    /// Due to close for the leave timeout, but waiting.
    pub held: Option<Held>,
    /// Under the phi detector, the suspicion at the last tick.
    pub phi: Option<f32>,
    /// Connections before this one that reported the same ip and pid.
    pub reconnects: u32,
    /// Times it went `leave` and came back to `alive`.
    pub flaps: u32,
    /// While it is in a maintenance window: when the window ends. The rules
    /// then leave it alone.
    pub maintenance: Option<SystemTime>,
    /// How it is connected, and who its certificate says it is.
    pub transport: Transport,
}

/// How a client is connected. Under TLS, a client certificate verified
/// against `--client-ca` names it: its identity, which unlike the ip it
/// reports, it cannot make up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    #[default]
    Plain,
    Tls {
        /// At most `tls::identity::IDENTITY_MAX` bytes; escape it to show it.
        identity: Option<Arc<str>>,
    },
}

impl Transport {
    /// Its name as a metric label and in `/v1/clients`.
    pub fn label(&self) -> &'static str {
        match self {
            Transport::Plain => "plain",
            Transport::Tls { .. } => "tls",
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls { .. })
    }

    /// The certificate's identity, if the client presented one.
    pub fn identity(&self) -> Option<&str> {
        match self {
            Transport::Tls { identity } => identity.as_deref(),
            Transport::Plain => None,
        }
    }

    pub fn into_identity(self) -> Option<Arc<str>> {
        match self {
            Transport::Tls { identity } => identity,
            Transport::Plain => None,
        }
    }
}

/// Written by hand for `clone_from`: the registry rewrites every row of a
/// snapshot in place on each publish, and a client's ip is nearly always
/// the same string as before. Its reference count lives in an allocation
/// far from the row, so a drop and a clone of it for every row would touch
/// a cold cache line twice a row, on the registry's thread; when the ip is
/// the same string, it is kept and the count is not touched at all. The
/// same goes for a TLS client's identity.
impl Clone for ClientView {
    fn clone(&self) -> Self {
        ClientView {
            ip: self.ip.clone(),
            transport: self.transport.clone(),
            ..*self
        }
    }

    fn clone_from(&mut self, source: &Self) {
        let ip = kept(self.ip.take(), &source.ip);
        let transport = match (std::mem::take(&mut self.transport), &source.transport) {
            (Transport::Tls { identity: mine }, Transport::Tls { identity: theirs }) => {
                Transport::Tls {
                    identity: kept(mine, theirs),
                }
            }
            (_, theirs) => theirs.clone(),
        };
        *self = ClientView {
            ip,
            transport,
            ..*source
        };
    }
}

/// `mine` if it is the very string of `theirs`, else a copy of `theirs`.
fn kept(mine: Option<Arc<str>>, theirs: &Option<Arc<str>>) -> Option<Arc<str>> {
    match (mine, theirs) {
        (Some(mine), Some(theirs)) if Arc::ptr_eq(&mine, theirs) => Some(mine),
        (_, theirs) => theirs.clone(),
    }
}

impl ClientView {
    /// A client that has just connected: nothing heard from it yet.
    pub fn opened(id: u64, peer: SocketAddr, at: SystemTime) -> ClientView {
        ClientView {
            id,
            peer,
            ip: None,
            pid: None,
            reported: None,
            liveness: Liveness::default(),
            heartbeats: 0,
            connected_at: at,
            last_seen: None,
            held: None,
            phi: None,
            reconnects: 0,
            flaps: 0,
            maintenance: None,
            transport: Transport::Plain,
        }
    }

    pub fn status(&self) -> Status {
        self.liveness.status
    }

    /// What happens next if nothing changes, as of the snapshot's time.
    pub fn outlook(&self, snapshot: &Snapshot) -> Outlook {
        self.liveness
            .outlook(snapshot.taken_mono, &snapshot.settings.rules)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedClient {
    pub peer: SocketAddr,
    pub pid: Option<u32>,
    pub ip: Option<Arc<str>>,
    pub status: Status,
    pub reason: String,
    pub heartbeats: u64,
    pub connected_at: SystemTime,
    pub closed_at: SystemTime,
}

impl Snapshot {
    /// The picture of a server that has no clients yet.
    pub fn empty(listen: SocketAddr, settings: Settings) -> Self {
        let now = SystemTime::now();
        Snapshot {
            listen,
            admin: None,
            settings,
            started: now,
            taken: now,
            taken_mono: Instant::now(),
            clients: Vec::new(),
            history: Arc::default(),
            recent: Arc::default(),
            counters: Counters::default(),
            fleet_silent: None,
        }
    }

    pub fn count(&self, status: Status) -> usize {
        self.clients.iter().filter(|c| c.status() == status).count()
    }

    /// Live clients in a maintenance window.
    pub fn in_maintenance(&self) -> usize {
        self.clients
            .iter()
            .filter(|c| c.maintenance.is_some())
            .count()
    }

    /// Live clients over TLS: the rest are in clear.
    pub fn count_tls(&self) -> usize {
        self.clients.iter().filter(|c| c.transport.is_tls()).count()
    }
}
