//! `hbmon client`: a well-behaved heartbeat client.
//!
//! Sends a heartbeat every interval with its own address and pid and prints
//! what the server tells it. On Ctrl-C (or SIGTERM, SIGHUP) it says goodbye
//! (`status: close`) so the server records a clean exit rather than a
//! failure. How it ended is its exit code ([`Ending::exit_code`]), so a
//! supervisor can tell a goodbye from a kick or a lost connection.
//!
//! With `--reconnect` it connects again instead of exiting, backing off
//! exponentially with jitter up to a cap, and never sooner than a close
//! frame's `retry_after` asks: a fleet kicked or refused at once does not
//! come back at once.

use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::process;
use crate::protocol::{
    ClientCodec, DEFAULT_MAX_FRAME, Heartbeat, Notice, SHUTDOWN_REASON, Status, Token,
};

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

/// How a client's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It said goodbye (Ctrl-C, SIGTERM, SIGHUP).
    Goodbye,
    /// The server shut down and said so.
    ServerStopped,
    /// The server closed it for a cause (kicked, timed out, refused,
    /// unauthorized, a bad frame): the reason it gave.
    Closed(Notice),
    /// The connection went away without a word from the server.
    Lost(String),
}

impl Ending {
    /// 0 after a goodbye or the server's clean shutdown; 3 when the
    /// connection was lost; 4 when the server closed it for a cause. (1 is
    /// an error such as no server to connect to; 2 a usage error.)
    pub fn exit_code(&self) -> u8 {
        match self {
            Ending::Goodbye | Ending::ServerStopped => 0,
            Ending::Lost(_) => 3,
            Ending::Closed(_) => 4,
        }
    }

    fn from_close(notice: Notice) -> Ending {
        if notice.reason == SHUTDOWN_REASON {
            Ending::ServerStopped
        } else {
            Ending::Closed(notice)
        }
    }
}

/// The first wait before connecting again, and the longest.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lasted this long was healthy: the back-off starts over.
const HEALTHY: Duration = Duration::from_secs(30);
/// How long a goodbye waits for the server's answer, and a failed write for
/// the close frame that may explain it.
const LAST_WORDS: Duration = Duration::from_secs(1);

/// Exponential back-off with jitter: each wait is drawn between half and
/// all of the current step, so clients dropped together spread out.
struct Backoff {
    step: Duration,
}

impl Backoff {
    fn new() -> Self {
        Backoff { step: BACKOFF_MIN }
    }

    /// The next wait: at least `floor` (a server's `retry_after`).
    fn next(&mut self, floor: Duration) -> Duration {
        let half = self.step / 2;
        let wait = half + half.mul_f64(fastrand::f64());
        self.step = (self.step * 2).min(BACKOFF_MAX);
        wait.max(floor)
    }
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

pub async fn run(options: Options) -> Result<Ending> {
    let interrupted = CancellationToken::new();
    process::cancel_on_terminate(interrupted.clone())?;
    let mut backoff = Backoff::new();
    loop {
        let connected = tokio::select! {
            connected = TcpStream::connect(&options.server) => connected,
            _ = interrupted.cancelled() => return Ok(Ending::Goodbye),
        };
        let (ending, floor) = match connected {
            Ok(stream) => {
                let started = Instant::now();
                let ending = session(stream, &options, &interrupted).await?;
                if started.elapsed() >= HEALTHY {
                    backoff = Backoff::new();
                }
                let floor = match &ending {
                    Ending::Closed(notice) => Duration::from_secs(notice.retry_after.unwrap_or(0)),
                    _ => Duration::ZERO,
                };
                (ending, floor)
            }
            Err(error) if options.reconnect => (
                Ending::Lost(format!("cannot connect to {}: {error}", options.server)),
                Duration::ZERO,
            ),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot connect to {}", options.server));
            }
        };
        if ending == Ending::Goodbye || !options.reconnect {
            return Ok(ending);
        }
        let wait = backoff.next(floor);
        say(format_args!(
            "reconnecting in {}",
            humantime::format_duration(round_ms(wait))
        ));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = interrupted.cancelled() => return Ok(Ending::Goodbye),
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

type Frames = Framed<TcpStream, ClientCodec>;

async fn session(
    stream: TcpStream,
    options: &Options,
    interrupted: &CancellationToken,
) -> Result<Ending> {
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
    // A client suspended (Ctrl-Z) and resumed sends one heartbeat, not every
    // one it missed.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let ending = loop {
        tokio::select! {
            // What the server said comes first: after a stall, a close frame
            // and a due heartbeat are ready together.
            biased;
            _ = interrupted.cancelled() => {
                // Say goodbye; the server answers with a close frame.
                let _ = frames.send(&heartbeat(Status::Close, token.take())).await;
                if let Ok(Some(Ok(notice))) = tokio::time::timeout(LAST_WORDS, frames.next()).await {
                    say(format_args!("said goodbye; the server answered: {}", notice.reason));
                }
                break Ending::Goodbye;
            }
            notice = frames.next() => match notice {
                Some(Ok(notice)) if notice.status == Status::Close => break Ending::from_close(notice),
                Some(Ok(notice)) => say(format_args!("server says {}: {}", notice.status, notice.reason)),
                Some(Err(error)) => break lost(&mut frames, error.to_string()).await,
                None => break Ending::Lost("server closed the connection without a reason".to_owned()),
            },
            _ = ticker.tick() => {
                if let Err(error) = frames.send(&heartbeat(Status::Alive, token.take())).await {
                    break lost(&mut frames, error.to_string()).await;
                }
            }
        }
    };
    match &ending {
        Ending::Goodbye => {}
        Ending::ServerStopped => say("the server shut down"),
        Ending::Closed(notice) => say(format_args!("closed by server: {}", notice.reason)),
        Ending::Lost(why) => say(format_args!("connection lost: {why}")),
    }
    Ok(ending)
}

/// A write or read failed: the server may have closed the connection after
/// saying why, so read what it sent before calling the connection lost.
async fn lost(frames: &mut Frames, error: String) -> Ending {
    match tokio::time::timeout(LAST_WORDS, frames.next()).await {
        Ok(Some(Ok(notice))) if notice.status == Status::Close => Ending::from_close(notice),
        _ => Ending::Lost(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() {
        let mut backoff = Backoff::new();
        let mut step = BACKOFF_MIN;
        for _ in 0..12 {
            let wait = backoff.next(Duration::ZERO);
            assert!(
                wait >= step / 2 && wait <= step,
                "{wait:?} for a step of {step:?}"
            );
            step = (step * 2).min(BACKOFF_MAX);
        }
        assert_eq!(backoff.step, BACKOFF_MAX);
        assert!(backoff.next(Duration::from_secs(60)) >= Duration::from_secs(60));
    }

    #[test]
    fn exit_codes_tell_a_goodbye_from_a_kick_from_a_lost_connection() {
        assert_eq!(Ending::Goodbye.exit_code(), 0);
        assert_eq!(
            Ending::from_close(Notice::close(SHUTDOWN_REASON)).exit_code(),
            0
        );
        assert_eq!(
            Ending::from_close(Notice::close("kicked by operator")).exit_code(),
            4
        );
        assert_eq!(Ending::Lost("reset".into()).exit_code(), 3);
    }
}
