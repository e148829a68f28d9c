//! Keys and mouse: input changes the [`ViewState`], and what must reach the
//! server comes out as an [`Action`]. The real loop and the tests call these
//! same functions.
//!
//! Modes are checked in order: help overlay, kick dialog, filter prompt,
//! then the table. Ctrl-C quits from anywhere.

use std::net::SocketAddr;
use std::time::Duration;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::front::tui::kick_dialog::KickDialog;
use crate::front::tui::view::{Screen, ViewState};

/// What the dashboard asks of the rest of the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Kick exactly these clients (those of them still connected), and
    /// refuse them for the hold-off, if there is one.
    Kick(Vec<SocketAddr>, Option<Duration>),
}

/// Every key, for the help overlay and (those marked) the footer: the one
/// list, so the two cannot disagree.
pub const KEYS: &[(&str, &str, bool)] = &[
    ("↑/↓ j/k", "move", true),
    ("PgUp/PgDn", "page", false),
    ("Home/End g/G", "first / last", false),
    ("Space", "mark / unmark", true),
    ("d / Delete", "kick selected or marked", true),
    ("K", "kick all in leave", true),
    ("s / S", "sort column / reverse", true),
    ("/", "filter (Enter keep, Esc clear)", true),
    ("f", "only not alive", true),
    ("p", "pause view", true),
    ("Tab", "live / history", true),
    ("mouse", "wheel scrolls, click selects", false),
    ("?", "help", true),
    ("q / Ctrl-C", "quit (stops the server)", true),
];

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
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    view.message = None;
    if view.help {
        view.help = false;
        return None;
    }
    if let Some(dialog) = view.dialog.take() {
        return confirm(key, dialog, view);
    }
    // A new question starts with no hold-off.
    view.hold = None;
    if view.editing_filter && edit_filter(key, view) {
        return None;
    }
    match key.code {
        KeyCode::Char('q') => return Some(Action::Quit),
        KeyCode::Up | KeyCode::Char('k') => view.move_by(-1),
        KeyCode::Down | KeyCode::Char('j') => view.move_by(1),
        KeyCode::PageUp => view.move_by(-view.page()),
        KeyCode::PageDown => view.move_by(view.page()),
        KeyCode::Home | KeyCode::Char('g') => view.move_by(isize::MIN),
        KeyCode::End | KeyCode::Char('G') => view.move_to_end(),
        KeyCode::Tab | KeyCode::BackTab => {
            view.screen = match view.screen {
                Screen::Live => Screen::History,
                Screen::History => Screen::Live,
            }
        }
        KeyCode::Char(' ') if view.screen == Screen::Live => {
            if let Some(peer) = view.selected {
                if !view.marks.remove(&peer) {
                    view.marks.insert(peer);
                }
                view.move_by(1);
            }
        }
        KeyCode::Char('d') | KeyCode::Delete if view.screen == Screen::Live => ask_kick(view),
        KeyCode::Char('K') => {
            let peers = view.leave_clients();
            if peers.is_empty() {
                view.message = Some("no clients in leave".to_owned());
            } else {
                view.dialog = Some(KickDialog::Leave { peers });
            }
        }
        KeyCode::Char('s') => {
            view.sort = view.sort.next_sort();
            view.refresh();
        }
        KeyCode::Char('S') => {
            view.reverse = !view.reverse;
            view.refresh();
        }
        KeyCode::Char('/') => view.editing_filter = true,
        KeyCode::Esc if !view.filter.is_empty() => {
            view.filter.clear();
            view.refresh();
        }
        KeyCode::Char('f') => {
            view.only_not_alive = !view.only_not_alive;
            view.refresh();
        }
        KeyCode::Char('p') => view.paused = !view.paused,
        KeyCode::Char('?') => view.help = true,
        _ => {}
    }
    None
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
