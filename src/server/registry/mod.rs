//! The registry: the one task that owns the table of clients.
//!
//! Connection tasks and the accept loop report to it over a bounded channel;
//! front ends send it [`Command`]s. It runs the liveness tick, tells
//! connections what to say and when to close, records every decision as an
//! [`Event`], and publishes an immutable [`Snapshot`] at a bounded rate.
//!
//! It must never wait on a peer or a front end: connections count heartbeats
//! and take notices through each client's [`Link`] without blocking, events
//! go out on a broadcast ring, snapshots on a `watch`.

mod commands;
mod run;
mod spares;
mod table;
mod tick;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

use crate::durations;
use crate::feed::control::Reply;
use crate::feed::details::PastConnection;
use crate::feed::event::{Event, EventKind};
use crate::feed::snapshot::{ClientView, CloseCause, ClosedClient, Counters, Settings, Snapshot};
use crate::liveness::phi::Gaps;
use crate::liveness::{Detector, Rules};
use crate::process;
use crate::protocol::{Notice, SHUTDOWN_REASON, Status};
use crate::server::config::Config;
use crate::server::guard::Guard;
use crate::server::holdoff::HoldOffs;
use crate::server::journal::Journal;
use crate::server::link::Link;
use crate::server::refusals::Refusals;
use crate::server::report::{End, Report};
use crate::server::story::Stories;
use crate::server::tally::{Tallies, Tally};
use spares::Spares;
use table::Table;

/// How often a changed table is published to front ends at most.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// The shortest tick the registry runs.
const MIN_TICK: Duration = Duration::from_millis(1);
/// Heartbeat gaps kept per client for the details pane.
const DETAIL_GAPS: usize = 60;
/// How many recent events a snapshot carries for the dashboard's event pane.
const RECENT_EVENTS: usize = 200;

struct Client {
    view: ClientView,
    link: Arc<Link>,
    /// The link's counts, read here without going through the link.
    tally: Tally,
    /// Heartbeats counted at the last tick: more since means it was heard.
    at_last_tick: u64,
    /// Ticks in a row without a heartbeat.
    silent_ticks: u32,
    /// The recent heartbeat gaps (for the details pane, and for the phi
    /// detector).
    gaps: Gaps,
    /// When the latest heartbeat counted at a tick arrived, once one has
    /// (`at_last_tick > 0`); until then, when the registry learned of the
    /// connection, for the hello timeout. One instant serves both because
    /// a client is waiting for its first heartbeat or has had it, and it
    /// keeps the link a size smaller (an 80-byte allocation, not 96).
    since: Instant,
}

impl Client {
    /// Learns the gaps of the `new` heartbeats since the last tick,
    /// keeping the latest `window`.
    fn learn(&mut self, new: u64, window: usize) {
        if new == 0 {
            return;
        }
        let beat = self.tally.last_beat();
        if self.heard_before() {
            let gap =
                beat.saturating_duration_since(self.since) / u32::try_from(new).unwrap_or(u32::MAX);
            for _ in 0..new.min(window as u64) {
                self.gaps.push(gap, window);
            }
        }
        self.since = beat;
    }

    /// Whether a tick has counted a heartbeat: `since` is then a beat's.
    fn heard_before(&self) -> bool {
        self.at_last_tick > 0
    }

    /// φ for the silence since the latest heartbeat, as of `at`.
    fn phi(&self, at: Instant, first: Duration) -> f64 {
        if !self.heard_before() {
            return 0.0;
        }
        self.gaps
            .phi(at.saturating_duration_since(self.since), first)
    }

    /// Brings the view up to date with its tally. The totals are the
    /// tallies' own (see [`Tallies::heartbeats`]): nothing is added here.
    fn sync(&mut self) {
        let (heartbeats, last_seen) = self.tally.read();
        self.view.heartbeats = heartbeats;
        self.view.last_seen = last_seen;
    }
}

