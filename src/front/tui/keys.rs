//! Keys and mouse: input changes the [`ViewState`], and what must reach the
//! server comes out as an [`Action`]. The real loop and the tests call these
//! same functions.
//!
//! The open [`Overlay`] takes a key first (it says whether it did); a key
//! it passes, or any key with nothing open, goes to the screen. Ctrl-C
//! quits from anywhere. A key that does nothing says so in the footer, and
//! where it would.

use std::sync::Arc;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::feed::merged::Key;
use crate::front::tui::overlay::{
    DetailsPane, Help, KickDialog, KickQuestion, MaintenanceQuestion, Overlay, QuitQuestion, Step,
};
use crate::front::tui::screen::Screen;
use crate::front::tui::view::ViewState;
use crate::protocol::Status;

// What the manual page and the tests read about keys, found here with the
// functions that handle them.
pub use crate::front::tui::action::Action;
pub use crate::front::tui::keymap::{KEYS, QUIT, Scope, quit_does};

/// Rows the mouse wheel scrolls per notch.
const WHEEL_ROWS: isize = 3;

/// One key press: the open overlay's first, then the screen's, unless it
/// is Ctrl-C, which asks to quit from anywhere but the quit question itself
/// (there it answers yes).
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
        KeyCode::Tab | KeyCode::Char('l') => cycle(view, true),
        KeyCode::BackTab | KeyCode::Char('h') => cycle(view, false),
        KeyCode::Char('/') => view.overlay = Some(Overlay::Filter),
        KeyCode::Esc if !view.query.filter.is_empty() => {
            view.query.filter.clear();
            view.refresh();
        }
        KeyCode::Esc if view.only().is_some() => view.narrow(None),
        KeyCode::Char('p') => view.paused = !view.paused,
        KeyCode::Enter => return open(view),
        KeyCode::Char(' ' | 'd' | 'K' | 'm' | 's' | 'S' | 'f')
        | KeyCode::Delete
        | KeyCode::F(9) => {
            live_key(code, view);
        }
        KeyCode::Esc => {}
        other => view.message = Some(format!("{other} does nothing here; ? lists the keys")),
    }
    None
}

fn cycle(view: &mut ViewState, forward: bool) {
    view.screen = view.screen.cycle(forward, view.fleet().several());
}

/// Enter: the selected client's story on the clients screen, the clients
/// of the selected server on the servers screen, the selected row whole on
/// the others.
fn open(view: &mut ViewState) -> Option<Action> {
    if view.screen == Screen::Live {
        let Some(key) = view.selected.clone() else {
            view.message = Some("no client selected".to_owned());
            return None;
        };
        view.overlay = Some(Overlay::Details(DetailsPane::asking(key.clone())));
        return Some(Action::Show(key));
    }
    if view.screen == Screen::Servers {
        let Some(part) = view.fleet().parts().get(view.servers.pos) else {
            view.message = Some("no server to open".to_owned());
            return None;
        };
        let name = Arc::clone(&part.name);
        view.narrow(Some(name));
        view.screen = Screen::Live;
        return None;
    }
    match view.selected_entry() {
        Some(entry) => view.overlay = Some(Overlay::Entry(entry)),
        None => view.message = Some(format!("no {} to open", view.screen.row_name())),
    }
    None
}

/// The keys that act on the live clients: marks, kicks, maintenance, sort
/// and `f`.
/// Elsewhere, and for kicks in a read-only viewer, they say why they do
/// nothing.
fn live_key(code: KeyCode, view: &mut ViewState) {
    let kicks = matches!(
        code,
        KeyCode::Char(' ' | 'd' | 'K' | 'm') | KeyCode::Delete | KeyCode::F(9)
    );
    if kicks && view.mode.read_only {
        let what = match code {
            KeyCode::Char('m') => "start maintenance windows",
            _ => "kick",
        };
        view.message = Some(format!("read-only: this viewer does not {what}"));
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
            if let Some(key) = view.selected.clone() {
                if let Some(why) = view.unkickable(&key) {
                    view.message = Some(why);
                } else if !view.marks.remove(&key) {
                    view.marks.insert(key);
                }
                view.move_by(1);
            }
        }
        KeyCode::Char('K') => ask_kick(view, leave),
        KeyCode::Char('m') => {
            if let Some(whom) = marked_or_selected(view) {
                view.overlay = Some(Overlay::Maintenance(MaintenanceQuestion::new(whom)));
            }
        }
        KeyCode::Char('s' | 'S' | 'f') => {
            match code {
                KeyCode::Char('s') => view.query.sort = view.query.sort.next(),
                KeyCode::Char('S') => view.query.reverse = !view.query.reverse,
                _ => view.query.except = view.query.except.xor(Some(Status::Alive)),
            }
            view.refresh();
        }
        _ => ask_kick(view, |view| marked_or_selected(view).map(KickQuestion::new)),
    }
}

/// Opens the kick question `ask` makes, if it finds clients to name.
fn ask_kick(view: &mut ViewState, ask: fn(&mut ViewState) -> Option<KickQuestion>) {
    if let Some(question) = ask(view) {
        view.overlay = Some(Overlay::Kick(question));
    }
}

/// The marked clients, or else the selected one, for a kick or a
/// maintenance window; `None` with nobody (the footer says why). Clients
/// of a server that is lost or read-only are left out, and the footer
/// says why when that leaves nobody.
fn marked_or_selected(view: &mut ViewState) -> Option<KickDialog> {
    let fleet = view.fleet();
    let mut live: Vec<Key> = Vec::new();
    let mut why = None;
    for part in fleet.parts() {
        let marked: Vec<Key> = (part.snapshot.clients.iter())
            .map(|c| Key {
                server: Arc::clone(&part.name),
                peer: c.peer,
            })
            .filter(|key| view.marks.contains(key))
            .collect();
        match part.unkickable() {
            None => live.extend(marked),
            Some(reason) if why.is_none() && !marked.is_empty() => why = Some(reason),
            Some(_) => {}
        }
    }
    if !live.is_empty() {
        let hidden = live.len() - view.shown_count(&live);
        return Some(KickDialog::Marked {
            peers: live,
            hidden,
        });
    }
    if why.is_none()
        && let Some(client) = view.selected_client()
    {
        let key = view.selected.clone()?;
        match view.unkickable(&key) {
            None => {
                let pid = client.pid;
                return Some(KickDialog::One { peer: key, pid });
            }
            Some(reason) => why = Some(reason),
        }
    }
    view.message = Some(why.unwrap_or_else(|| "no client selected".to_owned()));
    None
}

/// The question for every client in `leave` now; `None` with none.
fn leave(view: &mut ViewState) -> Option<KickQuestion> {
    let peers = view.leave_clients();
    if peers.is_empty() {
        view.message = Some("no clients in leave".to_owned());
        return None;
    }
    Some(KickQuestion::new(KickDialog::Leave { peers }))
}

/// Quits at once, unless quitting would stop a server with clients: then
/// the question comes first.
fn ask_quit(view: &mut ViewState) -> Option<Action> {
    let clients = view.fleet().total(|s| s.clients.len() as u64) as usize;
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
