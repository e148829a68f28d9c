//! The kick confirmation: what it asks, and how it is drawn.
//!
//! Kicking disconnects real clients, so every kick goes through this popup:
//! y or Enter confirms, n or Esc cancels.

use std::net::SocketAddr;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::event::Pid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KickDialog {
    /// Kick one client, the selected one.
    One { peer: SocketAddr, pid: Option<u32> },
    /// Kick the marked clients.
    Marked(Vec<SocketAddr>),
    /// Kick every client in `leave` (counted when asked).
    AllLeave { count: usize },
}

impl KickDialog {
    fn question(&self) -> String {
        match self {
            KickDialog::One { peer, pid } => format!("Kick {peer} ({})?", Pid(*pid)),
            KickDialog::Marked(peers) if peers.len() == 1 => {
                format!("Kick the marked client {}?", peers[0])
            }
            KickDialog::Marked(peers) => format!("Kick {} marked clients?", peers.len()),
            KickDialog::AllLeave { count: 1 } => "Kick the 1 client in leave?".to_owned(),
            KickDialog::AllLeave { count } => format!("Kick all {count} clients in leave?"),
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect) {
        let popup = centered(area, 50, 7);
        let text = vec![
            Line::from(""),
            Line::from(self.question()).bold(),
            Line::from(""),
            Line::from(vec![
                Span::styled(" y/Enter ", Style::new().fg(Color::Black).bg(Color::Red)),
                Span::raw(" kick    "),
                Span::styled(" n/Esc ", Style::new().fg(Color::Black).bg(Color::Gray)),
                Span::raw(" cancel"),
            ]),
        ];
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(Color::Red))
            .title(" Confirm kick ");
        frame.render_widget(Clear, popup);
        frame.render_widget(
            Paragraph::new(text)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true })
                .block(block),
            popup,
        );
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
