//! What the operator is looking at: the snapshot on screen and everything
//! the keys change (selection, marks, sort, filter, pause, the overlay).
//!
//! The row order is derived from the snapshot once per snapshot or view
//! change, as indices, so a frame only touches the rows that fit on screen.
//! The selection follows a client (`ip:port`), not a row number, so it stays
//! on the same client when rows move.

use std::collections::HashSet;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use ratatui::layout::Rect;

use crate::feed::Connection;
use crate::feed::details::Details;
use crate::feed::event::Event;
use crate::feed::query::{Filter, Query, client_text};
use crate::feed::snapshot::{ClientView, ClosedClient, Snapshot};
use crate::front::tui::list::List;
use crate::front::tui::overlay::{Beneath, Entry, Help, KickDialog, Overlay};
use crate::front::tui::rate::Rate;
use crate::protocol::Status;

pub use crate::front::tui::screen::{Mode, Screen};

/// The dashboard's one piece of state, owned by its loop: keys change it
/// ([`handle_key`](super::keys::handle_key)), snapshots replace what it
/// shows ([`ViewState::show`]), and drawing only reads it.
pub struct ViewState {
    /// The snapshot on screen (frozen while paused).
    shown: Arc<Snapshot>,
    /// Whether the snapshots still come (a remote feed's server may be lost).
    pub connection: Connection,
    pub mode: Mode,
    /// What is open over the screen, if anything: it takes keys first.
    pub overlay: Option<Overlay>,
    pub screen: Screen,
    /// The filter, and the order of the live table (`f` sets its `except`
    /// to alive).
    pub query: Query,
    pub paused: bool,
    /// Marked clients, by address, so marks survive sorting and filtering.
    pub marks: HashSet<SocketAddr>,
    /// The selected client, by address.
    pub selected: Option<SocketAddr>,
    /// Live clients, in the query's order.
    pub live: List,
    /// Closed clients, newest first.
    pub history: List,
    /// Recent events, oldest first.
    pub events: List,
    /// The wall time the screen shows ("2s ago", countdowns): now, in the
    /// running dashboard; `None` means the snapshot's own time.
    pub clock: Option<SystemTime>,
    /// A one-line message for the operator (a kick that failed...).
    pub message: Option<String>,
    rate: Rate,
}

impl ViewState {
    pub fn new(snapshot: Arc<Snapshot>) -> Self {
        let mut view = ViewState {
            shown: Arc::clone(&snapshot),
            mode: Mode::default(),
            overlay: None,
            screen: Screen::Live,
            query: Query::default(),
            paused: false,
            marks: HashSet::new(),
            selected: None,
            connection: Connection::Connected,
            live: List::default(),
            history: List::default(),
            events: List::default(),
            clock: None,
            message: None,
            rate: Rate::default(),
        };
        view.show(snapshot);
        view
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.shown
    }

    /// A new snapshot arrived. Ignored while paused.
    pub fn show(&mut self, snapshot: Arc<Snapshot>) {
        if self.paused {
            return;
        }
        self.rate.update(&snapshot);
        self.shown = snapshot;
        self.refresh();
    }

    pub fn heartbeats_per_second(&self) -> f64 {
        self.rate.per_second()
    }

    pub fn rows(&self) -> &[usize] {
        self.live.rows()
    }

    pub fn history_rows(&self) -> &[usize] {
        self.history.rows()
    }

    pub fn event_rows(&self) -> &[usize] {
        self.events.rows()
    }

    pub fn event(&self, row: usize) -> &Event {
        &self.shown.recent[self.events.rows[row]]
    }

    /// The wall time to show the snapshot at (see [`ViewState::clock`]).
    pub fn now(&self) -> SystemTime {
        self.clock.unwrap_or(self.shown.taken)
    }

    pub fn client(&self, row: usize) -> &ClientView {
        &self.shown.clients[self.live.rows[row]]
    }

    pub fn closed(&self, row: usize) -> &ClosedClient {
        &self.shown.history[self.history.rows[row]]
    }

    pub fn selected_client(&self) -> Option<&ClientView> {
        self.live
            .rows
            .get(self.live.pos)
            .map(|&i| &self.shown.clients[i])
    }

