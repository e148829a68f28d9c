//! `detect` and `kick`: latencies seen by clients in this process, from the
//! moment a client falls silent or is kicked to the notice it reads.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use super::{spread, start_server};
use crate::feed::event::EventKind;
use crate::liveness::Rules;
use crate::protocol::{ClientCodec, DEFAULT_MAX_FRAME, Heartbeat, Status, encode_frame};
use crate::server::{Config, GuardConfig};

#[derive(Serialize)]
pub(super) struct Detect {
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

pub(super) async fn detect(clients: usize) -> Result<Detect> {
    let config = Config {
        tick: Duration::from_millis(100),
        rules: Rules {
            threshold: 5,
            cursor: 3,
            recover: 5,
            leave_timeout: Duration::from_secs(1),
        },
        // Every client here falls silent within one tick, on purpose: the
        // silence guard would rightly hold their closes. This measures each
        // client's own timeline, so it is off (and so is the close rate).
        guard: GuardConfig {
            silence: None,
            min_clients: 0,
            close_rate: None,
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
    server.stopped().await?;
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
pub(super) struct Kick {
    kicks: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Time from a kick command to the client reading its close frame.
pub(super) async fn kick(kicks: usize) -> Result<Kick> {
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
            if matches!(*event.kind, EventKind::Connected { peer: p, .. } if p == peer) {
                break;
            }
        }
        let mut notices = FramedRead::new(reader, ClientCodec::new(DEFAULT_MAX_FRAME));
        let asked = Instant::now();
        let (kicked, notice) = tokio::join!(control.kick(peer, "bench", None), notices.next());
        let seen = asked.elapsed();
        kicked?;
        match notice {
            Some(Ok(notice)) if notice.status == Status::Close => samples.push(seen),
            other => bail!("expected a close frame after a kick, got {other:?}"),
        }
    }
    server.stop();
    server.stopped().await?;
    let spread = spread(samples);
    Ok(Kick {
        kicks,
        p50_ms: spread.p50_ms,
        p99_ms: spread.p99_ms,
        max_ms: spread.max_ms,
    })
}
