//! Event hooks (`serve --on-event CMD`): a command run for each chosen
//! event, with the event's JSON line on its stdin and `HBMON_EVENT` and
//! `HBMON_PEER` in its environment, so that a shell one-liner can post to
//! a chat webhook or page someone.
//!
//! Another reader of the feed, on a thread and runtime of its own: hooks
//! never block the server. At most `concurrency` run at once; events that
//! find the queue full are dropped and counted, never waited for. A hook
//! that fails or outlives its timeout is reported on stderr (and killed),
//! and the next one runs as usual.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, broadcast, mpsc};

use crate::feed::event::{Event, Stamped, rfc3339};

/// Events waiting for a free hook before new ones are dropped.
const QUEUE: usize = 1024;

/// What runs, for which events.
#[derive(Clone, Debug)]
pub struct Hooks {
    /// Run with `sh -c`.
    pub command: String,
    /// The `event` names that run it.
    pub events: Vec<String>,
    pub concurrency: usize,
    pub timeout: Duration,
}

/// What the hooks did, for the stats line.
#[derive(Debug, Default)]
pub struct HookStats {
    pub run: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

/// Runs `hooks` for the events of `stream` on a thread of its own, until the
/// stream ends and the hooks still queued or running have finished (each
/// within its timeout).
pub fn spawn(
    stream: broadcast::Receiver<Event>,
    hooks: Hooks,
    stats: Arc<HookStats>,
) -> Result<std::thread::JoinHandle<()>> {
    let runtime = super::runtime().context("starting the hooks' runtime")?;
    std::thread::Builder::new()
        .name("hbmon-hooks".into())
        .spawn(move || runtime.block_on(run(stream, hooks, stats)))
        .context("starting the hooks' thread")
}

async fn run(mut stream: broadcast::Receiver<Event>, hooks: Hooks, stats: Arc<HookStats>) {
    let (queue, mut queued) = mpsc::channel::<Event>(QUEUE);
    let hooks = Arc::new(hooks);
    let runner = {
        let (hooks, stats) = (Arc::clone(&hooks), Arc::clone(&stats));
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(hooks.concurrency.max(1)));
            let mut running = tokio::task::JoinSet::new();
            while let Some(event) = queued.recv().await {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                let (hooks, stats) = (Arc::clone(&hooks), Arc::clone(&stats));
                running.spawn(async move {
                    run_one(&hooks, &event, &stats).await;
                    drop(slot);
                });
            }
            while running.join_next().await.is_some() {}
        })
    };
    loop {
        match stream.recv().await {
            Ok(event) => {
                if !hooks.events.iter().any(|e| e == event.kind.name()) {
                    continue;
                }
                if queue.try_send(event).is_err() {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                stats.dropped.fetch_add(missed, Ordering::Relaxed);
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    drop(queue);
    let _ = runner.await;
    let dropped = stats.dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        eprintln!("hbmon: {dropped} events did not run their hook (the hooks fell behind)");
    }
}

/// Runs the hook for one event, and says on stderr if it went wrong.
async fn run_one(hooks: &Hooks, event: &Event, stats: &HookStats) {
    let name = event.kind.name();
    let peer = event.kind.peer().map(|p| p.to_string()).unwrap_or_default();
    let line = Stamped {
        ts: rfc3339(event.at),
        body: &event.kind,
    };
    let outcome = async {
        let mut line = serde_json::to_vec(&line)?;
        line.push(b'\n');
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&hooks.command)
            .env("HBMON_EVENT", name)
            .env("HBMON_PEER", &peer)
            .stdin(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start it")?;
        if let Some(mut stdin) = child.stdin.take() {
            // A hook that does not read its stdin is its own business.
            let _ = stdin.write_all(&line).await;
        }
        match tokio::time::timeout(hooks.timeout, child.wait()).await {
            Ok(status) => match status?.code() {
                Some(0) => Ok(()),
                Some(code) => Err(anyhow::anyhow!("it exited with {code}")),
                None => Err(anyhow::anyhow!("it was killed by a signal")),
            },
            Err(_) => {
                let _ = child.kill().await;
                Err(anyhow::anyhow!(
                    "it ran past the hook timeout ({}) and was killed",
                    humantime::format_duration(hooks.timeout)
                ))
            }
        }
    };
    stats.run.fetch_add(1, Ordering::Relaxed);
    if let Err(error) = outcome.await {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        eprintln!("hbmon: the hook for {name} {peer} failed: {error:#}");
    }
}
