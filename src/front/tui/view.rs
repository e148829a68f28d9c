//! What the operator is looking at: the servers' snapshots on screen and
//! everything the keys change (selection, marks, sort, filter, pause, the
//! overlay).
//!
//! The row order is derived from the snapshots once per snapshot or view
//! change, as positions in them ([`At`]), so a frame only touches the rows
//! that fit on screen. The selection follows a client (its server and
//! `ip:port`), not a row number, so it stays on the same client when rows
//! move or another server's snapshot comes.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use ratatui::layout::Rect;

use crate::feed::Connection;
use crate::feed::details::Details;
use crate::feed::event::Event;
use crate::feed::merged::{At, Key, Merged, Part};
use crate::feed::query::Query;
use crate::feed::snapshot::{ClientView, ClosedClient, Settings, Snapshot};
use crate::front::tui::list::List;
use crate::front::tui::overlay::{Beneath, Entry, Help, KickDialog, Overlay};
use crate::front::tui::rate::Rate;
use crate::liveness::Rules;

pub use crate::front::tui::screen::{Mode, Screen};

mod targets;

/// What a view of no server shows.
static NOTHING: LazyLock<Snapshot> = LazyLock::new(|| {
    let settings = Settings {
        tick: Duration::from_secs(1),
        rules: Rules::default(),
    };
    Snapshot::empty(SocketAddr::from(([0, 0, 0, 0], 0)), settings)
});

/// The servers on screen: their snapshots (frozen while paused), their
/// heartbeat rates, and the one the clients screen is narrowed to, if any
/// (Enter on the servers screen).
#[derive(Default)]
struct Shown {
    fleet: Merged,
    /// Each server's rate, in the fleet's order.
    rates: Vec<Rate>,
    only: Option<Arc<str>>,
}

/// The dashboard's one piece of state, owned by its loop: keys change it
/// ([`handle_key`](super::keys::handle_key)), snapshots replace what it
/// shows ([`ViewState::update`]), and drawing only reads it.
pub struct ViewState {
    shown: Shown,
    pub mode: Mode,
    /// What is open over the screen, if anything: it takes keys first.
    pub overlay: Option<Overlay>,
    pub screen: Screen,
    /// The filter, and the order of the live table (`f` sets its `except`
    /// to alive).
    pub query: Query,
    pub paused: bool,
    /// Marked clients, by server and address, so marks survive sorting,
    /// filtering and other servers' snapshots.
    pub marks: HashSet<Key>,
    /// The selected client.
    pub selected: Option<Key>,
    /// Live clients, in the query's order.
    pub live: List,
    /// Closed clients, newest first.
    pub history: List,
    /// Recent events, oldest first.
    pub events: List,
    /// The servers, in the order they were given.
    pub servers: List,
    /// The wall time the screen shows ("2s ago", countdowns): now, in the
    /// running dashboard; `None` means the snapshot's own time.
    pub clock: Option<SystemTime>,
    /// A one-line message for the operator (a kick that failed...).
    pub message: Option<String>,
}

impl ViewState {
    /// The view of one server's snapshots (the dashboard of `serve`).
    pub fn new(snapshot: Arc<Snapshot>) -> Self {
        Self::of(vec![Part::local(snapshot)])
    }

    /// The view of these servers; with several (or none yet), it opens on
    /// the servers.
    pub fn of(parts: Vec<Part>) -> Self {
        let several = parts.len() != 1;
        let mut view = ViewState {
            shown: Shown::default(),
            mode: Mode::default(),
            overlay: None,
            screen: if several {
                Screen::Servers
            } else {
                Screen::Live
            },
            query: Query::default(),
            paused: false,
            marks: HashSet::new(),
            selected: None,
            live: List::default(),
            history: List::default(),
            events: List::default(),
            servers: List::default(),
            clock: None,
            message: None,
        };
        view.set_parts(parts);
        view
    }

    pub fn fleet(&self) -> &Merged {
        &self.shown.fleet
    }

