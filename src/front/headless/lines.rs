//! The lines only the headless stream prints (events are printed as they
//! are): their JSON shapes, kept apart from the server's own types because
//! scripts depend on them, and their text.

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::feed::client_line::ClientLine;
use crate::feed::details::{Details, gap_figures};
use crate::feed::event::{Pid, rfc3339};
use crate::feed::snapshot::Snapshot;
use crate::front::hooks::HookStats;
use crate::protocol::Status;

/// A line only the headless stream prints (events are printed as they are).
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(super) enum Line {
    Listening {
        addr: SocketAddr,
        /// Where the operator API listens, if it does.
        admin: Option<Arc<str>>,
    },
    Stats(Stats),
    Snapshot {
        clients: Vec<ClientLine>,
    },
    Kicked {
        peers: Vec<SocketAddr>,
    },
    /// Answer to `maintenance`: the clients covered, and when their window
    /// ends (none when it ended them).
    Maintenance {
        clients: Vec<SocketAddr>,
        #[serde(skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
    /// Answer to `show`: one client's story.
    Details(Details),
    Error {
        reason: String,
    },
    /// The stream fell behind and this many events were not printed.
    Lagged {
        missed: u64,
    },
}

/// The line as text for people: the first line, then any more (a listing's
/// clients, a story's changes), each a line of its own so that the writer
/// can make each safe for a terminal apart.
pub(super) fn text(line: &Line) -> Vec<String> {
    match line {
        Line::Listening { addr, admin } => vec![match admin {
            Some(admin) => format!("listening on {addr}, operator API on {admin}"),
            None => format!("listening on {addr}"),
        }],
        Line::Stats(stats) => vec![stats.text()],
        Line::Snapshot { clients } => {
            let head = match clients.len() {
                0 => "no live clients".to_owned(),
                1 => "1 live client".to_owned(),
                n => format!("{n} live clients"),
            };
            let rows = clients.iter().map(|c| {
                format!(
                    "  {} {} ip {} {} miss {} strikes {} heartbeats {}",
                    c.peer,
                    c.status,
                    c.ip.as_deref().unwrap_or("?"),
                    Pid(c.pid),
                    c.miss,
                    c.strikes,
                    c.heartbeats
                )
            });
            std::iter::once(head).chain(rows).collect()
        }
        Line::Kicked { peers } => vec![match peers.len() {
            0 => "kicked nobody".to_owned(),
            _ => format!(
                "kicked {}",
                peers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }],
        Line::Maintenance { clients, until } => {
            let who = (clients.iter().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join(", ");
            vec![match until {
                Some(until) => format!("in maintenance until {until}: {who}"),
                None => format!("maintenance ended: {who}"),
            }]
        }
        Line::Details(d) => details_text(d),
        Line::Error { reason } => vec![format!("error: {reason}")],
        Line::Lagged { missed } => vec![format!("output fell behind: {missed} events not shown")],
    }
}

/// The periodic stats line's figures.
#[derive(Serialize)]
pub(super) struct Stats {
    clients: usize,
    alive: usize,
    leave: usize,
    frames: u64,
    bad_frames: u64,
    closed: u64,
    journal_lost: u64,
    /// With `--on-event`: hooks run, failed, and events dropped.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    hooks: Option<HookCounts>,
}

impl Stats {
    fn text(&self) -> String {
        let Stats {
            clients,
            alive,
            leave,
            frames,
            bad_frames,
            closed,
            journal_lost,
            hooks,
        } = self;
        let mut text = format!(
            "stats: {clients} clients ({alive} alive, {leave} leave), {frames} heartbeats, {bad_frames} bad frames, {closed} closed"
        );
        if let Some(h) = hooks {
            let _ = write!(
                text,
                ", hooks {} run, {} failed, {} dropped",
                h.hooks_run, h.hooks_failed, h.hooks_dropped
            );
        }
        if *journal_lost > 0 {
            let _ = write!(
                text,
                ", {journal_lost} decisions NOT written to the journal"
            );
        }
        text
    }
}

fn details_text(d: &Details) -> Vec<String> {
    let (mean, p99, max) = gap_figures(&d.gaps_ms);
    let mut head = format!(
        "{} {} ip {} {}: reconnects {}, flaps {}; last {} gaps mean {mean} ms, p99 {p99} ms, largest {max} ms",
        d.peer,
        d.status,
        d.ip.as_deref().unwrap_or("?"),
        Pid(d.pid),
        d.reconnects,
        d.flaps,
        d.gaps_ms.len()
    );
    if let Some(phi) = d.phi {
        let _ = write!(head, ", phi {phi:.1}");
    }
    let changes = d
        .changes
        .iter()
        .map(|c| format!("  {} {} -> {}", rfc3339(c.at), c.from, c.to));
    let earlier = d.earlier.iter().map(|e| {
        format!(
            "  earlier {} from {} to {}: {}",
            e.peer,
            rfc3339(e.connected_at),
            rfc3339(e.closed_at),
            e.reason
        )
    });
    std::iter::once(head)
        .chain(changes)
        .chain(earlier)
        .collect()
}

/// The hooks' figures in a stats line.
#[derive(Serialize)]
pub(super) struct HookCounts {
    hooks_run: u64,
    hooks_failed: u64,
    hooks_dropped: u64,
}

pub(super) fn stats(snapshot: &Snapshot, hooks: Option<&HookStats>) -> Line {
    let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
    Line::Stats(Stats {
        hooks: hooks.map(|h| HookCounts {
            hooks_run: load(&h.run),
            hooks_failed: load(&h.failed),
            hooks_dropped: load(&h.dropped),
        }),
        clients: snapshot.clients.len(),
        alive: snapshot.count(Status::Alive),
        leave: snapshot.count(Status::Leave),
        frames: snapshot.counters.frames,
        bad_frames: snapshot.counters.bad_frames,
        closed: snapshot.counters.closed,
        journal_lost: snapshot.counters.journal_lost,
    })
}
