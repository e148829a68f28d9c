//! Drawing the dashboard: a function of the view state (which holds the
//! snapshot on screen) to a frame. One function per region:
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────┐
//! │ header: address, uptime, counts, rate, settings, badges  │ 3 lines
//! ├ clients (or history) ────────────────────────────────────┤
//! │ ip:port  reported ip  pid  status  miss ...  next        │ the rest
//! ├ events ──────────────────────────────────────────────────┤
//! │ 12:00:01 127.0.0.1:50312 connected                       │ ~1/4
//! └──────────────────────────────────────────────────────────┘
//!  footer: keys, filter prompt or message                      1 line
//! ```
//!
//! Only the rows that fit are built, so a frame costs the same with 100 or
//! 100,000 clients.

use std::time::{Duration, SystemTime};

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Cell, Clear, Paragraph, Row, Table, Wrap};

use crate::feed::event::{EventKind, rfc3339};
use crate::feed::snapshot::{ClientView, Snapshot};
use crate::front::tui::column::Column;
use crate::front::tui::keys::KEYS;
use crate::front::tui::kick_dialog::KickDialog;
use crate::front::tui::view::{Screen, ViewState};
use crate::liveness::Outlook;
use crate::protocol::Status;

/// The smallest terminal the dashboard lays out in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

pub fn render(frame: &mut Frame, view: &mut ViewState) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let events_height = (area.height / 4).clamp(4, 12);
    let [header_area, table_area, events_area, footer_area] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(5),
        Constraint::Length(events_height),
        Constraint::Length(1),
    ])
    .areas(area);
    header(frame, header_area, view);
    view.table_area = table_area;
    match view.screen {
        Screen::Live => clients(frame, table_area, view),
        Screen::History => history(frame, table_area, view),
    }
    events(frame, events_area, view.snapshot());
    footer(frame, footer_area, view);
    if let Some(dialog) = &view.dialog {
        kick_dialog(frame, area, dialog, view.hold);
    }
    if view.help {
        help(frame, area);
    }
}

fn too_small(frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from("terminal too small").bold(),
        Line::from(format!(
            "{}x{}, need at least {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        )),
    ];
    let centered_area = centered(area, area.width, 2);
    frame.render_widget(Paragraph::new(text).centered(), centered_area);
}

pub fn status_style(status: Status) -> Style {
    Style::new().fg(match status {
        Status::Alive => Color::Green,
        Status::Leave => Color::Yellow,
        Status::Close => Color::Red,
    })
}

fn header(frame: &mut Frame, area: Rect, view: &ViewState) {
    let s = view.snapshot();
    let uptime = s.taken.duration_since(s.started).unwrap_or_default();
    let mut first = vec![
        Span::raw(" hbmon ").bold().reversed(),
        Span::raw(format!("  listening {}  up {}", s.listen, short(uptime))),
    ];
    if view.paused {
        first.push(Span::raw("  "));
        first.push(
            Span::raw(" PAUSED ")
                .bold()
                .fg(Color::Black)
                .bg(Color::Yellow),
        );
    }
    let alive = s.count(Status::Alive);
    let leave = s.count(Status::Leave);
    let mut second = Line::from(vec![
        Span::raw(format!(" clients {}  ", s.clients.len())),
        Span::styled(format!("alive {alive}"), status_style(Status::Alive)),
        Span::raw("  "),
        Span::styled(format!("leave {leave}"), status_style(Status::Leave)),
        Span::raw("  "),
        Span::styled(
            format!("closed {}", s.counters.closed),
            status_style(Status::Close),
        ),
        Span::raw(format!(
            "  {:.0} heartbeats/s  bad frames {}  rejected {}",
            view.heartbeats_per_second(),
            s.counters.bad_frames,
            s.counters.rejected
        )),
    ]);
    if s.counters.journal_lost > 0 {
        // Decisions are being lost: that must not go unnoticed.
        second.push_span(Span::raw("  "));
        second.push_span(
            Span::raw(format!(" journal lost {} ", s.counters.journal_lost))
                .bold()
                .fg(Color::White)
                .bg(Color::Red),
        );
    }
    let r = &s.settings.rules;
    let mut third = format!(
        " tick {}  threshold {}  cursor {}  recover {}  leave timeout {}   sort {} {}",
        humantime::format_duration(s.settings.tick),
        r.threshold,
        r.cursor,
        r.recover,
        humantime::format_duration(r.leave_timeout),
        view.sort.title(),
        if view.reverse { "▼" } else { "▲" },
    );
    if !view.filter.is_empty() {
        third.push_str(&format!("   filter \"{}\"", view.filter));
    }
    if view.only_not_alive {
        third.push_str("   only not alive");
    }
    let lines = vec![Line::from(first), second, Line::from(third).dim()];
    frame.render_widget(Paragraph::new(lines), area);
}

/// Rows of the table that fit inside `area` (minus borders and header).
fn body_height(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(3))
}

