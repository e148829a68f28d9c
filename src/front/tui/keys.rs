//! Keys and mouse: input changes the [`ViewState`], and what must reach the
//! server comes out as an [`Action`]. The real loop and the tests call these
//! same functions.
//!
//! The open [`Overlay`] takes a key first (it says whether it did); a key
//! it passes, or any key with nothing open, goes to the screen. Ctrl-C
//! quits from anywhere. A key that does nothing says so in the footer, and
//! where it would.

use std::net::SocketAddr;
use std::time::Duration;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::front::tui::overlay::{
    DetailsPane, Entry, Help, KickQuestion, Overlay, QuitQuestion, Step,
};
use crate::front::tui::view::{Mode, Screen, ViewState};

/// What the dashboard asks of the rest of the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Clear the terminal and draw everything again (Ctrl-L).
    Redraw,
    /// Fetch this client's story for the details pane.
    Show(SocketAddr),
    /// Kick exactly these clients (those of them still connected), and
    /// refuse them for the hold-off, if there is one.
    Kick(Vec<SocketAddr>, Option<Duration>),
}

/// Where a key does something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    /// Only on the live clients screen.
    Live,
    /// On the live clients screen, and only where the dashboard may kick
    /// (not `top --read-only`).
    Kicks,
}

impl Scope {
    /// Whether a key of this scope does something on `screen` in `mode`.
    pub fn applies(self, screen: Screen, mode: Mode) -> bool {
        match self {
            Scope::Everywhere => true,
            Scope::Live => screen == Screen::Live,
            Scope::Kicks => screen == Screen::Live && !mode.read_only,
        }
    }
}

/// One line of the key reference.
pub struct KeyHelp {
    pub keys: &'static str,
    pub does: &'static str,
    pub scope: Scope,
    /// What the footer says for it, if it offers it (when it fits, in this
    /// list's order).
    pub footer: Option<&'static str>,
}

const fn key(
    keys: &'static str,
    does: &'static str,
    scope: Scope,
    footer: Option<&'static str>,
) -> KeyHelp {
    KeyHelp {
        keys,
        does,
        scope,
        footer,
    }
}

/// Every key, for the help overlay and the footer: the one list, so the two
/// cannot disagree. The footer offers those with a footer text, most useful
/// first, as many as fit, and always ends with [`HELP`] and [`QUIT`].
pub const KEYS: &[KeyHelp] = &[
    key(
        "d / Delete / F9",
        "kick selected or marked",
        Scope::Kicks,
        Some("d kick"),
    ),
    key(
        "Space",
        "mark / unmark, then move down",
        Scope::Kicks,
        Some("Space mark"),
    ),
    key("K", "kick all in leave", Scope::Kicks, Some("K kick leave")),
    key(
        "Enter",
        "open: a client's story, a whole reason or event",
        Scope::Everywhere,
        None,
    ),
    key(
        "/",
        "filter (Enter keep, Esc clear)",
        Scope::Everywhere,
        Some("/ filter"),
    ),
    key("f", "only not alive", Scope::Live, Some("f not alive")),
    key(
        "Tab / Shift-Tab",
        "next / previous: clients, history, events",
        Scope::Everywhere,
        Some("Tab screens"),
    ),
    key(
        "s / S",
        "sort column / reverse",
        Scope::Live,
        Some("s sort"),
    ),
    PAUSE,
    key("↑/↓ j/k", "move", Scope::Everywhere, Some("↑↓ move")),
    key("PgUp/PgDn", "page", Scope::Everywhere, None),
    key("Home/End g/G", "first / last", Scope::Everywhere, None),
    key("h / l", "previous / next screen", Scope::Everywhere, None),
    key(
        "mouse",
        "wheel scrolls, click selects",
        Scope::Everywhere,
        None,
    ),
    key("Ctrl-L", "redraw the screen", Scope::Everywhere, None),
    key(
        "h (kick dialog)",
        "hold-off: refuse them 1m / 10m / 1h",
        Scope::Kicks,
        None,
    ),
    HELP,
    QUIT,
];

pub const PAUSE: KeyHelp = key(
    "p",
    "pause / resume the view",
    Scope::Everywhere,
    Some("p pause"),
);
pub const HELP: KeyHelp = key("? / F1", "help", Scope::Everywhere, Some("? help"));
/// What quitting does depends on the dashboard: the help says it for the
/// one it is in ([`quit_does`]), the manual page for both.
pub const QUIT: KeyHelp = key(
    "q / F10 / Ctrl-C",
    "quit: in serve and demo this stops the server (asking first while clients are connected); in top the server keeps running",
    Scope::Everywhere,
    Some("q quit"),
);

/// What the footer offers for `k`: while paused, `p` resumes.
pub fn footer_text(k: &KeyHelp, paused: bool) -> Option<&'static str> {
    match k.footer {
        Some(_) if paused && k.keys == PAUSE.keys => Some("p resume"),
        footer => footer,
    }
}

/// What quitting does, as the help says it.
pub fn quit_does(mode: Mode) -> &'static str {
    if mode.quit_stops_server {
        "quit: stops the server (asks first)"
    } else {
        "quit: the server keeps running"
    }
}

/// Rows the mouse wheel scrolls per notch.
const WHEEL_ROWS: isize = 3;