pub(crate) struct Registry {
    tick: Duration,
    rules: Rules,
    detector: Detector,
    /// Gaps remembered per client: the details pane's, or the phi window.
    gap_window: usize,
    stories: Stories,
    history_len: usize,
    hello_timeout: Duration,
    frame_timeout: Duration,
    clients: Table<Client>,
    refusals: Refusals,
    hold_offs: HoldOffs,
    guard: Guard,
    /// The tick the fleet was declared silent at, while it is.
    silent_since: Option<Instant>,
    /// Ticks so far, to name them in events.
    ticks: u64,
    journal: Option<Journal>,
    history: Arc<VecDeque<ClosedClient>>,
    recent: Arc<VecDeque<Event>>,
    counters: Counters,
    /// Where connections count heartbeats: the heartbeat total is theirs.
    tallies: Arc<Tallies>,
    events: broadcast::Sender<Event>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    /// What every snapshot shares: the address, settings and start time.
    base: Arc<Snapshot>,
    dirty: bool,
    shutting_down: bool,
    spares: Spares,
    /// Copies made for a publish off this thread: see [`Spares`].
    copies: mpsc::Receiver<Snapshot>,
    /// `list` commands waiting for the next publish.
    listing: Vec<Reply<Arc<Snapshot>>>,
}

impl Registry {
    /// A registry for the server listening on `listen`, and the receiving
    /// end of the snapshots it will publish (the first one already there).
    pub(crate) fn new(
        listen: SocketAddr,
        config: &Config,
        journal: Option<Journal>,
        tallies: Arc<Tallies>,
        events: broadcast::Sender<Event>,
    ) -> (Self, watch::Receiver<Arc<Snapshot>>) {
        // tokio's interval panics on a zero period and adds its period
        // unchecked, and a tick shorter than a millisecond only spins: the
        // tick is held to a range, whatever the caller asked.
        let tick = config.tick.clamp(MIN_TICK, durations::PERIOD.max);
        let settings = Settings {
            tick,
            rules: config.rules,
        };
        let mut base = Snapshot::empty(listen, settings);
        base.admin = config.admin.as_deref().map(Arc::from);
        let (snapshots, receiver) = watch::channel(Arc::new(base.clone()));
        let (spares, copies) = Spares::new();
        let registry = Registry {
            tick,
            rules: config.rules,
            detector: config.detector,
            gap_window: match config.detector {
                Detector::Phi { window, .. } => window.max(DETAIL_GAPS),
                Detector::Counter => DETAIL_GAPS,
            },
            stories: Stories::default(),
            history_len: config.history,
            hello_timeout: config.hello_timeout,
            frame_timeout: config.frame_timeout,
            clients: Table::default(),
            refusals: Refusals::default(),
            hold_offs: HoldOffs::default(),
            guard: Guard::new(config.guard),
            silent_since: None,
            ticks: 0,
            journal,
            history: Arc::default(),
            recent: Arc::default(),
            counters: Counters::default(),
            tallies,
            events,
            snapshots,
            base: Arc::new(base),
            dirty: false,
            shutting_down: false,
            spares,
            copies,
            listing: Vec::new(),
        };
        (registry, receiver)
    }