/// One cell of the live table.
fn cell(column: Column, c: &ClientView, view: &ViewState, s: &Snapshot) -> Cell<'static> {
    let l = &c.liveness;
    let rules = &s.settings.rules;
    match column {
        Column::Mark if view.marks.contains(&c.peer) => Cell::from("*").bold().fg(Color::Magenta),
        Column::Mark => Cell::from(" "),
        Column::Peer => Cell::from(c.peer.to_string()),
        Column::ReportedIp => Cell::from(c.ip.as_deref().unwrap_or("-").to_owned()),
        Column::Pid => Cell::from(c.pid.map_or_else(|| "-".to_owned(), |p| p.to_string())),
        Column::Status => Cell::from(c.status().as_str()).style(status_style(c.status())),
        Column::Miss => Cell::from(format!("{}/{}", l.miss, rules.threshold)),
        Column::Strikes => Cell::from(format!("{}/{}", l.strikes, rules.cursor)),
        Column::Beats => Cell::from(c.heartbeats.to_string()),
        Column::LastSeen => Cell::from(
            c.last_seen
                .map_or_else(|| "never".to_owned(), |t| ago(s.taken, t)),
        ),
        Column::Connected => Cell::from(short(
            s.taken.duration_since(c.connected_at).unwrap_or_default(),
        )),
        Column::Next => outlook(c.outlook(s), s),
    }
}

fn clients(frame: &mut Frame, area: Rect, view: &mut ViewState) {
    let total = view.rows().len();
    let window = view.live.window(total, body_height(area));
    let s = view.snapshot();
    let columns = Column::fitting(area.width.saturating_sub(2));
    let rows: Vec<Row> = window
        .clone()
        .map(|row| {
            let c = view.client(row);
            let cells = columns.iter().map(|&column| cell(column, c, view, s));
            Row::new(cells).style(row_style(row == view.live.pos))
        })
        .collect();
    let widths = columns.iter().map(|c| match c {
        Column::Next => Constraint::Min(c.width()),
        _ => Constraint::Length(c.width()),
    });
    let title = list_title("clients", &window, total, view.marks.len());
    let table = Table::new(rows, widths)
        .header(
            Row::new(columns.iter().map(|c| c.title()))
                .bold()
                .underlined(),
        )
        .block(Block::bordered().title(title));
    frame.render_widget(table, area);
}

/// The selected row gets a background that keeps status colors legible.
fn row_style(selected: bool) -> Style {
    if selected {
        Style::new()
            .bg(Color::DarkGray)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}

fn list_title(what: &str, window: &std::ops::Range<usize>, total: usize, marked: usize) -> String {
    let mut title = if total == 0 {
        format!(" {what}: none ")
    } else {
        format!(" {what} {}-{} of {total} ", window.start + 1, window.end)
    };
    if marked > 0 {
        title.push_str(&format!("({marked} marked) "));
    }
    title
}

fn outlook(outlook: Outlook, s: &Snapshot) -> Cell<'static> {
    let (text, status) = match outlook {
        Outlook::Steady => ("steady".to_owned(), Status::Alive),
        Outlook::LeaveAfterTicks(ticks) => (
            format!("leave in {}", short(s.settings.tick * ticks)),
            Status::Leave,
        ),
        Outlook::AliveAfterBeats(1) => ("alive after 1 more beat".to_owned(), Status::Alive),
        Outlook::AliveAfterBeats(n) => (format!("alive after {n} more beats"), Status::Alive),
        Outlook::CloseIn(d) => (format!("close in {}", short(d)), Status::Close),
        Outlook::Closed => ("closing".to_owned(), Status::Close),
    };
    Cell::from(text).style(status_style(status).add_modifier(Modifier::DIM))
}

