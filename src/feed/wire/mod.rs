//! The feed across a socket (`GET /v1/feed`, read by `hbmon top`): the
//! server sends each viewer its whole snapshot once, then only what changed
//! since the frame it last sent that viewer; the viewer keeps a [`Replica`]
//! that turns the frames back into snapshots. A dashboard fed from across a
//! socket is then the same dashboard, and the bytes follow what changes
//! rather than the size of the fleet times the frame rate: a steady client
//! costs the few bytes of its new heartbeat count and last-seen time.
//!
//! Frames are postcard (compact, varint integers), each behind a 4-byte
//! length (tokio-util's `LengthDelimitedCodec`). Events travel as the JSON
//! lines `--format json` prints. Times travel in milliseconds since the Unix
//! epoch; monotonic instants as offsets back from the frame's own moment.

mod closed;
mod replica;
#[cfg(test)]
mod tests;
mod time;
mod windows;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::feed::event::{Event, Recorded, Stamped, rfc3339};
use crate::feed::snapshot::{ClientView, CloseCause, Counters, Held, Snapshot, Transport};
use crate::liveness::Liveness;
use crate::protocol::Status;
use crate::tls::identity::IDENTITY_MAX;
use closed::Closed;
pub use replica::Replica;
use time::{ago_ms, back, from_ms, ms};
use windows::Windows;