    /// The first server's snapshot: the only one's, in `serve` and in `top`
    /// of one server; an empty one while there is no server (discovery has
    /// found none yet).
    pub fn snapshot(&self) -> &Snapshot {
        match self.shown.fleet.parts().first() {
            Some(part) => &part.snapshot,
            None => &NOTHING,
        }
    }

    /// The servers changed (some came, some went): a server kept keeps its
    /// rate; the lists follow.
    pub fn set_parts(&mut self, parts: Vec<Part>) {
        let old = self.shown.fleet.parts();
        let rates = (parts.iter())
            .map(|p| {
                let kept = old.iter().position(|o| o.name == p.name);
                kept.map(|i| self.shown.rates[i].clone())
                    .unwrap_or_default()
            })
            .collect();
        self.shown.rates = rates;
        self.shown.fleet.replace(parts);
        for (i, part) in self.shown.fleet.parts().iter().enumerate() {
            self.shown.rates[i].update(&part.snapshot);
        }
        self.refresh();
    }

    /// A new snapshot of the only server (or the first). See [`update`](Self::update).
    pub fn show(&mut self, snapshot: Arc<Snapshot>) {
        self.update(0, snapshot);
    }

    /// A new snapshot of the `part`-th server arrived. Ignored while paused.
    pub fn update(&mut self, part: usize, snapshot: Arc<Snapshot>) {
        if self.paused {
            return;
        }
        self.absorb(part, snapshot);
        self.refresh();
    }

    /// The `part`-th server's new snapshot, its rows not yet recomputed.
    fn absorb(&mut self, part: usize, snapshot: Arc<Snapshot>) {
        if let Some(rate) = self.shown.rates.get_mut(part) {
            rate.update(&snapshot);
        }
        self.shown.fleet.update(part, snapshot);
    }

    /// Takes in each named server's latest snapshot at once, with one
    /// recomputation of the rows; those already on screen cost nothing.
    /// Ignored while paused.
    pub fn take(&mut self, snapshots: Vec<(Arc<str>, Arc<Snapshot>)>) {
        if self.paused {
            return;
        }
        let mut changed = false;
        for (name, snapshot) in snapshots {
            let Some(part) = self.shown.fleet.find(&name) else {
                continue;
            };
            if Arc::ptr_eq(&self.shown.fleet.parts()[part].snapshot, &snapshot) {
                continue;
            }
            self.absorb(part, snapshot);
            changed = true;
        }
        if changed {
            self.refresh();
        }
    }

    /// How the `part`-th server's feed reaches it now.
    pub fn set_connection(&mut self, part: usize, connection: Connection) {
        (self.shown.fleet).connect(part, connection, SystemTime::now());
    }

    /// Which hbmon the `part`-th server runs, as it said.
    pub fn set_version(&mut self, part: usize, version: Option<Arc<str>>) {
        self.shown.fleet.set_version(part, version);
    }

    /// Why the only server is lost, if it is (the header's badge).
    pub fn lost(&self) -> Option<&str> {
        match self.fleet().parts() {
            [only] => only.connection.lost(),
            _ => None,
        }
    }

    /// Heartbeats per second over every server.
    pub fn heartbeats_per_second(&self) -> f64 {
        self.shown.rates.iter().map(Rate::per_second).sum()
    }

    /// Heartbeats per second of the `part`-th server.
    pub fn rate(&self, part: usize) -> f64 {
        self.shown.rates.get(part).map_or(0.0, Rate::per_second)
    }

    /// The server the clients screen is narrowed to, if it is.
    pub fn only(&self) -> Option<&str> {
        self.shown.only.as_deref()
    }

    /// Narrows the clients screen to the server named `name`, or (`None`)
    /// widens it to all again.
    pub fn narrow(&mut self, name: Option<Arc<str>>) {
        self.shown.only = name;
        self.refresh();
    }

    pub fn rows(&self) -> &[At] {
        self.live.rows()
    }

