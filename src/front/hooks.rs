//! Event hooks (`serve --on-event CMD`): a command run for each chosen
//! event, with the event's JSON line on its stdin and `HBMON_EVENT` and
//! `HBMON_PEER` in its environment, so that a shell one-liner can post to
//! a chat webhook or page someone.
//!
//! Another reader of the feed, on a thread and runtime of its own: hooks
//! never block the server. A client in a maintenance window runs none
//! (its disconnection is planned). At most `concurrency` run at once; events that
//! find the queue full are dropped and counted, never waited for. A hook
//! that fails or outlives its timeout is reported on stderr, and the next
//! one runs as usual.
//!
//! Each hook runs in a process group of its own, so that ending it ends
//! everything it started: a shell's children would otherwise outlive it,
//! adopted by init. When the server stops, hooks still queued are dropped
//! and counted (unless a slot is free at once) and running ones get
//! [`STOP_GRACE`], so a backlog of hung hooks can never hold up a stop past
//! what a service manager allows.

mod group;
mod planned;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::feed::event::{Event, Stamped, rfc3339};
use group::Group;
use planned::Planned;

/// Events waiting for a free hook before new ones are dropped.
const QUEUE: usize = 1024;

/// How long hooks still running when the server stops may go on before
/// their groups are killed: short, because a service manager kills the
/// whole service soon after its stop signal (systemd's `TimeoutStopSec`
/// in assets/hbmon.service), and the server needs its own share of that
/// to close clients.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

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
    /// Hooks that exited non-zero, could not start, or were killed (at
    /// their timeout, or at the stop).
    pub failed: AtomicU64,
    /// Events that never ran their hook: the queue was full, or the server
    /// stopped while they waited.
    pub dropped: AtomicU64,
}

/// What became of the hooks at the stop.
#[derive(Debug, Default)]
struct AtStop {
    /// Queued, never started.
    dropped: u64,
    /// Running at the stop and still running [`STOP_GRACE`] later.
    killed: u64,
}

/// How a hook went wrong.
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error("cannot start it: {0}")]
    Start(std::io::Error),
    #[error("cannot wait for it: {0}")]
    Wait(std::io::Error),
    #[error("it exited with {0}")]
    Exit(i32),
    #[error("it was killed by a signal")]
    Signal,
    #[error("it ran past the hook timeout ({}) and was killed", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error(
        "it was still running {} after the server stopped and was killed",
        humantime::format_duration(STOP_GRACE)
    )]
    Stopped,
}

/// Runs `hooks` for the events of `stream` on a thread of its own, until the
/// stream ends (the server stopped); then drops the hooks still queued and
/// gives those running [`STOP_GRACE`] before killing them.
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

async fn run(stream: broadcast::Receiver<Event>, hooks: Hooks, stats: Arc<HookStats>) {
    let (queue, queued) = mpsc::channel::<Event>(QUEUE);
    let stopping = CancellationToken::new();
    let hooks = Arc::new(hooks);
    let runner = tokio::spawn(dispatch(
        queued,
        Arc::clone(&hooks),
        Arc::clone(&stats),
        stopping.clone(),
    ));
    forward(stream, &hooks, &queue, &stats).await;
    stopping.cancel();
    let at_stop = runner.await.unwrap_or_default();
    let behind = (stats.dropped.load(Ordering::Relaxed)).saturating_sub(at_stop.dropped);
    if behind > 0 {
        eprintln!("hbmon: {behind} events did not run their hook (the hooks fell behind)");
    }
    if at_stop.dropped > 0 || at_stop.killed > 0 {
        eprintln!(
            "hbmon: at the stop, {} queued hooks were dropped and {} running hooks were killed (still running {} after it)",
            at_stop.dropped,
            at_stop.killed,
            humantime::format_duration(STOP_GRACE)
        );
    }
}

