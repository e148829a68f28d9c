//! The help overlay: the key reference drawn from [`KEYS`], the table the
//! footer and the manual page's KEYS section read too, so none of them can
//! leave a key out. On a terminal too short for all of it, it scrolls (↑/↓)
//! and says so.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Clear, Row, Table};

use crate::front::tui::keys::{KEYS, QUIT, Scope, quit_does};
use crate::front::tui::render::centered;
use crate::front::tui::view::{Mode, ViewState};

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

pub fn draw(frame: &mut Frame, area: Rect, view: &mut ViewState) {
    let entries = entries(view.mode);
    let popup = centered(area, WIDTH, entries.len() as u16 + 2);
    let fits = usize::from(popup.height.saturating_sub(2));
    let most = entries.len().saturating_sub(fits);
    let offset = view.help.unwrap_or(0).min(most);
    view.help = Some(offset);
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
