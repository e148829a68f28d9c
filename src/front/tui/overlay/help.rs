//! The help overlay: the key reference drawn from [`KEYS`], the table the
//! footer and the manual page's KEYS section read too, so none of them can
//! leave a key out. On a terminal too short for all of it, it scrolls (↑/↓)
//! and says so.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Clear, Row, Table};

use crate::front::tui::keymap::{KEYS, QUIT, Scope, quit_does};
use crate::front::tui::overlay::{Step, centered};
use crate::front::tui::screen::Mode;

/// The overlay's width: every line whole on an 80-column terminal.
const WIDTH: u16 = 68;
/// The keys column; what they do gets the rest, less borders and a gap.
const KEYS_WIDTH: u16 = 18;
const DOES_WIDTH: u16 = WIDTH - 2 - KEYS_WIDTH - 1;

/// What the help lists in `mode`: every key that works there, with what
/// quitting does in this dashboard, and how to run it as a service where
/// quitting stops the server.
pub fn entries(mode: Mode) -> Vec<(&'static str, &'static str)> {
    let mut entries: Vec<(&str, &str)> = KEYS
        .iter()
        .filter(|k| !mode.read_only || k.scope != Scope::Kicks)
        .map(|k| {
            let does = if k.keys == QUIT.keys {
                quit_does(mode)
            } else {
                k.does
            };
            (k.keys, does)
        })
        .collect();
    if mode.quit_stops_server {
        entries.push(("as a service", "serve --no-tui, watch with hbmon top"));
    }
    entries
}

/// The open help, scrolled down this many rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Help {
    pub offset: usize,
}

impl Help {
    /// Arrows scroll a help taller than the terminal; any other key closes it.
    pub fn key(&mut self, key: KeyEvent) -> Step {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.offset = self.offset.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.offset += 1,
            _ => return Step::Close(None),
        }
        Step::Stay(None)
    }

    /// Keeps the scroll within what a terminal of `area` leaves unseen, so
    /// ↑ moves at once after ↓ was pressed past the end.
    pub fn fit(&mut self, area: Rect, mode: Mode) {
        let (_, most) = Self::window(area, entries(mode).len());
        self.offset = self.offset.min(most);
    }

    /// The popup for `len` entries in `area`, and the most it can scroll.
    fn window(area: Rect, len: usize) -> (Rect, usize) {
        let popup = centered(area, WIDTH, len as u16 + 2);
        let fits = usize::from(popup.height.saturating_sub(2));
        (popup, len.saturating_sub(fits))
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, mode: Mode) {
        let entries = entries(mode);
        let (popup, most) = Self::window(area, entries.len());
        let fits = entries.len() - most;
        let offset = self.offset.min(most);
        let rows: Vec<Row> = entries
            .iter()
            .skip(offset)
            .take(fits)
            .map(|&(keys, does)| Row::new([Cell::from(keys).bold(), Cell::from(does)]))
            .collect();
        let bottom = if most > 0 {
            format!(
                " {}-{} of {}: ↑/↓ scroll, any other key closes ",
                offset + 1,
                offset + fits,
                entries.len()
            )
        } else {
            " any key closes ".to_owned()
        };
        let widths = [Constraint::Length(KEYS_WIDTH), Constraint::Min(DOES_WIDTH)];
        let table = Table::new(rows, widths).block(
            Block::bordered()
                .title(" keys ")
                .title_bottom(Line::from(bottom).centered()),
        );
        frame.render_widget(Clear, popup);
        frame.render_widget(table, popup);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn every_help_line_fits_the_overlay_whole() {
        for mode in [
            Mode::default(),
            Mode {
                quit_stops_server: true,
                read_only: false,
            },
        ] {
            for (keys, does) in entries(mode) {
                assert!(keys.width() <= usize::from(KEYS_WIDTH), "{keys}");
                assert!(does.width() <= usize::from(DOES_WIDTH), "{keys}: {does}");
            }
        }
    }
}
