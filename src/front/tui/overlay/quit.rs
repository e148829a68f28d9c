//! The question before `q` (or Ctrl-C) stops a server that still has
//! clients: quitting `serve`'s own dashboard closes every connection, so
//! the operator says yes first. y, Enter or Ctrl-C again quit; any other
//! key keeps the server running.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::Line;

use crate::front::tui::action::Action;
use crate::front::tui::overlay::{Step, question};

/// The open quit question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuitQuestion {
    /// The clients quitting would close, when it was asked.
    pub clients: usize,
}

impl QuitQuestion {
    pub fn key(&self, key: KeyEvent) -> Step {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => Step::Close(Some(Action::Quit)),
            KeyCode::Char('c') if ctrl => Step::Close(Some(Action::Quit)),
            _ => Step::Close(None),
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let what = match self.clients {
            1 => "Stop the server and close its 1 client?".to_owned(),
            n => format!("Stop the server and close its {n} clients?"),
        };
        let lines = vec![
            Line::from(what).bold(),
            Line::from("Keep it up: serve --no-tui, watch with hbmon top").dim(),
        ];
        question(frame, area, ("Quit", 58), lines, ("stop", "keep running"));
    }
}