    fn report(&mut self, report: Report) {
        let now = SystemTime::now();
        match report {
            Report::Opened { id, peer, link } => {
                if self.shutting_down {
                    link.send(Notice::close(SHUTDOWN_REASON));
                    return;
                }
                let view = ClientView {
                    id,
                    peer,
                    ip: None,
                    pid: None,
                    reported: None,
                    liveness: Default::default(),
                    heartbeats: 0,
                    connected_at: now,
                    last_seen: None,
                    held: None,
                    phi: None,
                    reconnects: 0,
                    flaps: 0,
                };
                let client = Client {
                    view,
                    tally: link.tally().clone(),
                    link,
                    at_last_tick: 0,
                    silent_ticks: 0,
                    gaps: Gaps::default(),
                    since: Instant::now(),
                };
                self.clients.insert(id, client);
                self.emit(EventKind::Connected { peer });
            }
            Report::Rejected { peer, reason } => {
                self.counters.rejected += 1;
                if let Some(event) = self.refusals.refused(peer, reason) {
                    self.emit(event);
                }
            }
            Report::Hello {
                id,
                ip,
                pid,
                status,
            } => {
                if let Some(left) = self.hold_offs.remaining(&ip, pid, Instant::now()) {
                    let wait = Duration::from_secs(left.as_secs_f64().ceil() as u64);
                    let reason =
                        format!("kicked; retry after {}", humantime::format_duration(wait));
                    self.close(
                        id,
                        Notice::close(reason).retry_after(wait),
                        CloseCause::HeldOff,
                    );
                    return;
                }
                if let Some(client) = self.clients.get_mut(id) {
                    let view = &mut client.view;
                    if let (Some(was), Some(was_pid)) = (&view.ip, view.pid)
                        && (&**was, was_pid) != (&*ip, pid)
                    {
                        self.stories.release(id, was, was_pid);
                    }
                    view.pid = Some(pid);
                    view.reported = Some(status);
                    if view.ip.as_deref() != Some(&*ip) {
                        view.ip = Some(ip);
                    }
                    if let Some(ip) = &view.ip {
                        let story = self.stories.hello(id, ip, pid);
                        (view.reconnects, view.flaps) = (story.reconnects, story.flaps);
                    }
                    self.dirty = true;
                }
            }
            #[cfg(test)]
            Report::Panic(message) => panic!("{message}"),
            Report::Ended { id, end } => {
                let Some(client) = self.clients.get(id) else {
                    return;
                };
                let current = client.view.status();
                let closed = |cause| (Status::Close, end.close_reason().unwrap_or_default(), cause);
                let (status, reason, cause) = match &end {
                    End::ByServer => return,
                    End::Disconnected => (
                        current,
                        "client disconnected".to_owned(),
                        CloseCause::Disconnected,
                    ),
                    End::Failed(error) => (
                        current,
                        format!("connection error: {error}"),
                        CloseCause::ConnectionError,
                    ),
                    End::Goodbye => closed(CloseCause::Goodbye),
                    End::BadFrame(_) => closed(CloseCause::BadFrame),
                    End::Unauthorized => closed(CloseCause::Unauthorized),
                };
                if let End::BadFrame(reason) = end {
                    self.counters.bad_frames += 1;
                    let peer = client.view.peer;
                    self.emit(EventKind::BadFrame { peer, reason });
                }
                self.remove(id, status, reason, cause);
            }
        }
    }

    /// Closes a client on the server's initiative: tells it why, then forgets it.
    fn close(&mut self, id: u64, notice: Notice, cause: CloseCause) {
        let reason = notice.reason.clone();
        if let Some(client) = self.clients.get(id) {
            client.link.send(notice);
        }
        self.remove(id, Status::Close, reason, cause);
    }

    /// Moves a client from the live table into history.
    fn remove(&mut self, id: u64, status: Status, reason: String, cause: CloseCause) {
        let Some(mut client) = self.clients.remove(id) else {
            return;
        };
        client.sync();
        let view = client.view;
        self.counters.closed += 1;
        self.counters.closed_by[cause as usize] += 1;
        let closed = ClosedClient {
            peer: view.peer,
            pid: view.pid,
            ip: view.ip.clone(),
            status,
            reason: reason.clone(),
            heartbeats: view.heartbeats,
            connected_at: view.connected_at,
            closed_at: SystemTime::now(),
        };
        // Stories are for clients that come back; a server shutting down
        // will not see them again (and would allocate a past for each).
        if let (Some(ip), Some(pid), false) = (&closed.ip, closed.pid, self.shutting_down) {
            let past = PastConnection {
                peer: closed.peer,
                connected_at: closed.connected_at,
                closed_at: closed.closed_at,
                reason: closed.reason.clone(),
            };
            self.stories.closed(id, ip, pid, past);
        }
        push_bounded(&mut self.history, closed, self.history_len);
        self.emit(EventKind::Closed {
            peer: view.peer,
            pid: view.pid,
            ip: view.ip,
            status,
            reason,
        });
    }

    /// Reports the refusals held back in the last second.
    fn report_refusals(&mut self) {
        for event in self.refusals.due() {
            self.emit(event);
        }
    }

