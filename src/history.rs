//! `hbmon history PATH`: reads a journal back, as a table or JSON lines,
//! filtered by peer, pid or time.
//!
//! It tolerates what a crash can leave behind: a torn line is skipped and
//! counted, never fatal, so a journal is always readable.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::headless::Format;

#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// `ip:port` for one connection, or `ip` for every connection from it.
    pub peer: Option<String>,
    pub pid: Option<u32>,
    pub since: Option<SystemTime>,
}

impl Filter {
    fn keeps(&self, line: &Value) -> bool {
        let peer = line["peer"].as_str().unwrap_or("");
        let peer_ok = self.peer.as_deref().is_none_or(|want| {
            peer == want || peer.rsplit_once(':').is_some_and(|(ip, _)| ip == want)
        });
        let pid_ok = self
            .pid
            .is_none_or(|want| line["pid"].as_u64() == Some(u64::from(want)));
        let since_ok = self.since.is_none_or(|since| {
            line["ts"]
                .as_str()
                .and_then(|ts| humantime::parse_rfc3339_weak(ts).ok())
                .is_some_and(|at| at >= since)
        });
        peer_ok && pid_ok && since_ok
    }
}

/// `--since`: a duration back from now (`10m`) or a time (RFC 3339).
pub fn parse_since(text: &str) -> Result<SystemTime, String> {
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(SystemTime::now() - ago);
    }
    humantime::parse_rfc3339_weak(text).map_err(|_| {
        format!("'{text}' is neither a duration (10m) nor a time (2026-11-24T15:00:00Z)")
    })
}

/// Prints the journal at `path` through `filter` to stdout.
pub fn run(path: &Path, filter: &Filter, format: Format) -> Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the journal {}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut unreadable = 0u64;
    for line in BufReader::new(file).lines() {
        let text = line.with_context(|| format!("reading {}", path.display()))?;
        // A blank line is the journal fencing off one torn by a crash.
        if text.trim().is_empty() {
            continue;
        }
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            unreadable += 1;
            continue;
        };
        if !filter.keeps(&value) {
            continue;
        }
        match format {
            Format::Json => writeln!(out, "{text}")?,
            Format::Text => writeln!(out, "{}", row(&value))?,
        }
    }
    out.flush()?;
    if unreadable > 0 {
        eprintln!(
            "hbmon history: skipped {unreadable} unreadable line(s) (torn by a crash, or not written by hbmon)"
        );
    }
    Ok(())
}

/// One decision as a table row: time, event, peer, pid, what happened.
fn row(line: &Value) -> String {
    let text = |key: &str| line[key].as_str().unwrap_or("").to_owned();
    let pid = line["pid"]
        .as_u64()
        .map_or_else(|| "-".to_owned(), |p| p.to_string());
    let detail = match line["event"].as_str().unwrap_or("") {
        "status" => format!(
            "{} -> {} (miss {}, strikes {})",
            text("from"),
            text("to"),
            line["miss"],
            line["strikes"]
        ),
        "closed" => format!("{}: {}", text("status"), text("reason")),
        "rejected" => match line["count"].as_u64() {
            Some(n) if n > 1 => format!("{} (x{n})", text("reason")),
            _ => text("reason"),
        },
        "bad_frame" => text("reason"),
        "kick" => format!("by {}", text("by")),
        _ => String::new(),
    };
    format!(
        "{:<24}  {:<9}  {:<21}  {:>10}  {detail}",
        text("ts"),
        text("event"),
        text("peer"),
        pid
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn filters_by_peer_ip_pid_and_time() {
        let a = line(
            r#"{"ts":"2026-11-24T10:00:00.000Z","event":"closed","peer":"10.0.0.1:5000","pid":7,"status":"close","reason":"kicked by operator"}"#,
        );
        let b =
            line(r#"{"ts":"2026-11-24T11:00:00.000Z","event":"connected","peer":"10.0.0.2:6000"}"#);
        let keeps = |f: Filter, v: &Value| f.keeps(v);
        assert!(keeps(
            Filter {
                peer: Some("10.0.0.1:5000".into()),
                ..Filter::default()
            },
            &a
        ));
        assert!(keeps(
            Filter {
                peer: Some("10.0.0.1".into()),
                ..Filter::default()
            },
            &a
        ));
        assert!(!keeps(
            Filter {
                peer: Some("10.0.0.1".into()),
                ..Filter::default()
            },
            &b
        ));
        assert!(keeps(
            Filter {
                pid: Some(7),
                ..Filter::default()
            },
            &a
        ));
        assert!(!keeps(
            Filter {
                pid: Some(7),
                ..Filter::default()
            },
            &b
        ));
        let since = Some(parse_since("2026-11-24T10:30:00Z").unwrap());
        assert!(!keeps(
            Filter {
                since,
                ..Filter::default()
            },
            &a
        ));
        assert!(keeps(
            Filter {
                since,
                ..Filter::default()
            },
            &b
        ));
        assert!(parse_since("10m").unwrap() < SystemTime::now() - Duration::from_secs(599));
        assert!(
            parse_since("yesterday")
                .unwrap_err()
                .contains("neither a duration")
        );
    }

    #[test]
    fn rows_say_what_happened() {
        let a = line(
            r#"{"ts":"2026-11-24T10:00:00.000Z","event":"closed","peer":"10.0.0.1:5000","pid":7,"status":"close","reason":"kicked by operator"}"#,
        );
        let r = row(&a);
        assert!(
            r.contains("closed")
                && r.contains("10.0.0.1:5000")
                && r.ends_with("close: kicked by operator"),
            "{r}"
        );
    }
}
