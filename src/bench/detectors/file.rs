//! `--trace FILE`: the gaps `serve --record-gaps` wrote, as a trace.
//!
//! Each connection (its `peer`) is one client, its gaps in the order they
//! were written. The file has no clock: every client starts at a random
//! phase of the first second, beats as recorded, and then stops for good,
//! so the replay shows both the false alarms over the recorded gaps and how
//! soon each detector would notice the client going silent after them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use fastrand::Rng;

use super::traces::{Client, GAP, SEED, Trace};
use crate::server::GapLine;

/// The longest gap a line may hold: an hour, past any leave timeout.
const MAX_GAP_MS: u64 = 3_600_000;
/// The most gaps a trace may hold (8 bytes each while replayed).
const MAX_GAPS: usize = 20_000_000;
/// The largest trace file read: it is read whole, and this holds more
/// lines than [`MAX_GAPS`].
const MAX_BYTES: u64 = 2 << 30;
/// How long the replay goes on after the last heartbeat: time for every
/// detector to send a silent client to `leave` and close it.
const TAIL_MS: u64 = 120_000;

/// Reads a trace file; a bad line is an error that names it.
pub fn read(path: &Path) -> Result<Trace> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read the trace {}", path.display()))?
        .len();
    if len > MAX_BYTES {
        bail!(
            "the trace {} is {len} bytes; at most {MAX_BYTES} (a --record-gaps file stops at its --record-gaps-max)",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the trace {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Parses the lines of a trace named `name`.
pub fn parse(text: &str, name: &str) -> Result<Trace> {
    let mut rng = Rng::with_seed(SEED);
    let mut order: HashMap<SocketAddr, usize> = HashMap::new();
    let mut clients: Vec<Client> = Vec::new();
    let mut gaps = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{name} line {}", i + 1);
        let gap: GapLine = serde_json::from_str(line).with_context(|| {
            format!(
                "{}: not a gap line like {{\"peer\":\"10.0.0.5:51000\",\"ip\":\"10.0.0.5\",\"pid\":42,\"gap_ms\":1003}}",
                at()
            )
        })?;
        if gap.gap_ms > MAX_GAP_MS {
            bail!("{}: gap_ms {} is more than an hour", at(), gap.gap_ms);
        }
        gaps += 1;
        if gaps > MAX_GAPS {
            bail!("{}: more than {MAX_GAPS} gaps in one trace", at());
        }
        let index = *order.entry(gap.peer).or_insert_with(|| {
            clients.push(Client {
                arrivals: vec![rng.u64(0..GAP)],
                stopped: true,
            });
            clients.len() - 1
        });
        let arrivals = &mut clients[index].arrivals;
        let last = arrivals.last().copied().unwrap_or(0);
        arrivals.push(last + gap.gap_ms);
    }
    if clients.is_empty() {
        bail!("{name}: no gaps in the trace");
    }
    let end = clients
        .iter()
        .filter_map(|c| c.arrivals.last())
        .max()
        .copied()
        .unwrap_or(0);
    Ok(Trace {
        name: name.to_owned(),
        span: end + TAIL_MS,
        clients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(port: u16, gap_ms: u64) -> String {
        format!(r#"{{"peer":"127.0.0.1:{port}","ip":"10.0.0.1","pid":7,"gap_ms":{gap_ms}}}"#)
    }

    #[test]
    fn each_peer_is_a_client_that_beats_its_gaps_then_stops() {
        let text = [line(1, 1000), line(2, 500), "".into(), line(1, 1200)].join("\n");
        let trace = parse(&text, "t").unwrap();
        assert_eq!(trace.clients.len(), 2);
        let first = &trace.clients[0];
        let start = first.arrivals[0];
        assert!(start < GAP);
        assert_eq!(first.arrivals, [start, start + 1000, start + 2200]);
        assert!(trace.clients.iter().all(|c| c.stopped));
        assert_eq!(trace.span, start + 2200 + TAIL_MS);
    }

    #[test]
    fn a_bad_line_is_named_with_what_is_wrong() {
        let error = |text: &str| format!("{:#}", parse(text, "gaps.jsonl").unwrap_err());
        let text = [line(1, 1000), "{\"peer\":\"x\"}".into()].join("\n");
        assert!(
            error(&text).starts_with("gaps.jsonl line 2: not a gap line like"),
            "{}",
            error(&text)
        );
        let long = line(1, MAX_GAP_MS + 1);
        assert_eq!(
            error(&long),
            "gaps.jsonl line 1: gap_ms 3600001 is more than an hour"
        );
        assert_eq!(error("\n\n"), "gaps.jsonl: no gaps in the trace");
    }
}
