//! Keys and mouse: input changes the [`ViewState`], and what must reach the
//! server comes out as an [`Action`]. The real loop and the tests call these
//! same functions.
//!
//! Modes are checked in order: help overlay, kick dialog, filter prompt,
//! then the screen. Ctrl-C quits from anywhere. A key that does nothing says
//! so in the footer, and where it would.

use std::net::SocketAddr;
use std::time::Duration;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::front::tui::details_pane;
use crate::front::tui::entry::{self, Entry};
use crate::front::tui::kick_dialog::KickDialog;
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

/// The hold-offs `h` cycles through in the kick dialog.
pub const HOLDS: [Duration; 3] = [
    Duration::from_secs(60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(60 * 60),
];

/// The hold-off after `hold`: none, then each of [`HOLDS`], then none again.
fn next_hold(hold: Option<Duration>) -> Option<Duration> {
    match hold {
        None => Some(HOLDS[0]),
        Some(hold) => HOLDS.iter().copied().find(|&h| h > hold),
    }
}

/// Rows the mouse wheel scrolls per notch.
const WHEEL_ROWS: isize = 3;

pub fn handle_key(key: KeyEvent, view: &mut ViewState) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if view.quitting.take().is_some() {
        return match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Action::Quit),
            KeyCode::Char('c') if ctrl => Some(Action::Quit),
            _ => None,
        };
    }
    if ctrl && key.code == KeyCode::Char('c') {
        return ask_quit(view);
    }
    view.message = None;
    if let Some(offset) = view.help {
        // Arrows scroll a help taller than the terminal; any other key closes it.
        view.help = match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(offset.saturating_sub(1)),
            KeyCode::Down | KeyCode::Char('j') => Some(offset + 1),
            _ => None,
        };
        return None;
    }
    if let Some(dialog) = view.dialog.take() {
        return confirm(key, dialog, view);
    }
    if view.details.is_some() {
        return details_pane::keys(key, view);
    }
    if view.entry.is_some() {
        entry::keys(key, view);
        return None;
    }
    // A new question starts with no hold-off.
    view.hold = None;
    if view.editing_filter && edit_filter(key, view) {
        return None;
    }
    screen_key(key.code, ctrl, view)
}

/// A key on a screen with nothing open over it.
fn screen_key(code: KeyCode, ctrl: bool, view: &mut ViewState) -> Option<Action> {
    match code {
        KeyCode::Char('l') if ctrl => return Some(Action::Redraw),
        KeyCode::Char('q') | KeyCode::F(10) => return ask_quit(view),
        KeyCode::Char('?') | KeyCode::F(1) => view.help = Some(0),
        KeyCode::Up | KeyCode::Char('k') => view.move_by(-1),
        KeyCode::Down | KeyCode::Char('j') => view.move_by(1),
        KeyCode::PageUp => view.move_by(-view.page()),
        KeyCode::PageDown => view.move_by(view.page()),
        KeyCode::Home | KeyCode::Char('g') => view.move_by(isize::MIN),
        KeyCode::End | KeyCode::Char('G') => view.move_to_end(),
        KeyCode::Tab | KeyCode::Char('l') => view.screen = view.screen.cycle(true),
        KeyCode::BackTab | KeyCode::Char('h') => view.screen = view.screen.cycle(false),
        KeyCode::Char('/') => view.editing_filter = true,
        KeyCode::Esc if !view.filter.is_empty() => {
            view.filter.clear();
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
        view.details = Some((peer, None));
        return Some(Action::Show(peer));
    }
    view.entry = Entry::selected(view);
    if view.entry.is_none() {
        view.message = Some(format!("no {} to open", view.screen.row_name()));
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
        KeyCode::Char('K') => {
            let peers = view.leave_clients();
            if peers.is_empty() {
                view.message = Some("no clients in leave".to_owned());
            } else {
                view.dialog = Some(KickDialog::Leave { peers });
            }
        }
        KeyCode::Char('s' | 'S' | 'f') => {
            match code {
                KeyCode::Char('s') => view.sort = view.sort.next(),
                KeyCode::Char('S') => view.reverse = !view.reverse,
                _ => view.only_not_alive = !view.only_not_alive,
            }
            view.refresh();
        }
        _ => ask_kick(view),
    }
}

/// Quits at once, unless quitting would stop a server with clients: then
/// the question comes first.
fn ask_quit(view: &mut ViewState) -> Option<Action> {
    let clients = view.snapshot().clients.len();
    if view.mode.quit_stops_server && clients > 0 {
        view.quitting = Some(clients);
        return None;
    }
    Some(Action::Quit)
}

/// Opens the kick dialog for the marked clients, or else the selected one.
fn ask_kick(view: &mut ViewState) {
    let live: Vec<SocketAddr> = view
        .snapshot()
        .clients
        .iter()
        .map(|c| c.peer)
        .filter(|peer| view.marks.contains(peer))
        .collect();
    view.dialog = if !live.is_empty() {
        let hidden = live.len() - view.shown_count(&live);
        Some(KickDialog::Marked {
            peers: live,
            hidden,
        })
    } else if let Some(client) = view.selected_client() {
        Some(KickDialog::One {
            peer: client.peer,
            pid: client.pid,
        })
    } else {
        view.message = Some("no client selected".to_owned());
        None
    };
}

fn confirm(key: KeyEvent, dialog: KickDialog, view: &mut ViewState) -> Option<Action> {
    match key.code {
        KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
            if matches!(dialog, KickDialog::Marked { .. }) {
                view.marks.clear();
            }
            Some(Action::Kick(dialog.peers(), view.hold))
        }
        KeyCode::Char('h') => {
            view.hold = next_hold(view.hold);
            view.dialog = Some(dialog);
            None
        }
        KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => None,
        _ => {
            // Any other key leaves the question open.
            view.dialog = Some(dialog);
            None
        }
    }
}

/// Typing in the filter prompt. Returns false for keys the prompt leaves to
/// the table (arrows and paging still move the selection).
fn edit_filter(key: KeyEvent, view: &mut ViewState) -> bool {
    match key.code {
        KeyCode::Enter => view.editing_filter = false,
        KeyCode::Esc => {
            view.editing_filter = false;
            view.filter.clear();
        }
        KeyCode::Backspace => {
            view.filter.pop();
        }
        KeyCode::Char(c) => view.filter.push(c),
        _ => return false,
    }
    view.refresh();
    true
}

pub fn handle_mouse(mouse: MouseEvent, view: &mut ViewState) {
    match mouse.kind {
        MouseEventKind::ScrollDown => view.move_by(WHEEL_ROWS),
        MouseEventKind::ScrollUp => view.move_by(-WHEEL_ROWS),
        MouseEventKind::Down(MouseButton::Left) => {
            let area = view.table_area;
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
