//! What the operator is looking at: the snapshot on screen and everything
//! the keys change (selection, marks, sort, filter, pause, dialogs).
//!
//! The row order is derived from the snapshot once per snapshot or view
//! change, as indices, so a frame only touches the rows that fit on screen.
//! The selection follows a client (`ip:port`), not a row number, so it stays
//! on the same client when rows move.

use std::collections::{HashSet, VecDeque};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ratatui::layout::Rect;

use crate::feed::Connection;
use crate::feed::details::Details;
use crate::feed::event::Event;
use crate::feed::query::{self, Filter, Sort, client_text};
use crate::feed::snapshot::{ClientView, ClosedClient, Snapshot};
use crate::front::tui::entry::Entry;
use crate::front::tui::kick_dialog::KickDialog;
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

/// A position in a list and the window of it on screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub pos: usize,
    pub offset: usize,
    /// Rows that fit at the last render: what PgUp/PgDn move by.
    pub page: usize,
}

impl Cursor {
    fn clamp(&mut self, len: usize) {
        self.pos = self.pos.min(len.saturating_sub(1));
    }

    fn move_to(&mut self, pos: usize, len: usize) {
        self.pos = pos;
        self.clamp(len);
    }

    /// Moves the window so the cursor is inside it; returns the visible range.
    pub fn window(&mut self, len: usize, height: usize) -> std::ops::Range<usize> {
        self.page = height.max(1);
        self.clamp(len);
        if self.pos < self.offset {
            self.offset = self.pos;
        } else if self.pos >= self.offset + self.page {
            self.offset = self.pos + 1 - self.page;
        }
        // Do not leave empty space below the last row when the list shrinks.
        self.offset = self.offset.min(len.saturating_sub(self.page));
        self.offset..(self.offset + self.page).min(len)
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
    /// Whether the snapshots still come (a remote feed's server may be lost).
    pub connection: Connection,
    pub mode: Mode,
    /// The quit question is open: stop the server and close this many
    /// clients?
    pub quitting: Option<usize>,
    pub screen: Screen,
    /// The order of the live table.
    pub sort: Sort,
    pub reverse: bool,
    pub filter: String,
    /// The filter prompt is open and typing edits the filter.
    pub editing_filter: bool,
    pub only_not_alive: bool,
    pub paused: bool,
    /// The help overlay is open, scrolled down this many rows.
    pub help: Option<usize>,
    pub dialog: Option<KickDialog>,
    /// The details pane is open on this client, with its story once it has
    /// come (it is asked for again every second while the pane is open).
    pub details: Option<(SocketAddr, Option<Details>)>,
    /// The history row or event opened whole (Enter on those screens).
    pub entry: Option<Entry>,
    /// The hold-off chosen in the open kick dialog (`h`): how long the
    /// kicked clients are refused if they come back.
    pub hold: Option<Duration>,
    /// Marked clients, by address, so marks survive sorting and filtering.
    pub marks: HashSet<SocketAddr>,
    /// The selected client, by address.
    pub selected: Option<SocketAddr>,
    pub live: Cursor,
    pub history: Cursor,
    pub events: Cursor,
    /// The wall time the screen shows ("2s ago", countdowns): now, in the
    /// running dashboard; `None` means the snapshot's own time.
    pub clock: Option<SystemTime>,
    /// A one-line message for the operator (a kick that failed...).
    pub message: Option<String>,
    /// Where the table was drawn last, to map mouse clicks to rows.
    pub table_area: Rect,
    /// Live rows in display order: indices into `shown.clients`.
    rows: Vec<usize>,
    /// History rows, newest first: indices into `shown.history`.
    history_rows: Vec<usize>,
    /// Event rows, oldest first: indices into `shown.recent`.
    event_rows: Vec<usize>,
    rate: Rate,
}

impl ViewState {
    pub fn new(snapshot: Arc<Snapshot>) -> Self {
        let mut view = ViewState {
            shown: Arc::clone(&snapshot),
            mode: Mode::default(),
            quitting: None,
            screen: Screen::Live,
            sort: Sort::Connected,
            reverse: false,
            filter: String::new(),
            editing_filter: false,
            only_not_alive: false,
            paused: false,
            help: None,
            dialog: None,
            details: None,
            entry: None,
            hold: None,
            marks: HashSet::new(),
            selected: None,
            connection: Connection::Connected,
            live: Cursor::default(),
            history: Cursor::default(),
            events: Cursor::default(),
            clock: None,
            message: None,
            table_area: Rect::default(),
            rows: Vec::new(),
            history_rows: Vec::new(),
            event_rows: Vec::new(),
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
        &self.rows
    }

    pub fn history_rows(&self) -> &[usize] {
        &self.history_rows
    }

    pub fn event_rows(&self) -> &[usize] {
        &self.event_rows
    }

    pub fn event(&self, row: usize) -> &Event {
        &self.shown.recent[self.event_rows[row]]
    }

    /// The wall time to show the snapshot at (see [`ViewState::clock`]).
    pub fn now(&self) -> SystemTime {
        self.clock.unwrap_or(self.shown.taken)
    }

    pub fn client(&self, row: usize) -> &ClientView {
        &self.shown.clients[self.rows[row]]
    }

    pub fn closed(&self, row: usize) -> &ClosedClient {
        &self.shown.history[self.history_rows[row]]
    }

    pub fn selected_client(&self) -> Option<&ClientView> {
        self.rows
            .get(self.live.pos)
            .map(|&i| &self.shown.clients[i])
    }

    /// Recomputes the row order after the snapshot, sort or filter changed,
    /// keeping the selection on the same client when it is still shown.
    pub fn refresh(&mut self) {
        let clients = &self.shown.clients;
        let filter = Filter::new(&self.filter);
        let mut scratch = String::new();
        self.rows.clear();
        self.rows.extend((0..clients.len()).filter(|&i| {
            let c = &clients[i];
            (!self.only_not_alive || c.status() != Status::Alive) && filter.client(&mut scratch, c)
        }));
        query::sort(&mut self.rows, clients, self.sort);
        if self.reverse {
            self.rows.reverse();
        }

        let history = &self.shown.history;
        self.history_rows.clear();
        self.history_rows
            .extend((0..history.len()).rev().filter(|&i| {
                let h = &history[i];
                filter.matches(&mut scratch, |s| {
                    client_text(s, h.peer, h.ip.as_deref(), h.pid, h.status);
                    let _ = write!(s, " {}", h.reason);
                })
            }));
        self.history.clamp(self.history_rows.len());

        let recent = &self.shown.recent;
        // At the newest event, the cursor follows new ones, as `tail -f` does.
        let following = self.events.pos + 1 >= self.event_rows.len();
        self.event_rows.clear();
        self.event_rows.extend((0..recent.len()).filter(|&i| {
            filter.matches(&mut scratch, |s| {
                let _ = write!(s, "{}", recent[i].kind);
            })
        }));
        if following {
            self.events.pos = self.event_rows.len().saturating_sub(1);
        }
        self.events.clamp(self.event_rows.len());

        let found = self
            .selected
            .and_then(|peer| self.rows.iter().position(|&i| clients[i].peer == peer));
        match found {
            Some(pos) => self.live.pos = pos,
            None => self.select(self.live.pos),
        }
    }

    /// Selects the live row at `pos` (clamped).
    pub fn select(&mut self, pos: usize) {
        self.live.pos = pos.min(self.rows.len().saturating_sub(1));
        self.selected = self.selected_client().map(|c| c.peer);
    }

    /// Moves the cursor of the current screen by `delta` rows.
    pub fn move_by(&mut self, delta: isize) {
        match self.screen {
            Screen::Live => self.select(self.live.pos.saturating_add_signed(delta)),
            Screen::History => self.history.move_to(
                self.history.pos.saturating_add_signed(delta),
                self.history_rows.len(),
            ),
            Screen::Events => self.events.move_to(
                self.events.pos.saturating_add_signed(delta),
                self.event_rows.len(),
            ),
        }
    }

    /// Selects the `row`-th visible row of the current screen.
    pub fn click_row(&mut self, row: usize) {
        match self.screen {
            Screen::Live => self.select(self.live.offset + row),
            Screen::History => self
                .history
                .move_to(self.history.offset + row, self.history_rows.len()),
            Screen::Events => self
                .events
                .move_to(self.events.offset + row, self.event_rows.len()),
        }
    }

    pub fn move_to_end(&mut self) {
        self.move_by(isize::MAX);
    }

    pub fn page(&self) -> isize {
        let cursor = match self.screen {
            Screen::Live => self.live,
            Screen::History => self.history,
            Screen::Events => self.events,
        };
        cursor.page.max(1) as isize
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
        self.rows
            .iter()
            .filter(|&&i| peers.contains(&clients[i].peer))
            .count()
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
