//! The registry in process, with tokio's clock paused: reports are fed
//! straight in, heartbeats counted on links as a connection would, and every
//! decision is checked at the exact instant it must happen.

mod closes;
mod crash;
mod fleet;
mod identity;
mod liveness;
mod maintenance;
mod overflow;
mod snapshots;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Registry;
use crate::feed::control::{Control, Kicked};
use crate::feed::event::{Event, EventKind};
use crate::feed::snapshot::Snapshot;
use crate::liveness::Rules;
use crate::protocol::{Notice, Status};
use crate::server::config::{Config, Limits};
use crate::server::failure::{Crashed, Failure};
use crate::server::journal::Journal;
use crate::server::link::Link;
use crate::server::report::{End, Report};
use crate::server::tally::Tallies;
use crate::stats::{PublishStats, PublishTotals};

const TICK: Duration = Duration::from_millis(100);
/// Far more than reading a CPU clock can add to a publish's CPU time (about
/// a microsecond), and far less than the thread's whole CPU time.
const CLOCK_READ_NS: u64 = 50_000;

/// Tick 100 ms, a strike every 2 silent ticks, `leave` after 3 strikes (so
/// 600 ms of silence), back to `alive` after 3 heard ticks, closed 1 s after
/// `leave`; hello and frame timeouts of 1 s.
fn config() -> Config {
    Config {
        tick: TICK,
        rules: Rules {
            threshold: 2,
            cursor: 3,
            recover: 3,
            leave_timeout: Duration::from_secs(1),
        },
        hello_timeout: Duration::from_secs(1),
        frame_timeout: Duration::from_secs(1),
        limits: Limits {
            max_clients: 2,
            ..Limits::default()
        },
        ..Config::default()
    }
}

struct Harness {
    started: Instant,
    tallies: Arc<Tallies>,
    publish_stats: Arc<PublishStats>,
    reports: mpsc::Sender<Report>,
    control: Control,
    events: broadcast::Receiver<Event>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), Crashed>>,
}

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Harness {
    fn start(config: Config) -> Harness {
        Harness::journaled(config, None)
    }

    /// A registry that writes its decisions to `journal`.
    fn journaled(config: Config, journal: Option<Journal>) -> Harness {
        let (events_tx, events) = broadcast::channel(1024);
        let tallies = Tallies::new();
        let publish_stats = Arc::new(PublishStats::default());
        let (registry, snapshots) = Registry::new(
            peer(14000),
            &config,
            (journal, None),
            Arc::clone(&tallies),
            events_tx,
            Arc::clone(&publish_stats),
        );
        let (reports, reports_rx) = mpsc::channel(64);
        let (commands, commands_rx) = mpsc::channel(8);
        let stop = CancellationToken::new();
        let failure = Failure::new(stop.clone());
        let task = tokio::spawn(registry.run(reports_rx, commands_rx, failure));
        Harness {
            started: Instant::now(),
            tallies,
            publish_stats,
            reports,
            control: Control::new(commands),
            events,
            snapshots,
            stop,
            task,
        }
    }

    /// A connection on `port` as the accept loop reports it.
    async fn open(&self, id: u64, port: u16) -> Arc<Link> {
        let link = Arc::new(Link::new(self.tallies.take()));
        let opened = Report::Opened {
            id,
            peer: peer(port),
            link: Arc::clone(&link),
            accepted: tokio::time::Instant::now(),
            identity: None,
        };
        self.reports.send(opened).await.unwrap();
        link
    }

    /// A heartbeat as a connection reports it: counted on the link, and the
    /// identity reported the first time.
    async fn beat(&self, id: u64, link: &Link, pid: u32) {
        let first = link.tally().read().0 == 0;
        link.tally().record(1, SystemTime::now());
        if first {
            let hello = Report::Hello {
                id,
                ip: "10.0.0.7".into(),
                pid,
                status: Status::Alive,
                transport: Default::default(),
            };
            self.reports.send(hello).await.unwrap();
        }
    }

    async fn end(&self, id: u64, end: End) {
        self.reports.send(Report::Ended { id, end }).await.unwrap();
    }

    /// The next event (after the server's own `started`), and when (since
    /// the start) it was made.
    async fn next(&mut self) -> (Duration, EventKind) {
        loop {
            let event = self.events.recv().await.unwrap();
            if !matches!(*event.kind, EventKind::Started { .. }) {
                return (self.started.elapsed(), Arc::unwrap_or_clone(event.kind));
            }
        }
    }

    /// Waits for the event `want` describes.
    async fn until(&mut self, want: impl Fn(&EventKind) -> bool) -> Duration {
        loop {
            let (at, kind) = self.next().await;
            if want(&kind) {
                return at;
            }
        }
    }

    /// The next event that is not `connected`.
    async fn decision(&mut self) -> (Duration, EventKind) {
        loop {
            let (at, kind) = self.next().await;
            if !matches!(kind, EventKind::Connected { .. }) {
                return (at, kind);
            }
        }
    }

    /// Stops the registry; the events it made since the last one read.
    async fn stopped(self) -> Vec<EventKind> {
        let (ended, rest) = self.ended().await;
        assert_eq!(ended, Ok(()));
        rest
    }

    /// Waits for the end of the run (stopping it, if nothing else has):
    /// how it ended, and the events since the last one read.
    async fn ended(self) -> (Result<(), Crashed>, Vec<EventKind>) {
        self.stop.cancel();
        drop(self.reports);
        let ended = self.task.await.unwrap();
        let mut events = self.events;
        let mut rest = Vec::new();
        while let Ok(event) = events.try_recv() {
            rest.push(Arc::unwrap_or_clone(event.kind));
        }
        (ended, rest)
    }
}

fn status(from: Status, to: Status, miss: u32, strikes: u32) -> impl Fn(&EventKind) -> bool {
    move |kind| {
        matches!(kind, EventKind::Status { from: f, to: t, miss: m, strikes: s, .. }
            if (*f, *t, *m, *s) == (from, to, miss, strikes))
    }
}
