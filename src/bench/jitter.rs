//! `jitter`: the counter and the phi-accrual detector judging the same kind
//! of fleet, live, over sockets: what `bench detectors` replays, checked
//! against the real server. Half the clients are regular (the replay's
//! `regular-1%` gaps), half jittery (its `bursty` gaps: 30% spread, and a
//! pause of 2.5 gaps one time in twenty); a tenth of each group stops for
//! good half way through. For each detector: how soon the stopped clients
//! went `leave` after their last heartbeat (p50, p99), and how many live
//! ones were falsely sent to `leave`.
//!
//! The detectors: the counter and phi as `serve` runs them by default (the
//! tick is the gap), and `phi_pause`, the setting the README recommends
//! from the replay: phi granted a pause of two gaps, ticking four times a
//! gap.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Result;
use fastrand::Rng;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::detectors::{SEED, Shape};
use super::{Spread, spread, start_server};
use crate::feed::event::EventKind;
use crate::liveness::{Detector, phi};
use crate::protocol::{Heartbeat, Status, encode_frame};
use crate::server::{Config, GuardConfig};

/// Gaps the run lasts; the stops come half way.
const RUN_GAPS: u32 = 40;
/// Gaps given to detection after the last stop (the counter needs 15).
const DETECT_GAPS: u32 = 20;

#[derive(Serialize)]
pub(super) struct Jitter {
    clients: usize,
    gap_ms: f64,
    counter: Verdicts,
    phi: Verdicts,
    phi_pause: Verdicts,
}

#[derive(Serialize)]
struct Verdicts {
    regular: Verdict,
    jittery: Verdict,
}

#[derive(Serialize)]
struct Verdict {
    stopped: usize,
    /// Stopped clients not sent to `leave` within the run.
    undetected: usize,
    detect_p50_ms: f64,
    detect_p99_ms: f64,
    /// Live clients sent to `leave`.
    false_leave: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Jittery,
}

pub(super) async fn jitter(clients: usize, gap: Duration) -> Result<Jitter> {
    let counter = run(clients, gap, gap, Detector::Counter).await?;
    let phi_with = |pause| Detector::Phi {
        threshold: phi::DEFAULT_THRESHOLD,
        window: phi::DEFAULT_WINDOW,
        pause,
    };
    let phi = run(clients, gap, gap, phi_with(phi::DEFAULT_PAUSE)).await?;
    let phi_pause = run(clients, gap, gap / 4, phi_with(gap * 2)).await?;
    Ok(Jitter {
        clients,
        gap_ms: gap.as_secs_f64() * 1000.0,
        counter,
        phi,
        phi_pause,
    })
}

/// What one simulated client did: its kind, and when it stopped for good
/// (its last heartbeat), if it did.
struct Client {
    kind: Kind,
    stopped: oneshot::Receiver<Option<Instant>>,
}

async fn run(
    clients: usize,
    gap: Duration,
    tick: Duration,
    detector: Detector,
) -> Result<Verdicts> {
    let server = start_server(Config {
        tick,
        detector,
        // A tenth stopping is far from a silent fleet; the close rate does
        // not matter to `leave`. Both off, so only the detector speaks.
        guard: GuardConfig {
            silence: None,
            min_clients: 0,
            close_rate: None,
        },
        ..Config::default()
    })?;
    let mut events = server.subscribe();
    let run_for = gap * RUN_GAPS;
    let mut fleet = HashMap::new();
    for i in 0..clients {
        let kind = if i % 2 == 0 {
            Kind::Regular
        } else {
            Kind::Jittery
        };
        // Every tenth of each group stops, at a moment spread over a gap.
        let mut rng = Rng::with_seed(SEED.wrapping_add(i as u64));
        let stop_at = (i / 2 % 10 == 0).then(|| run_for / 2 + gap.mul_f64(rng.f64()));
        let (tx, stopped) = oneshot::channel();
        let stream = TcpStream::connect(server.local_addr()).await?;
        let peer = stream.local_addr()?;
        let beating = run_for + gap * DETECT_GAPS;
        let pace = Pace { kind, gap, rng };
        tokio::spawn(beat(stream, pace, stop_at, beating, i as u32, tx));
        fleet.insert(peer, Client { kind, stopped });
    }
    let end = Instant::now() + run_for + gap * DETECT_GAPS;
    let mut leaves: HashMap<SocketAddr, Instant> = HashMap::new();
    while let Ok(Ok(event)) = tokio::time::timeout_at(end.into(), events.recv()).await {
        if let EventKind::Status {
            peer,
            to: Status::Leave,
            ..
        } = *event.kind
        {
            leaves.entry(peer).or_insert_with(Instant::now);
        }
    }
    server.stop();
    server.stopped().await?;
    let (mut regular, mut jittery) = (Tally::default(), Tally::default());
    for (peer, client) in fleet {
        let stopped = client.stopped.await.unwrap_or(None);
        let tally = match client.kind {
            Kind::Regular => &mut regular,
            Kind::Jittery => &mut jittery,
        };
        match (stopped, leaves.get(&peer)) {
            (Some(last), Some(&leave)) => {
                tally.detected.push(leave.saturating_duration_since(last))
            }
            (Some(_), None) => tally.undetected += 1,
            (None, Some(_)) => tally.false_leave += 1,
            (None, None) => {}
        }
    }
    Ok(Verdicts {
        regular: regular.verdict(),
        jittery: jittery.verdict(),
    })
}

/// One group's outcome as it is counted.
#[derive(Default)]
struct Tally {
    detected: Vec<Duration>,
    undetected: usize,
    false_leave: usize,
}

impl Tally {
    fn verdict(self) -> Verdict {
        let stopped = self.detected.len() + self.undetected;
        let Spread { p50_ms, p99_ms, .. } = spread(self.detected);
        Verdict {
            stopped,
            undetected: self.undetected,
            detect_p50_ms: p50_ms,
            detect_p99_ms: p99_ms,
            false_leave: self.false_leave,
        }
    }
}

/// One client: heartbeats with its kind's gaps until `run_for` is over, or
/// until `stop_at`, when it falls silent for good (its socket stays open
/// until the run is over) and says when its last heartbeat was.
async fn beat(
    mut stream: TcpStream,
    mut pace: Pace,
    stop_at: Option<Duration>,
    run_for: Duration,
    pid: u32,
    stopped: oneshot::Sender<Option<Instant>>,
) {
    let frame = encode_frame(&Heartbeat {
        ip: "127.0.0.1".into(),
        status: Status::Alive,
        pid,
        token: None,
    });
    let started = Instant::now();
    let mut last = None;
    loop {
        if stop_at.is_some_and(|at| started.elapsed() >= at) || started.elapsed() >= run_for {
            break;
        }
        if stream.write_all(&frame).await.is_err() {
            break;
        }
        last = Some(Instant::now());
        tokio::time::sleep(pace.next_gap()).await;
    }
    let _ = stopped.send(stop_at.and(last));
    // Hold the connection open, silent, until the run is over.
    tokio::time::sleep(run_for.saturating_sub(started.elapsed())).await;
}

/// How one client spaces its heartbeats: the replay's shapes, drawn from
/// the replay's seed.
struct Pace {
    kind: Kind,
    gap: Duration,
    rng: Rng,
}

impl Pace {
    fn next_gap(&mut self) -> Duration {
        let shape = match self.kind {
            Kind::Regular => Shape::REGULAR,
            Kind::Jittery => Shape::BURSTY,
        };
        self.gap.mul_f64(shape.factor(&mut self.rng))
    }
}
