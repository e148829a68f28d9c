//! What the operator is looking at: the snapshot on screen and everything
//! the keys change (selection, marks, sort, filter, pause, the overlay).
//!
//! The row order is derived from the snapshot once per snapshot or view
//! change, as indices, so a frame only touches the rows that fit on screen.
//! The selection follows a client (`ip:port`), not a row number, so it stays
//! on the same client when rows move.

use std::collections::{HashSet, VecDeque};
use std::fmt::Write;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ratatui::layout::Rect;

use crate::feed::details::Details;
use crate::feed::event::Event;
use crate::feed::query::{Filter, Query, client_text};
use crate::feed::snapshot::{ClientView, ClosedClient, Snapshot};
use crate::front::tui::overlay::{Entry, Help, KickDialog, Overlay};
use crate::protocol::Status;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The live clients.
    Live,
    /// Closed clients, newest first.
    History,
    /// The recent events, full screen, oldest first.
    Events,
}

impl Screen {
    const ALL: [Screen; 3] = [Screen::Live, Screen::History, Screen::Events];

    /// The next screen (Tab), or the previous one (Shift-Tab).
    pub fn cycle(self, forward: bool) -> Screen {
        let i = Self::ALL.iter().position(|&s| s == self).unwrap_or(0);
        let step = if forward { 1 } else { Self::ALL.len() - 1 };
        Self::ALL[(i + step) % Self::ALL.len()]
    }

    /// What one of its rows is, as a message names it.
    pub fn row_name(self) -> &'static str {
        match self {
            Screen::Live => "client",
            Screen::History => "closed client",
            Screen::Events => "event",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Screen::Live => "clients",
            Screen::History => "history",
            Screen::Events => "events",
        }
    }
}

/// One screen's list: its rows in display order (indices into the
/// snapshot), the cursor in them, and the window of them on screen. The
/// window is fitted to the terminal before each frame ([`ViewState::fit`]),
/// so drawing only reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List {
    rows: Vec<usize>,
    pub pos: usize,
    /// The first row on screen.
    pub offset: usize,
    /// Rows that fit on screen: what PgUp/PgDn move by.
    pub page: usize,
    /// Where the list was laid out last, borders included, to map mouse
    /// clicks to rows.
    pub area: Rect,
}

impl List {
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn clamp(&mut self) {
        self.pos = self.pos.min(self.rows.len().saturating_sub(1));
    }

    fn move_to(&mut self, pos: usize) {
        self.pos = pos;
        self.clamp();
    }

    /// Moves the window so the cursor is inside a window of `height` rows.
    fn fit(&mut self, area: Rect, height: usize) {
        self.area = area;
        self.page = height.max(1);
        self.clamp();
        if self.pos < self.offset {
            self.offset = self.pos;
        } else if self.pos >= self.offset + self.page {
            self.offset = self.pos + 1 - self.page;
        }
        // Do not leave empty space below the last row when the list shrinks.
        self.offset = self.offset.min(self.rows.len().saturating_sub(self.page));
    }

    /// The rows on screen, as positions in the list.
    pub fn window(&self) -> Range<usize> {
        let end = (self.offset + self.page).min(self.rows.len());
        self.offset.min(end)..end
    }
}

/// Heartbeats per second, over the last second or so of snapshots.
///
/// Snapshots come at irregular times (every tick, and at once on a connect,
/// a close or a kick), and the heartbeat counter is brought up to date only
/// when one is taken: the rate between two snapshots a few milliseconds
/// apart is noise (0, then 148 for a steady 100). So the rate is taken over
/// a window of at least [`RATE_WINDOW`] of snapshots.
#[derive(Clone, Debug, Default)]
struct Rate {
    /// (taken, heartbeats so far), oldest first, spanning about a window.
    samples: VecDeque<(Instant, u64)>,
    per_second: f64,
}

/// The span the heartbeat rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// What the dashboard is attached to: what quitting does, and whether it
/// may kick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// Quitting stops the server too (`serve`'s own dashboard), so with
    /// clients connected `q` asks first.
    pub quit_stops_server: bool,
    /// No kick keys, and no command is sent (`top --read-only`).
    pub read_only: bool,
}

pub struct ViewState {
    /// The snapshot on screen (frozen while paused).
    shown: Arc<Snapshot>,
    pub mode: Mode,
    /// What is open over the screen, if anything: it takes keys first.
    pub overlay: Option<Overlay>,
    pub screen: Screen,
    /// The filter, and the order of the live table (its `status` unused:
    /// `f` keeps every status but alive, which no single status says).
    pub query: Query,
    pub only_not_alive: bool,
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
            only_not_alive: false,
            paused: false,
            marks: HashSet::new(),
            selected: None,
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
        self.rate.per_second
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
        if self.only_not_alive {
            self.live
                .rows
                .retain(|&i| clients[i].status() != Status::Alive);
        }
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

    /// Fits the current screen's list, and the overlay, to a terminal of
    /// `area`: done before each frame, so drawing changes nothing.
    pub fn fit(&mut self, area: Rect) {
        if let Some(layout) = crate::front::tui::render::Areas::of(self, area) {
            let table = layout.table;
            let borders = usize::from(table.height.saturating_sub(2));
            // The live and history tables have a header row under the border.
            let height = match self.screen {
                Screen::Events => borders,
                _ => borders.saturating_sub(1),
            };
            match self.screen {
                Screen::Live => self.live.fit(table, height),
                Screen::History => self.history.fit(table, height),
                Screen::Events => self.events.fit(table, height),
            }
        }
        if let Some(mut overlay) = self.overlay.take() {
            overlay.fit(area, self);
            self.overlay = Some(overlay);
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

impl Rate {
    fn update(&mut self, snapshot: &Snapshot) {
        let now = (snapshot.taken_mono, snapshot.counters.frames);
        if self.samples.back().is_some_and(|&(at, _)| now.0 <= at) {
            return;
        }
        self.samples.push_back(now);
        // Keep one sample at least a window old, and none older than that.
        while self
            .samples
            .get(1)
            .is_some_and(|&(at, _)| now.0.duration_since(at) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (at, frames) = self.samples[0];
        let span = now.0.duration_since(at);
        // Until a window has passed, any span of a quarter of one will do.
        if span >= RATE_WINDOW / 4 {
            self.per_second = now.1.saturating_sub(frames) as f64 / span.as_secs_f64();
        }
    }
}