/// The content type of a stream of frames, so a viewer can tell it reached
/// hbmon.
pub const CONTENT_TYPE: &str = "application/x-hbmon-feed";

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("a frame that is not hbmon's: {0}")]
    Decode(#[from] postcard::Error),
    #[error("a change before any whole snapshot")]
    NoBase,
    #[error("a change to a client the viewer does not have (row {0})")]
    NoSuchRow(usize),
    #[error("an event that does not read back: {0}")]
    Event(#[from] serde_json::Error),
    #[error("an event time that does not read: {0}")]
    EventTime(#[from] humantime::TimestampError),
    #[error("a client identity of {0} bytes (at most {IDENTITY_MAX})")]
    Identity(usize),
    #[error("a time past the year 9999 ({0} ms since 1970; the latest taken is {LATEST_MS})")]
    TooLate(u64),
}

/// The last millisecond of the year 9999: the latest time RFC 3339, and so
/// the dashboard and the journal, can write.
pub const LATEST_MS: u64 = 253_402_300_799_999;

#[derive(Serialize, Deserialize)]
enum Frame {
    Full(Box<Full>),
    Delta(Box<Delta>),
}

/// What every frame carries whole: small, and most of it moves each time.
#[derive(Serialize, Deserialize)]
struct Common {
    taken_ms: u64,
    counters: Totals,
    /// Since (ms), silent, clients.
    fleet_silent: Option<(u64, u64, u64)>,
    history_len: u32,
    recent_len: u32,
}

/// The snapshot's [`Counters`] as frames carry them, field for field in
/// the frame's order. The last three slots are always zero: they are where
/// publish timings would go, which are figures about the server's work
/// (see [`crate::stats`]), not its state; the slots stay so that a viewer
/// and a server of different builds read each other's frames.
#[derive(Serialize, Deserialize)]
struct Totals {
    frames: u64,
    bad_frames: u64,
    events: u64,
    closed: u64,
    closed_by: [u64; CloseCause::ALL.len()],
    rejected: u64,
    journal_lost: u64,
    unused: [u64; 3],
}

impl From<Counters> for Totals {
    fn from(c: Counters) -> Totals {
        Totals {
            frames: c.frames,
            bad_frames: c.bad_frames,
            events: c.events,
            closed: c.closed,
            closed_by: c.closed_by,
            rejected: c.rejected,
            journal_lost: c.journal_lost,
            unused: [0; 3],
        }
    }
}

impl From<Totals> for Counters {
    fn from(t: Totals) -> Counters {
        Counters {
            frames: t.frames,
            bad_frames: t.bad_frames,
            events: t.events,
            closed: t.closed,
            closed_by: t.closed_by,
            rejected: t.rejected,
            journal_lost: t.journal_lost,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Full {
    listen: SocketAddr,
    admin: Option<String>,
    tick_us: u64,
    /// threshold, cursor, recover, leave timeout (µs).
    rules: (u32, u32, u32, u64),
    started_ms: u64,
    common: Common,
    clients: Vec<Row>,
    history: Vec<Closed>,
    recent: Vec<String>,
    windows: Windows,
}

#[derive(Serialize, Deserialize)]
struct Delta {
    common: Common,
    /// Positions in the previous list of the clients gone, each as its gap
    /// from the one before (the first from -1).
    removed: Vec<u32>,
    changed: Vec<Change>,
    /// New clients, which follow all the others.
    added: Vec<Row>,
    /// Clients closed since (the newest of the history).
    closed: Vec<Closed>,
    /// Events since (the newest of the recent events).
    events: Vec<String>,
    windows: Windows,
}

/// A client that changed: its position in the new list (as a gap from the
/// last change, the first from -1), and either what moves with every beat
/// and tick (heartbeats and streak as increments, the last-seen time, φ), or
/// the whole row.
#[derive(Serialize, Deserialize)]
enum Change {
    Moved {
        gap: u32,
        beats: u64,
        streak: u32,
        /// Milliseconds before the frame's moment.
        seen_ago_ms: Option<u32>,
        phi: Option<f32>,
    },
    Whole {
        gap: u32,
        row: Box<Row>,
    },
}

#[derive(Clone, Serialize, Deserialize)]
struct Row {
    id: u64,
    peer: SocketAddr,
    ip: Option<String>,
    pid: Option<u32>,
    reported: Option<u8>,
    liveness: Judged,
    heartbeats: u64,
    connected_ms: u64,
    seen_ago_ms: Option<u32>,
    /// 0 fleet silent, or 1 + how many close before it.
    held: Option<u64>,
    phi: Option<f32>,
    reconnects: u32,
    flaps: u32,
    /// `None` in clear; under TLS, the certificate's identity if any.
    tls: Option<Option<String>>,
}

/// A row's liveness state. Postcard writes a nested struct's fields in
/// place, so this grouping costs no byte: the frame is as if they were the
/// row's own.
#[derive(Clone, Serialize, Deserialize)]
struct Judged {
    status: u8,
    miss: u32,
    strikes: u32,
    streak: u32,
    /// Microseconds before the frame's moment.
    leave_since_us: Option<u64>,
}

impl Judged {
    fn new(l: &Liveness, taken_mono: Instant) -> Judged {
        Judged {
            status: status_code(l.status),
            miss: l.miss,
            strikes: l.strikes,
            streak: l.streak,
            leave_since_us: l
                .leave_since
                .map(|at| taken_mono.saturating_duration_since(at).as_micros() as u64),
        }
    }

    fn liveness(self, taken_mono: Instant) -> Liveness {
        Liveness {
            status: status(self.status),
            miss: self.miss,
            strikes: self.strikes,
            streak: self.streak,
            leave_since: self
                .leave_since_us
                .and_then(|us| taken_mono.checked_sub(Duration::from_micros(us))),
        }
    }
}

fn status_code(status: Status) -> u8 {
    status as u8
}

fn status(code: u8) -> Status {
    match code {
        0 => Status::Alive,
        1 => Status::Leave,
        _ => Status::Close,
    }
}

impl Row {
    fn new(c: &ClientView, taken: SystemTime, taken_mono: Instant) -> Row {
        Row {
            id: c.id,
            peer: c.peer,
            ip: c.ip.as_deref().map(str::to_owned),
            pid: c.pid,
            reported: c.reported.map(status_code),
            liveness: Judged::new(&c.liveness, taken_mono),
            heartbeats: c.heartbeats,
            connected_ms: ms(c.connected_at),
            seen_ago_ms: c.last_seen.map(|at| ago_ms(taken, at)),
            held: c.held.map(|held| match held {
                Held::FleetSilent => 0,
                Held::CloseRate { ahead } => 1 + u64::from(ahead),
            }),
            phi: c.phi,
            reconnects: c.reconnects,
            flaps: c.flaps,
            tls: (c.transport.is_tls()).then(|| c.transport.identity().map(str::to_owned)),
        }
    }

    fn view(self, taken: SystemTime, taken_mono: Instant) -> Result<ClientView, WireError> {
        Ok(ClientView {
            id: self.id,
            peer: self.peer,
            ip: self.ip.map(Arc::from),
            pid: self.pid,
            reported: self.reported.map(status),
            liveness: self.liveness.liveness(taken_mono),
            heartbeats: self.heartbeats,
            connected_at: from_ms(self.connected_ms)?,
            last_seen: self.seen_ago_ms.map(|ago| back(taken, ago)),
            held: self.held.map(|held| match held {
                0 => Held::FleetSilent,
                n => Held::CloseRate {
                    ahead: u32::try_from(n - 1).unwrap_or(u32::MAX),
                },
            }),
            phi: self.phi,
            reconnects: self.reconnects,
            flaps: self.flaps,
            maintenance: None,
            transport: transport(self.tls)?,
        })
    }
}

/// A row's transport read back, its identity no longer than a server keeps.
fn transport(tls: Option<Option<String>>) -> Result<Transport, WireError> {
    let Some(identity) = tls else {
        return Ok(Transport::Plain);
    };
    if let Some(identity) = &identity
        && identity.len() > IDENTITY_MAX
    {
        return Err(WireError::Identity(identity.len()));
    }
    Ok(Transport::Tls {
        identity: identity.map(Arc::from),
    })
}

fn event_line(event: &Event) -> String {
    serde_json::to_string(&Stamped {
        ts: rfc3339(event.at),
        body: &event.kind,
    })
    .unwrap_or_default()
}

fn read_event(line: &str) -> Result<Event, WireError> {
    let recorded: Recorded = serde_json::from_str(line)?;
    let at = humantime::parse_rfc3339(&recorded.ts)?;
    Ok(Event {
        at,
        kind: Arc::new(recorded.kind),
    })
}

impl Common {
    fn new(s: &Snapshot) -> Common {
        Common {
            taken_ms: ms(s.taken),
            counters: s.counters.into(),
            fleet_silent: s
                .fleet_silent
                .map(|f| (ms(f.since), f.silent as u64, f.clients as u64)),
            history_len: s.history.len() as u32,
            recent_len: s.recent.len() as u32,
        }
    }
}

/// The newest `n` of a ring (at most all of it).
fn newest<T>(ring: &VecDeque<T>, n: u64) -> impl Iterator<Item = &T> {
    let n = (n.min(ring.len() as u64)) as usize;
    ring.iter().skip(ring.len() - n)
}

/// The frame that brings a viewer that last got `previous` to `now`: the
/// whole snapshot if it has nothing yet, else what changed.
pub fn encode(previous: Option<&Snapshot>, now: &Snapshot) -> Vec<u8> {
    let frame = match previous.and_then(|previous| delta(previous, now)) {
        Some(delta) => Frame::Delta(Box::new(delta)),
        None => Frame::Full(Box::new(full(now))),
    };
    postcard::to_stdvec(&frame).unwrap_or_default()
}

fn full(s: &Snapshot) -> Full {
    let rules = &s.settings.rules;
    Full {
        listen: s.listen,
        admin: s.admin.as_deref().map(str::to_owned),
        tick_us: s.settings.tick.as_micros() as u64,
        rules: (
            rules.threshold,
            rules.cursor,
            rules.recover,
            rules.leave_timeout.as_micros() as u64,
        ),
        started_ms: ms(s.started),
        common: Common::new(s),
        clients: rows(&s.clients, s),
        history: s.history.iter().map(Closed::new).collect(),
        recent: s.recent.iter().map(event_line).collect(),
        windows: Windows::of(&s.clients),
    }
}

/// `clients` of the snapshot `s`, as rows.
fn rows(clients: &[ClientView], s: &Snapshot) -> Vec<Row> {
    (clients.iter())
        .map(|c| Row::new(c, s.taken, s.taken_mono))
        .collect()
}

/// What changed from `old` to `new`, or `None` when only the whole will do
/// (another run of the server, or clients out of connection order).
fn delta(old: &Snapshot, new: &Snapshot) -> Option<Delta> {
    if old.started != new.started || old.listen != new.listen {
        return None;
    }
    let (mut removed, mut changed) = (Vec::new(), Vec::new());
    let (mut i, mut last_removed, mut last_changed) = (0, -1i64, -1i64);
    let mut kept = 0;
    let gap = |at: usize, last: &mut i64| {
        let gap = (at as i64 - *last - 1) as u32;
        *last = at as i64;
        gap
    };
    for c in &new.clients {
        while i < old.clients.len() && old.clients[i].id < c.id {
            removed.push(gap(i, &mut last_removed));
            i += 1;
        }
        if i == old.clients.len() || old.clients[i].id != c.id {
            break;
        }
        let before = &old.clients[i];
        if before != c {
            let mut moved = before.clone();
            moved.heartbeats = c.heartbeats;
            moved.last_seen = c.last_seen;
            moved.liveness.streak = c.liveness.streak;
            moved.phi = c.phi;
            let moved_only = moved == *c
                && c.heartbeats >= before.heartbeats
                && c.liveness.streak >= before.liveness.streak;
            let gap = gap(kept, &mut last_changed);
            changed.push(if moved_only {
                Change::Moved {
                    gap,
                    beats: c.heartbeats - before.heartbeats,
                    streak: c.liveness.streak - before.liveness.streak,
                    seen_ago_ms: c.last_seen.map(|at| ago_ms(new.taken, at)),
                    phi: c.phi,
                }
            } else {
                Change::Whole {
                    gap,
                    row: Box::new(Row::new(c, new.taken, new.taken_mono)),
                }
            });
        }
        i += 1;
        kept += 1;
    }
    while i < old.clients.len() {
        removed.push(gap(i, &mut last_removed));
        i += 1;
    }
    let newest_old = old.clients.last().map_or(0, |c| c.id + 1);
    let added = &new.clients[kept..];
    if added.iter().any(|c| c.id < newest_old) || !added.is_sorted_by_key(|c| c.id) {
        return None;
    }
    let counters = (&old.counters, &new.counters);
    Some(Delta {
        common: Common::new(new),
        removed,
        changed,
        added: rows(added, new),
        closed: newest(
            &new.history,
            counters.1.closed.saturating_sub(counters.0.closed),
        )
        .map(Closed::new)
        .collect(),
        events: newest(
            &new.recent,
            counters.1.events.saturating_sub(counters.0.events),
        )
        .map(event_line)
        .collect(),
        windows: Windows::of(&new.clients),
    })
}
