//! `servers`: a fleet spread over several servers that fails over. Each
//! server, and each server's share of the fleet, runs in a process of its
//! own (the open-file limit is per process): `hbmon serve --no-tui` and
//! `hbmon simulate --server A --server B ...`. Once every client is alive,
//! one server is killed (SIGKILL: no goodbye to its clients), and measured
//! are how long until its clients are all alive on the others, and the
//! `leave`s the survivors reported (each a false alarm: none of their
//! clients ever stopped).
//!
//! Each server is read through its headless JSON lines: its address, its
//! stats lines (how many clients are alive) and its status changes.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::Options;
use super::fleet::{Fleet, capped};

/// How long the fleet may take to join, and the lost clients to re-home.
const JOIN_WITHIN: Duration = Duration::from_secs(180);
const REHOME_WITHIN: Duration = Duration::from_secs(120);
/// How long the survivors are watched after the re-homing, for the `leave`s
/// a stall would bring (longer than the default rules' 5 s to `leave`).
const AFTERWARDS: Duration = Duration::from_secs(10);
/// Each server: headless, its JSON lines read here, a stats line often.
const SERVE: &str =
    "serve --no-tui --format json --listen 127.0.0.1:0 --admin off --stats-every 100ms";

#[derive(Serialize)]
pub(super) struct Servers {
    servers: usize,
    clients_per_server: usize,
    clients: usize,
    capped_by: Option<String>,
    /// From the fleets' start until every client was alive.
    join_s: f64,
    /// From the kill until the killed server's clients were all alive on
    /// the others.
    rehome_s: f64,
    /// Clients the survivors sent to `leave`, from the start to
    /// [`AFTERWARDS`] after the re-homing.
    false_leave: u64,
}

/// A server in a child process, and what its lines said.
struct Serving {
    child: Child,
    addr: SocketAddr,
    alive: Arc<AtomicU64>,
    leaves: Arc<AtomicU64>,
}

pub(super) async fn servers(options: &Options) -> Result<Servers> {
    let count = options.servers.max(2);
    let (per_server, capped_by) = capped(options.server_clients);
    let mut serving = Vec::with_capacity(count);
    for _ in 0..count {
        serving.push(Serving::start(per_server).await?);
    }
    let addrs: Vec<SocketAddr> = serving.iter().map(|s| s.addr).collect();
    let run_for = JOIN_WITHIN + REHOME_WITHIN + AFTERWARDS;
    let started = Instant::now();
    let _fleets = (0..count)
        .map(|_| Fleet::over(&addrs, per_server, "1s", "steady=1", run_for, &[]))
        .collect::<Result<Vec<_>>>()?;
    let total = per_server * count;
    all_alive(&serving, total, JOIN_WITHIN).await?;
    let join_s = started.elapsed().as_secs_f64();

    let mut killed = serving.remove(0);
    killed.child.start_kill().context("killing a server")?;
    let killed_at = Instant::now();
    all_alive(&serving, total, REHOME_WITHIN).await?;
    let rehome_s = killed_at.elapsed().as_secs_f64();
    tokio::time::sleep(AFTERWARDS).await;
    let false_leave = serving
        .iter()
        .map(|s| s.leaves.load(Ordering::Relaxed))
        .sum();
    Ok(Servers {
        servers: count,
        clients_per_server: per_server,
        clients: total,
        capped_by,
        join_s,
        rehome_s,
        false_leave,
    })
}

/// Waits until `serving` hold `total` clients alive between them.
async fn all_alive(serving: &[Serving], total: usize, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let alive: u64 = serving
            .iter()
            .map(|s| s.alive.load(Ordering::Relaxed))
            .sum();
        if alive >= total as u64 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {alive} of {total} clients alive within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Serving {
    /// `hbmon serve --no-tui --format json` on a free loopback port, with
    /// room for its share of the fleet and the share of a lost server.
    async fn start(clients: usize) -> Result<Serving> {
        let exe = std::env::current_exe().context("finding the hbmon executable")?;
        // Its own files, and the API's, beside the clients.
        let files = crate::process::raise_open_files().saturating_sub(200) as usize;
        let room = (clients * 2).min(files).max(1);
        let mut child = Command::new(exe)
            .args(SERVE.split(' '))
            .args(["--max-clients", &room.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting an hbmon serve")?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let (alive, leaves) = (Arc::default(), Arc::default());
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(read_lines(
            stdout,
            addr_tx,
            Arc::clone(&alive),
            Arc::clone(&leaves),
        ));
        let addr = tokio::time::timeout(Duration::from_secs(20), addr_rx)
            .await
            .context("a server did not say where it listens within 20s")?
            .context("a server exited before it listened")?;
        Ok(Serving {
            child,
            addr,
            alive,
            leaves,
        })
    }
}

/// Reads a server's JSON lines: where it listens, then how many clients
/// are alive (stats lines) and every change to `leave`.
async fn read_lines(
    stdout: tokio::process::ChildStdout,
    addr: tokio::sync::oneshot::Sender<SocketAddr>,
    alive: Arc<AtomicU64>,
    leaves: Arc<AtomicU64>,
) {
    let mut lines = BufReader::new(stdout).lines();
    let mut addr = Some(addr);
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(line) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match line["event"].as_str() {
            Some("listening") => {
                let listens = line["addr"].as_str().and_then(|a| a.parse().ok());
                if let (Some(tx), Some(listens)) = (addr.take(), listens) {
                    let _ = tx.send(listens);
                }
            }
            Some("stats") => alive.store(line["alive"].as_u64().unwrap_or(0), Ordering::Relaxed),
            Some("status") if line["to"] == "leave" => {
                leaves.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}
