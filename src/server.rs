//! Starting and stopping the server: the accept loop, and the handle front
//! ends use to watch it and command it.
//!
//! [`Server::start`] takes an already-bound listener so that tests and the
//! command line alike can bind port 0 and learn the real port.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::connection::{self, Connection};
use crate::event::Event;
use crate::journal::Journal;
use crate::link::Link;
use crate::liveness::Rules;
use crate::pacer::{self, Pacer};
use crate::protocol::{DEFAULT_MAX_FRAME, Token};
use crate::registry::{Command, CommandError, End, Registry, Report};
use crate::snapshot::{Settings, Snapshot};

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

#[derive(Clone, Debug)]
pub struct Config {
    pub tick: Duration,
    pub rules: Rules,
    pub max_clients: usize,
    /// Most connections from one source address; 0 for no limit.
    pub max_per_ip: usize,
    pub max_frame: usize,
    /// Closed clients remembered.
    pub history: usize,
    /// The batching window (see [`crate::pacer`]); zero turns it off.
    pub batch_window: Duration,
    /// A client that sends no valid heartbeat this long after connecting
    /// is closed.
    pub hello_timeout: Duration,
    /// A client that leaves part of a frame unfinished this long is closed.
    pub frame_timeout: Duration,
    /// The shared secret every connection's first heartbeat must carry.
    pub token: Option<Token>,
    /// Where to append every decision, if anywhere.
    pub journal: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tick: Duration::from_secs(1),
            rules: Rules::default(),
            max_clients: 10_000,
            max_per_ip: 0,
            max_frame: DEFAULT_MAX_FRAME,
            history: 1000,
            batch_window: pacer::DEFAULT_WINDOW,
            hello_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(10),
            token: None,
            journal: None,
        }
    }
}

/// A running server. Dropping it does not stop it; call [`Server::stop`]
/// (or cancel [`Server::stop_token`]) and then [`Server::stopped`].
pub struct Server {
    addr: SocketAddr,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    events: broadcast::Receiver<Event>,
    control: Control,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts serving on `listener`. Must be called within a tokio runtime.
    pub fn start(listener: TcpListener, config: Config) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let (reports_tx, reports_rx) = mpsc::channel(REPORT_QUEUE);
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (events_tx, events_rx) = broadcast::channel(EVENT_QUEUE);
        let settings = Settings {
            tick: config.tick,
            rules: config.rules,
        };
        let first = Arc::new(Snapshot::empty(addr, settings));
        let (snapshots_tx, snapshots_rx) = watch::channel(Arc::clone(&first));
        let stop = CancellationToken::new();