    pub fn history_rows(&self) -> &[At] {
        self.history.rows()
    }

    pub fn event_rows(&self) -> &[At] {
        self.events.rows()
    }

    pub fn event(&self, row: usize) -> &Event {
        let at = self.events.rows[row];
        &self.fleet().part(at).snapshot.recent[at.index as usize]
    }

    /// The wall time to show the snapshots at (see [`ViewState::clock`]).
    pub fn now(&self) -> SystemTime {
        self.clock.unwrap_or(self.snapshot().taken)
    }

    pub fn client(&self, row: usize) -> &ClientView {
        self.fleet().client(self.live.rows[row])
    }

    /// The server of the live row `row`.
    pub fn part(&self, row: usize) -> &Part {
        self.fleet().part(self.live.rows[row])
    }

    pub fn closed(&self, row: usize) -> &ClosedClient {
        let at = self.history.rows[row];
        &self.fleet().part(at).snapshot.history[at.index as usize]
    }

    /// The server of the history row `row`.
    pub fn closed_part(&self, row: usize) -> &Part {
        self.fleet().part(self.history.rows[row])
    }

    /// The server of the event at `row`.
    pub fn event_part(&self, row: usize) -> &Part {
        self.fleet().part(self.events.rows[row])
    }

    pub fn selected_client(&self) -> Option<&ClientView> {
        (self.live.rows.get(self.live.pos)).map(|&at| self.fleet().client(at))
    }

    /// Recomputes the row order after a snapshot, the sort or the filter
    /// changed, keeping the selection on the same client when it is still
    /// shown.
    pub fn refresh(&mut self) {
        let fleet = &self.shown.fleet;
        let only = self.shown.only.as_deref().and_then(|name| fleet.find(name));
        // The same query `GET /v1/clients` answers, so the two agree.
        self.live.rows = fleet.rows(&self.query, only);
        self.history.rows = fleet.closed(&self.query.filter);
        self.history.clamp();
        // At the newest event, the cursor follows new ones, as `tail -f` does.
        let following = self.events.pos + 1 >= self.events.len();
        self.events.rows = fleet.events(&self.query.filter);
        if following {
            self.events.pos = self.events.len().saturating_sub(1);
        }
        self.events.clamp();
        let parts = self.shown.fleet.parts().len() as u32;
        self.servers.rows = (0..parts).map(|part| At { part, index: 0 }).collect();
        self.servers.clamp();

        let fleet = &self.shown.fleet;
        let found = (self.selected.as_ref())
            .and_then(|key| self.live.rows.iter().position(|&at| fleet.is(at, key)));
        match found {
            Some(pos) => self.live.pos = pos,
            None => self.select(self.live.pos),
        }
    }

    /// Selects the live row at `pos` (clamped).
    pub fn select(&mut self, pos: usize) {
        self.live.move_to(pos);
        self.selected = (self.live.rows.get(self.live.pos)).map(|&at| self.fleet().key(at));
    }

    /// The list of the screen on show.
    pub fn list(&self) -> &List {
        match self.screen {
            Screen::Servers => &self.servers,
            Screen::Live => &self.live,
            Screen::History => &self.history,
            Screen::Events => &self.events,
        }
    }

    fn list_mut(&mut self) -> &mut List {
        match self.screen {
            Screen::Servers => &mut self.servers,
            Screen::Live => &mut self.live,
            Screen::History => &mut self.history,
            Screen::Events => &mut self.events,
        }
    }

    /// Moves the cursor of the current screen to `pos` (clamped); on the
    /// live screen the selection follows.
    fn move_cursor(&mut self, pos: usize) {
        match self.screen {
            Screen::Live => self.select(pos),
            _ => self.list_mut().move_to(pos),
        }
    }

    /// Moves the cursor of the current screen by `delta` rows.
    pub fn move_by(&mut self, delta: isize) {
        self.move_cursor(self.list().pos.saturating_add_signed(delta));
    }