fn history(frame: &mut Frame, area: Rect, view: &mut ViewState) {
    let total = view.history_rows().len();
    let window = view.history.window(total, body_height(area));
    let s = view.snapshot();
    let rows: Vec<Row> = window
        .clone()
        .map(|row| {
            let h = view.closed(row);
            Row::new(vec![
                Cell::from(h.peer.to_string()),
                Cell::from(h.pid.map_or_else(|| "-".to_owned(), |p| p.to_string())),
                Cell::from(h.status.as_str()).style(status_style(h.status)),
                Cell::from(h.reason.clone()),
                Cell::from(ago(s.taken, h.closed_at)),
                Cell::from(clock(h.closed_at)),
            ])
            .style(row_style(row == view.history.pos))
        })
        .collect();
    let widths = [
        Constraint::Length(21),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Min(20),
        Constraint::Length(9),
        Constraint::Length(8),
    ];
    let table = Table::new(rows, widths)
        .header(
            Row::new(["ip:port", "pid", "status", "reason", "closed", "at (UTC)"])
                .bold()
                .underlined(),
        )
        .block(Block::bordered().title(list_title("history", &window, total, 0)));
    frame.render_widget(table, area);
}

fn events(frame: &mut Frame, area: Rect, s: &Snapshot) {
    let height = usize::from(area.height.saturating_sub(2));
    let skip = s.recent.len().saturating_sub(height);
    let lines: Vec<Line> = s
        .recent
        .iter()
        .skip(skip)
        .map(|e| {
            let color = match &e.kind {
                EventKind::Connected { .. } => Color::Cyan,
                EventKind::Status { to, .. } => {
                    return event_line(e.at, &e.kind, status_style(*to));
                }
                EventKind::Closed { .. } | EventKind::Rejected { .. } => Color::Red,
                EventKind::BadFrame { .. } | EventKind::Kick { .. } => Color::Magenta,
            };
            event_line(e.at, &e.kind, Style::new().fg(color))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" events ")),
        area,
    );
}

fn event_line(at: SystemTime, kind: &EventKind, style: Style) -> Line<'static> {
    Line::from(vec![
        Span::raw(format!("{} ", clock(at))).dim(),
        Span::styled(kind.to_string(), style),
    ])
}

fn footer(frame: &mut Frame, area: Rect, view: &ViewState) {
    let line = if view.editing_filter {
        Line::from(vec![
            Span::raw(" filter: ").bold(),
            Span::raw(view.filter.as_str()),
            Span::raw("█").slow_blink(),
            Span::raw("   Enter keep  Esc clear").dim(),
        ])
    } else if let Some(message) = &view.message {
        Line::from(Span::raw(format!(" {message}")).bold().fg(Color::Yellow))
    } else {
        let keys = KEYS
            .iter()
            .filter(|(_, _, in_footer)| *in_footer)
            .map(|(keys, what, _)| format!("{keys} {what}"))
            .collect::<Vec<_>>()
            .join("  ");
        Line::from(format!(" {keys}")).dim()
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn kick_dialog(frame: &mut Frame, area: Rect, dialog: &KickDialog, hold: Option<Duration>) {
    let details = dialog.details();
    let popup = centered(area, 54, 8 + details.len() as u16);
    let mut text = vec![Line::from(""), Line::from(dialog.question()).bold()];
    text.extend(details.into_iter().map(|line| Line::from(line).dim()));
    let hold = match hold {
        None => "hold-off: none (h: refuse it for a while)".to_owned(),
        Some(hold) => format!(
            "hold-off: refused for {} (h: change)",
            humantime::format_duration(hold)
        ),
    };
    text.extend([
        Line::from(hold).fg(Color::Yellow),
        Line::from(""),
        Line::from(vec![
            Span::styled(" y/Enter ", Style::new().fg(Color::Black).bg(Color::Red)),
            Span::raw(" kick    "),
            Span::styled(" n/Esc ", Style::new().fg(Color::Black).bg(Color::Gray)),
            Span::raw(" cancel"),
        ]),
    ]);
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

/// A `width` x `height` rectangle in the middle of `area`, shrunk to fit.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn help(frame: &mut Frame, area: Rect) {
    let rows: Vec<Row> = KEYS
        .iter()
        .map(|(keys, what, _)| Row::new([Cell::from(*keys).bold(), Cell::from(*what)]))
        .collect();
    let height = KEYS.len() as u16 + 2;
    let popup = centered(area, 56, height);
    let table = Table::new(rows, [Constraint::Length(18), Constraint::Min(20)]).block(
        Block::bordered()
            .title(" keys ")
            .title_bottom(Line::from(" any key closes ").centered()),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(table, popup);
}

/// `12:04:05` (UTC).
fn clock(at: SystemTime) -> String {
    rfc3339(at)[11..19].to_owned()
}

fn ago(now: SystemTime, then: SystemTime) -> String {
    format!(
        "{} ago",
        short(now.duration_since(then).unwrap_or_default())
    )
}

/// A compact duration: `0.4s`, `12s`, `3m05s`, `2h07m`, `3d04h`.
pub fn short(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{:.1}s", d.as_secs_f64()),
        1..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}
