//! `hbmon bench`: measured figures, so anyone can check hbmon's claims on
//! their own machine.
//!
//! The server runs in this process; for `hold` and `flood` the fleet runs as
//! a child `hbmon simulate` process, so the CPU time and resident memory read
//! from `/proc/self` are the server's alone. `detect` and `kick` measure
//! latencies with clients in this process; `render` times dashboard frames
//! on ratatui's `TestBackend`. Nothing is estimated: every figure comes from
//! a clock, a counter or `/proc`.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio_util::codec::FramedRead;

use crate::event::{Event, EventKind};
use crate::limits;
use crate::liveness::{Liveness, Rules};
use crate::protocol::{ClientCodec, DEFAULT_MAX_FRAME, Heartbeat, Status, encode_frame};
use crate::server::{Config, Server};
use crate::snapshot::{ClientView, Settings, Snapshot};
use crate::tui::render::render;
use crate::tui::view::ViewState;

/// The scenarios, in the order they run.
pub const SCENARIOS: [&str; 5] = ["hold", "flood", "detect", "kick", "render"];

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
}

/// Runs the chosen scenarios and returns one JSON object, one member each.
pub async fn run(options: &Options) -> Result<Value> {
    for name in &options.only {
        ensure!(
            SCENARIOS.contains(&name.as_str()),
            "unknown scenario '{name}' (scenarios: {})",
            SCENARIOS.join(", ")
        );
    }
    let mut report = Map::new();
    report.insert("machine".into(), machine());
    for name in SCENARIOS
        .iter()
        .filter(|s| options.only.iter().any(|o| o == *s))
    {
        eprintln!("hbmon bench: {name}...");
        let figures = match *name {
            "hold" => to_json(hold(options).await?),
            "flood" => to_json(flood(options).await?),
            "detect" => to_json(detect(options.detect_clients).await?),
            "kick" => to_json(kick(options.kicks).await?),
            _ => to_json(render_frames()?),
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
        "open_file_limit": limits::raise_open_files(),
        "ephemeral_ports": ephemeral_ports(),
    })
}

/// Ports the kernel hands out to outgoing connections: a fleet on one
/// machine can hold at most this many connections to one server port.
fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|n| n.parse::<u64>().ok());
            Some(it.next_back()? - it.next()? + 1)
        })
        .unwrap_or(28_232)
}

/// This process's CPU time (user + system, all threads), from /proc.
fn cpu_time() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("parsing /proc/self/stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks =
        |i: usize| -> Result<u64> { Ok(fields.get(i).context("short /proc/self/stat")?.parse()?) };
    // utime and stime (fields 14 and 15) in USER_HZ ticks, 100 a second on Linux.
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// This process's resident memory, from /proc.
fn rss_bytes() -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/self/status")?;
    Ok(kib * 1024)
}

fn start_server(config: Config) -> Result<Server> {
    let listener = crate::server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("binding 127.0.0.1:0")?;
    Ok(Server::start(listener, config)?)
}

/// `hbmon simulate` as a child process, killed when dropped.
struct Fleet {
    _child: tokio::process::Child,
}

impl Fleet {
    fn spawn(
        server: SocketAddr,
        clients: usize,
        interval: &str,
        mix: &str,
        run_for: Duration,
    ) -> Result<Fleet> {
        let exe = std::env::current_exe().context("finding the hbmon executable")?;
        let child = tokio::process::Command::new(exe)
            .args([
                "simulate",
                "--server",
                &server.to_string(),
                "--every",
                "0",
                "--format",
                "json",
            ])
            .args([
                "--clients",
                &clients.to_string(),
                "--interval",
                interval,
                "--mix",
                mix,
            ])
            .args(["--duration", &format!("{}s", run_for.as_secs().max(1))])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the hbmon simulate fleet")?;
        Ok(Fleet { _child: child })
    }
}

