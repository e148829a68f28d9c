//! The headless front end (`serve --no-tui`): one line per event on stdout,
//! periodic stats, and commands read from stdin.
//!
//! A sibling of the dashboard: it reads only what the server publishes
//! (events, snapshots) and acts only through [`Control`]. The JSON lines are
//! an interface scripts depend on; their shapes ([`lines`]) are kept apart
//! from the server's internal types. Stdin ([`stdin`]) and stdout
//! ([`stdout`]) each have a thread of their own, so neither a hostile input
//! nor a reader that stopped reading can stall the stream or a shutdown.

mod commands;
mod lines;
mod stdin;
mod stdout;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::feed::client_line::ClientLine;
use crate::feed::control::Target;
use crate::feed::event::{Event, Format, Stamped, rfc3339};
use crate::feed::{Control, Feed};
use crate::front::hooks::HookStats;
use crate::printable;
use commands::Request;
use lines::Line;
use stdin::Input;
use stdout::Stdout;

#[derive(Clone, Debug)]
pub struct Options {
    pub format: Format,
    pub stats_every: Duration,
    /// The hooks' figures, when `--on-event` runs hooks.
    pub hooks: Option<Arc<HookStats>>,
}

/// Formats lines and hands them to stdout: the one place the headless
/// stream's text meets a terminal, so the one place it is made
/// [`printable`].
struct Out {
    format: Format,
    stdout: Stdout,
}

impl Out {
    /// Writes `json` as a JSON line, or the lines `text` gives, the first
    /// stamped with the time, each with its controls escaped (a peer's
    /// newline stays inside its line).
    async fn write(
        &mut self,
        at: SystemTime,
        json: &impl Serialize,
        text: impl FnOnce() -> Vec<String>,
    ) -> Result<()> {
        let ts = rfc3339(at);
        let line = match self.format {
            Format::Json => {
                let line = serde_json::to_string(&Stamped { ts, body: json })?;
                printable::json(&line).into_owned()
            }
            Format::Text => {
                let lines: Vec<_> = text()
                    .iter()
                    .map(|l| printable::text(l).into_owned())
                    .collect();
                format!("{ts} {}", lines.join("\n"))
            }
        };
        self.stdout.write(line).await
    }

    async fn event(&mut self, event: &Event) -> Result<()> {
        self.write(event.at, &event.kind, || vec![event.kind.to_string()])
            .await
    }

    async fn line(&mut self, line: &Line) -> Result<()> {
        self.write(SystemTime::now(), line, || lines::text(line))
            .await
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
        ..
    } = feed;
    let (addr, admin) = {
        let first = snapshots.borrow();
        (first.listen, first.admin.clone())
    };
    let mut out = Out {
        format: options.format,
        stdout: Stdout::start(&stop)?,
    };
    let mut commands = stdin::spawn();
    let mut stats_timer = tokio::time::interval_at(
        tokio::time::Instant::now() + options.stats_every,
        options.stats_every,
    );
    out.line(&Line::Listening { addr, admin }).await?;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => out.event(&event).await?,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    out.line(&Line::Lagged { missed }).await?;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = stats_timer.tick() => {
                let snapshot = snapshots.borrow().clone();
                out.line(&lines::stats(&snapshot, options.hooks.as_deref())).await?;
            }
            Some(input) = commands.recv() => {
                if let Some(line) = execute(input, &control, &stop).await {
                    out.line(&line).await?;
                }
            }
        }
    }
    let lost = out.stdout.finish().await?;
    if lost > 0 {
        eprintln!(
            "hbmon: stdout was not read for {}s after the stop; {lost} lines were not written (the journal, with --journal, has every decision)",
            stdout::GRACE.as_secs()
        );
    }
    Ok(())
}

/// Carries out one line of stdin; returns the line to print, if any.
async fn execute(input: Input, control: &Control, stop: &CancellationToken) -> Option<Line> {
    let text = match input {
        Input::Line(text) => text,
        Input::Bad(reason) => return Some(Line::Error { reason }),
    };
    let request = match commands::parse(&text) {
        Ok(Some(request)) => request,
        Ok(None) => return None,
        Err(reason) => return Some(Line::Error { reason }),
    };
    let result = match request {
        Request::Kick { peer, hold } => control
            .kick(peer, "stdin", hold)
            .await
            .map(|()| Line::Kicked { peers: vec![peer] }),
        Request::KickLeave { hold } => control
            .kick_leave("stdin", hold)
            .await
            .map(|peers| Line::Kicked { peers }),
        Request::Maintenance { peer, length } => {
            return Some(maintain(control, peer, length).await);
        }
        Request::List => control.list().await.map(|snapshot| Line::Snapshot {
            clients: snapshot.clients.iter().map(ClientLine::from).collect(),
        }),
        Request::Show { peer } => control.show(peer).await.map(Line::Details),
        Request::Quit => {
            stop.cancel();
            return None;
        }
    };
    Some(result.unwrap_or_else(|error| Line::Error {
        reason: error.to_string(),
    }))
}

/// Carries out `maintenance PEER DURATION|off`: an error when it covers
/// no client.
async fn maintain(control: &Control, peer: SocketAddr, length: Option<Duration>) -> Line {
    let answer = control.maintenance(Target::Peers(vec![peer]), length, "stdin");
    let reason = match answer.await {
        Ok(answer) if !answer.clients.is_empty() => {
            return Line::Maintenance {
                clients: answer.clients,
                until: answer.until.map(rfc3339),
            };
        }
        Ok(_) if length.is_some() => format!("no live client at {peer} that said hello"),
        Ok(_) => format!("{peer} is not in maintenance"),
        Err(error) => error.to_string(),
    };
    Line::Error { reason }
}