    /// Recomputes the row order after the snapshot, sort or filter changed,
    /// keeping the selection on the same client when it is still shown.
    pub fn refresh(&mut self) {
        let clients = &self.shown.clients;
        // The same query `GET /v1/clients` answers, so the two agree.
        self.live.rows = self.query.rows(clients);
        let filter = Filter::new(&self.query.filter);
        let mut scratch = String::new();

        let history = &self.shown.history;
        self.history.rows.clear();
        self.history
            .rows
            .extend((0..history.len()).rev().filter(|&i| {
                let h = &history[i];
                filter.matches(&mut scratch, |s| {
                    client_text(s, h.peer, h.ip.as_deref(), h.pid, h.status);
                    let _ = write!(s, " {}", h.reason);
                })
            }));
        self.history.clamp();

        let recent = &self.shown.recent;
        // At the newest event, the cursor follows new ones, as `tail -f` does.
        let following = self.events.pos + 1 >= self.events.len();
        self.events.rows.clear();
        self.events.rows.extend((0..recent.len()).filter(|&i| {
            filter.matches(&mut scratch, |s| {
                let _ = write!(s, "{}", recent[i].kind);
            })
        }));
        if following {
            self.events.pos = self.events.len().saturating_sub(1);
        }
        self.events.clamp();

        let found = self
            .selected
            .and_then(|peer| self.live.rows.iter().position(|&i| clients[i].peer == peer));
        match found {
            Some(pos) => self.live.pos = pos,
            None => self.select(self.live.pos),
        }
    }

    /// Selects the live row at `pos` (clamped).
    pub fn select(&mut self, pos: usize) {
        self.live.move_to(pos);
        self.selected = self.selected_client().map(|c| c.peer);
    }

    /// The list of the screen on show.
    pub fn list(&self) -> &List {
        match self.screen {
            Screen::Live => &self.live,
            Screen::History => &self.history,
            Screen::Events => &self.events,
        }
    }

    /// Moves the cursor of the current screen to `pos` (clamped); on the
    /// live screen the selection follows.
    fn move_cursor(&mut self, pos: usize) {
        match self.screen {
            Screen::Live => self.select(pos),
            Screen::History => self.history.move_to(pos),
            Screen::Events => self.events.move_to(pos),
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
            // The live and history tables have a header row under the border.
            let height = match self.screen {
                Screen::Events => inside,
                _ => inside.saturating_sub(1),
            };
            match self.screen {
                Screen::Live => self.live.fit(table, height),
                Screen::History => self.history.fit(table, height),
                Screen::Events => self.events.fit(table, height),
            }
        }
        if let Some(overlay) = &mut self.overlay {
            overlay.fit(area, self.mode);
        }
    }

    /// The selected row of the screen on show, whole, if it has rows.
    pub fn selected_entry(&self) -> Option<Entry> {
        match self.screen {
            Screen::Live => None,
            Screen::History => (self.history.pos < self.history.len())
                .then(|| Entry::Closed(self.closed(self.history.pos).clone())),
            Screen::Events => (self.events.pos < self.events.len())
                .then(|| Entry::Event(self.event(self.events.pos).clone())),
        }
    }

    /// The clients in `leave` in the snapshot on screen.
    pub fn leave_clients(&self) -> Vec<SocketAddr> {
        let clients = &self.shown.clients;
        clients
            .iter()
            .filter(|c| c.status() == Status::Leave)
            .map(|c| c.peer)
            .collect()
    }

    /// How many of `peers` the table shows now (through filter and `f`).
    pub fn shown_count(&self, peers: &[SocketAddr]) -> usize {
        let clients = &self.shown.clients;
        self.live
            .rows
            .iter()
            .filter(|&&i| peers.contains(&clients[i].peer))
            .count()
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
    pub fn details(&self) -> Option<(SocketAddr, Option<&Details>)> {
        match &self.overlay {
            Some(Overlay::Details(pane)) => Some((pane.peer, pane.details.as_ref())),
            _ => None,
        }
    }

    /// A client's story came: the pane shows it if it is still open on
    /// that client.
    pub fn story_came(&mut self, details: Details) {
        if let Some(Overlay::Details(pane)) = &mut self.overlay
            && pane.peer == details.peer
        {
            pane.details = Some(details);
        }
    }

    /// The client whose story was asked for has gone: its pane closes,
    /// saying why.
    pub fn story_gone(&mut self, peer: SocketAddr, why: String) {
        if self.details().is_some_and(|(p, _)| p == peer) {
            self.overlay = None;
            self.message = Some(why);
        }
    }
}

impl Beneath for ViewState {
    fn move_by(&mut self, delta: isize) {
        ViewState::move_by(self, delta);
    }

    fn selected(&self) -> Option<SocketAddr> {
        self.selected
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
