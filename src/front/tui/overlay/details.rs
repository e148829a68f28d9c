//! The details pane (Enter on a live client): its story as the server
//! tells it, asked for again every second while the pane is open. ↑/↓ move
//! on to the next client and the pane follows; any other key closes it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Sparkline};

use crate::feed::details::{Details, gap_figures};
use crate::feed::event::Pid;
use crate::feed::merged::Key;
use crate::front::tui::action::Action;
use crate::front::tui::overlay::{Beneath, Step, centered};
use crate::front::tui::style::{clock, short, status_style};
use crate::front::tui::wrap::wrap;

/// The pane's width, and its height without the story's lines.
const WIDTH: u16 = 76;
const ABOVE_STORY: u16 = 2 + 3 + 4;
/// Where a story line's text starts, under the time before it.
const INDENT: usize = 11;

/// The open pane: the client it is about, and its story once it has come
/// (it is asked for again every second while the pane is open).
#[derive(Clone, Debug)]
pub struct DetailsPane {
    pub key: Key,
    pub details: Option<Details>,
}

impl DetailsPane {
    /// The pane on `key`, its story still to be asked for.
    pub fn asking(key: Key) -> Self {
        DetailsPane { key, details: None }
    }

    /// ↑/↓ move to the client before or after and ask for its story.
    pub fn key(&mut self, key: KeyEvent, view: &mut dyn Beneath) -> Step {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => view.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => view.move_by(1),
            _ => return Step::Close(None),
        }
        let Some(key) = view.selected() else {
            return Step::Stay(None);
        };
        *self = DetailsPane::asking(key.clone());
        Step::Stay(Some(Action::Show(key)))
    }

    /// One client's story: its last heartbeat gaps as a sparkline with their
    /// mean, p99 and largest, its status changes, its earlier connections
    /// with how each ended, folded so a long reason is read whole. The pane
    /// grows with the story, up to the terminal's height.
    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let details = self.details.as_ref();
        let width = WIDTH.min(area.width);
        let story = details.map(|d| story(d, usize::from(width.saturating_sub(2))));
        let lines = story.as_ref().map_or(1, Vec::len) as u16;
        let popup = centered(area, width, ABOVE_STORY.saturating_add(lines));
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .title(format!(" {} ", self.key))
            .title_bottom(Line::from(" ↑/↓ next client · any other key closes ").centered());
        frame.render_widget(Clear, popup);
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        let (Some(d), Some(story)) = (details, story) else {
            frame.render_widget(Paragraph::new(" asking the server..."), inner);
            return;
        };
        let [about, spark, rest] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(4),
            Constraint::Min(1),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(summary(d)), about);
        let data: Vec<u64> = d.gaps_ms.iter().map(|&g| u64::from(g)).collect();
        frame.render_widget(
            Sparkline::default()
                .data(&data)
                .style(Style::new().fg(Color::Cyan))
                .block(Block::new().title(" heartbeat gaps ")),
            spark,
        );
        frame.render_widget(Paragraph::new(story), rest);
    }
}

/// The pid, ip, status and counts, and the gap figures.
fn summary(d: &Details) -> Vec<Line<'static>> {
    let (mean, p99, max) = gap_figures(&d.gaps_ms);
    let mut first = vec![
        Span::raw(format!(" {} ", Pid(d.pid))),
        Span::raw(format!("ip {}  ", d.ip.as_deref().unwrap_or("?"))),
    ];
    if let Some(identity) = &d.identity {
        first.push(Span::raw(format!("identity {identity}  ")));
    }
    first.extend([
        Span::styled(d.status.as_str(), status_style(d.status)),
        Span::raw(format!("  reconnects {}  flaps {}", d.reconnects, d.flaps)),
    ]);
    if let Some(phi) = d.phi {
        first.push(Span::raw(format!("  φ {phi:.1}")));
    }
    let gaps = match d.gaps_ms.len() {
        1 => "last gap".to_owned(),
        n => format!("last {n} gaps"),
    };
    let second = format!(" {gaps}: mean {mean} ms, p99 {p99} ms, largest {max} ms");
    vec![Line::from(first), Line::from(second).dim()]
}

/// The status changes and the earlier connections, folded to `width`.
fn story(d: &Details, width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(" status changes").bold()];
    if d.changes.is_empty() {
        lines.push(Line::from("  none").dim());
    }
    lines.extend(d.changes.iter().map(|c| {
        Line::from(vec![
            Span::raw(format!("  {} ", clock(c.at))).dim(),
            Span::styled(format!("{} -> {}", c.from, c.to), status_style(c.to)),
        ])
    }));
    lines.push(Line::from(" earlier connections").bold());
    if d.earlier.is_empty() {
        lines.push(Line::from("  none").dim());
    }
    for e in &d.earlier {
        let text = format!("{} lasted {}: {}", e.peer, short(e.lasted()), e.reason);
        let spans = [Span::raw(format!("  {} ", clock(e.closed_at))), text.into()];
        lines.extend(wrap(&spans, width, INDENT));
    }
    lines
}
