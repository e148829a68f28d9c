//! `hbmon bench`: measured figures, so anyone can check hbmon's claims on
//! their own machine.
//!
//! The server runs in this process; for `hold` and `flood` the fleet runs as
//! a child `hbmon simulate` process, so the CPU time and resident memory read
//! from `/proc/self` are the server's alone. `detect` and `kick` measure
//! latencies with clients in this process; `render` times dashboard frames
//! on ratatui's `TestBackend`; `viewers` attaches `hbmon top`-like viewers
//! to the operator API, on a thread whose CPU is counted apart. Nothing is
//! estimated: every figure comes from a clock, a counter or `/proc`.

pub mod detectors;
mod fleet;
mod floor;
mod jitter;
mod latency;
mod load;
#[cfg(test)]
mod merged;
mod render;
mod servers;
mod synthetic;
mod tls;
mod viewers;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::process;
use crate::server::{Config, Server};

/// The scenarios, in the order they run.
pub const SCENARIOS: [&str; 8] = [
    "floor", "hold", "flood", "detect", "kick", "render", "jitter", "viewers",
];
/// Scenarios run only when named, after the others: too heavy for every run.
pub const ON_REQUEST: [&str; 1] = ["servers"];

#[derive(Clone, Debug)]
pub struct Options {
    pub only: Vec<String>,
    /// Clients held in `hold`.
    pub clients: usize,
    /// How long `hold` and `flood` measure, after everyone has joined.
    pub duration: Duration,
    pub flood_clients: usize,
    pub detect_clients: usize,
    pub kicks: usize,
    /// Clients in `jitter`, half regular, half jittery.
    pub jitter_clients: usize,
    /// Their mean heartbeat gap (and the tick).
    pub jitter_gap: Duration,
    /// Clients held in `viewers`, and the viewers attached.
    pub viewer_clients: usize,
    pub viewers: usize,
    /// Servers in `servers`, each with this many clients.
    pub servers: usize,
    pub server_clients: usize,
    /// `hold` compares each of these fleets in clear and over TLS, when set.
    pub tls_clients: Vec<usize>,
}

/// Runs the chosen scenarios and returns one JSON object, one member each.
pub async fn run(options: &Options) -> Result<Value> {
    for name in &options.only {
        ensure!(
            SCENARIOS.contains(&name.as_str()) || ON_REQUEST.contains(&name.as_str()),
            "unknown scenario '{name}' (scenarios: {})",
            SCENARIOS.join(", ")
        );
    }
    let mut report = Map::new();
    // The floor's figures, once measured, for `hold` and `flood` to compare
    // themselves with.
    let mut floors = None;
    report.insert("machine".into(), machine());
    for name in SCENARIOS
        .iter()
        .chain(&ON_REQUEST)
        .filter(|s| options.only.iter().any(|o| o == *s))
    {
        eprintln!("hbmon bench: {name}...");
        let figures = match *name {
            "floor" => {
                let measured = floor::floor(options).await?;
                floors = Some((measured.hold, (measured.flood, measured.flood_seq)));
                to_json(measured)
            }
            "hold" if !options.tls_clients.is_empty() => to_json(load::hold_tls(options).await?),
            "hold" => to_json(load::hold(options, floors.map(|f| f.0)).await?),
            "flood" => to_json(load::flood(options, floors.map(|f| f.1)).await?),
            "detect" => to_json(latency::detect(options.detect_clients).await?),
            "kick" => to_json(latency::kick(options.kicks).await?),
            "jitter" => to_json(jitter::jitter(options.jitter_clients, options.jitter_gap).await?),
            "viewers" => to_json(viewers::viewers(options).await?),
            "servers" => to_json(servers::servers(options).await?),
            _ => to_json(render::frames()?),
        }?;
        report.insert((*name).to_owned(), figures);
    }
    Ok(Value::Object(report))
}

fn to_json(figures: impl Serialize) -> Result<Value> {
    Ok(serde_json::to_value(figures)?)
}

fn machine() -> Value {
    json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "open_file_limit": process::raise_open_files(),
        "ephemeral_ports": ephemeral_ports(),
    })
}

/// Ports the kernel hands out to outgoing connections: a fleet on one
/// machine can hold at most this many connections to one server port.
pub(super) fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|n| n.parse::<u64>().ok());
            Some(it.next_back()? - it.next()? + 1)
        })
        .unwrap_or(28_232)
}

/// This process's CPU time (user + system, all threads).
pub(super) fn cpu_time() -> Result<Duration> {
    process::cpu_time().context("no CPU clock for this process")
}

/// The CPU time of the calling thread alone.
pub(super) fn thread_cpu_time() -> Result<Duration> {
    process::thread_cpu_time().context("no CPU clock for this thread")
}

/// This process's resident memory, from /proc.
pub(super) fn rss_bytes() -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}

pub(super) fn start_server(config: Config) -> Result<Server> {
    let listener = crate::server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("binding 127.0.0.1:0")?;
    Ok(Server::start(listener, config)?)
}

/// How long each publish held the registry up, from the server's publish
/// figures: read each time a snapshot arrives, the time spent since the
/// last reading over the publishes since.
pub(super) struct Publishes {
    samples: Arc<Mutex<Vec<(Duration, Duration)>>>,
    task: tokio::task::JoinHandle<()>,
}

/// What [`Publishes`] saw: wall time, and the part of it the registry's
/// thread was running. On a busy machine a publish's wall time includes
/// waits for a core, which its CPU time does not.
#[derive(Serialize)]
pub(super) struct PublishSpread {
    publish: Spread,
    publish_cpu: Spread,
}

impl Publishes {
    pub(super) fn watch(server: &Server) -> Publishes {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&samples);
        let (mut snapshots, stats) = (server.snapshots(), server.publish_stats());
        let task = tokio::spawn(async move {
            let counted = || {
                let t = stats.totals();
                (t.publishes, t.publish_ns, t.publish_cpu_ns)
            };
            snapshots.borrow_and_update();
            let mut last = counted();
            while snapshots.changed().await.is_ok() {
                snapshots.borrow_and_update();
                let now = counted();
                let publishes = now.0 - last.0;
                let each = |ns: u64| ns.checked_div(publishes).map(Duration::from_nanos);
                if let (Some(wall), Some(cpu)) = (each(now.1 - last.1), each(now.2 - last.2)) {
                    seen.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((wall, cpu));
                }
                last = now;
            }
        });
        Publishes { samples, task }
    }

    /// Stops watching; the spread of what it saw.
    pub(super) fn spread(self) -> PublishSpread {
        self.task.abort();
        let samples = std::mem::take(&mut *self.samples.lock().unwrap_or_else(|p| p.into_inner()));
        let (wall, cpu) = samples.into_iter().unzip();
        PublishSpread {
            publish: spread(wall),
            publish_cpu: spread(cpu),
        }
    }
}

/// Percentiles of a sample, in milliseconds.
#[derive(Serialize)]
pub(super) struct Spread {
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    pub(super) max_ms: f64,
}

pub(super) fn spread(mut samples: Vec<Duration>) -> Spread {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len().max(1)) - 1;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Spread {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}
