//! `hbmon client`: a well-behaved heartbeat client.
//!
//! Sends a heartbeat every interval with its own address and pid, prints what
//! the server tells it, and exits 0 when the server closes it (printing the
//! reason). With `--reconnect` it connects again instead, backing off. On
//! Ctrl-C it says goodbye (`status: close`) so the server records a clean
//! exit rather than a failure.

use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::process;
use crate::protocol::{ClientCodec, DEFAULT_MAX_FRAME, Heartbeat, Status, Token};

#[derive(Clone, Debug)]
pub struct Options {
    pub server: String,
    pub interval: Duration,
    pub reconnect: bool,
    pub pid: u32,
    /// The address to report; the local address of the connection if unset.
    pub ip: Option<String>,
    /// Sent in the first heartbeat of each connection, when set.
    pub token: Option<Token>,
}

/// How one connection ended.
enum Outcome {
    ClosedByServer,
    Interrupted,
}

/// A line on stdout. A reader that went away is no reason to stop
/// heartbeating (`println!` would panic on the broken pipe).
fn say(message: impl std::fmt::Display) {
    let _ = writeln!(
        std::io::stdout(),
        "{} {message}",
        humantime::format_rfc3339_millis(SystemTime::now())
    );
}

pub async fn run(options: Options) -> Result<()> {
    let interrupted = CancellationToken::new();
    process::cancel_on_terminate(interrupted.clone())?;
    let mut backoff = Duration::from_millis(250);
    loop {
        let connected = tokio::select! {
            connected = TcpStream::connect(&options.server) => connected,
            _ = interrupted.cancelled() => return Ok(()),
        };
        let stream = match connected {
            Ok(stream) => stream,
            Err(error) if options.reconnect => {
                say(format_args!(
                    "cannot connect to {}: {error}; retrying in {}",
                    options.server,
                    humantime::format_duration(backoff)
                ));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = interrupted.cancelled() => return Ok(()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot connect to {}", options.server));
            }
        };
        backoff = Duration::from_millis(250);
        match session(stream, &options, &interrupted).await? {
            Outcome::Interrupted => return Ok(()),
            Outcome::ClosedByServer if options.reconnect => {
                say("reconnecting");
                tokio::time::sleep(backoff).await;
            }
            Outcome::ClosedByServer => return Ok(()),
        }
    }
}

async fn session(
    stream: TcpStream,
    options: &Options,
    interrupted: &CancellationToken,
) -> Result<Outcome> {
    let local = stream.local_addr().context("reading the local address")?;
    let heartbeat = |status, token| Heartbeat {
        ip: options.ip.clone().unwrap_or_else(|| local.ip().to_string()),
        status,
        pid: options.pid,
        token,
    };
    // The token goes in the first heartbeat only.
    let mut token = options.token.clone();
    say(format_args!(
        "connected to {} from {local} (pid {}), heartbeat every {}",
        options.server,
        options.pid,
        humantime::format_duration(options.interval)
    ));
    let mut frames = Framed::new(stream, ClientCodec::new(DEFAULT_MAX_FRAME));
    let mut ticker = tokio::time::interval(options.interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(error) = frames.send(&heartbeat(Status::Alive, token.take())).await {
                    say(format_args!("connection lost: {error}"));
                    return Ok(Outcome::ClosedByServer);
                }
            }
            notice = frames.next() => match notice {
                Some(Ok(notice)) if notice.status == Status::Close => {
                    say(format_args!("closed by server: {}", notice.reason));
                    return Ok(Outcome::ClosedByServer);
                }
                Some(Ok(notice)) => say(format_args!("server says {}: {}", notice.status, notice.reason)),
                Some(Err(error)) => {
                    say(format_args!("connection lost: {error}"));
                    return Ok(Outcome::ClosedByServer);
                }
                None => {
                    say("server closed the connection without a reason");
                    return Ok(Outcome::ClosedByServer);
                }
            },
            _ = interrupted.cancelled() => {
                // Say goodbye; the server answers with a close frame.
                let _ = frames.send(&heartbeat(Status::Close, token.take())).await;
                let reply = tokio::time::timeout(Duration::from_secs(1), frames.next()).await;
                if let Ok(Some(Ok(notice))) = reply {
                    say(format_args!("closed by server: {}", notice.reason));
                }
                return Ok(Outcome::Interrupted);
            }
        }
    }
}
