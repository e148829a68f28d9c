//! `hbmon history PATH`: reads a journal back, as a table or JSON lines,
//! filtered by peer, pid or time.
//!
//! Lines are read back as the same [`EventKind`] the server wrote, so the
//! table says what the dashboard and the headless stream say. It tolerates
//! what a crash can leave behind: a torn line, or one that is not an event,
//! is skipped and counted, never fatal, so a journal is always readable.
//!
//! A line that has no pid of its own (`connected`, `bad_frame`) still
//! belongs to a client: the journal is read twice, first to learn each
//! connection's pids from all its lines, then to print, so such a line
//! shows its client's pid and `--pid` keeps it. What a peer sent is made
//! [`printable`] before it reaches the terminal.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::durations::{self, DurationError, LOOKBACK};
use crate::feed::event::{EventKind, Format, Recorded};
use crate::printable;

/// `--peer`: one connection, or every connection from one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Connection(SocketAddr),
    Address(IpAddr),
}

impl FromStr for Peer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.parse()
            .map(Peer::Connection)
            .or_else(|_| text.parse().map(Peer::Address))
            .map_err(|_| {
                format!("'{text}' is neither ip:port (10.0.0.7:5000) nor an ip (10.0.0.7)")
            })
    }
}

impl Peer {
    fn matches(self, peer: SocketAddr) -> bool {
        match self {
            Peer::Connection(want) => peer == want,
            Peer::Address(want) => peer.ip() == want,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub peer: Option<Peer>,
    pub pid: Option<u32>,
    pub since: Option<SystemTime>,
}

impl Filter {
    /// Whether to print `line`, about a connection that had `pids`.
    fn keeps(&self, line: &Recorded, pids: &[u32]) -> bool {
        let kind = &line.kind;
        self.peer
            .is_none_or(|want| kind.peer().is_some_and(|peer| want.matches(peer)))
            && self
                .pid
                .is_none_or(|want| kind.pid() == Some(want) || pids.contains(&want))
            && self.since.is_none_or(|since| {
                humantime::parse_rfc3339_weak(&line.ts).is_ok_and(|at| at >= since)
            })
    }
}

/// Tells which connection each line is about: a `connected` line opens
/// one for its peer, a `closed` line ends it, and a `started` line ends
/// them all (a crash closes nothing in the journal). Reading the same lines
/// in the same order gives the same numbers, which is what lets the second
/// reading find what the first learnt.
#[derive(Default)]
struct Connections {
    open: HashMap<SocketAddr, u64>,
    opened: u64,
}

impl Connections {
    fn of(&mut self, kind: &EventKind) -> Option<u64> {
        match kind {
            EventKind::Started { .. } => {
                self.open.clear();
                None
            }
            EventKind::Connected { peer, .. } => {
                self.opened += 1;
                self.open.insert(*peer, self.opened);
                Some(self.opened)
            }
            EventKind::Closed { peer, .. } => self.open.remove(peer),
            // Refused at accept or in the handshake: never a connection of its own.
            EventKind::Rejected { .. } | EventKind::Tls { .. } => None,
            other => other.peer().and_then(|peer| self.open.get(&peer).copied()),
        }
    }
}

/// Each connection's pids, in the order its lines gave them (a client may
/// change its pid on a connection; nearly all have one).
type Pids = HashMap<u64, Vec<u32>>;

/// The first reading: every pid each connection had.
fn learn_pids(path: &Path) -> Result<Pids> {
    let mut connections = Connections::default();
    let mut pids = Pids::new();
    read(path, |recorded, _| {
        if let (Some(id), Some(pid)) = (connections.of(&recorded.kind), recorded.kind.pid()) {
            let known = pids.entry(id).or_default();
            if !known.contains(&pid) {
                known.push(pid);
            }
        }
        Ok(())
    })?;
    Ok(pids)
}

/// Calls `each` with every event line of the journal at `path`, and the
/// line as written; returns how many lines were not events.
fn read(path: &Path, mut each: impl FnMut(&Recorded, &str) -> Result<()>) -> Result<u64> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the journal {}", path.display()))?;
    let mut unreadable = 0u64;
    for line in BufReader::new(file).lines() {
        let text = line.with_context(|| format!("reading {}", path.display()))?;
        // A blank line is the journal fencing off one torn by a crash.
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Recorded>(&text) {
            Ok(recorded) => each(&recorded, &text)?,
            Err(_) => unreadable += 1,
        }
    }
    Ok(unreadable)
}

/// `--since`: a duration back from now (`10m`, at most [`LOOKBACK`]) or a
/// time (RFC 3339).
pub fn parse_since(text: &str) -> Result<SystemTime, String> {
    match durations::parse(text, &LOOKBACK) {
        Ok(ago) => SystemTime::now().checked_sub(ago).ok_or_else(|| {
            let bound = LOOKBACK;
            let text = text.to_owned();
            DurationError::TooLong { text, bound }.to_string()
        }),
        Err(DurationError::Unreadable { .. }) => {
            humantime::parse_rfc3339_weak(text).map_err(|_| {
                format!("'{text}' is neither a duration (10m) nor a time (2026-11-24T15:00:00Z)")
            })
        }
        Err(too_long) => Err(too_long.to_string()),
    }
}

/// Prints the journal at `path` through `filter` to stdout.
pub fn run(path: &Path, filter: &Filter, format: Format) -> Result<()> {
    let pids = learn_pids(path)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut connections = Connections::default();
    // The header goes above the first row: no rows, no table.
    let mut header_due = format == Format::Text;
    let unreadable = read(path, |recorded, text| {
        let id = connections.of(&recorded.kind);
        let pids = id
            .and_then(|id| pids.get(&id))
            .map_or(&[][..], Vec::as_slice);
        if !filter.keeps(recorded, pids) {
            return Ok(());
        }
        if std::mem::take(&mut header_due) {
            writeln!(out, "{}", header())?;
        }
        match format {
            Format::Json => writeln!(out, "{}", printable::json(text))?,
            Format::Text => writeln!(out, "{}", printable::text(&row(recorded, pids)))?,
        }
        Ok(())
    })?;
    out.flush()?;
    if unreadable > 0 {
        eprintln!(
            "hbmon history: skipped {unreadable} unreadable line(s) (torn by a crash, or not an hbmon event)"
        );
    }
    Ok(())
}

fn columns(ts: &str, event: &str, peer: &str, pid: &str, detail: &str) -> String {
    format!("{ts:<24}  {event:<9}  {peer:<21}  {pid:>10}  {detail}")
}

fn header() -> String {
    columns("time (UTC)", "event", "peer", "pid", "what happened")
}

/// One decision as a table row: time, event, peer, pid, what happened. A
/// line without a pid of its own shows its connection's `pids`.
fn row(line: &Recorded, pids: &[u32]) -> String {
    let kind: &EventKind = &line.kind;
    let pid = match (kind.pid(), pids) {
        (Some(pid), _) => pid.to_string(),
        (None, []) => "-".to_owned(),
        (None, pids) => pids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
    };
    columns(
        &line.ts,
        kind.name(),
        &kind
            .peer()
            .map_or_else(|| "-".to_owned(), |peer| peer.to_string()),
        &pid,
        &kind.detail(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line(json: &str) -> Recorded {
        serde_json::from_str(json).unwrap()
    }

    const CLOSED: &str = r#"{"ts":"2026-11-24T10:00:00.000Z","event":"closed","peer":"10.0.0.1:5000","pid":7,"status":"close","reason":"kicked by operator"}"#;
    const CONNECTED: &str =
        r#"{"ts":"2026-11-24T11:00:00.000Z","event":"connected","peer":"10.0.0.2:6000"}"#;

    #[test]
    fn filters_by_peer_ip_pid_and_time() {
        let (a, b) = (line(CLOSED), line(CONNECTED));
        let by_peer = |text: &str| Filter {
            peer: Some(text.parse().unwrap()),
            ..Filter::default()
        };
        assert!(by_peer("10.0.0.1:5000").keeps(&a, &[]));
        assert!(by_peer("10.0.0.1").keeps(&a, &[]));
        assert!(!by_peer("10.0.0.1").keeps(&b, &[]));
        let by_pid = Filter {
            pid: Some(7),
            ..Filter::default()
        };
        assert!(by_pid.keeps(&a, &[]));
        assert!(!by_pid.keeps(&b, &[]));
        let since = Filter {
            since: Some(parse_since("2026-11-24T10:30:00Z").unwrap()),
            ..Filter::default()
        };
        assert!(!since.keeps(&a, &[]));
        assert!(since.keeps(&b, &[]));
        assert!(parse_since("10m").unwrap() < SystemTime::now() - Duration::from_secs(599));
        assert!(
            parse_since("yesterday")
                .unwrap_err()
                .contains("neither a duration")
        );
    }

    #[test]
    fn a_peer_that_is_no_address_is_an_error() {
        assert!(
            "foo"
                .parse::<Peer>()
                .unwrap_err()
                .contains("'foo' is neither")
        );
        assert_eq!(
            "10.0.0.1".parse::<Peer>(),
            Ok(Peer::Address([10, 0, 0, 1].into()))
        );
    }

    #[test]
    fn rows_say_what_happened_under_a_header() {
        let r = row(&line(CLOSED), &[]);
        assert!(
            r.contains("closed")
                && r.contains("10.0.0.1:5000")
                && r.ends_with("closed: kicked by operator"),
            "{r}"
        );
        let h = header();
        assert_eq!(h.find("event"), r.find("closed"), "{h}\n{r}");
        assert!(
            serde_json::from_str::<Recorded>(r#"{"ts":"x"}"#).is_err(),
            "a line without an event's fields is not an event"
        );
    }
}