/// Waits until `n` clients are connected and have each sent a heartbeat.
async fn all_joined(server: &Server, n: usize, within: Duration) -> Result<Duration> {
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
struct EventCount {
    count: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl EventCount {
    fn start(mut events: broadcast::Receiver<Event>, pred: fn(&EventKind) -> bool) -> EventCount {
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

    fn get(&self) -> u64 {
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
struct Hold {
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
}

async fn hold(options: &Options) -> Result<Hold> {
    let mut clients = options.clients;
    let mut capped_by = None;
    // Room for the server's own files; the child has its own limit.
    let files = limits::raise_open_files().saturating_sub(100) as usize;
    let ports = ephemeral_ports() as usize;
    if clients > files {
        capped_by = Some(format!(
            "open-file limit ({} per process)",
            limits::raise_open_files()
        ));
        clients = files;
    }
    if clients > ports {
        capped_by = Some(format!("ephemeral port range ({ports} ports)"));
        clients = ports;
    }
    let server = start_server(Config {
        max_clients: clients + 100,
        ..Config::default()
    })?;
    let rss_before = rss_bytes()?;
    let leaves = EventCount::start(server.subscribe(), |k| {
        matches!(
            k,
            EventKind::Status {
                to: Status::Leave,
                ..
            } | EventKind::Closed { .. }
        )
    });
    let join_limit = Duration::from_secs(30) + Duration::from_millis(clients as u64 * 5);
    let warmup = Duration::from_secs(3);
    let run_for = join_limit + warmup + options.duration + Duration::from_secs(10);
    let fleet = Fleet::spawn(server.local_addr(), clients, "1s", "steady=1", run_for)?;
    let joined = all_joined(&server, clients, join_limit).await?;
    tokio::time::sleep(warmup).await;
    let window = measure(&server, options.duration).await?;
    let rss = rss_bytes()?;
    let false_leave = leaves.get();
    drop(leaves);
    let stopping = Instant::now();
    server.stop();
    server.stopped().await;
    let shutdown = stopping.elapsed();
    drop(fleet);
    Ok(Hold {
        clients,
        capped_by,
        seconds: window.wall.as_secs_f64(),
        join_seconds: joined.as_secs_f64(),
        heartbeats_per_s: window.frames as f64 / window.wall.as_secs_f64(),
        false_leave,
        server_cpu_share: window.cpu.as_secs_f64() / window.wall.as_secs_f64(),
        rss_bytes: rss,
        rss_bytes_per_client: rss.saturating_sub(rss_before) as f64 / clients as f64,
        shutdown_ms: shutdown.as_secs_f64() * 1000.0,
    })
}

#[derive(Serialize)]
struct Flood {
    clients: usize,
    seconds: f64,
    heartbeats_per_s: f64,
    /// Heartbeats ingested per second of server CPU time.
    heartbeats_per_cpu_s: f64,
    server_cpu_share: f64,
    bad_frames: u64,
}

async fn flood(options: &Options) -> Result<Flood> {
    let clients = options.flood_clients;
    let server = start_server(Config::default())?;
    let run_for = Duration::from_secs(40) + options.duration;
    let fleet = Fleet::spawn(server.local_addr(), clients, "1s", "flood=1", run_for)?;
    all_joined(&server, clients, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window = measure(&server, options.duration).await?;
    let bad_frames = server.snapshots().borrow().counters.bad_frames;
    drop(fleet);
    server.stop();
    server.stopped().await;
    Ok(Flood {
        clients,
        seconds: window.wall.as_secs_f64(),
        heartbeats_per_s: window.frames as f64 / window.wall.as_secs_f64(),
        heartbeats_per_cpu_s: window.frames as f64 / window.cpu.as_secs_f64().max(0.01),
        server_cpu_share: window.cpu.as_secs_f64() / window.wall.as_secs_f64(),
        bad_frames,
    })
}

/// Percentiles of a sample, in milliseconds.
#[derive(Serialize)]
struct Spread {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn spread(mut samples: Vec<Duration>) -> Spread {
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

#[derive(Serialize)]
struct Detect {
    clients: usize,
    tick_ms: f64,
    /// threshold x cursor x tick: the configured time from the last
    /// heartbeat to `leave`.
    expected_leave_ms: f64,
    leave_p50_ms: f64,
    leave_p99_ms: f64,
    leave_max_ms: f64,
    /// Clients whose leave came within one tick of the expected time.
    leave_within_one_tick: usize,
    /// expected_leave_ms plus the leave timeout.
    expected_close_ms: f64,
    close_p50_ms: f64,
    close_p99_ms: f64,
    close_max_ms: f64,
}

async fn detect(clients: usize) -> Result<Detect> {
    let config = Config {
        tick: Duration::from_millis(100),
        rules: Rules {
            threshold: 5,
            cursor: 3,
            recover: 5,
            leave_timeout: Duration::from_secs(1),
        },
        ..Config::default()
    };
    let tick = config.tick;
    let expected_leave = tick * config.rules.threshold * config.rules.cursor;
    let expected_close = expected_leave + config.rules.leave_timeout;
    let server = start_server(config)?;
    let addr = server.local_addr();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        // Spread the instants clients fall silent over one tick.
        let silent_at = Duration::from_secs(1) + tick.mul_f64(i as f64 / clients as f64);
        tasks.spawn(fall_silent(addr, i as u32, silent_at));
    }
    let mut leaves = Vec::new();
    let mut closes = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (leave, close) = result??;
        leaves.push(leave);
        closes.push(close);
    }
    server.stop();
    server.stopped().await;
    let within = leaves
        .iter()
        .filter(|d| d.abs_diff(expected_leave) <= tick)
        .count();
    let (leave, close) = (spread(leaves), spread(closes));
    Ok(Detect {
        clients,
        tick_ms: tick.as_secs_f64() * 1000.0,
        expected_leave_ms: expected_leave.as_secs_f64() * 1000.0,
        leave_p50_ms: leave.p50_ms,
        leave_p99_ms: leave.p99_ms,
        leave_max_ms: leave.max_ms,
        leave_within_one_tick: within,
        expected_close_ms: expected_close.as_secs_f64() * 1000.0,
        close_p50_ms: close.p50_ms,
        close_p99_ms: close.p99_ms,
        close_max_ms: close.max_ms,
    })
}

/// A client that heartbeats every 20 ms, falls silent at `silent_at`, and
/// times the leave notice and the close from its last heartbeat.
async fn fall_silent(
    addr: SocketAddr,
    pid: u32,
    silent_at: Duration,
) -> Result<(Duration, Duration)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let frame = encode_frame(&Heartbeat {
        ip: "127.0.0.1".into(),
        status: Status::Alive,
        pid,
        token: None,
    });
    let (reader, mut writer) = stream.into_split();
    let mut notices = FramedRead::new(reader, ClientCodec::new(DEFAULT_MAX_FRAME));
    let started = Instant::now();
    let mut last = Instant::now();
    while started.elapsed() < silent_at {
        writer.write_all(&frame).await?;
        last = Instant::now();
        tokio::time::sleep(
            Duration::from_millis(20).min(silent_at.saturating_sub(started.elapsed())),
        )
        .await;
    }
    let mut leave = None;
    loop {
        match notices.next().await {
            Some(Ok(notice)) if notice.status == Status::Leave => leave = Some(last.elapsed()),
            Some(Ok(notice)) if notice.status == Status::Close => break,
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => break,
        }
    }
    let close = last.elapsed();
    Ok((leave.context("closed without a leave notice")?, close))
}

#[derive(Serialize)]
struct Kick {
    kicks: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Time from a kick command to the client reading its close frame.
async fn kick(kicks: usize) -> Result<Kick> {
    let server = start_server(Config::default())?;
    let control = server.control();
    let mut samples = Vec::with_capacity(kicks);
    for pid in 0..kicks as u32 {
        let mut events = server.subscribe();
        let stream = TcpStream::connect(server.local_addr()).await?;
        stream.set_nodelay(true)?;
        let peer = stream.local_addr()?;
        let (reader, mut writer) = stream.into_split();
        writer
            .write_all(&encode_frame(&Heartbeat {
                ip: peer.ip().to_string(),
                status: Status::Alive,
                pid,
                token: None,
            }))
            .await?;
        // Wait until the server knows the client.
        loop {
            let event = events.recv().await?;
            if matches!(event.kind, EventKind::Connected { peer: p } if p == peer) {
                break;
            }
        }
        let mut notices = FramedRead::new(reader, ClientCodec::new(DEFAULT_MAX_FRAME));
        let asked = Instant::now();
        let (kicked, notice) = tokio::join!(control.kick(peer, "bench"), notices.next());
        let seen = asked.elapsed();
        kicked?;
        match notice {
            Some(Ok(notice)) if notice.status == Status::Close => samples.push(seen),
            other => bail!("expected a close frame after a kick, got {other:?}"),
        }
    }
    server.stop();
    server.stopped().await;
    let spread = spread(samples);
    Ok(Kick {
        kicks,
        p50_ms: spread.p50_ms,
        p99_ms: spread.p99_ms,
        max_ms: spread.max_ms,
    })
}

#[derive(Serialize)]
struct Render {
    width: u16,
    height: u16,
    /// Median time to draw one frame.
    rows_1000_ms: f64,
    rows_10000_ms: f64,
    rows_100000_ms: f64,
    /// Median time to take in a new snapshot (row order), which happens at
    /// most once per published snapshot, not once per frame.
    refresh_100000_ms: f64,
}

fn render_frames() -> Result<Render> {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let (width, height) = (200, 50);
    let mut medians = Vec::new();
    let mut refresh = Duration::ZERO;
    for n in [1_000, 10_000, 100_000] {
        let snapshot = Arc::new(synthetic_snapshot(n));
        let mut view = ViewState::new(Arc::clone(&snapshot));
        let mut terminal = Terminal::new(TestBackend::new(width, height))?;
        let mut frames = Vec::new();
        for i in 0..40 {
            // Move the selection so each frame has something to redraw.
            view.move_by(if i % 2 == 0 { 1 } else { -1 });
            let started = Instant::now();
            terminal.draw(|frame| render(frame, &mut view))?;
            frames.push(started.elapsed());
        }
        medians.push(spread(frames).p50_ms);
        if n == 100_000 {
            let mut takes = Vec::new();
            for _ in 0..10 {
                let started = Instant::now();
                view.show(Arc::new(synthetic_snapshot(n)));
                takes.push(started.elapsed());
            }
            refresh = Duration::from_secs_f64(spread(takes).p50_ms / 1000.0);
        }
    }
    Ok(Render {
        width,
        height,
        rows_1000_ms: medians[0],
        rows_10000_ms: medians[1],
        rows_100000_ms: medians[2],
        refresh_100000_ms: refresh.as_secs_f64() * 1000.0,
    })
}

/// A snapshot of `n` alive clients, as the registry would publish it.
fn synthetic_snapshot(n: usize) -> Snapshot {
    let settings = Settings {
        tick: Duration::from_secs(1),
        rules: Rules::default(),
    };
    let mut snapshot = Snapshot::empty(SocketAddr::from(([127, 0, 0, 1], 14000)), settings);
    let ip: Arc<str> = Arc::from("127.0.0.1");
    snapshot.clients = (0..n)
        .map(|i| ClientView {
            peer: SocketAddr::from((
                [127, 0, (i >> 16) as u8, (i >> 8) as u8],
                (i & 0xffff) as u16,
            )),
            ip: Some(Arc::clone(&ip)),
            pid: Some(i as u32),
            reported: Some(Status::Alive),
            liveness: Liveness {
                streak: 3,
                ..Liveness::default()
            },
            heartbeats: i as u64,
            connected_at: snapshot.started,
            last_seen: Some(snapshot.taken),
        })
        .collect();
    snapshot
}
