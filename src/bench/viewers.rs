//! `viewers`: what `hbmon top` costs the server. A fleet held at 1 Hz (in
//! a child process), the operator API on loopback, and viewers that follow
//! `GET /v1/feed` exactly as `top` does (the same frames, the same
//! replica), on a thread of their own whose CPU time is counted apart, so
//! what is left is the server's. Also what one `/metrics` scrape costs at
//! that size.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper::Method;
use serde::Serialize;
use tokio::task::JoinSet;

use super::fleet::{Fleet, capped};
use super::load::{EventCount, all_joined, leave_or_close};
use super::{
    Options, PublishSpread, Publishes, Spread, cpu_time, spread, start_server, thread_cpu_time,
};
use crate::endpoint::{Endpoint, Listener};
use crate::feed::wire::Replica;
use crate::front::api;
use crate::remote::{self, Api};
use crate::server::{Config, Limits, Server};

/// `/metrics` scrapes timed.
const SCRAPES: usize = 50;

#[derive(Serialize)]
pub(super) struct Viewers {
    clients: usize,
    capped_by: Option<String>,
    viewers: usize,
    seconds: f64,
    /// Server CPU seconds per wall second with no viewer attached.
    server_cpu_share_alone: f64,
    /// What each viewer adds to it.
    server_cpu_share_per_viewer: f64,
    bytes_per_s_per_viewer: f64,
    frames_per_s_per_viewer: f64,
    /// The first frame, the whole table.
    full_frame_bytes: u64,
    /// How long after the server published a snapshot a viewer had it.
    behind: Spread,
    #[serde(flatten)]
    metrics: Scrapes,
    /// How long one publish held the registry up (its reports and commands
    /// wait that long, heartbeats do not), over the window and the `list`
    /// commands below.
    #[serde(flatten)]
    publish: PublishSpread,
    /// A snapshot of the whole table asked for and received (the `list`
    /// command: the channel's hop, the batching window, the publish).
    list_round_trip: Spread,
    false_leave: u64,
}

/// What `/metrics` scrapes cost.
#[derive(Serialize)]
struct Scrapes {
    /// Server CPU per scrape (over what it spends alone).
    metrics_cpu_ms_per_scrape: f64,
    /// A scrape's wall time.
    metrics_scrape: Spread,
    /// The size of one.
    metrics_bytes: usize,
}

/// What the viewers' thread saw over the window.
#[derive(Default)]
struct Seen {
    cpu: Duration,
    bytes: u64,
    frames: u64,
    full_frame_bytes: u64,
    behind: Vec<Duration>,
}

pub(super) async fn viewers(options: &Options) -> Result<Viewers> {
    let (clients, capped_by) = capped(options.viewer_clients);
    let server = start_server(Config {
        limits: Limits {
            max_clients: clients + 100,
            ..Limits::default()
        },
        ..Config::default()
    })?;
    let endpoint = serve_api(&server).await?;
    let leaves = EventCount::start(server.subscribe(), leave_or_close);
    let join_limit = Duration::from_secs(30) + Duration::from_millis(clients as u64 * 5);
    let warmup = Duration::from_secs(3);
    let window = options.duration;
    let run_for = join_limit + 3 * warmup + 2 * window + Duration::from_secs(20);
    let fleet = Fleet::spawn(server.local_addr(), clients, "1s", "steady=1", run_for, &[])?;
    all_joined(&server, clients, join_limit).await?;
    tokio::time::sleep(warmup).await;
    let publish = Publishes::watch(&server);

    let alone = share(window).await?;

    // The viewers attach, settle, then everyone measures the same window.
    let start = Instant::now() + warmup;
    let api = Api {
        endpoint,
        token: None,
        tls: None,
    };
    let watching = {
        let (api, count) = (api.clone(), options.viewers);
        std::thread::spawn(move || follow(api, count, start, window))
    };
    tokio::time::sleep_until(start.into()).await;
    let (cpu0, t0) = (cpu_time()?, Instant::now());
    tokio::time::sleep(window).await;
    let (cpu, wall) = (cpu_time()?.saturating_sub(cpu0), t0.elapsed());
    let seen = tokio::task::spawn_blocking(move || watching.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the viewers' thread panicked"))??;
    let server_cpu = cpu.saturating_sub(seen.cpu).as_secs_f64() / wall.as_secs_f64();
    let viewers = options.viewers.max(1) as f64;

    let metrics = scrapes(&api, alone).await?;
    let lists = lists(&server).await?;
    let publish = publish.spread();
    let false_leave = leaves.get();
    drop(leaves);
    server.stop();
    server.stopped().await?;
    drop(fleet);
    Ok(Viewers {
        clients,
        capped_by,
        viewers: options.viewers,
        seconds: wall.as_secs_f64(),
        server_cpu_share_alone: alone,
        server_cpu_share_per_viewer: (server_cpu - alone).max(0.0) / viewers,
        bytes_per_s_per_viewer: seen.bytes as f64 / window.as_secs_f64() / viewers,
        frames_per_s_per_viewer: seen.frames as f64 / window.as_secs_f64() / viewers,
        full_frame_bytes: seen.full_frame_bytes,
        behind: spread(seen.behind),
        metrics,
        publish,
        list_round_trip: lists,
        false_leave,
    })
}

/// The operator API on a loopback port of its own, over `server`'s feed;
/// where it is.
async fn serve_api(server: &Server) -> Result<Endpoint> {
    let listener = Listener::bind(&Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0)))).await?;
    let endpoint = listener.endpoint()?;
    let figures = api::Figures {
        publish: Some(server.publish_stats()),
        hooks: None,
        tls: None,
    };
    api::spawn(listener, server.feed(), figures, api::Settings::default());
    Ok(endpoint)
}