    /// Selects the `row`-th visible row of the current screen.
    pub fn click_row(&mut self, row: usize) {
        self.move_cursor(self.list().offset + row);
    }

    pub fn move_to_end(&mut self) {
        self.move_by(isize::MAX);
    }

    pub fn page(&self) -> isize {
        self.list().page.max(1) as isize
    }

    /// Fits the current screen's list to `table`, where its table goes on
    /// a terminal of `area` (`None` when the terminal is too small for
    /// one), and the overlay to `area`. See [`fit`](super::render::fit).
    pub fn fit(&mut self, area: Rect, table: Option<Rect>) {
        if let Some(table) = table {
            let inside = usize::from(table.height.saturating_sub(2));
            // The tables have a header row under the border.
            let height = match self.screen {
                Screen::Events => inside,
                _ => inside.saturating_sub(1),
            };
            self.list_mut().fit(table, height);
        }
        if let Some(overlay) = &mut self.overlay {
            overlay.fit(area, self.mode);
        }
    }

    /// The selected row of the screen on show, whole, if it has rows.
    pub fn selected_entry(&self) -> Option<Entry> {
        match self.screen {
            Screen::Live | Screen::Servers => None,
            Screen::History => (self.history.pos < self.history.len())
                .then(|| Entry::Closed(self.closed(self.history.pos).clone())),
            Screen::Events => (self.events.pos < self.events.len())
                .then(|| Entry::Event(self.event(self.events.pos).clone())),
        }
    }

    /// The open kick question's dialog, if one is open.
    pub fn kick_dialog(&self) -> Option<&KickDialog> {
        match &self.overlay {
            Some(Overlay::Kick(question)) => Some(&question.dialog),
            _ => None,
        }
    }

    /// The open help, if it is open.
    pub fn help(&self) -> Option<&Help> {
        match &self.overlay {
            Some(Overlay::Help(help)) => Some(help),
            _ => None,
        }
    }

    /// The history row or event open whole, if one is.
    pub fn entry(&self) -> Option<&Entry> {
        match &self.overlay {
            Some(Overlay::Entry(entry)) => Some(entry),
            _ => None,
        }
    }

    /// Whether typing edits the filter.
    pub fn editing_filter(&self) -> bool {
        matches!(self.overlay, Some(Overlay::Filter))
    }

    /// The clients the open quit question would close, if it is open.
    pub fn quitting(&self) -> Option<usize> {
        match &self.overlay {
            Some(Overlay::Quit(question)) => Some(question.clients),
            _ => None,
        }
    }

    /// The client whose story the open details pane shows, and the story
    /// once it has come.
    pub fn details(&self) -> Option<(&Key, Option<&Details>)> {
        match &self.overlay {
            Some(Overlay::Details(pane)) => Some((&pane.key, pane.details.as_ref())),
            _ => None,
        }
    }

    /// A client's story came: the pane shows it if it is still open on
    /// that client.
    pub fn story_came(&mut self, details: Details) {
        if let Some(Overlay::Details(pane)) = &mut self.overlay
            && pane.key.peer == details.peer
        {
            pane.details = Some(details);
        }
    }

    /// The client whose story was asked for has gone: its pane closes,
    /// saying why.
    pub fn story_gone(&mut self, key: &Key, why: String) {
        if self.details().is_some_and(|(k, _)| k == key) {
            self.overlay = None;
            self.message = Some(why);
        }
    }
}

impl Beneath for ViewState {
    fn move_by(&mut self, delta: isize) {
        ViewState::move_by(self, delta);
    }

    fn selected(&self) -> Option<Key> {
        self.selected.clone()
    }

    fn selected_entry(&self) -> Option<Entry> {
        ViewState::selected_entry(self)
    }

    fn filter(&mut self) -> &mut String {
        &mut self.query.filter
    }

    fn refresh(&mut self) {
        ViewState::refresh(self);
    }

    fn clear_marks(&mut self) {
        self.marks.clear();
    }
}
