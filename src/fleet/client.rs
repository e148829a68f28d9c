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
//!
//! Given several servers ([`Builder::server`]) it fails over: when the one
//! it is on shuts down, is lost, refuses it as full or cannot be reached,
//! it goes on to the next, as [`crate::fleet::failover`] chooses, and says
//! where it went and why ([`Builder::moves`]).
//!
//! The same client drops into any program on a tokio runtime:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use hbmon::fleet::client::{Builder, Ending};
//! # let listener = hbmon::server::bind("127.0.0.1:0".parse()?)?;
//! # let server = hbmon::server::Server::start(listener, Default::default())?;
//! # let address = server.local_addr().to_string();
//!
//! let heartbeats = Builder::new(address)
//!     .interval(Duration::from_millis(100))
//!     .reconnect(true)
//!     .spawn();
//! // ... the program does its work, heartbeating all along ...
//! # tokio::time::sleep(Duration::from_millis(300)).await;
//! assert_eq!(heartbeats.stop().await?, Ending::Goodbye);
//! # let mut seen = server.snapshots();
//! # let closed = seen.wait_for(|s| !s.history.is_empty()).await?.history[0].clone();
//! # assert_eq!(closed.reason, "client said goodbye");
//! # assert!(closed.heartbeats >= 2, "{closed:?}");
//! # Ok(())
//! # }
//! ```

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::fleet::failover::{Backoff, Departure, Rotation};
use crate::protocol::{
    ClientCodec, DEFAULT_MAX_FRAME, Heartbeat, Notice, SHUTDOWN_REASON, Status, Token,
};
use crate::tls::{ClientStream, ClientTls};

/// What the client says as it goes (connected, notices, reconnecting...).
pub type Report = Arc<dyn Fn(std::fmt::Arguments<'_>) + Send + Sync>;

/// Sets up a client: where, how often, as whom.
#[derive(Clone)]
pub struct Builder {
    /// In order of preference; never empty.
    servers: Vec<String>,
    interval: Duration,
    reconnect: bool,
    pid: u32,
    /// The address to report; the local address of the connection if unset.
    ip: Option<String>,
    /// Sent in the first heartbeat of each connection, when set.
    token: Option<Token>,
    /// Speak TLS, when set.
    tls: Option<ClientTls>,
    report: Report,
    /// Where it says which server it is on, and why it left one.
    moves: Report,
}

impl Builder {
    /// A client of the server at `server` (`host:port`): a heartbeat every
    /// second as this process's pid, no reconnecting, saying nothing.
    pub fn new(server: impl Into<String>) -> Self {
        Builder {
            servers: vec![server.into()],
            interval: Duration::from_secs(1),
            reconnect: false,
            pid: std::process::id(),
            ip: None,
            token: None,
            tls: None,
            report: Arc::new(|_| {}),
            moves: Arc::new(|_| {}),
        }
    }

    /// Another server to fail over to, after those already given: when the
    /// one in use shuts down, is lost, refuses as full or cannot be
    /// reached, the client goes on to the next.
    pub fn server(mut self, server: impl Into<String>) -> Self {
        self.servers.push(server.into());
        self
    }

    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Connect again after a close or a lost connection, instead of ending.
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.reconnect = reconnect;
        self
    }

    pub fn pid(mut self, pid: u32) -> Self {
        self.pid = pid;
        self
    }

    /// The address to report (the connection's local address by default).
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = Some(ip.into());
        self
    }

    /// The shared secret, sent in each connection's first heartbeat.
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Speak TLS to the server (see [`ClientTls::load`] for the CA, the
    /// client's own certificate and the server's name).
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Where the client's running commentary goes (nowhere by default).
    pub fn report(mut self, report: Report) -> Self {
        self.report = report;
        self
    }

    /// Where the client says which server it is on, and why it left one
    /// for the next (nowhere by default).
    pub fn moves(mut self, moves: Report) -> Self {
        self.moves = moves;
        self
    }

    /// Starts heartbeating on the current tokio runtime.
    pub fn spawn(self) -> Heartbeats {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(self, stop.clone()));
        Heartbeats { stop, task }
    }
}

/// A running client.
pub struct Heartbeats {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<Ending>>,
}

impl Heartbeats {
    /// Says goodbye (`status: close`) and waits for the server's answer.
    pub async fn stop(self) -> Result<Ending> {
        self.stop.cancel();
        self.ended().await
    }

