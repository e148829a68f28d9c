//! `hbmon bench detectors`: heartbeat traces replayed through every
//! detector and setting, in seconds, so that an operator chooses one by
//! its figures: how often it sends a live client to `leave`, and how soon
//! it notices one that stopped.
//!
//! The liveness engine is pure, so a replay needs no sockets and no
//! sleeping ([`replay`]); the traces are drawn from a fixed seed
//! ([`traces`]) or recorded from a real fleet by `serve --record-gaps`
//! ([`file`]).

mod file;
mod replay;
mod table;
mod traces;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use serde::Serialize;

use super::spread;
use crate::liveness::{Detector, phi};
use replay::{Outcome, replay};
pub use table::table;
pub(super) use traces::{SEED, Shape};

/// What to replay.
#[derive(Clone, Debug)]
pub struct Options {
    /// A file written by `serve --record-gaps`, instead of the built-in traces.
    pub trace: Option<PathBuf>,
    /// The liveness tick the replay runs.
    pub tick: Duration,
    /// Clients in each built-in trace.
    pub clients: usize,
    /// How long each built-in trace lasts.
    pub span: Duration,
}

/// The settings replayed, in the order of the table: today's counter, phi
/// at the thresholds the literature names, and phi granted a pause.
fn settings() -> Vec<(String, Detector)> {
    let phi = |threshold: f64, pause_ms: u64| Detector::Phi {
        threshold,
        window: phi::DEFAULT_WINDOW,
        pause: Duration::from_millis(pause_ms),
    };
    let mut settings = vec![("counter".to_owned(), Detector::Counter)];
    for threshold in [8.0, 10.0, 12.0] {
        settings.push((format!("phi {threshold}"), phi(threshold, 0)));
    }
    for (threshold, pause_ms) in CANDIDATES {
        let name = format!("phi {threshold} pause {pause_ms}ms");
        settings.push((name, phi(threshold, pause_ms)));
    }
    settings
}

/// The most client-ticks a trace is replayed for, a setting: what keeps a
/// replay to seconds, not hours, whatever the trace or the tick.
const MAX_JUDGED: u64 = 100_000_000;

/// Phi with a pause, at the settings the replay weighs against each other.
const CANDIDATES: [(f64, u64); 4] = [(8.0, 1000), (8.0, 1500), (8.0, 2000), (12.0, 2000)];

/// Everything the replay found, one row per trace and setting.
#[derive(Serialize)]
pub struct Report {
    pub seed: u64,
    pub tick_ms: u64,
    pub rows: Vec<Row>,
}

/// One trace through one setting.
#[derive(Serialize)]
pub struct Row {
    pub trace: String,
    pub detector: String,
    pub clients: usize,
    pub client_hours: f64,
    /// Live clients sent to `leave`, per client-hour.
    pub false_leave_per_client_hour: f64,
    pub false_leave: usize,
    /// Live clients closed.
    pub false_close: usize,
    /// Clients that stopped for good, and those never sent to `leave`.
    pub stopped: usize,
    pub undetected: usize,
    /// From a stopped client's last heartbeat to its `leave`, and to its
    /// close, in seconds (none when no client stopped).
    pub leave_p50_s: Option<f64>,
    pub leave_p99_s: Option<f64>,
    pub close_p50_s: Option<f64>,
    pub close_p99_s: Option<f64>,
}

/// Replays every trace through every setting.
pub fn run(options: &Options) -> Result<Report> {
    let traces = match &options.trace {
        Some(path) => vec![file::read(path)?],
        None => traces::builtin(options.clients, options.span.as_millis() as u64),
    };
    let tick_ms = (options.tick.as_millis() as u64).max(1);
    for trace in &traces {
        let judged = (trace.clients.len() as u64).saturating_mul(trace.span / tick_ms);
        ensure!(
            judged <= MAX_JUDGED,
            "{}: {} clients over {} at a {} tick is {judged} judgements a setting; at most {MAX_JUDGED} (a shorter trace, or a longer --replay-tick)",
            trace.name,
            trace.clients.len(),
            humantime::format_duration(Duration::from_millis(trace.span)),
            humantime::format_duration(options.tick),
        );
    }
    let settings = settings();
    // A thread a trace: the replays share nothing, and the cores shorten
    // the wait.
    let rows = std::thread::scope(|scope| {
        let replays: Vec<_> = traces
            .iter()
            .map(|trace| {
                let settings = &settings;
                scope.spawn(move || {
                    let each = settings.iter().map(|(name, detector)| {
                        let outcome = replay(trace, *detector, options.tick);
                        row(&trace.name, trace.clients.len(), name, outcome)
                    });
                    each.collect::<Vec<Row>>()
                })
            })
            .collect();
        replays
            .into_iter()
            .map(|replay| replay.join().map_err(|_| anyhow!("a replay failed")))
            .collect::<Result<Vec<Vec<Row>>>>()
    })?;
    let rows: Vec<Row> = rows.into_iter().flatten().collect();
    Ok(Report {
        seed: traces::SEED,
        tick_ms: options.tick.as_millis() as u64,
        rows,
    })
}

fn row(trace: &str, clients: usize, detector: &str, outcome: Outcome) -> Row {
    let seconds = |samples: Vec<Duration>| {
        if samples.is_empty() {
            return (None, None);
        }
        let spread = spread(samples);
        (Some(spread.p50_ms / 1000.0), Some(spread.p99_ms / 1000.0))
    };
    let undetected = outcome.stopped.saturating_sub(outcome.to_leave.len());
    let (leave_p50_s, leave_p99_s) = seconds(outcome.to_leave);
    let (close_p50_s, close_p99_s) = seconds(outcome.to_close);
    Row {
        trace: trace.to_owned(),
        detector: detector.to_owned(),
        clients,
        client_hours: outcome.client_hours,
        false_leave_per_client_hour: outcome.false_leaves as f64
            / outcome.client_hours.max(f64::MIN_POSITIVE),
        false_leave: outcome.false_leaves,
        false_close: outcome.false_closes,
        stopped: outcome.stopped,
        undetected,
        leave_p50_s,
        leave_p99_s,
        close_p50_s,
        close_p99_s,
    }
}
