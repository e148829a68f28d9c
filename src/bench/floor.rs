//! `floor`: the least a tokio server does for the same loads as `hold` and
//! `flood`: accept, read, decode with the same codec (taking runs of the
//! same frame as hbmon does), and count. No registry, no snapshots, no
//! notices, no timeouts, no batching window. It reads as hbmon's
//! connections do (wait until readable; reads of 256 bytes that double
//! while they come back full, up to 32 KiB; a buffer only while bytes
//! wait), so the distance to it is what hbmon's decisions cost.
//!
//! Among other scenarios it runs in a child `hbmon bench floor`, so that
//! memory one freed cannot flatter the other's figure. `hold` and `flood`
//! report their figures as ratios to it when it ran in the same `hbmon
//! bench`.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::fleet::{Fleet, capped};
use super::{Options, cpu_time, rss_bytes};
use crate::protocol::{DEFAULT_MAX_FRAME, ServerCodec};

/// The first read, and the largest, as hbmon's connections read.
const MIN_READ: usize = 256;
const MAX_READ: usize = 32 * 1024;

/// What the floor did under one load.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(super) struct Figures {
    pub(super) clients: usize,
    pub(super) seconds: f64,
    pub(super) heartbeats_per_s: f64,
    pub(super) server_cpu_share: f64,
    /// CPU microseconds per heartbeat.
    pub(super) cpu_us_per_heartbeat: f64,
    pub(super) rss_bytes_per_client: f64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Floor {
    pub(super) hold: Figures,
    pub(super) flood: Figures,
    /// The flood with every heartbeat numbered (`flood-seq`).
    pub(super) flood_seq: Figures,
}

/// Counters the floor server keeps: connections open, heartbeats decoded.
#[derive(Default)]
struct Counts {
    open: AtomicU64,
    frames: AtomicU64,
}

/// The floor under both loads: here when it is the only scenario, else in
/// a child `hbmon bench floor` with the same sizes.
pub(super) async fn floor(options: &Options) -> Result<Floor> {
    if options.only.len() > 1 {
        return in_child(options).await;
    }
    let (clients, _) = capped(options.clients);
    let hold = under(clients, "steady=1", options.duration).await?;
    let flood = under(options.flood_clients, "flood=1", options.duration).await?;
    let flood_seq = under(options.flood_clients, "flood-seq=1", options.duration).await?;
    Ok(Floor {
        hold,
        flood,
        flood_seq,
    })
}

async fn in_child(options: &Options) -> Result<Floor> {
    let exe = std::env::current_exe().context("finding the hbmon executable")?;
    let output = tokio::process::Command::new(exe)
        .args(["bench", "floor", "--clients", &options.clients.to_string()])
        .args(["--flood-clients", &options.flood_clients.to_string()])
        .args(["--duration", &format!("{}ms", options.duration.as_millis())])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("running hbmon bench floor")?;
    if !output.status.success() {
        bail!("hbmon bench floor failed ({})", output.status);
    }
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading hbmon bench floor's report")?;
    Ok(serde_json::from_value(report["floor"].clone())?)
}

/// The floor under `clients` of `mix` at 1 Hz, measured for `duration`.
async fn under(clients: usize, mix: &str, duration: Duration) -> Result<Figures> {
    let listener = crate::server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let counts = Arc::new(Counts::default());
    let stop = CancellationToken::new();
    let rss_before = rss_bytes()?;
    tokio::spawn(accept(listener, Arc::clone(&counts), stop.clone()));
    let join_limit = Duration::from_secs(30) + Duration::from_millis(clients as u64 * 5);
    let run_for = join_limit + duration + Duration::from_secs(15);
    let fleet = Fleet::spawn(addr, clients, "1s", mix, run_for, &[])?;
    let started = Instant::now();
    while counts.open.load(Ordering::Relaxed) < clients as u64 {
        if started.elapsed() > join_limit {
            bail!(
                "the floor: only {} of {clients} clients connected",
                counts.open.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every client has sent its first heartbeat, and a little more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let frames0 = counts.frames.load(Ordering::Relaxed);
    let (cpu0, t0) = (cpu_time()?, Instant::now());
    tokio::time::sleep(duration).await;
    let (cpu, wall) = (cpu_time()?.saturating_sub(cpu0), t0.elapsed());
    let frames = counts.frames.load(Ordering::Relaxed) - frames0;
    let rss = rss_bytes()?;
    stop.cancel();
    drop(fleet);
    let per_s = frames as f64 / wall.as_secs_f64();
    Ok(Figures {
        clients,
        seconds: wall.as_secs_f64(),
        heartbeats_per_s: per_s,
        server_cpu_share: cpu.as_secs_f64() / wall.as_secs_f64(),
        cpu_us_per_heartbeat: cpu.as_secs_f64() * 1e6 / (frames.max(1) as f64),
        rss_bytes_per_client: rss.saturating_sub(rss_before) as f64 / clients.max(1) as f64,
    })
}

async fn accept(listener: TcpListener, counts: Arc<Counts>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                counts.open.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(stream, Arc::clone(&counts), stop.clone()));
            }
        }
    }
}

/// Reads and decodes until the peer goes, a frame is bad, or the floor stops.
async fn connection(stream: TcpStream, counts: Arc<Counts>, stop: CancellationToken) {
    let mut codec = ServerCodec::new(DEFAULT_MAX_FRAME);
    let mut buf = BytesMut::new();
    let mut read_size = MIN_READ;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            ready = stream.readable() => if ready.is_err() { return },
        }
        // As hbmon's connections do, and as `AsyncRead` would: a peer that
        // always has bytes ready must still let the others (and the clock)
        // run.
        tokio::task::coop::consume_budget().await;
        buf.reserve(read_size);
        match stream.try_read_buf(&mut buf) {
            Ok(0) => return,
            Ok(n) if n >= read_size => read_size = (read_size * 2).min(MAX_READ),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
        loop {
            match codec.decode_run(&mut buf, false) {
                Ok(Some(run)) => counts.frames.fetch_add(run.frames, Ordering::Relaxed),
                Ok(None) => break,
                Err(_) => return,
            };
        }
        if buf.is_empty() {
            buf = BytesMut::new();
        }
    }
}
