//! A history row or an event opened whole (Enter on the history or events
//! screen). Their tables give each row one line and cut a long close reason
//! or event at the terminal's edge; this pane shows all of it, folded. It
//! holds a copy of the row, so events rolling in do not change what is
//! being read. ↑/↓ open the row before or after; any other key closes it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use std::time::SystemTime;

use crate::feed::event::{Event, Pid};
use crate::feed::snapshot::ClosedClient;
use crate::front::tui::overlay::{Beneath, Step, centered};
use crate::front::tui::style::{ago, clock, event_style, short, status_style};
use crate::front::tui::wrap::wrap;

/// The pane's width on a terminal wide enough for it.
const WIDTH: u16 = 76;

#[derive(Clone, Debug)]
pub enum Entry {
    /// A closed client, from the history screen.
    Closed(ClosedClient),
    /// An event, from the events screen.
    Event(Event),
}

impl Entry {
    /// Keys while the pane is open: ↑/↓ move the screen's cursor and open
    /// that row instead; anything else closes the pane.
    pub fn key(&mut self, key: KeyEvent, view: &mut dyn Beneath) -> Step {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => view.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => view.move_by(1),
            _ => return Step::Close(None),
        }
        match view.selected_entry() {
            Some(entry) => {
                *self = entry;
                Step::Stay(None)
            }
            None => Step::Close(None),
        }
    }

    /// Draws the pane in the middle of `area`, `now` being the time ages
    /// are counted to.
    pub fn draw(&self, frame: &mut Frame, area: Rect, now: SystemTime) {
        let width = WIDTH.min(area.width);
        let inner = usize::from(width.saturating_sub(2));
        let (title, lines) = match self {
            Entry::Closed(h) => (format!(" {} closed ", h.peer), closed(h, inner, now)),
            Entry::Event(e) => (format!(" event at {} UTC ", clock(e.at)), event(e, inner)),
        };
        let popup = centered(area, width, (lines.len() as u16).saturating_add(2));
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .title(title)
            .title_bottom(Line::from(" ↑/↓ previous/next · any other key closes ").centered());
        frame.render_widget(Clear, popup);
        frame.render_widget(Paragraph::new(lines).block(block), popup);
    }
}

/// A closed client: who it was, how long it lasted, and its reason whole.
fn closed(h: &ClosedClient, width: usize, now: SystemTime) -> Vec<Line<'static>> {
    let lasted = h
        .closed_at
        .duration_since(h.connected_at)
        .unwrap_or_default();
    let mut lines = vec![
        Line::from(vec![
            Span::raw(format!(
                " {}  ip {}  ",
                Pid(h.pid),
                h.ip.as_deref().unwrap_or("?")
            )),
            Span::styled(h.status.as_str(), status_style(h.status)),
            Span::raw(format!("  heartbeats {}", h.heartbeats)),
        ]),
        Line::from(format!(
            " connected {}, closed {} UTC ({}), lasted {}",
            clock(h.connected_at),
            clock(h.closed_at),
            ago(now, h.closed_at),
            short(lasted)
        )),
        Line::from(" reason").bold(),
    ];
    lines.extend(wrap(&[Span::raw(format!("  {}", h.reason))], width, 2));
    lines
}

/// An event, folded under its time.
fn event(e: &Event, width: usize) -> Vec<Line<'static>> {
    let spans = [
        Span::raw(format!(" {} ", clock(e.at))).dim(),
        Span::styled(e.kind.to_string(), event_style(&e.kind)),
    ];
    wrap(&spans, width, 10)
}