/// Queues the chosen events of `stream` until it ends, but those about a
/// client in a maintenance window; what finds the queue full is dropped
/// and counted.
async fn forward(
    mut stream: broadcast::Receiver<Event>,
    hooks: &Hooks,
    queue: &mpsc::Sender<Event>,
    stats: &HookStats,
) {
    let mut planned = Planned::default();
    loop {
        match stream.recv().await {
            Ok(event) => {
                let chosen = hooks.events.iter().any(|e| e == event.kind.name());
                if planned.quiet(&event.kind, event.at) || !chosen {
                    continue;
                }
                if queue.try_send(event).is_err() {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                stats.dropped.fetch_add(missed, Ordering::Relaxed);
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Starts a hook for each queued event as a slot frees up, until
/// `stopping`. Then what is still queued starts only if a slot is free at
/// once, and is dropped otherwise; the running hooks end within
/// [`STOP_GRACE`].
async fn dispatch(
    mut queued: mpsc::Receiver<Event>,
    hooks: Arc<Hooks>,
    stats: Arc<HookStats>,
    stopping: CancellationToken,
) -> AtStop {
    let slots = Arc::new(Semaphore::new(hooks.concurrency.max(1)));
    let mut running = JoinSet::new();
    let start = |running: &mut JoinSet<bool>, slot: OwnedSemaphorePermit, event: Event| {
        let (hooks, stats, stopping) = (Arc::clone(&hooks), Arc::clone(&stats), stopping.clone());
        running.spawn(async move {
            let killed_at_stop = run_one(&hooks, &event, &stats, &stopping).await;
            drop(slot);
            killed_at_stop
        });
    };
    loop {
        let slot = tokio::select! {
            biased;
            () = stopping.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => slot,
        };
        let event = tokio::select! {
            biased;
            () = stopping.cancelled() => break,
            event = queued.recv() => event,
        };
        let (Ok(slot), Some(event)) = (slot, event) else {
            break;
        };
        start(&mut running, slot, event);
        // Finished hooks are collected as we go, not held until the stop.
        while running.try_join_next().is_some() {}
    }
    let mut at_stop = AtStop::default();
    queued.close();
    while let Ok(event) = queued.try_recv() {
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => start(&mut running, slot, event),
            Err(_) => at_stop.dropped += 1,
        }
    }
    stats.dropped.fetch_add(at_stop.dropped, Ordering::Relaxed);
    while let Some(killed_at_stop) = running.join_next().await {
        if matches!(killed_at_stop, Ok(true)) {
            at_stop.killed += 1;
        }
    }
    at_stop
}

/// Runs the hook for one event, and says on stderr if it went wrong.
/// Returns whether it was killed because the server stopped.
async fn run_one(
    hooks: &Hooks,
    event: &Event,
    stats: &HookStats,
    stopping: &CancellationToken,
) -> bool {
    let name = event.kind.name();
    let peer = event.kind.peer().map(|p| p.to_string()).unwrap_or_default();
    let mut line = serde_json::to_vec(&Stamped {
        ts: rfc3339(event.at),
        body: &event.kind,
    })
    .unwrap_or_default();
    line.push(b'\n');
    let spawned = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&hooks.command)
        .env("HBMON_EVENT", name)
        .env("HBMON_PEER", &peer)
        .stdin(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn();
    let outcome = match spawned {
        Ok(child) => supervise(child, &line, hooks.timeout, stopping).await,
        Err(error) => Err(Failed::Start(error)),
    };
    // Counted once it has ended, so that a reader of the count finds what
    // the hook did.
    stats.run.fetch_add(1, Ordering::Relaxed);
    let Err(failed) = outcome else {
        return false;
    };
    stats.failed.fetch_add(1, Ordering::Relaxed);
    eprintln!("hbmon: the hook for {name} {peer} failed: {failed}");
    matches!(failed, Failed::Stopped)
}

/// Feeds `line` to the hook and waits for it; past `timeout`, or
/// [`STOP_GRACE`] after `stopping`, kills its whole group.
async fn supervise(
    mut child: tokio::process::Child,
    line: &[u8],
    timeout: Duration,
    stopping: &CancellationToken,
) -> Result<(), Failed> {
    let group = Group::of(&child);
    let stdin = child.stdin.take();
    let finished = async {
        if let Some(mut stdin) = stdin {
            // A hook that does not read its stdin is its own business.
            let _ = stdin.write_all(line).await;
            // Dropped here: the hook reads to the end of its stdin.
        }
        child.wait().await
    };
    let grace_after_stop = async {
        stopping.cancelled().await;
        tokio::time::sleep(STOP_GRACE).await;
    };
    let failed = tokio::select! {
        status = finished => {
            return match status.map_err(Failed::Wait)?.code() {
                Some(0) => Ok(()),
                Some(code) => Err(Failed::Exit(code)),
                None => Err(Failed::Signal),
            };
        }
        () = tokio::time::sleep(timeout) => Failed::Timeout(timeout),
        () = grace_after_stop => Failed::Stopped,
    };
    group.kill(&mut child).await;
    Err(failed)
}
