//! The maintenance question (`m`): whom it names (the marked clients, else
//! the selected one, captured when it is asked, as a kick's are), the
//! window's length typed so far, its keys and its drawing.
//!
//! Typing edits the length; Enter starts the window (or ends it, for
//! `off`) if the length reads, and says why not otherwise; Esc cancels.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::durations;
use crate::feed::event::Pid;
use crate::front::tui::action::Action;
use crate::front::tui::overlay::{Beneath, KickDialog, Step, centered};

/// The length a new question offers.
const DEFAULT: &str = "30m";
/// The longest length text taken: enough for `2h 30m 15s`, and no more.
const MAX_TEXT: usize = 24;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintenanceQuestion {
    /// Whom it names: one client, or the marked ones.
    pub whom: KickDialog,
    /// The length typed so far.
    pub text: String,
    /// Why the length last given did not read.
    pub error: Option<String>,
}

impl MaintenanceQuestion {
    pub fn new(whom: KickDialog) -> Self {
        MaintenanceQuestion {
            whom,
            text: DEFAULT.to_owned(),
            error: None,
        }
    }

    pub fn key(&mut self, key: KeyEvent, view: &mut dyn Beneath) -> Step {
        match key.code {
            KeyCode::Enter => match durations::window(&self.text, durations::MAINTENANCE.name) {
                Ok(length) => {
                    if matches!(self.whom, KickDialog::Marked { .. }) {
                        view.clear_marks();
                    }
                    Step::Close(Some(Action::Maintenance(self.whom.peers(), length)))
                }
                Err(error) => {
                    self.error = Some(error.to_string());
                    Step::Stay(None)
                }
            },
            KeyCode::Esc => Step::Close(None),
            KeyCode::Backspace => {
                self.text.pop();
                Step::Stay(None)
            }
            KeyCode::Char(c) if self.text.chars().count() < MAX_TEXT && !c.is_control() => {
                self.text.push(c);
                Step::Stay(None)
            }
            _ => Step::Stay(None),
        }
    }

    /// The question's first line.
    fn heading(&self) -> String {
        match &self.whom {
            KickDialog::One { peer, pid } => format!("Put {peer} ({}) into maintenance", Pid(*pid)),
            KickDialog::Marked { peers, .. } if peers.len() == 1 => {
                format!("Put the marked client {} into maintenance", peers[0].peer)
            }
            whom => format!("Put {} marked clients into maintenance", whom.peers().len()),
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let mut lines = vec![Line::from(""), Line::from(self.heading()).bold()];
        lines.extend(self.whom.details().into_iter().map(|l| Line::from(l).dim()));
        lines.push(Line::from("the rules leave it alone until the window ends").dim());
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::raw("for: ").bold(),
            Span::raw(self.text.clone()),
            Span::raw("█").slow_blink(),
        ]));
        let hint = format!(
            "e.g. 30m, 2h (at most {}); off ends the window",
            humantime::format_duration(durations::MAINTENANCE.max)
        );
        lines.push(match &self.error {
            Some(error) => Line::from(error.clone()).fg(Color::Red),
            None => Line::from(hint).dim(),
        });
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled(" Enter ", Style::new().fg(Color::Black).bg(Color::Yellow)),
            Span::raw(" start    "),
            Span::styled(" Esc ", Style::new().fg(Color::Black).bg(Color::Gray)),
            Span::raw(" cancel"),
        ]));
        let popup = centered(area, 64, lines.len() as u16 + 4);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(Color::Yellow))
            .title(" Maintenance window ");
        frame.render_widget(Clear, popup);
        frame.render_widget(
            Paragraph::new(lines)
                .centered()
                .wrap(Wrap { trim: true })
                .block(block),
            popup,
        );
    }
}

/// What the footer says once the server has answered.
pub fn maintained(clients: usize, ended: bool) -> String {
    let whom = match clients {
        1 => "1 client".to_owned(),
        n => format!("{n} clients"),
    };
    match (clients, ended) {
        (0, false) => "in maintenance: nobody (gone, or not yet said hello)".to_owned(),
        (0, true) => "maintenance ended for nobody (none was in a window)".to_owned(),
        (_, false) => format!("{whom} in maintenance"),
        (_, true) => format!("maintenance ended for {whom}"),
    }
}
