//! `hbmon history PATH`: reads a journal back, as a table or JSON lines,
//! filtered by peer, pid or time.
//!
//! Lines are read back as the same [`EventKind`] the server wrote, so the
//! table says what the dashboard and the headless stream say. It tolerates
//! what a crash can leave behind: a torn line, or one that is not an event,
//! is skipped and counted, never fatal, so a journal is always readable.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::durations::{self, DurationError, LOOKBACK};
use crate::feed::event::{EventKind, Format, Recorded};

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
    fn keeps(&self, line: &Recorded) -> bool {
        let kind = &line.kind;
        self.peer
            .is_none_or(|want| kind.peer().is_some_and(|peer| want.matches(peer)))
            && self.pid.is_none_or(|want| kind.pid() == Some(want))
            && self.since.is_none_or(|since| {
                humantime::parse_rfc3339_weak(&line.ts).is_ok_and(|at| at >= since)
            })
    }
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
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the journal {}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut unreadable = 0u64;
    // The header goes above the first row: no rows, no table.
    let mut header_due = format == Format::Text;
    for line in BufReader::new(file).lines() {
        let text = line.with_context(|| format!("reading {}", path.display()))?;
        // A blank line is the journal fencing off one torn by a crash.
        if text.trim().is_empty() {
            continue;
        }
        let Ok(recorded) = serde_json::from_str::<Recorded>(&text) else {
            unreadable += 1;
            continue;
        };
        if !filter.keeps(&recorded) {
            continue;
        }
        if std::mem::take(&mut header_due) {
            writeln!(out, "{}", header())?;
        }
        match format {
            Format::Json => writeln!(out, "{text}")?,
            Format::Text => writeln!(out, "{}", row(&recorded))?,
        }
    }
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

/// One decision as a table row: time, event, peer, pid, what happened.
fn row(line: &Recorded) -> String {
    let kind: &EventKind = &line.kind;
    let pid = kind
        .pid()
        .map_or_else(|| "-".to_owned(), |pid| pid.to_string());
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
        assert!(by_peer("10.0.0.1:5000").keeps(&a));
        assert!(by_peer("10.0.0.1").keeps(&a));
        assert!(!by_peer("10.0.0.1").keeps(&b));
        let by_pid = Filter {
            pid: Some(7),
            ..Filter::default()
        };
        assert!(by_pid.keeps(&a));
        assert!(!by_pid.keeps(&b));
        let since = Filter {
            since: Some(parse_since("2026-11-24T10:30:00Z").unwrap()),
            ..Filter::default()
        };
        assert!(!since.keeps(&a));
        assert!(since.keeps(&b));
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
        let r = row(&line(CLOSED));
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
