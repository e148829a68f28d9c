//! The headless front end (`serve --no-tui`): one line per event on stdout,
//! periodic stats, and commands read from stdin.
//!
//! A sibling of the dashboard: it reads only what the server publishes
//! (events, snapshots) and acts only through [`Control`]. The JSON lines are
//! an interface scripts depend on; their shapes are the DTOs below, kept
//! apart from the server's internal types.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::feed::event::{Event, Format, Pid, Stamped, rfc3339};
use crate::feed::snapshot::{ClientView, Snapshot};
use crate::feed::{Control, Feed};
use crate::protocol::Status;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub format: Format,
    pub stats_every: Duration,
}

/// A line only the headless stream prints (events are printed as they are).
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line {
    Listening {
        addr: SocketAddr,
    },
    Stats {
        clients: usize,
        alive: usize,
        leave: usize,
        frames: u64,
        bad_frames: u64,
        closed: u64,
        journal_lost: u64,
    },
    Snapshot {
        clients: Vec<ClientLine>,
    },
    Kicked {
        peers: Vec<SocketAddr>,
    },
    Error {
        reason: String,
    },
    /// The stream fell behind and this many events were not printed.
    Lagged {
        missed: u64,
    },
}

/// One live client as `list` prints it.
#[derive(Serialize)]
struct ClientLine {
    peer: SocketAddr,
    ip: Option<String>,
    pid: Option<u32>,
    status: Status,
    reported: Option<Status>,
    miss: u32,
    strikes: u32,
    heartbeats: u64,
    connected_at: String,
    last_seen: Option<String>,
}

impl From<&ClientView> for ClientLine {
    fn from(c: &ClientView) -> Self {
        ClientLine {
            peer: c.peer,
            ip: c.ip.as_deref().map(str::to_owned),
            pid: c.pid,
            status: c.status(),
            reported: c.reported,
            miss: c.liveness.miss,
            strikes: c.liveness.strikes,
            heartbeats: c.heartbeats,
            connected_at: rfc3339(c.connected_at),
            last_seen: c.last_seen.map(rfc3339),
        }
    }
}

struct Out {
    format: Format,
    stdout: std::io::Stdout,
}

impl Out {
    fn write(
        &mut self,
        at: SystemTime,
        json: &impl Serialize,
        text: impl FnOnce() -> String,
    ) -> Result<()> {
        let ts = rfc3339(at);
        let mut stdout = self.stdout.lock();
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut stdout, &Stamped { ts, body: json })?;
                writeln!(stdout)?;
            }
            Format::Text => writeln!(stdout, "{ts} {}", text())?,
        }
        stdout.flush().context("writing to stdout")
    }

    fn event(&mut self, event: &Event) -> Result<()> {
        self.write(event.at, &event.kind, || event.kind.to_string())
    }

    fn line(&mut self, line: &Line) -> Result<()> {
        self.write(SystemTime::now(), line, || text(line))
    }
}

fn text(line: &Line) -> String {
    match line {
        Line::Listening { addr } => format!("listening on {addr}"),
        Line::Stats {
            clients,
            alive,
            leave,
            frames,
            bad_frames,
            closed,
            journal_lost,
        } => {
            let mut line = format!(
                "stats: {clients} clients ({alive} alive, {leave} leave), {frames} heartbeats, {bad_frames} bad frames, {closed} closed"
            );
            if *journal_lost > 0 {
                line.push_str(&format!(
                    ", {journal_lost} decisions NOT written to the journal"
                ));
            }
            line
        }
        Line::Snapshot { clients } => {
            let mut s = format!("{} live clients", clients.len());
            for c in clients {
                s.push_str(&format!(
                    "\n  {} {} ip {} {} miss {} strikes {} heartbeats {}",
                    c.peer,
                    c.status,
                    c.ip.as_deref().unwrap_or("?"),
                    Pid(c.pid),
                    c.miss,
                    c.strikes,
                    c.heartbeats
                ));
            }
            s
        }
        Line::Kicked { peers } => match peers.len() {
            0 => "kicked nobody".to_owned(),
            _ => format!(
                "kicked {}",
                peers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        Line::Error { reason } => format!("error: {reason}"),
        Line::Lagged { missed } => format!("output fell behind: {missed} events not shown"),
    }
}

fn stats(snapshot: &Snapshot) -> Line {
    Line::Stats {
        clients: snapshot.clients.len(),
        alive: snapshot.count(Status::Alive),
        leave: snapshot.count(Status::Leave),
        frames: snapshot.counters.frames,
        bad_frames: snapshot.counters.bad_frames,
        closed: snapshot.counters.closed,
        journal_lost: snapshot.counters.journal_lost,
    }
}

/// Runs on the calling thread, with a runtime of its own, until the server
/// stops (after `quit`, or a signal), printing everything that happens. A
/// slow reader of stdout slows this thread, never the server.
pub fn run(feed: Feed, options: Options) -> Result<()> {
    let runtime = super::runtime().context("starting the headless runtime")?;
    runtime.block_on(stream(feed, options))
}

async fn stream(feed: Feed, options: Options) -> Result<()> {
    let Feed {
        snapshots,
        mut events,
        control,
        stop,
    } = feed;
    let addr = snapshots.borrow().listen;
    let mut out = Out {
        format: options.format,
        stdout: std::io::stdout(),
    };
    let mut commands = stdin_lines();
    let mut stats_timer = tokio::time::interval_at(
        tokio::time::Instant::now() + options.stats_every,
        options.stats_every,
    );
    out.line(&Line::Listening { addr })?;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => out.event(&event)?,
                Err(broadcast::error::RecvError::Lagged(missed)) => out.line(&Line::Lagged { missed })?,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = stats_timer.tick() => {
                let snapshot = snapshots.borrow().clone();
                out.line(&stats(&snapshot))?;
            }
            Some(command) = commands.recv() => {
                if let Some(line) = execute(&command, &control, &stop).await {
                    out.line(&line)?;
                }
            }
        }
    }
}

/// Carries out one stdin command; returns the line to print, if any.
async fn execute(command: &str, control: &Control, stop: &CancellationToken) -> Option<Line> {
    let mut words = command.split_whitespace();
    let result = match (words.next(), words.next(), words.next()) {
        (None, _, _) => return None,
        (Some("kick"), Some(peer), None) => match peer.parse::<SocketAddr>() {
            Ok(peer) => control
                .kick(peer, "stdin")
                .await
                .map(|()| Line::Kicked { peers: vec![peer] }),
            Err(_) => {
                return Some(Line::Error {
                    reason: format!("kick: '{peer}' is not an ip:port address"),
                });
            }
        },
        (Some("kick-leave"), None, _) => control
            .kick_leave("stdin")
            .await
            .map(|peers| Line::Kicked { peers }),
        (Some("list"), None, _) => control.list().await.map(|snapshot| Line::Snapshot {
            clients: snapshot.clients.iter().map(ClientLine::from).collect(),
        }),
        (Some("quit"), None, _) => {
            stop.cancel();
            return None;
        }
        _ => {
            return Some(Line::Error {
                reason: format!(
                    "unknown command '{command}' (commands: kick <ip:port>, kick-leave, list, quit)"
                ),
            });
        }
    };
    Some(result.unwrap_or_else(|error| Line::Error {
        reason: error.to_string(),
    }))
}

/// Stdin lines, read on a plain thread: a blocking read then never holds up
/// the runtime's shutdown, and a closed or absent stdin simply ends the
/// stream.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}
