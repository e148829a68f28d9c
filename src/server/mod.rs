//! The server: accepts connections, runs one task per connection, and one
//! registry, on a thread of its own, that owns the client table and
//! publishes the [`Feed`].
//!
//! ```text
//!  listener ─> accept ─(Opened)─────────────┐
//!                │ spawns                   ▼
//!                └─> connection ─(Hello, Ended)─> registry ─> journal
//!                      ▲   counts beats on its     │  tick, decide, publish
//!                      └── link ◄─ notices ────────┤
//!                                                  ▼
//!                                    feed: snapshots, events ◄─ commands
//! ```
//!
//! Nothing outside this folder reaches into it: front ends get a [`Feed`].
//! [`Server::start`] takes an already-bound listener so that tests and the
//! command line alike can bind port 0 and learn the real port.

mod accept;
mod clock;
mod config;
mod connection;
mod failure;
mod gaps;
mod guard;
mod handshake;
mod holdoff;
mod journal;
mod link;
mod pacer;
mod refusals;
mod registry;
mod report;
mod story;
mod tally;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{Config, DEFAULT_CLOSE_RATE, GuardConfig, Limits};
use failure::spawn_watched;
pub use failure::{Crashed, Failure, join_message};
use gaps::GapLog;
pub use gaps::{DEFAULT_MAX_MIB, GapLine, GapRecording};
/// For `hbmon bench detectors`, which replays traces through the same guard.
pub(crate) use guard::Guard;

use crate::feed::{Control, Event, Feed, Link, Snapshot, Subscriber};
use crate::stats::PublishStats;
use crate::tls::{Reload, TlsStats, keep_fresh};
use accept::Accept;
use journal::Journal;
use pacer::Pacer;
use registry::Registry;
use report::Report;
use tally::Tallies;

