//! Drawing the dashboard: a function of the view state (which holds the
//! snapshot on screen) to a frame. One function per region:
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────┐
//! │ header: badges, address, uptime, counts, rate, settings  │ 3+ lines
//! ├ clients (or history, or events) ─────────────────────────┤
//! │ ip:port  reported ip  pid  status  miss ...  next        │ the rest
//! ├ events (on the clients screen) ──────────────────────────┤
//! │ 12:00:01 127.0.0.1:50312 connected                       │ ~1/4
//! └──────────────────────────────────────────────────────────┘
//!  footer: keys, filter prompt or message                      1 line
//! ```
//!
//! The lists themselves are drawn by [`tables`](super::tables). On a
//! narrow terminal the header wraps rather than cutting its badges off, and
//! the footer keeps `? help` and `q quit` whatever else must go.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::front::tui::keys::{HELP, KEYS, QUIT, footer_text};
use crate::front::tui::kick_dialog::KickDialog;
use crate::front::tui::style::{clock, short, status_style};
use crate::front::tui::view::{Screen, ViewState};
use crate::front::tui::wrap::wrap;
use crate::front::tui::{details_pane, help, tables};
use crate::protocol::Status;

/// The smallest terminal the dashboard lays out in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// From this height on, the header shows the liveness settings too.
const ROOMY: u16 = 20;

pub fn render(frame: &mut Frame, view: &mut ViewState) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let header_lines = header(view, area.width, area.height);
    let events_height = match view.screen {
        Screen::Live => (area.height / 4).clamp(4, 12),
        _ => 0,
    };
    let banner = fleet_banner(view);
    let [
        header_area,
        banner_area,
        table_area,
        events_area,
        footer_area,
    ] = Layout::vertical([
        Constraint::Length(header_lines.len() as u16),
        Constraint::Length(u16::from(banner.is_some())),
        Constraint::Min(5),
        Constraint::Length(events_height),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header_lines), header_area);
    if let Some(banner) = banner {
        frame.render_widget(Paragraph::new(banner), banner_area);
    }
    view.table_area = table_area;
    match view.screen {
        Screen::Live => {
            tables::clients(frame, table_area, view);
            tables::events_pane(frame, events_area, view);
        }
        Screen::History => tables::history(frame, table_area, view),
        Screen::Events => tables::events(frame, table_area, view),
    }
    if view.connection.lost().is_some() {
        // The last picture stays, dimmed, until the server is back.
        frame
            .buffer_mut()
            .set_style(table_area.union(events_area), Style::new().dim());
    }
    footer(frame, footer_area, view);
    overlays(frame, area, view);
}

/// Whatever is open over the screen, the help topmost.
fn overlays(frame: &mut Frame, area: Rect, view: &mut ViewState) {
    if let Some((peer, details)) = &view.details {
        details_pane::draw(frame, area, *peer, details.as_ref());
    }
    if let Some(entry) = &view.entry {
        entry.draw(frame, area, view.now());
    }
    if let Some(dialog) = &view.dialog {
        kick_dialog(frame, area, dialog, view.hold);
    }
    if let Some(clients) = view.quitting {
        quit_dialog(frame, area, clients);
    }
    if view.help.is_some() {
        help::draw(frame, area, view);
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

/// The banner while the fleet is silent: nothing is being closed, and why.
fn fleet_banner(view: &ViewState) -> Option<Line<'static>> {
    let silence = view.snapshot().fleet_silent?;
    let text = format!(
        " FLEET SILENT since {}: {} of {} clients silent together; automatic closes are held until they are heard again ",
        clock(silence.since),
        silence.silent,
        silence.clients
    );
    Some(Line::from(text).bold().fg(Color::White).bg(Color::Red))
}

/// A badge: a short word on a colored background.
fn badge(text: String, bg: Color) -> Span<'static> {
    Span::raw(format!(" {text} "))
        .bold()
        .fg(Color::Black)
        .bg(bg)
}

