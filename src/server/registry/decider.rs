//! The decider: sole owner of the client table and of the rules applied to
//! it (liveness, the fleet's silence guard, stories, hold-offs, refusals,
//! maintenance windows).
//!
//! Reports ([`reports`](super::reports)), the tick ([`tick`](super::tick))
//! and operators' commands ([`commands`](super::commands)) change it; every
//! decision goes to the [`Record`], and `changed` tells the publisher that
//! there is something new to show. It never touches the watch channel.

use std::time::{Duration, SystemTime};

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::client::Client;
use super::record::Record;
use super::table::Table;
use super::windows::Windows;
use crate::durations;
use crate::feed::details::PastConnection;
use crate::feed::event::{Event, EventKind};
use crate::feed::snapshot::{CloseCause, ClosedClient};
use crate::liveness::{Detector, Rules};
use crate::protocol::{Notice, Status};
use crate::server::config::Config;
use crate::server::gaps::GapLog;
use crate::server::guard::Guard;
use crate::server::holdoff::HoldOffs;
use crate::server::journal::Journal;
use crate::server::refusals::{ByAddress, ByCause};
use crate::server::story::Stories;

/// The shortest tick the registry runs.
const MIN_TICK: Duration = Duration::from_millis(1);
/// Heartbeat gaps kept per client for the details pane.
pub(super) const DETAIL_GAPS: usize = 60;

/// The rules a client is judged by, fixed for the server's life.
#[derive(Clone, Copy)]
pub(super) struct Policy {
    pub(super) tick: Duration,
    pub(super) rules: Rules,
    pub(super) detector: Detector,
    /// Gaps remembered per client: the details pane's, or the phi window.
    pub(super) gap_window: usize,
    pub(super) hello_timeout: Duration,
    pub(super) frame_timeout: Duration,
}

impl Policy {
    pub(super) fn new(config: &Config) -> Policy {
        Policy {
            // tokio's interval panics on a zero period and adds its period
            // unchecked, and a tick shorter than a millisecond only spins:
            // the tick is held to a range, whatever the caller asked.
            tick: config.tick.clamp(MIN_TICK, durations::PERIOD.max),
            rules: config.rules,
            detector: config.detector,
            gap_window: match config.detector {
                Detector::Phi { window, .. } => window.max(DETAIL_GAPS),
                Detector::Counter => DETAIL_GAPS,
            },
            hello_timeout: config.hello_timeout,
            frame_timeout: config.frame_timeout,
        }
    }
}

pub(super) struct Decider {
    pub(super) policy: Policy,
    pub(super) clients: Table<Client>,
    pub(super) stories: Stories,
    pub(super) refusals: ByAddress,
    /// TLS handshakes refused and certificate reloads, by cause.
    pub(super) tls: ByCause,
    pub(super) hold_offs: HoldOffs,
    pub(super) windows: Windows,
    pub(super) guard: Guard,
    /// The tick the fleet was declared silent at, while it is.
    pub(super) silent_since: Option<Instant>,
    /// Ticks so far, to name them in events.
    pub(super) ticks: u64,
    pub(super) record: Record,
    /// Where each client's heartbeat gaps are recorded (`--record-gaps`).
    pub(super) gaps: Option<GapLog>,
    /// Something a snapshot shows has changed since the last publish.
    pub(super) changed: bool,
    pub(super) shutting_down: bool,
}

impl Decider {
    pub(super) fn new(
        policy: Policy,
        config: &Config,
        (journal, gaps): (Option<Journal>, Option<GapLog>),
        events: broadcast::Sender<Event>,
    ) -> Decider {
        Decider {
            policy,
            clients: Table::default(),
            stories: Stories::default(),
            refusals: ByAddress::by_address(),
            tls: ByCause::by_cause(),
            hold_offs: HoldOffs::default(),
            windows: Windows::default(),
            guard: Guard::new(config.guard),
            silent_since: None,
            ticks: 0,
            record: Record::new(journal, events, config.history),
            gaps,
            changed: false,
            shutting_down: false,
        }
    }

    /// Records a decision, for the publisher to show.
    pub(super) fn emit(&mut self, kind: EventKind) {
        self.record.emit(kind);
        self.changed = true;
    }

    /// Closes a client on the server's initiative: tells it why, then forgets it.
    pub(super) fn close(&mut self, id: u64, notice: Notice, cause: CloseCause) {
        let reason = notice.reason.clone();
        if let Some(client) = self.clients.get(id) {
            client.link.send(notice);
        }
        self.remove(id, Status::Close, reason, cause);
    }

    /// Moves a client from the live table into history.
    pub(super) fn remove(&mut self, id: u64, status: Status, reason: String, cause: CloseCause) {
        let Some(mut client) = self.clients.remove(id) else {
            return;
        };
        client.sync();
        let view = client.view;
        let counters = &mut self.record.counters;
        counters.closed += 1;
        counters.closed_by[cause as usize] += 1;
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
        self.record.closed(closed);
        self.emit(EventKind::Closed {
            peer: view.peer,
            pid: view.pid,
            ip: view.ip,
            identity: view.transport.into_identity(),
            status,
            reason,
        });
    }

    /// Reports the refusals held back in the last second.
    pub(super) fn report_refusals(&mut self) {
        let due = self.refusals.due().into_iter().chain(self.tls.due());
        for event in due.collect::<Vec<_>>() {
            self.emit(event);
        }
    }

    /// Whether refusals are held that [`Decider::report_refusals`] may report.
    pub(super) fn holds_refusals(&self) -> bool {
        !self.refusals.is_empty() || !self.tls.is_empty()
    }

    /// Closes every client, telling each `reason`.
    pub(super) fn shut_down(&mut self, reason: &str) {
        self.shutting_down = true;
        let ids: Vec<u64> = self.clients.ids().collect();
        for id in ids {
            self.close(id, Notice::close(reason), CloseCause::Shutdown);
        }
    }
}
