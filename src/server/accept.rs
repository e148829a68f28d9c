//! The accept loop: takes connections, enforces `--max-clients` and
//! `--max-per-ip`, and hands each admitted connection to a task of its own.
//! A connection task's panic is contained here: the registry hears of the
//! end like any other, and every other connection carries on.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::protocol::{Notice, Token};
use crate::server::config::Config;
use crate::server::connection::{self, Connection};
use crate::server::failure::panic_message;
use crate::server::handshake::Pending;
use crate::server::link::Link;
use crate::server::pacer::Pacer;
use crate::server::report::{End, Failure, Report};
use crate::server::tally::Tallies;
use crate::tls::{ServerTls, Stream};

/// Refusals that may take their time saying goodbye at once; past this, a
/// refused socket is told in a single non-blocking write and closed, so a
/// connection flood cannot pile up lingering sockets.
const REFUSALS_LINGERING: usize = 64;
/// How long a refused client is asked to wait before it tries again, so a
/// fleet that finds the server full does not hammer it.
const REFUSED_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The accept loop. It owns the connection limits: the slots of
/// `--max-clients`, and the count of connections per source address for
/// `--max-per-ip`, which connection tasks give back as they end.
pub(super) struct Accept {
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
    /// Where the connections count their heartbeats.
    tallies: Arc<Tallies>,
    /// TLS on this port, when `--tls-cert` asks for it.
    tls: Option<Arc<ServerTls>>,
    hello_timeout: Duration,
}

impl Accept {
    pub(super) fn new(
        listener: TcpListener,
        config: &Config,
        reports: mpsc::Sender<Report>,
        pacer: Option<Arc<Pacer>>,
        tallies: Arc<Tallies>,
    ) -> Self {
        Accept {
            pacer,
            listener,
            reports,
            slots: Arc::new(Semaphore::new(config.limits.max_clients)),
            max_clients: config.limits.max_clients,
            max_frame: config.limits.max_frame,
            max_per_ip: config.limits.max_per_ip,
            token: config.token.clone().map(Arc::new),
            per_ip: HashMap::new(),
            released: mpsc::unbounded_channel(),
            refusing: Arc::new(Semaphore::new(REFUSALS_LINGERING)),
            tallies,
            tls: config.tls.clone(),
            hello_timeout: config.hello_timeout,
        }
    }

    pub(super) async fn run(mut self, stop: CancellationToken) {
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
                    backoff = backoff.saturating_mul(2).min(Duration::from_secs(1));
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
            let reason = match self.max_clients {
                1 => "server full: 1 client connected (--max-clients)".to_owned(),
                n => format!("server full: {n} clients connected (--max-clients)"),
            };
            return self.refuse(stream, peer, reason).await;
        };
        let released = (self.max_per_ip > 0).then(|| {
            *self.per_ip.entry(ip).or_default() += 1;
            self.released.0.clone()
        });
        let ending = Ending {
            id,
            reports: self.reports.clone(),
            slot,
            released: released.map(|released| (released, ip)),
        };
        let link = Arc::new(Link::new(self.tallies.take()));
        let accepted = Instant::now();
        if let Some(tls) = &self.tls {
            // The registry hears of it once its handshake is done.
            let pending = Pending {
                tls: Arc::clone(tls),
                peer,
                accepted,
                hello_timeout: self.hello_timeout,
                id,
                reports: self.reports.clone(),
                link,
                pacer: self.pacer.clone(),
                max_frame: self.max_frame,
                token: self.token.clone(),
            };
            ending.spawn(pending.run(stream));
            return true;
        }
        let opened = Report::Opened {
            id,
            peer,
            link: Arc::clone(&link),
            accepted,
            identity: None,
        };
        if self.reports.send(opened).await.is_err() {
            return false;
        }
        let connection = Connection {
            id,
            stream: Stream::Plain(stream),
            reports: self.reports.clone(),
            link,
            pacer: self.pacer.clone(),
            max_frame: self.max_frame,
            token: self.token.clone(),
            tls: None,
        };
        ending.spawn(connection.run());
        true
    }

    /// Closes a connection with the reason, asking it to wait before it
    /// tries again, and reports the refusal.
    async fn refuse(&self, stream: TcpStream, peer: SocketAddr, reason: String) -> bool {
        let notice = Notice::close(reason.clone()).retry_after(REFUSED_RETRY_AFTER);
        match Arc::clone(&self.refusing).try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    connection::refuse(stream, notice).await;
                    drop(permit);
                });
            }
            Err(_) => connection::refuse_now(stream, &notice),
        }
        self.reports
            .send(Report::Rejected { peer, reason })
            .await
            .is_ok()
    }
}

/// What a connection's task gives back when it ends, however it ends.
struct Ending {
    id: u64,
    reports: mpsc::Sender<Report>,
    /// Its place under `--max-clients`.
    slot: OwnedSemaphorePermit,
    /// Where to give back its place under `--max-per-ip`, when counted.
    released: Option<(mpsc::UnboundedSender<IpAddr>, IpAddr)>,
}

impl Ending {
    /// Runs the connection on a task of its own. A bug that panics while
    /// serving one client must not take that client's record with it: the
    /// registry hears of the end like any other, and every other
    /// connection carries on. Chained rather than written as one `async`
    /// block, which would hold the connection's future twice (once
    /// captured, once awaited) in every client's task.
    fn spawn(self, serve: impl Future<Output = ()> + Send + 'static) {
        let served = AssertUnwindSafe(serve).catch_unwind();
        tokio::spawn(served.then(move |served| async move {
            let Ending {
                id,
                reports,
                slot,
                released,
            } = self;
            if let Err(panic) = served {
                let message = panic_message(&*panic);
                // By number, not address: every client's task would hold
                // the address for this line; the `closed` event names it.
                tracing::error!(connection = id, %message, "a connection task panicked");
                let end = End::Failed(Failure::Panic(message));
                let _ = reports.send(Report::Ended { id, end }).await;
            }
            drop(slot);
            if let Some((released, ip)) = released {
                let _ = released.send(ip);
            }
        }));
    }
}