/// The header's lines. Three groups (who and what's special, the counts,
/// the settings, this last only on a terminal of [`ROOMY`] lines or more),
/// each starting a line; items flow onto further lines
/// rather than being cut off at the edge. The badges that change what the
/// operator is looking at come first.
fn header(view: &ViewState, width: u16, height: u16) -> Vec<Line<'static>> {
    let s = view.snapshot();
    let uptime = s.taken.duration_since(s.started).unwrap_or_default();
    let mut first = vec![vec![Span::raw(" hbmon ").bold().reversed()]];
    if let Some(lost) = view.connection.lost() {
        // The picture is the last one from a server that went away.
        let badge = badge("disconnected, retrying".to_owned(), Color::Red).fg(Color::White);
        first.push(vec![badge, Span::raw(format!(" {lost}")).fg(Color::Red)]);
    }
    if view.mode.read_only {
        first.push(vec![badge("read-only".to_owned(), Color::Gray)]);
    }
    if s.counters.journal_lost > 0 {
        // Decisions are being lost: that must not go unnoticed.
        let lost = format!("journal lost {}", s.counters.journal_lost);
        first.push(vec![badge(lost, Color::Red).fg(Color::White)]);
    }
    if view.paused {
        first.push(vec![badge("PAUSED".to_owned(), Color::Yellow)]);
    }
    if !view.filter.is_empty() {
        first.push(vec![badge(
            format!("filter \"{}\"", view.filter),
            Color::Cyan,
        )]);
    }
    if view.only_not_alive {
        first.push(vec![badge("only not alive".to_owned(), Color::Cyan)]);
    }
    first.push(vec![Span::raw(format!("listening {}", s.listen))]);
    if let Some(admin) = &s.admin {
        first.push(vec![Span::raw(format!("api {admin}"))]);
    }
    first.push(vec![Span::raw(format!("up {}", short(uptime)))]);

    let styled = |text: String, status| vec![Span::styled(text, status_style(status))];
    let second = vec![
        vec![Span::raw(format!("clients {}", s.clients.len()))],
        styled(format!("alive {}", s.count(Status::Alive)), Status::Alive),
        styled(format!("leave {}", s.count(Status::Leave)), Status::Leave),
        styled(format!("closed {}", s.counters.closed), Status::Close),
        vec![Span::raw(format!(
            "{:.0} heartbeats/s",
            view.heartbeats_per_second()
        ))],
        vec![Span::raw(format!("bad frames {}", s.counters.bad_frames))],
        vec![Span::raw(format!("rejected {}", s.counters.rejected))],
    ];

    let r = &s.settings.rules;
    let dim = |text: String| vec![Span::raw(text).dim()];
    let third = vec![
        dim(format!(
            "tick {}",
            humantime::format_duration(s.settings.tick)
        )),
        dim(format!("threshold {}", r.threshold)),
        dim(format!("cursor {}", r.cursor)),
        dim(format!("recover {}", r.recover)),
        dim(format!(
            "leave timeout {}",
            humantime::format_duration(r.leave_timeout)
        )),
    ];
    // The settings never change: on a short terminal the table needs the
    // line more.
    let groups = if height >= ROOMY {
        vec![first, second, third]
    } else {
        vec![first, second]
    };
    let mut lines: Vec<Line> = groups
        .into_iter()
        .flat_map(|group| flow(group, usize::from(width)))
        .collect();
    // The title block sits at the very edge.
    lines[0].spans.remove(0);
    lines
}

/// Lays `items` out on lines of at most `width` columns, two spaces apart,
/// starting a new line where the next item would not fit. An item wider
/// than a line (a long disconnect reason, a long filter) is folded onto
/// lines of its own.
fn flow(items: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut line: Vec<Span> = Vec::new();
    let mut used = 0;
    for item in items {
        let wide: usize = item.iter().map(Span::width).sum();
        if used > 0 && used + 2 + wide > width {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        if wide + 1 > width {
            let folded = wrap(&item, width.saturating_sub(1), 0);
            lines.extend(folded.into_iter().map(|mut l| {
                l.spans.insert(0, Span::raw(" "));
                l
            }));
            continue;
        }
        line.push(Span::raw(if used == 0 { " " } else { "  " }));
        used += if used == 0 { 1 } else { 2 } + wide;
        line.extend(item);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(Line::from(line));
    }
    lines
}

/// What the footer offers on this screen, most useful first (without the
/// pinned help and quit).
fn footer_keys(view: &ViewState) -> impl Iterator<Item = &'static str> {
    let (screen, mode, paused) = (view.screen, view.mode, view.paused);
    KEYS[..KEYS.len() - 2]
        .iter()
        .filter(move |k| k.scope.applies(screen, mode))
        .filter_map(move |k| footer_text(k, paused))
}

fn footer(frame: &mut Frame, area: Rect, view: &ViewState) {
    let line = if view.editing_filter {
        Line::from(vec![
            Span::raw(" filter: ").bold(),
            Span::raw(view.filter.clone()),
            Span::raw("█").slow_blink(),
            Span::raw("   Enter keep  Esc clear").dim(),
        ])
    } else if let Some(message) = &view.message {
        Line::from(Span::raw(format!(" {message}")).bold().fg(Color::Yellow))
    } else {
        // `? help` and `q quit` always show; the rest as they fit before them.
        let pinned = [HELP.footer, QUIT.footer]
            .map(Option::unwrap_or_default)
            .join("  ");
        let room = usize::from(area.width).saturating_sub(pinned.chars().count() + 2);
        let mut keys = String::new();
        for item in footer_keys(view) {
            if keys.chars().count() + item.chars().count() + 2 > room {
                break;
            }
            keys.push_str(item);
            keys.push_str("  ");
        }
        Line::from(format!(" {keys}{pinned}")).dim()
    };
    frame.render_widget(Paragraph::new(line), area);
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

/// The question before `q` stops a server with clients.
fn quit_dialog(frame: &mut Frame, area: Rect, clients: usize) {
    let what = match clients {
        1 => "Stop the server and close its 1 client?".to_owned(),
        n => format!("Stop the server and close its {n} clients?"),
    };
    let lines = vec![
        Line::from(what).bold(),
        Line::from("Keep it up: serve --no-tui, watch with hbmon top").dim(),
    ];
    question(frame, area, ("Quit", 58), lines, ("stop", "keep running"));
}

fn kick_dialog(frame: &mut Frame, area: Rect, dialog: &KickDialog, hold: Option<Duration>) {
    let mut lines = vec![Line::from(dialog.question()).bold()];
    lines.extend(
        dialog
            .details()
            .into_iter()
            .map(|line| Line::from(line).dim()),
    );
    lines.push(Line::from(dialog.hold_line(hold)).fg(Color::Yellow));
    question(frame, area, ("Confirm kick", 54), lines, ("kick", "cancel"));
}

/// A `width` x `height` rectangle in the middle of `area`, shrunk to fit.
pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}
