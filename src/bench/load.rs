//! `hold` and `flood`: the server under a [`Fleet`], and what the
//! scenarios that run one watch for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::Serialize;
use tokio::sync::broadcast;

use super::fleet::{Fleet, capped};
use super::tls::BenchTls;
use super::{Options, PublishSpread, Publishes, cpu_time, floor, rss_bytes, start_server};
use crate::feed::event::{Event, EventKind};
use crate::protocol::Status;
use crate::server::{Config, Limits, Server};

/// Waits until `n` clients are connected and have each sent a heartbeat.
pub(super) async fn all_joined(server: &Server, n: usize, within: Duration) -> Result<Duration> {
    let started = Instant::now();
    let mut snapshots = server.snapshots();
    loop {
        {
            let snapshot = snapshots.borrow_and_update();
            let heard = snapshot.clients.iter().filter(|c| c.heartbeats > 0).count();
            if heard >= n {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                bail!("only {heard} of {n} clients connected and heard within {within:?}");
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), snapshots.changed()).await;
    }
}

/// Counts events of interest while a scenario runs; stops when dropped.
pub(super) struct EventCount {
    count: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl EventCount {
    pub(super) fn start(
        mut events: broadcast::Receiver<Event>,
        pred: fn(&EventKind) -> bool,
    ) -> EventCount {
        let count = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&count);
        let task = tokio::spawn(async move {
            loop {
                let add = match events.recv().await {
                    Ok(event) => u64::from(pred(&event.kind)),
                    // Unseen events might have matched: count them against us.
                    Err(broadcast::error::RecvError::Lagged(missed)) => missed,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                counter.fetch_add(add, Ordering::Relaxed);
            }
        });
        EventCount { count, task }
    }

    pub(super) fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl Drop for EventCount {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// CPU and wall time of this process over a window, and frames counted.
struct Window {
    wall: Duration,
    cpu: Duration,
    frames: u64,
}

async fn measure(server: &Server, duration: Duration) -> Result<Window> {
    let snapshots = server.snapshots();
    let frames0 = snapshots.borrow().counters.frames;
    let (cpu0, t0) = (cpu_time()?, Instant::now());
    tokio::time::sleep(duration).await;
    let (cpu1, wall) = (cpu_time()?, t0.elapsed());
    let frames1 = server.control().list().await?.counters.frames;
    Ok(Window {
        wall,
        cpu: cpu1.saturating_sub(cpu0),
        frames: frames1.saturating_sub(frames0),
    })
}

#[derive(Serialize)]
pub(super) struct Hold {
    clients: usize,
    /// Why `clients` is lower than asked, if it is.
    capped_by: Option<String>,
    seconds: f64,
    join_seconds: f64,
    heartbeats_per_s: f64,
    /// Clients that went `leave` (or were closed) while heartbeating steadily.
    false_leave: u64,
    /// Server CPU seconds per wall second (1.0 = one core).
    server_cpu_share: f64,
    rss_bytes: u64,
    rss_bytes_per_client: f64,
    /// From the stop (as on SIGTERM) until every client was sent its close
    /// frame and the server had stopped.
    shutdown_ms: f64,
    /// Server CPU microseconds per heartbeat.
    cpu_us_per_heartbeat: f64,
    /// How long one snapshot publish held the registry up, over the window.
    #[serde(flatten)]
    publish: PublishSpread,
    /// hbmon's figures over the floor's under the same load, when `floor`
    /// ran too (1.0: no more than a bare tokio server).
    floor_ratio: Option<HoldRatio>,
}

#[derive(Serialize)]
pub(super) struct HoldRatio {
    cpu_per_heartbeat: f64,
    rss_per_client: f64,
}

/// A client that went `leave` or was closed: while heartbeating steadily,
/// a false alarm.
pub(super) fn leave_or_close(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Status {
            to: Status::Leave,
            ..
        } | EventKind::Closed { .. }
    )
}

pub(super) async fn hold(options: &Options, floor: Option<floor::Figures>) -> Result<Hold> {
    let mut hold = hold_of(options.clients, options.duration, None).await?;
    hold.floor_ratio = floor.map(|f| HoldRatio {
        cpu_per_heartbeat: hold.cpu_us_per_heartbeat / f.cpu_us_per_heartbeat,
        rss_per_client: hold.rss_bytes_per_client / f.rss_bytes_per_client,
    });
    Ok(hold)
}

/// `hold --tls`: each fleet size in clear, then over TLS, one after the other.
#[derive(Serialize)]
pub(super) struct HoldTls {
    runs: Vec<HoldPair>,
}

#[derive(Serialize)]
pub(super) struct HoldPair {
    plain: Hold,
    tls: Hold,
    /// CPU per heartbeat over TLS over the same in clear.
    cpu_per_heartbeat_ratio: f64,
    /// What a TLS client costs the server beyond a plaintext one.
    extra_bytes_per_tls_client: f64,
}

pub(super) async fn hold_tls(options: &Options) -> Result<HoldTls> {
    let tls = BenchTls::make()?;
    let mut runs = Vec::new();
    for &clients in &options.tls_clients {
        let plain = hold_of(clients, options.duration, None).await?;
        let over_tls = hold_of(clients, options.duration, Some(&tls)).await?;
        runs.push(HoldPair {
            cpu_per_heartbeat_ratio: over_tls.cpu_us_per_heartbeat / plain.cpu_us_per_heartbeat,
            extra_bytes_per_tls_client: over_tls.rss_bytes_per_client - plain.rss_bytes_per_client,
            plain,
            tls: over_tls,
        });
    }
    Ok(HoldTls { runs })
}

/// The server holding `clients` (as many as this machine allows) at 1 Hz,
/// over TLS when `tls` is given, measured for `duration`.
async fn hold_of(clients: usize, duration: Duration, tls: Option<&BenchTls>) -> Result<Hold> {
    let (clients, capped_by) = capped(clients);
    let server = start_server(Config {
        limits: Limits {
            max_clients: clients + 100,
            ..Limits::default()
        },
        tls: tls.map(|tls| Arc::clone(&tls.server)),
        ..Config::default()
    })?;
    let rss_before = rss_bytes()?;
    let leaves = EventCount::start(server.subscribe(), leave_or_close);
    let join_limit = Duration::from_secs(30) + Duration::from_millis(clients as u64 * 5);
    let warmup = Duration::from_secs(3);
    let run_for = join_limit + warmup + duration + Duration::from_secs(10);
    let extra = tls.map(BenchTls::fleet_args).unwrap_or_default();
    let fleet = Fleet::spawn(
        server.local_addr(),
        clients,
        "1s",
        "steady=1",
        run_for,
        &extra,
    )?;
    let joined = all_joined(&server, clients, join_limit).await?;
    tokio::time::sleep(warmup).await;
    let publishes = Publishes::watch(&server);
    let window = measure(&server, duration).await?;
    let publish = publishes.spread();
    let rss = rss_bytes()?;
    let false_leave = leaves.get();
    drop(leaves);
    let stopping = Instant::now();
    server.stop();
    server.stopped().await?;
    let shutdown = stopping.elapsed();
    drop(fleet);
    let cpu_us_per_heartbeat = window.cpu.as_secs_f64() * 1e6 / window.frames.max(1) as f64;
    let rss_bytes_per_client = rss.saturating_sub(rss_before) as f64 / clients as f64;
    Ok(Hold {
        cpu_us_per_heartbeat,
        floor_ratio: None,
        clients,
        capped_by,
        seconds: window.wall.as_secs_f64(),
        join_seconds: joined.as_secs_f64(),
        heartbeats_per_s: window.frames as f64 / window.wall.as_secs_f64(),
        false_leave,
        server_cpu_share: window.cpu.as_secs_f64() / window.wall.as_secs_f64(),
        rss_bytes: rss,
        rss_bytes_per_client,
        shutdown_ms: shutdown.as_secs_f64() * 1000.0,
        publish,
    })
}

#[derive(Serialize)]
pub(super) struct Flood {
    clients: usize,
    /// Every client writing its one heartbeat over and over, as a client
    /// stuck in a loop does.
    #[serde(flatten)]
    same: FloodLoad,
    /// Every heartbeat numbered (`flood-seq`): none the same bytes as the
    /// one before it, so each is parsed.
    numbered: FloodLoad,
}

#[derive(Serialize)]
pub(super) struct FloodLoad {
    seconds: f64,
    heartbeats_per_s: f64,
    /// Heartbeats ingested per second of server CPU time.
    heartbeats_per_cpu_s: f64,
    server_cpu_share: f64,
    bad_frames: u64,
    /// hbmon's heartbeats per CPU second over the floor's, when `floor` ran
    /// too (1.0: as many as a bare tokio server).
    floor_ratio: Option<f64>,
}

/// The floor's figures under the two floods, when it ran.
type FloodFloors = (floor::Figures, floor::Figures);

pub(super) async fn flood(options: &Options, floors: Option<FloodFloors>) -> Result<Flood> {
    let (same, numbered) = floors.unzip();
    Ok(Flood {
        clients: options.flood_clients,
        same: flood_of(options, "flood=1", same).await?,
        numbered: flood_of(options, "flood-seq=1", numbered).await?,
    })
}

/// The server under `flood_clients` clients of `mix`.
async fn flood_of(
    options: &Options,
    mix: &str,
    floor: Option<floor::Figures>,
) -> Result<FloodLoad> {
    let clients = options.flood_clients;
    let server = start_server(Config::default())?;
    let run_for = Duration::from_secs(40) + options.duration;
    let fleet = Fleet::spawn(server.local_addr(), clients, "1s", mix, run_for, &[])?;
    all_joined(&server, clients, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window = measure(&server, options.duration).await?;
    let bad_frames = server.snapshots().borrow().counters.bad_frames;
    drop(fleet);
    server.stop();
    server.stopped().await?;
    let per_cpu_s = window.frames as f64 / window.cpu.as_secs_f64().max(0.01);
    Ok(FloodLoad {
        floor_ratio: floor.map(|f| per_cpu_s * f.cpu_us_per_heartbeat / 1e6),
        seconds: window.wall.as_secs_f64(),
        heartbeats_per_s: window.frames as f64 / window.wall.as_secs_f64(),
        heartbeats_per_cpu_s: per_cpu_s,
        server_cpu_share: window.cpu.as_secs_f64() / window.wall.as_secs_f64(),
        bad_frames,
    })
}