    /// Closes every client, telling each `reason`.
    fn shut_down(&mut self, reason: &str) {
        self.shutting_down = true;
        let ids: Vec<u64> = self.clients.ids().collect();
        for id in ids {
            self.close(id, Notice::close(reason), CloseCause::Shutdown);
        }
    }

    fn emit(&mut self, kind: EventKind) {
        let event = Event {
            at: SystemTime::now(),
            kind: Arc::new(kind),
        };
        if let Some(journal) = &self.journal {
            journal.record(&event);
        }
        push_bounded(&mut self.recent, event.clone(), RECENT_EVENTS);
        self.counters.events += 1;
        // No receiver is fine: nobody is watching the stream right now.
        let _ = self.events.send(event);
        self.dirty = true;
    }

    /// Publishes a snapshot of the table, and answers the `list` commands
    /// waiting for one. `false` when it must wait for a copy to write into
    /// (see [`Spares`]): `copied` publishes once it is made.
    fn publish(&mut self) -> bool {
        // The CPU clock is read outside the wall clock's span. Reading it
        // is a system call, on whose return the kernel may hand this core
        // to a thread the tick woke: read inside, it moved that wait into
        // the publish's wall time.
        let began_cpu = process::thread_cpu_time();
        let began = std::time::Instant::now();
        if let Some(journal) = &self.journal {
            self.counters.journal_lost = journal.lost();
        }
        let Registry {
            clients,
            counters,
            snapshots,
            base,
            history,
            recent,
            guard,
            spares,
            tallies,
            ..
        } = self;
        let published = snapshots.send_if_modified(|current| {
            if !spares.make_writable(current, base) {
                return false;
            }
            let snapshot = Arc::make_mut(current);
            // One pass that brings each client up to date and copies it: the
            // time goes in fetching each client's entry and counts from
            // memory, so it is done once. Rows are rewritten where they are,
            // in order: both sides are in connection order, and a client
            // missing from the rows opened after them, so it comes last.
            // A row whose client has gone is dropped; should the order ever
            // disagree, every row from there is dropped and written anew.
            let mut live = clients.values_mut().peekable();
            snapshot.clients.retain_mut(|row| {
                let Some(client) = live.next_if(|client| client.view.id == row.id) else {
                    return false;
                };
                client.sync();
                row.clone_from(&client.view);
                true
            });
            snapshot.clients.extend(live.map(|client| {
                client.sync();
                client.view.clone()
            }));
            counters.frames = tallies.heartbeats();
            snapshot.clients.shrink_to(2 * clients.len());
            snapshot.taken = SystemTime::now();
            snapshot.taken_mono = Instant::now().into_std();
            snapshot.history = Arc::clone(history);
            snapshot.recent = Arc::clone(recent);
            snapshot.counters = *counters;
            snapshot.fleet_silent = guard.silence();
            true
        });
        if !published {
            return false;
        }
        self.dirty = false;
        self.counters.publishes += 1;
        self.counters.publish_ns += nanos(began.elapsed());
        if let (Some(began), Some(now)) = (began_cpu, process::thread_cpu_time()) {
            self.counters.publish_cpu_ns += nanos(now.saturating_sub(began));
        }
        if !self.listing.is_empty() {
            let snapshot = Arc::clone(&self.snapshots.borrow());
            for reply in self.listing.drain(..) {
                let _ = reply.send(Ok(Arc::clone(&snapshot)));
            }
        }
        true
    }

    /// A copy to write into has been made: publishes what waited for it.
    fn copied(&mut self, copy: Snapshot) {
        self.spares.take(copy);
        if self.dirty || !self.listing.is_empty() {
            self.publish();
        }
    }
}

fn nanos(span: Duration) -> u64 {
    u64::try_from(span.as_nanos()).unwrap_or(u64::MAX)
}

/// Appends to a shared ring, copying it only if a snapshot still holds it.
fn push_bounded<T: Clone>(ring: &mut Arc<VecDeque<T>>, item: T, cap: usize) {
    let ring = Arc::make_mut(ring);
    if ring.len() >= cap {
        ring.pop_front();
    }
    ring.push_back(item);
}
