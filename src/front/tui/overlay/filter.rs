//! The filter prompt (`/`): typing edits the filter and the lists follow at
//! once. Enter keeps the filter and closes the prompt, Esc clears it. Keys
//! that do not type (arrows, paging, Tab) pass to the screen, so the
//! operator can move through what the filter leaves while typing. The
//! footer draws the prompt.

use crossterm::event::{KeyCode, KeyEvent};

use crate::front::tui::overlay::{Beneath, Step};

pub fn key(key: KeyEvent, view: &mut dyn Beneath) -> Step {
    let step = match key.code {
        KeyCode::Enter => Step::Close(None),
        KeyCode::Esc => {
            view.filter().clear();
            Step::Close(None)
        }
        KeyCode::Backspace => {
            view.filter().pop();
            Step::Stay(None)
        }
        KeyCode::Char(c) => {
            view.filter().push(c);
            Step::Stay(None)
        }
        _ => return Step::Pass,
    };
    view.refresh();
    step
}