/// Connections the kernel may queue before they are accepted (it caps this
/// at `net.core.somaxconn`). tokio's `TcpListener::bind` asks for 128, and a
/// fleet reconnecting at once after a restart overflows that: each dropped
/// SYN costs its client a retransmission a second or more later.
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds a listener with room for a burst of connections.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Reports queued from connections to the registry before readers wait: the
/// back-pressure that keeps a flood from growing memory.
const REPORT_QUEUE: usize = 4096;
/// Events a slow front end may fall behind before it is told it lagged.
const EVENT_QUEUE: usize = 16 * 1024;
/// Commands from front ends waiting for the registry.
const COMMAND_QUEUE: usize = 64;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the journal {}: {source}", path.display())]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot record gaps in {}: {source}", path.display())]
    Gaps {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A running server. Dropping it does not stop it; call [`Server::stop`]
/// (or cancel [`Server::stop_token`]) and then [`Server::stopped`].
pub struct Server {
    addr: SocketAddr,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    events: Subscriber,
    control: Control,
    stop: CancellationToken,
    failure: Failure,
    publish_stats: Arc<PublishStats>,
    /// What TLS refused, when the heartbeat port serves it.
    tls_stats: Option<Arc<TlsStats>>,
    task: JoinHandle<Result<(), Crashed>>,
}

impl Server {
    /// Starts serving on `listener`. Must be called within a tokio runtime.
    pub fn start(listener: TcpListener, config: Config) -> Result<Server, StartError> {
        let addr = listener.local_addr()?;
        let (reports_tx, reports_rx) = mpsc::channel(REPORT_QUEUE);
        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        // The registry holds the only sender, and the server only a weak
        // one to subscribe with: no receiver is kept that nobody reads, which
        // would hold the whole ring of events in memory.
        let (events_tx, _) = broadcast::channel(EVENT_QUEUE);
        let events = Subscriber::new(&events_tx);
        let stop = CancellationToken::new();

        let (journal, gaps) = open_files(&config)?;
        let tallies = Tallies::new();
        let publish_stats = Arc::new(PublishStats::default());
        let (registry, snapshots) = Registry::new(
            addr,
            &config,
            (journal, gaps),
            Arc::clone(&tallies),
            events_tx,
            Arc::clone(&publish_stats),
        );
        let failure = Failure::new(stop.clone());
        let pacer =
            (!config.batch_window.is_zero()).then(|| Arc::new(Pacer::new(config.batch_window)));
        if let Some(pacer) = &pacer {
            let (pacer, stop) = (Arc::clone(pacer), stop.clone());
            spawn_watched(
                &failure,
                "pacing reads",
                async move { pacer.run(stop).await },
            );
        }
        spawn_reloader(&config, &failure, &stop, &reports_tx);
        let accept = Accept::new(listener, &config, reports_tx, pacer, tallies);
        spawn_watched(&failure, "accepting connections", accept.run(stop.clone()));
        // The registry has a thread (and a runtime) of its own: its tick and
        // its publishes walk the whole table, which takes time in proportion
        // to the fleet, and heartbeats must not wait for them. Connections talk to it only
        // through the report channel and their links, which are made for
        // crossing threads.
        //
        // It starts when this runtime next gets to its tasks, as a spawned
        // task would: so whoever started the server subscribes first and
        // sees its `started` event.
        let run = registry.run(reports_rx, commands_rx, failure.clone());
        let failed = failure.clone();
        let task = tokio::spawn(async move {
            let on_its_own = tokio::task::spawn_blocking(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(run),
                    Err(error) => {
                        failed.raise(format!("cannot start the registry's runtime: {error}"));
                        failed.crashed().map_or(Ok(()), Err)
                    }
                }
            });
            joined(on_its_own.await)
        });
        Ok(Server {
            addr,
            snapshots,
            events,
            control: Control::new(commands_tx),
            stop,
            failure,
            publish_stats,
            tls_stats: config.tls.as_ref().map(|tls| tls.stats()),
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The latest published snapshot, and every one after it.
    pub fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// Every event from now on. The stream ends when the server has stopped.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Subscribes readers to the event stream, each when it asks.
    pub fn subscriber(&self) -> Subscriber {
        self.events.clone()
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// What publishing costs the registry, for `/metrics` and the bench:
    /// figures about the server's work, kept out of the feed.
    pub fn publish_stats(&self) -> Arc<PublishStats> {
        Arc::clone(&self.publish_stats)
    }

    /// What TLS has refused and reloaded, for `/metrics`, when the
    /// heartbeat port serves TLS.
    pub fn tls_stats(&self) -> Option<Arc<TlsStats>> {
        self.tls_stats.clone()
    }

    /// Everything a front end needs, to take to a thread of its own.
    pub fn feed(&self) -> Feed {
        Feed {
            snapshots: self.snapshots(),
            events: self.subscribe(),
            subscriber: self.subscriber(),
            control: self.control(),
            link: Link::in_process(),
            stop: self.stop_token(),
        }
    }

    /// Cancelling this token stops the server: it stops accepting, sends
    /// every client a close frame and closes it.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Stops the server for an internal error, from any thread: see
    /// [`Failure`].
    pub fn failure(&self) -> Failure {
        self.failure.clone()
    }

    /// Waits until the server has stopped and every connection is closed;
    /// a [`Crashed`] if it stopped for a failure.
    pub async fn stopped(self) -> Result<(), Crashed> {
        joined(self.task.await)
    }
}

/// The files the registry writes: the journal and the recorded gaps, each
/// if asked for.
fn open_files(config: &Config) -> Result<(Option<Journal>, Option<GapLog>), StartError> {
    let journal = match &config.journal {
        Some(path) => Some(Journal::open(path).map_err(|source| StartError::Journal {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let gaps = match &config.record_gaps {
        Some(recording) => Some(GapLog::open(recording).map_err(|source| StartError::Gaps {
            path: recording.path.clone(),
            source,
        })?),
        None => None,
    };
    Ok((journal, gaps))
}

/// Keeps the certificate files fresh until `stop`, when the server serves
/// TLS, telling the registry how each reload went, for it to report.
fn spawn_reloader(
    config: &Config,
    failure: &Failure,
    stop: &CancellationToken,
    reports: &mpsc::Sender<Report>,
) {
    let Some(tls) = &config.tls else {
        return;
    };
    let reports = reports.clone();
    let told = move |reload| {
        let (cause, reason) = match reload {
            Reload::Loaded => (
                "reloaded",
                "certificate files reloaded: new connections use them".to_owned(),
            ),
            Reload::Failed(why) => (
                "reload_failed",
                format!("certificate files not reloaded, the previous pair stays in force: {why}"),
            ),
        };
        let reports = reports.clone();
        async move {
            let report = Report::Tls {
                cause,
                peer: None,
                reason,
            };
            let _ = reports.send(report).await;
        }
    };
    let reload = keep_fresh(Arc::clone(tls), stop.clone(), told);
    spawn_watched(failure, "reloading the TLS certificate", reload);
}

/// What a task that may have panicked came to.
fn joined(result: Result<Result<(), Crashed>, tokio::task::JoinError>) -> Result<(), Crashed> {
    result.unwrap_or_else(|error| Err(Crashed(failure::join_message(error))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_event_receiver_is_held_that_nobody_reads() {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let server = Server::start(listener, Config::default()).unwrap();
        let receivers = || server.events.receivers();
        assert_eq!(receivers(), 0, "the server itself holds none");
        let feed = server.feed();
        assert_eq!(receivers(), 1);
        drop(feed);
        assert_eq!(receivers(), 0);
        server.stop();
        assert_eq!(server.stopped().await, Ok(()));
    }
}