/// `list` commands timed, each a snapshot of the whole table asked for and
/// received.
async fn lists(server: &Server) -> Result<Spread> {
    let mut lists = Vec::with_capacity(SCRAPES);
    for _ in 0..SCRAPES {
        let began = Instant::now();
        server.control().list().await?;
        lists.push(began.elapsed());
    }
    Ok(spread(lists))
}

/// This process's CPU seconds per wall second over `window`.
async fn share(window: Duration) -> Result<f64> {
    let (cpu0, t0) = (cpu_time()?, Instant::now());
    tokio::time::sleep(window).await;
    Ok(cpu_time()?.saturating_sub(cpu0).as_secs_f64() / t0.elapsed().as_secs_f64())
}

/// `count` viewers following the feed on this thread, measured from
/// `start` for `window`.
fn follow(api: Api, count: usize, start: Instant, window: Duration) -> Result<Seen> {
    let runtime = crate::front::runtime().context("starting the viewers' runtime")?;
    runtime.block_on(async move {
        let mut viewers = JoinSet::new();
        for _ in 0..count {
            let api = api.clone();
            viewers.spawn(async move { viewer(api, start, start + window).await });
        }
        tokio::time::sleep_until(start.into()).await;
        let cpu0 = thread_cpu_time()?;
        let mut seen = Seen::default();
        while let Some(one) = viewers.join_next().await {
            let one = one??;
            seen.bytes += one.bytes;
            seen.frames += one.frames;
            seen.full_frame_bytes = seen.full_frame_bytes.max(one.full_frame_bytes);
            seen.behind.extend(one.behind);
        }
        seen.cpu = thread_cpu_time()?.saturating_sub(cpu0);
        Ok(seen)
    })
}

/// One viewer: frames in, replica up to date, counted between `from` and
/// `until`.
async fn viewer(api: Api, from: Instant, until: Instant) -> Result<Seen> {
    let mut frames = remote::open(&api).await?;
    let mut replica = Replica::default();
    let mut seen = Seen::default();
    while Instant::now() < until {
        let Ok(next) = tokio::time::timeout_at(until.into(), frames.next()).await else {
            break;
        };
        let frame = next.context("the feed ended")??;
        let (snapshot, _) = replica.apply(&frame)?;
        if seen.full_frame_bytes == 0 {
            seen.full_frame_bytes = frame.len() as u64;
        }
        if Instant::now() >= from {
            seen.bytes += frame.len() as u64 + 4;
            seen.frames += 1;
            let behind = SystemTime::now().duration_since(snapshot.taken);
            seen.behind.push(behind.unwrap_or_default());
        }
    }
    Ok(seen)
}

/// Times `/metrics` scrapes: server CPU per scrape (over what the server
/// spends alone), each scrape's wall time, and its size.
async fn scrapes(api: &Api, alone: f64) -> Result<Scrapes> {
    let (cpu0, t0) = (cpu_time()?, Instant::now());
    let mut walls = Vec::with_capacity(SCRAPES);
    let mut bytes = 0;
    for _ in 0..SCRAPES {
        let began = Instant::now();
        let response = api.request(Method::GET, "/metrics", None).await?;
        bytes = response.into_body().collect().await?.to_bytes().len();
        walls.push(began.elapsed());
    }
    let (cpu, wall) = (cpu_time()?.saturating_sub(cpu0), t0.elapsed());
    let extra = cpu.as_secs_f64() - alone * wall.as_secs_f64();
    let per_scrape = extra.max(0.0) * 1000.0 / SCRAPES as f64;
    Ok(Scrapes {
        metrics_cpu_ms_per_scrape: per_scrape,
        metrics_scrape: spread(walls),
        metrics_bytes: bytes,
    })
}