pub fn handle_key(key: KeyEvent, view: &mut ViewState) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let open = view.overlay.take();
    if ctrl && key.code == KeyCode::Char('c') && !matches!(open, Some(Overlay::Quit(_))) {
        return ask_quit(view);
    }
    if !matches!(open, Some(Overlay::Quit(_))) {
        view.message = None;
    }
    if let Some(mut overlay) = open {
        match overlay.key(key, view) {
            Step::Stay(action) => {
                view.overlay = Some(overlay);
                return action;
            }
            Step::Close(action) => return action,
            // The screen takes the key; what it opens replaces the overlay.
            Step::Pass => view.overlay = Some(overlay),
        }
    }
    screen_key(key.code, ctrl, view)
}

/// A key for the screen, with nothing open over it that took the key.
fn screen_key(code: KeyCode, ctrl: bool, view: &mut ViewState) -> Option<Action> {
    match code {
        KeyCode::Char('l') if ctrl => return Some(Action::Redraw),
        KeyCode::Char('q') | KeyCode::F(10) => return ask_quit(view),
        KeyCode::Char('?') | KeyCode::F(1) => view.overlay = Some(Overlay::Help(Help::default())),
        KeyCode::Up | KeyCode::Char('k') => view.move_by(-1),
        KeyCode::Down | KeyCode::Char('j') => view.move_by(1),
        KeyCode::PageUp => view.move_by(-view.page()),
        KeyCode::PageDown => view.move_by(view.page()),
        KeyCode::Home | KeyCode::Char('g') => view.move_by(isize::MIN),
        KeyCode::End | KeyCode::Char('G') => view.move_to_end(),
        KeyCode::Tab | KeyCode::Char('l') => view.screen = view.screen.cycle(true),
        KeyCode::BackTab | KeyCode::Char('h') => view.screen = view.screen.cycle(false),
        KeyCode::Char('/') => view.overlay = Some(Overlay::Filter),
        KeyCode::Esc if !view.query.filter.is_empty() => {
            view.query.filter.clear();
            view.refresh();
        }
        KeyCode::Char('p') => view.paused = !view.paused,
        KeyCode::Enter => return open(view),
        KeyCode::Char(' ' | 'd' | 'K' | 's' | 'S' | 'f') | KeyCode::Delete | KeyCode::F(9) => {
            live_key(code, view);
        }
        KeyCode::Esc => {}
        other => view.message = Some(format!("{other} does nothing here; ? lists the keys")),
    }
    None
}

/// Enter: the selected client's story on the clients screen, the selected
/// row whole on the others.
fn open(view: &mut ViewState) -> Option<Action> {
    if view.screen == Screen::Live {
        let Some(peer) = view.selected else {
            view.message = Some("no client selected".to_owned());
            return None;
        };
        view.overlay = Some(Overlay::Details(DetailsPane::asking(peer)));
        return Some(Action::Show(peer));
    }
    match Entry::selected(view) {
        Some(entry) => view.overlay = Some(Overlay::Entry(entry)),
        None => view.message = Some(format!("no {} to open", view.screen.row_name())),
    }
    None
}

/// The keys that act on the live clients: marks, kicks, sort and `f`.
/// Elsewhere, and for kicks in a read-only viewer, they say why they do
/// nothing.
fn live_key(code: KeyCode, view: &mut ViewState) {
    let kicks = matches!(
        code,
        KeyCode::Char(' ' | 'd' | 'K') | KeyCode::Delete | KeyCode::F(9)
    );
    if kicks && view.mode.read_only {
        view.message = Some("read-only: this viewer does not kick".to_owned());
        return;
    }
    if view.screen != Screen::Live {
        view.message = Some(format!(
            "{code} works on the clients screen (Tab to go there)"
        ));
        return;
    }
    match code {
        KeyCode::Char(' ') => {
            if let Some(peer) = view.selected {
                if !view.marks.remove(&peer) {
                    view.marks.insert(peer);
                }
                view.move_by(1);
            }
        }
        KeyCode::Char('K') => ask_kick(view, KickQuestion::leave),
        KeyCode::Char('s' | 'S' | 'f') => {
            match code {
                KeyCode::Char('s') => view.query.sort = view.query.sort.next(),
                KeyCode::Char('S') => view.query.reverse = !view.query.reverse,
                _ => view.only_not_alive = !view.only_not_alive,
            }
            view.refresh();
        }
        _ => ask_kick(view, KickQuestion::marked_or_selected),
    }
}

/// Opens the kick question `ask` makes, if it finds clients to name.
fn ask_kick(view: &mut ViewState, ask: fn(&mut ViewState) -> Option<KickQuestion>) {
    if let Some(question) = ask(view) {
        view.overlay = Some(Overlay::Kick(question));
    }
}

/// Quits at once, unless quitting would stop a server with clients: then
/// the question comes first.
fn ask_quit(view: &mut ViewState) -> Option<Action> {
    let clients = view.snapshot().clients.len();
    if view.mode.quit_stops_server && clients > 0 {
        view.overlay = Some(Overlay::Quit(QuitQuestion { clients }));
        return None;
    }
    Some(Action::Quit)
}

pub fn handle_mouse(mouse: MouseEvent, view: &mut ViewState) {
    match mouse.kind {
        MouseEventKind::ScrollDown => view.move_by(WHEEL_ROWS),
        MouseEventKind::ScrollUp => view.move_by(-WHEEL_ROWS),
        MouseEventKind::Down(MouseButton::Left) => {
            let area = view.list().area;
            // The table's first data row is below its border and header.
            let first = area.y + 2;
            let inside = mouse.column > area.x
                && mouse.column < area.right().saturating_sub(1)
                && mouse.row >= first
                && mouse.row < area.bottom().saturating_sub(1);
            if inside {
                view.click_row(usize::from(mouse.row - first));
            }
        }
        _ => {}
    }
}
