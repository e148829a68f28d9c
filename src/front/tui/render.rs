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

use std::net::SocketAddr;
use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};

use crate::feed::details::{Details, gap_figures};
use crate::feed::event::Pid;
use crate::front::tui::keys::{HELP, KEYS, QUIT, Scope, quit_does};
use crate::front::tui::kick_dialog::KickDialog;
use crate::front::tui::style::{clock, short, status_style};
use crate::front::tui::tables;
use crate::front::tui::view::{Mode, Screen, ViewState};
use crate::front::tui::wrap::wrap;
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
    if view.snapshot().lost.is_some() {
        // The last picture stays, dimmed, until the server is back.
        frame
            .buffer_mut()
            .set_style(table_area.union(events_area), Style::new().dim());
    }
    footer(frame, footer_area, view);
    if let Some((peer, details)) = &view.details {
        details_pane(frame, area, *peer, details.as_ref());
    }
    if let Some(dialog) = &view.dialog {
        kick_dialog(frame, area, dialog, view.hold);
    }
    if let Some(clients) = view.quitting {
        quit_dialog(frame, area, clients);
    }
    if view.help.is_some() {
        help(frame, area, view);
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
    if s.lost.is_some() {
        // The picture is the last one from a server that went away.
        let badge = badge("disconnected, retrying".to_owned(), Color::Red).fg(Color::White);
        first.push(vec![badge]);
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
    let mut rest = vec![second];
    if height >= ROOMY {
        rest.push(third);
    }
    let width = usize::from(width);
    let mut lines = flow(first, width);
    // The title block sits at the very edge.
    lines[0].spans.remove(0);
    lines.extend(s.lost.iter().flat_map(|lost| why_lost(lost, width)));
    lines.extend(rest.into_iter().flat_map(|group| flow(group, width)));
    lines
}

/// Why the server was lost, whole, under the badge: what fixes it is often
/// at its end.
fn why_lost(lost: &str, width: usize) -> impl Iterator<Item = Line<'static>> {
    let lines = wrap(lost, width.saturating_sub(1)).into_iter();
    lines.map(|line| Line::from(format!(" {line}")).fg(Color::Red))
}

/// Lays `items` out on lines of at most `width` columns, two spaces apart,
/// starting a new line where the next item would not fit.
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
        line.push(Span::raw(if used == 0 { " " } else { "  " }));
        used += if used == 0 { 1 } else { 2 } + wide;
        line.extend(item);
    }
    lines.push(Line::from(line));
    lines
}

/// What the footer offers on this screen, most useful first (without the
/// pinned help and quit).
fn footer_keys(screen: Screen, mode: Mode) -> impl Iterator<Item = &'static str> {
    KEYS[..KEYS.len() - 2]
        .iter()
        .filter(move |k| k.scope.applies(screen, mode))
        .filter_map(|k| k.footer)
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
        for item in footer_keys(view.screen, view.mode) {
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
    let hold = match hold {
        None => "hold-off: none (h: refuse it for a while)".to_owned(),
        Some(hold) => format!(
            "hold-off: refused for {} (h: change)",
            humantime::format_duration(hold)
        ),
    };
    lines.push(Line::from(hold).fg(Color::Yellow));
    question(frame, area, ("Confirm kick", 54), lines, ("kick", "cancel"));
}

/// One client's story: its last heartbeat gaps as a sparkline with their
/// mean, p99 and largest, its status changes, its earlier connections.
fn details_pane(frame: &mut Frame, area: Rect, peer: SocketAddr, details: Option<&Details>) {
    let popup = centered(area, 76, 22);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(format!(" {peer} "))
        .title_bottom(Line::from(" ↑/↓ next client · any other key closes ").centered());
    frame.render_widget(Clear, popup);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let Some(d) = details else {
        frame.render_widget(Paragraph::new(" asking the server..."), inner);
        return;
    };
    let [about, spark, story] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Min(1),
    ])
    .areas(inner);
    let (mean, p99, max) = gap_figures(&d.gaps_ms);
    let mut first = vec![
        Span::raw(format!(" {} ", Pid(d.pid))),
        Span::raw(format!("ip {}  ", d.ip.as_deref().unwrap_or("?"))),
        Span::styled(d.status.as_str(), status_style(d.status)),
        Span::raw(format!("  reconnects {}  flaps {}", d.reconnects, d.flaps)),
    ];
    if let Some(phi) = d.phi {
        first.push(Span::raw(format!("  φ {phi:.1}")));
    }
    let second = format!(
        " last {} gaps: mean {mean} ms, p99 {p99} ms, largest {max} ms",
        d.gaps_ms.len()
    );
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second).dim()]),
        about,
    );
    let data: Vec<u64> = d.gaps_ms.iter().map(|&g| u64::from(g)).collect();
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .style(Style::new().fg(Color::Cyan))
            .block(Block::new().title(" heartbeat gaps ")),
        spark,
    );
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
    lines.extend(d.earlier.iter().map(|e| {
        Line::from(format!(
            "  {} {} lasted {}: {}",
            clock(e.closed_at),
            e.peer,
            short(e.lasted()),
            e.reason
        ))
    }));
    frame.render_widget(Paragraph::new(lines), story);
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

/// The key reference. On a terminal too short for all of it, it scrolls
/// (↑/↓) and says so.
fn help(frame: &mut Frame, area: Rect, view: &mut ViewState) {
    let mode = view.mode;
    let mut entries: Vec<(&str, &str)> = KEYS
        .iter()
        .filter(|k| !mode.read_only || k.scope != Scope::Kicks)
        .map(|k| {
            (
                k.keys,
                if k.keys == QUIT.keys {
                    quit_does(mode)
                } else {
                    k.does
                },
            )
        })
        .collect();
    if mode.quit_stops_server {
        entries.push(("as a service", "serve --no-tui, watch with hbmon top"));
    }
    let popup = centered(area, 58, entries.len() as u16 + 2);
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
    let table = Table::new(rows, [Constraint::Length(18), Constraint::Min(20)]).block(
        Block::bordered()
            .title(" keys ")
            .title_bottom(Line::from(bottom).centered()),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(table, popup);
}