        let journal = match &config.journal {
            Some(path) => Some(Journal::open(path).map_err(|error| {
                std::io::Error::new(
                    error.kind(),
                    format!("cannot open the journal {}: {error}", path.display()),
                )
            })?),
            None => None,
        };
        let registry = Registry::new(first, &config, journal, events_tx, snapshots_tx);
        let pacer =
            (!config.batch_window.is_zero()).then(|| Arc::new(Pacer::new(config.batch_window)));
        if let Some(pacer) = &pacer {
            let (pacer, stop) = (Arc::clone(pacer), stop.clone());
            tokio::spawn(async move { pacer.run(stop).await });
        }
        let accept = Accept {
            pacer,
            listener,
            reports: reports_tx,
            slots: Arc::new(Semaphore::new(config.max_clients)),
            max_clients: config.max_clients,
            max_frame: config.max_frame,
            max_per_ip: config.max_per_ip,
            token: config.token.map(Arc::new),
            per_ip: HashMap::new(),
            released: mpsc::unbounded_channel(),
            refusing: Arc::new(Semaphore::new(REFUSALS_LINGERING)),
        };
        tokio::spawn(accept.run(stop.clone()));
        let task = tokio::spawn(registry.run(reports_rx, commands_rx, stop.clone()));
        Ok(Server {
            addr,
            snapshots: snapshots_rx,
            events: events_rx,
            control: Control { tx: commands_tx },
            stop,
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
        self.events.resubscribe()
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Everything a front end needs, to take to a thread of its own.
    pub fn front_end(&self) -> FrontEnd {
        FrontEnd {
            addr: self.addr,
            snapshots: self.snapshots(),
            events: self.subscribe(),
            control: self.control(),
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

    /// Waits until the server has stopped and every connection is closed.
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// What a front end reads and how it acts. Front ends run on threads and
/// runtimes of their own ([`FrontEnd::runtime`]): writing to a terminal or
/// a pipe blocks, and that must never stall the server's thread.
pub struct FrontEnd {
    pub addr: SocketAddr,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Every event from when the front end was made.
    pub events: broadcast::Receiver<Event>,
    pub control: Control,
    /// Cancelled when the server is told to stop (a signal, or a front
    /// end's quit); cancelling it stops the server.
    pub stop: CancellationToken,
}

impl FrontEnd {
    /// A single-threaded runtime for the front end's own thread.
    pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
}

/// Sends commands to the registry and waits for its answers.
#[derive(Clone, Debug)]
pub struct Control {
    tx: mpsc::Sender<Command>,
}

impl Control {
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(command(reply))
            .await
            .map_err(|_| CommandError::Stopped)?;
        answer.await.map_err(|_| CommandError::Stopped)
    }

    /// Closes the live client at `peer` with a close frame; `by` names who
    /// asked, for the record.
    pub async fn kick(&self, peer: SocketAddr, by: &str) -> Result<(), CommandError> {
        let by = by.to_owned();
        self.ask(|reply| Command::Kick { peer, by, reply }).await?
    }

    /// Closes every client in `leave`; returns who was closed.
    pub async fn kick_leave(&self, by: &str) -> Result<Vec<SocketAddr>, CommandError> {
        let by = by.to_owned();
        self.ask(|reply| Command::KickLeave { by, reply }).await
    }

    /// A snapshot taken now.
    pub async fn list(&self) -> Result<Arc<Snapshot>, CommandError> {
        self.ask(|reply| Command::List { reply }).await
    }
}

/// The text of a panic's payload, when it has one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// Refusals that may take their time saying goodbye at once; past this, a
/// refused socket is told in a single non-blocking write and closed, so a
/// connection flood cannot pile up lingering sockets.
const REFUSALS_LINGERING: usize = 64;

/// The accept loop. It owns the connection limits: the slots of
/// `--max-clients`, and the count of connections per source address for
/// `--max-per-ip`, which connection tasks give back as they end.
struct Accept {
    pacer: Option<Arc<Pacer>>,
    listener: TcpListener,
    reports: mpsc::Sender<Report>,
    slots: Arc<Semaphore>,
    max_clients: usize,
    max_frame: usize,
    /// 0: no limit per address, and no counting.
    max_per_ip: usize,
    token: Option<Arc<Token>>,
    per_ip: HashMap<IpAddr, usize>,
    released: (
        mpsc::UnboundedSender<IpAddr>,
        mpsc::UnboundedReceiver<IpAddr>,
    ),
    refusing: Arc<Semaphore>,
}

impl Accept {
    async fn run(mut self, stop: CancellationToken) {
        let mut next_id = 0u64;
        let mut backoff = Duration::from_millis(10);
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                Some(ip) = self.released.1.recv() => {
                    if let Entry::Occupied(mut count) = self.per_ip.entry(ip) {
                        *count.get_mut() -= 1;
                        if *count.get() == 0 {
                            count.remove();
                        }
                    }
                    continue;
                }
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically out of file descriptors: wait for some to free up.
                    tracing::warn!(%error, "accept failed; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            backoff = Duration::from_millis(10);
            next_id += 1;
            if !self.admit(next_id, stream, peer).await {
                return;
            }
        }
    }

    /// Hands the connection to its own task, or refuses it when full.
    /// Returns false once the registry is gone.
    async fn admit(&mut self, id: u64, stream: TcpStream, peer: SocketAddr) -> bool {
        // Heartbeats and notices are tiny: do not let Nagle delay a kick.
        let _ = stream.set_nodelay(true);
        let ip = peer.ip();
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        if self.max_per_ip > 0 && from_ip >= self.max_per_ip {
            let reason = format!(
                "too many connections from {ip} (--max-per-ip {})",
                self.max_per_ip
            );
            return self.refuse(stream, peer, reason).await;
        }
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            let reason = format!(
                "server full: {} clients connected (--max-clients)",
                self.max_clients
            );
            return self.refuse(stream, peer, reason).await;
        };
        let released = (self.max_per_ip > 0).then(|| {
            *self.per_ip.entry(ip).or_default() += 1;
            self.released.0.clone()
        });
        let link = Arc::new(Link::default());
        let opened = Report::Opened {
            id,
            peer,
            link: Arc::clone(&link),
        };
        if self.reports.send(opened).await.is_err() {
            return false;
        }
        let connection = Connection {
            id,
            stream,
            reports: self.reports.clone(),
            link,
            pacer: self.pacer.clone(),
            max_frame: self.max_frame,
            token: self.token.clone(),
        };
        let reports = self.reports.clone();
        tokio::spawn(async move {
            // A bug that panics while serving one client must not take
            // that client's record with it: the registry hears of the end
            // like any other, and every other connection carries on.
            if let Err(panic) = AssertUnwindSafe(connection.run()).catch_unwind().await {
                let message = panic_message(&*panic);
                tracing::error!(%peer, %message, "a connection task panicked");
                let end = End::Failed(format!("internal error: {message}"));
                let _ = reports.send(Report::Ended { id, end }).await;
            }
            drop(slot);
            if let Some(released) = released {
                let _ = released.send(ip);
            }
        });
        true
    }

    /// Closes a connection with the reason, and reports the refusal.
    async fn refuse(&self, stream: TcpStream, peer: SocketAddr, reason: String) -> bool {
        match Arc::clone(&self.refusing).try_acquire_owned() {
            Ok(permit) => {
                let reason = reason.clone();
                tokio::spawn(async move {
                    connection::refuse(stream, reason).await;
                    drop(permit);
                });
            }
            Err(_) => connection::refuse_now(stream, reason.clone()),
        }
        self.reports
            .send(Report::Rejected { peer, reason })
            .await
            .is_ok()
    }
}
