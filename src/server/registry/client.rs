//! One client as the registry knows it: its row, its link, and what the
//! liveness tick remembers about it between ticks.
//!
//! The heartbeat count is the tally's, which the connection writes: the row
//! holds a copy that [`Client::sync`] refreshes, and nothing else writes it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::feed::snapshot::ClientView;
use crate::liveness::phi::Gaps;
use crate::server::link::Link;
use crate::server::tally::Tally;

pub(super) struct Client {
    pub(super) view: ClientView,
    pub(super) link: Arc<Link>,
    /// The link's counts, read here without going through the link.
    pub(super) tally: Tally,
    /// Heartbeats counted at the last tick: more since means it was heard.
    pub(super) at_last_tick: u64,
    /// Ticks in a row without a heartbeat.
    pub(super) silent_ticks: u32,
    /// The recent heartbeat gaps (for the details pane, and for the phi
    /// detector).
    pub(super) gaps: Gaps,
    /// When the latest heartbeat counted at a tick arrived, once one has
    /// (`at_last_tick > 0`); until then, when the registry learned of the
    /// connection, for the hello timeout. One instant serves both because
    /// a client is waiting for its first heartbeat or has had it, and every
    /// field here is held once per client.
    pub(super) since: Instant,
    /// While it is in a maintenance window, when the window ends: the
    /// rules leave it alone until then.
    pub(super) maintenance: Option<Instant>,
}

impl Client {
    /// A client the registry has just learned of, not yet heard, accepted
    /// at `accepted`.
    pub(super) fn opened(id: u64, peer: SocketAddr, link: Arc<Link>, accepted: Instant) -> Client {
        let view = ClientView::opened(id, peer, SystemTime::now());
        Client {
            view,
            tally: link.tally().clone(),
            link,
            at_last_tick: 0,
            silent_ticks: 0,
            gaps: Gaps::default(),
            since: accepted,
            maintenance: None,
        }
    }

    /// Learns the gaps of the `new` heartbeats since the last tick,
    /// keeping the latest `window`; the gap learned, if there was one.
    pub(super) fn learn(&mut self, new: u64, window: usize) -> Option<Duration> {
        if new == 0 {
            return None;
        }
        let beat = self.tally.last_beat();
        let span = beat.saturating_duration_since(self.since);
        let gap = self
            .heard_before()
            .then(|| self.gaps.learn(span, new, window));
        self.since = beat;
        gap
    }

    /// Whether a tick has counted a heartbeat: `since` is then a beat's.
    fn heard_before(&self) -> bool {
        self.at_last_tick > 0
    }

    /// φ for the silence since the latest heartbeat, as of `at`.
    pub(super) fn phi(&self, at: Instant, first: Duration, pause: Duration) -> f64 {
        if !self.heard_before() {
            return 0.0;
        }
        self.gaps
            .phi(at.saturating_duration_since(self.since), first, pause)
    }

    /// Brings the view up to date with its tally. The totals are the
    /// tallies' own (see [`Tallies::heartbeats`]): nothing is added here.
    ///
    /// [`Tallies::heartbeats`]: crate::server::tally::Tallies::heartbeats
    pub(super) fn sync(&mut self) {
        let (heartbeats, last_seen) = self.tally.read();
        self.view.heartbeats = heartbeats;
        self.view.last_seen = last_seen;
    }
}