    /// Cancelling this token says goodbye, as [`Heartbeats::stop`] does.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Waits until the client ends on its own (or is stopped).
    pub async fn ended(self) -> Result<Ending> {
        self.task.await.context("the client's task failed")?
    }
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

/// A connection that lasted this long was healthy: the back-off starts over.
const HEALTHY: Duration = Duration::from_secs(30);
/// How long a goodbye waits for the server's answer, and a failed write for
/// the close frame that may explain it.
const LAST_WORDS: Duration = Duration::from_secs(1);
/// How long a server may take to accept before the client moves on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `hbmon client`'s commentary: timestamped lines on stdout. A reader that
/// went away is no reason to stop heartbeating (`println!` would panic on
/// the broken pipe).
pub fn to_stdout() -> Report {
    timestamped(std::io::stdout)
}

/// The same on stderr: where `hbmon client` says which server it is on.
pub fn to_stderr() -> Report {
    timestamped(std::io::stderr)
}

fn timestamped<W: Write + 'static>(out: fn() -> W) -> Report {
    Arc::new(move |message| {
        // A message may quote the server's close reason.
        let _ = writeln!(
            out(),
            "{} {}",
            humantime::format_rfc3339_millis(SystemTime::now()),
            crate::printable::text(&message.to_string())
        );
    })
}

async fn run(options: Builder, interrupted: CancellationToken) -> Result<Ending> {
    let mut servers = Rotation::new(options.servers.clone(), 0, options.reconnect);
    let mut backoff = Backoff::new();
    loop {
        let server = servers.current().clone();
        let Some(connected) = connect(&server, options.tls.as_ref(), &interrupted).await else {
            return Ok(Ending::Goodbye);
        };
        let (ending, departure, why) = match connected {
            Ok(stream) => {
                (options.moves)(format_args!(
                    "on {server} (server {} of {})",
                    servers.position() + 1,
                    servers.len()
                ));
                let started = Instant::now();
                let ending = session(stream, &server, &options, &interrupted).await?;
                if started.elapsed() >= HEALTHY {
                    backoff = Backoff::new();
                }
                let Some(departure) = departure(&ending, options.reconnect) else {
                    return Ok(ending);
                };
                let why = left_because(&ending);
                (Ok(ending), departure, why)
            }
            Err(error) => {
                let why = format!("cannot connect: {error}");
                (Err(error), Departure::Gone, why)
            }
        };
        let Some(wait) = servers.leave(departure, &mut backoff, Instant::now()) else {
            if servers.len() > 1 {
                (options.moves)(format_args!(
                    "left {server} ({why}); no server left to try (--reconnect goes round again)"
                ));
            }
            return ending.or_else(|error| bail!("cannot connect to {server}: {error}"));
        };
        let wait_text = match wait {
            Duration::ZERO => "now".to_owned(),
            wait => format!("in {}", humantime::format_duration(round_ms(wait))),
        };
        (options.moves)(format_args!(
            "left {server} ({why}); trying {} {wait_text}",
            servers.current()
        ));
        (options.report)(format_args!("reconnecting {wait_text}"));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = interrupted.cancelled() => return Ok(Ending::Goodbye),
        }
    }
}

/// Connects to `server`, or says why not; `None` when interrupted first.
async fn connect(
    server: &str,
    tls: Option<&ClientTls>,
    interrupted: &CancellationToken,
) -> Option<std::result::Result<ClientStream, String>> {
    let connected = tokio::select! {
        connected = tokio::time::timeout(CONNECT_TIMEOUT, crate::tls::dial(server, tls)) => connected,
        _ = interrupted.cancelled() => return None,
    };
    Some(match connected {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(CONNECT_TIMEOUT)
        )),
    })
}

/// Where a session's end sends the client: `None` when it ends there (a
/// goodbye; a close for a cause, unless it reconnects).
fn departure(ending: &Ending, reconnect: bool) -> Option<Departure> {
    match ending {
        Ending::Goodbye => None,
        Ending::ServerStopped | Ending::Lost(_) => Some(Departure::Gone),
        Ending::Closed(notice) => match Departure::after_close(notice) {
            Departure::HeldOff(_) if !reconnect => None,
            departure => Some(departure),
        },
    }
}

/// Why the client left a server, for the line that says where it goes.
fn left_because(ending: &Ending) -> String {
    match ending {
        Ending::Goodbye => "said goodbye".to_owned(),
        Ending::ServerStopped => "it shut down".to_owned(),
        Ending::Lost(why) => format!("connection lost: {why}"),
        Ending::Closed(notice) => match notice.retry_after {
            Some(secs) => format!("{}; asked to wait {secs}s", notice.reason),
            None => notice.reason.clone(),
        },
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

type Frames = Framed<ClientStream, ClientCodec>;

async fn session(
    stream: ClientStream,
    server: &str,
    options: &Builder,
    interrupted: &CancellationToken,
) -> Result<Ending> {
    let say = &options.report;
    let local = stream
        .tcp()
        .local_addr()
        .context("reading the local address")?;
    let heartbeat = |status, token| Heartbeat {
        ip: options.ip.clone().unwrap_or_else(|| local.ip().to_string()),
        status,
        pid: options.pid,
        token,
    };
    // The token goes in the first heartbeat only.
    let mut token = options.token.clone();
    say(format_args!(
        "connected to {server}{} from {local} (pid {}), heartbeat every {}",
        if stream.is_tls() { " over TLS" } else { "" },
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
        Ending::ServerStopped => say(format_args!("the server shut down")),
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
