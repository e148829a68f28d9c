//! What can be open over a screen: one [`Overlay`] at a time, each in a
//! module that owns its state, takes its keys and draws itself (the
//! component pattern of ratatui's template and bottom's dialogs).
//!
//! An open overlay sees every key first and says what it did with it as a
//! [`Step`]; only a key it passes reaches the screen under it. So which one
//! takes a key is decided in one place, [`Overlay::key`], and what is drawn
//! in one other, [`Overlay::draw`].

mod details;
mod entry;
mod filter;
mod help;
mod kick;
mod maintenance;
mod quit;

use std::time::SystemTime;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

pub use details::DetailsPane;
pub use entry::Entry;
pub use help::Help;
pub use kick::{KickDialog, KickQuestion, outcome};
pub use maintenance::{MaintenanceQuestion, maintained};
pub use quit::QuitQuestion;

use crate::feed::merged::Key;
use crate::front::tui::action::Action;
use crate::front::tui::screen::Mode;

/// What an overlay may do to the screen under it. The dashboard's view
/// implements it, and an overlay sees no more of the view than this: so the
/// view can own the overlay without the two depending on each other.
pub trait Beneath {
    /// Moves the screen's cursor by `delta` rows.
    fn move_by(&mut self, delta: isize);
    /// The live client selected, if any.
    fn selected(&self) -> Option<Key>;
    /// The selected history row or event, whole, if the screen has rows.
    fn selected_entry(&self) -> Option<Entry>;
    /// The filter's text, to edit; the lists follow at [`Beneath::refresh`].
    fn filter(&mut self) -> &mut String;
    fn refresh(&mut self);
    /// Forgets every mark (the marked clients were just kicked).
    fn clear_marks(&mut self);
}

/// The one thing open over the screen, if any.
#[derive(Clone, Debug)]
pub enum Overlay {
    /// The key reference (`?`).
    Help(Help),
    /// The filter prompt in the footer (`/`): typing edits the filter.
    Filter,
    /// "Kick these clients?" (`d`, `K`).
    Kick(KickQuestion),
    /// "Put these clients into maintenance, for how long?" (`m`).
    Maintenance(MaintenanceQuestion),
    /// A live client's story (Enter on the clients screen).
    Details(DetailsPane),
    /// A history row or an event, whole (Enter on those screens).
    Entry(Entry),
    /// "Stop the server and close its clients?" (`q` in `serve`).
    Quit(QuitQuestion),
}

/// What an overlay did with a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// It took the key and stays open, asking for this, if anything.
    Stay(Option<Action>),
    /// It took the key and closes, asking for this, if anything.
    Close(Option<Action>),
    /// Not its key: the screen under it takes it, and it stays open.
    Pass,
}

impl Overlay {
    /// Offers `key` to the overlay, which may change the screen beneath it
    /// (move the cursor, edit the filter, clear marks) as it answers.
    pub fn key(&mut self, key: KeyEvent, view: &mut dyn Beneath) -> Step {
        match self {
            Overlay::Help(help) => help.key(key),
            Overlay::Filter => filter::key(key, view),
            Overlay::Kick(question) => question.key(key, view),
            Overlay::Maintenance(question) => question.key(key, view),
            Overlay::Details(pane) => pane.key(key, view),
            Overlay::Entry(entry) => entry.key(key, view),
            Overlay::Quit(question) => question.key(key),
        }
    }

    /// Draws the overlay over `area` of the dashboard in `mode`, ages
    /// counted to `now`. The filter prompt lives in the footer, which draws
    /// it.
    pub fn draw(&self, frame: &mut Frame, area: Rect, mode: Mode, now: SystemTime) {
        match self {
            Overlay::Help(help) => help.draw(frame, area, mode),
            Overlay::Filter => {}
            Overlay::Kick(question) => question.draw(frame, area),
            Overlay::Maintenance(question) => question.draw(frame, area),
            Overlay::Details(pane) => pane.draw(frame, area),
            Overlay::Entry(entry) => entry.draw(frame, area, now),
            Overlay::Quit(question) => question.draw(frame, area),
        }
    }

    /// Fits what the overlay keeps about the screen (the help's scroll) to a
    /// terminal of `area`, before it is drawn.
    pub fn fit(&mut self, area: Rect, mode: Mode) {
        if let Overlay::Help(help) = self {
            help.fit(area, mode);
        }
    }
}

/// A `width` x `height` rectangle in the middle of `area`, shrunk to fit.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// A question that acts on real clients: `lines` above a `y/Enter` and
/// `n/Esc` choice, in a red frame titled `title`, of `width` columns (a
/// spare line below for text that wraps).
fn question(
    frame: &mut Frame,
    area: Rect,
    (title, width): (&str, u16),
    mut lines: Vec<Line<'static>>,
    (yes, no): (&str, &str),
) {
    let popup = centered(area, width, lines.len() as u16 + 5);
    lines.insert(0, Line::from(""));
    lines.extend([
        Line::from(""),
        Line::from(vec![
            Span::styled(" y/Enter ", Style::new().fg(Color::Black).bg(Color::Red)),
            Span::raw(format!(" {yes}    ")),
            Span::styled(" n/Esc ", Style::new().fg(Color::Black).bg(Color::Gray)),
            Span::raw(format!(" {no}")),
        ]),
    ]);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Red))
        .title(format!(" {title} "));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .block(block),
        popup,
    );
}
