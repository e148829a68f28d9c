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

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::front::tui::keymap::{HELP, KEYS, QUIT, footer_text};
use crate::front::tui::overlay::centered;
use crate::front::tui::screen::Screen;
use crate::front::tui::servers;
use crate::front::tui::style::{clock, short, status_style};
use crate::front::tui::tables;
use crate::front::tui::view::ViewState;
use crate::front::tui::wrap::wrap;
use crate::printable;
use crate::protocol::Status;

/// The smallest terminal the dashboard lays out in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// From this height on, the header shows the liveness settings too.
const ROOMY: u16 = 20;

/// Where each region goes on a terminal of `area`: worked out from the view
/// alone, so [`fit`] (before the frame) and [`render`] agree.
struct Areas {
    header: Rect,
    banner: Rect,
    table: Rect,
    events: Rect,
    footer: Rect,
}

impl Areas {
    /// `None` on a terminal smaller than [`MIN_WIDTH`] x [`MIN_HEIGHT`].
    fn of(view: &ViewState, area: Rect) -> Option<Areas> {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            return None;
        }
        let header_lines = header(view, area.width, area.height).len();
        let events_height = match view.screen {
            Screen::Live => (area.height / 4).clamp(4, 12),
            _ => 0,
        };
        let banner = fleet_banner(view).is_some();
        let [header, banner, table, events, footer] = Layout::vertical([
            Constraint::Length(header_lines as u16),
            Constraint::Length(u16::from(banner)),
            Constraint::Min(5),
            Constraint::Length(events_height),
            Constraint::Length(1),
        ])
        .areas(area);
        Some(Areas {
            header,
            banner,
            table,
            events,
            footer,
        })
    }
}

/// Fits the view to a terminal of `area` before a frame: the current
/// list's window (what PgUp/PgDn move by, where a click lands) and the
/// overlay's scroll. The loop calls it before [`render`], which then only
/// reads the view.
pub fn fit(view: &mut ViewState, area: Rect) {
    let table = Areas::of(view, area).map(|areas| areas.table);
    view.fit(area, table);
}

/// Draws the view as it is: the lists' windows and the overlay's scroll
/// were fitted to the terminal beforehand ([`fit`]).
pub fn render(frame: &mut Frame, view: &ViewState) {
    let area = frame.area();
    let Some(areas) = Areas::of(view, area) else {
        too_small(frame, area);
        return;
    };
    let header_lines = header(view, area.width, area.height);
    frame.render_widget(Paragraph::new(header_lines), areas.header);
    if let Some(banner) = fleet_banner(view) {
        frame.render_widget(Paragraph::new(banner), areas.banner);
    }
    match view.screen {
        Screen::Servers => servers::servers(frame, areas.table, view),
        Screen::Live => {
            tables::clients(frame, areas.table, view);
            tables::events_pane(frame, areas.events, view);
        }
        Screen::History => tables::history(frame, areas.table, view),
        Screen::Events => tables::events(frame, areas.table, view),
    }
    if lost(view).is_some() {
        // The last picture stays, dimmed, until the server is back.
        frame
            .buffer_mut()
            .set_style(areas.table.union(areas.events), Style::new().dim());
    }
    footer(frame, areas.footer, view);
    if let Some(overlay) = &view.overlay {
        overlay.draw(frame, area, view.mode, view.now());
    }
    drop_unsafe(frame.buffer_mut());
}

/// Leaves out every character a terminal could act on. ratatui already
/// drops the control characters in what clients report, but lets the bidi
/// marks and overrides through (joined to the cell before them), and those
/// reorder what the operator reads.
fn drop_unsafe(buffer: &mut Buffer) {
    for cell in &mut buffer.content {
        if cell.symbol().chars().any(printable::is_unsafe) {
            let safe: String = cell
                .symbol()
                .chars()
                .filter(|&c| !printable::is_unsafe(c))
                .collect();
            cell.set_symbol(if safe.is_empty() { " " } else { &safe });
        }
    }
}

/// Why the one server's remote feed lost it, while it has: the one place
/// the header and the dimming learn of it. (Of several servers, only the
/// lost ones' rows are dimmed, and the servers screen says why.)
fn lost(view: &ViewState) -> Option<&str> {
    view.lost()
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
/// Of several servers, it names those whose fleet is silent.
fn fleet_banner(view: &ViewState) -> Option<Line<'static>> {
    let fleet = view.fleet();
    let text = if fleet.several() {
        let silent: Vec<&str> = (fleet.parts().iter())
            .filter(|p| p.snapshot.fleet_silent.is_some())
            .map(|p| &*p.name)
            .collect();
        if silent.is_empty() {
            return None;
        }
        format!(
            " FLEET SILENT on {}: automatic closes are held there until its clients are heard again ",
            silent.join(", ")
        )
    } else {
        let silence = view.snapshot().fleet_silent?;
        format!(
            " FLEET SILENT since {}: {} of {} clients silent together; automatic closes are held until they are heard again ",
            clock(silence.since),
            silence.silent,
            silence.clients
        )
    };
    Some(Line::from(text).bold().fg(Color::White).bg(Color::Red))
}

/// A badge: a short word on a colored background.
fn badge(text: String, bg: Color) -> Span<'static> {
    Span::raw(format!(" {text} "))
        .bold()
        .fg(Color::Black)
        .bg(bg)
}

/// The header's lines, one group of items per region:
///
/// ```text
///  hbmon  [disconnected] [read-only] [journal lost] [PAUSED] [filter] ...
///    listening 0.0.0.0:7000  api 127.0.0.1:7001  up 3m      <- who_and_badges
///  clients 3  alive 2  leave 1  closed 0  100 heartbeats/s ...  <- counts
///  tick 1s  threshold 3  cursor 2  recover 2  leave timeout 30s <- settings
/// ```
///
/// Each group starts a line and flows onto further lines rather than being
/// cut off at the edge. The settings never change, so only a terminal of
/// [`ROOMY`] lines or more gives them a line: a short one needs it for the
/// table.
fn header(view: &ViewState, width: u16, height: u16) -> Vec<Line<'static>> {
    let mut groups = vec![who_and_badges(view), counts(view)];
    // Several servers may judge by different settings: their screen says.
    if height >= ROOMY && !view.fleet().several() {
        groups.push(settings(view));
    }
    let mut lines: Vec<Line> = groups
        .into_iter()
        .flat_map(|group| flow(group, usize::from(width)))
        .collect();
    // The title block sits at the very edge.
    lines[0].spans.remove(0);
    lines
}

/// One item of the header: spans kept together on a line.
type Item = Vec<Span<'static>>;

/// The title, then the badges that change what the operator is looking at,
/// then where the server listens and how long it has been up.
fn who_and_badges(view: &ViewState) -> Vec<Item> {
    let s = view.snapshot();
    let uptime = s.taken.duration_since(s.started).unwrap_or_default();
    let mut items = vec![vec![Span::raw(" hbmon ").bold().reversed()]];
    if let Some(lost) = lost(view) {
        // The picture is the last one from a server that went away.
        let badge = badge("disconnected, retrying".to_owned(), Color::Red).fg(Color::White);
        items.push(vec![badge, Span::raw(format!(" {lost}")).fg(Color::Red)]);
    }
    if view.mode.read_only {
        items.push(vec![badge("read-only".to_owned(), Color::Gray)]);
    }
    let journal_lost = view.fleet().total(|s| s.counters.journal_lost);
    if journal_lost > 0 {
        // Decisions are being lost: that must not go unnoticed.
        let lost = format!("journal lost {journal_lost}");
        items.push(vec![badge(lost, Color::Red).fg(Color::White)]);
    }
    if view.paused {
        items.push(vec![badge("PAUSED".to_owned(), Color::Yellow)]);
    }
    if !view.query.filter.is_empty() {
        let filter = format!("filter \"{}\"", view.query.filter);
        items.push(vec![badge(filter, Color::Cyan)]);
    }
    if view.query.except.is_some() {
        items.push(vec![badge("only not alive".to_owned(), Color::Cyan)]);
    }
    if let Some(only) = view.only() {
        items.push(vec![badge(format!("server {only}"), Color::Cyan)]);
    }
    let fleet = view.fleet();
    if fleet.several() {
        let (connected, all) = (fleet.connected(), fleet.parts().len());
        let color = if connected == all {
            Color::Green
        } else {
            Color::Red
        };
        items.push(vec![
            Span::raw(format!("{connected}/{all} servers")).fg(color),
        ]);
        return items;
    }
    items.push(vec![Span::raw(format!("listening {}", s.listen))]);
    if let Some(admin) = &s.admin {
        items.push(vec![Span::raw(format!("api {admin}"))]);
    }
    items.push(vec![Span::raw(format!("up {}", short(uptime)))]);
    items
}

/// The clients by status, the heartbeat rate, and what was refused: totals
/// over every server.
fn counts(view: &ViewState) -> Vec<Item> {
    let fleet = view.fleet();
    let styled = |text: String, status| vec![Span::styled(text, status_style(status))];
    let of = |status| fleet.count(status);
    let mut items = vec![
        vec![Span::raw(format!(
            "clients {}",
            fleet.total(|s| s.clients.len() as u64)
        ))],
        styled(format!("alive {}", of(Status::Alive)), Status::Alive),
        styled(format!("leave {}", of(Status::Leave)), Status::Leave),
        styled(
            format!("closed {}", fleet.total(|s| s.counters.closed)),
            Status::Close,
        ),
        vec![Span::raw(format!(
            "{:.0} heartbeats/s",
            view.heartbeats_per_second()
        ))],
        vec![Span::raw(format!(
            "bad frames {}",
            fleet.total(|s| s.counters.bad_frames)
        ))],
        vec![Span::raw(format!(
            "rejected {}",
            fleet.total(|s| s.counters.rejected)
        ))],
    ];
    // In clear and over TLS, once any client uses TLS: how far a fleet has
    // moved, before `--tls-mode required`.
    let tls = fleet.total(|s| s.count_tls() as u64);
    if tls > 0 {
        let plain = fleet.total(|s| s.clients.len() as u64).saturating_sub(tls);
        items.push(vec![Span::raw(format!("tls {tls}  plain {plain}"))]);
    }
    items
}

/// The liveness settings the server judges by, dimmed.
fn settings(view: &ViewState) -> Vec<Item> {
    let s = view.snapshot();
    let r = &s.settings.rules;
    let dim = |text: String| vec![Span::raw(text).dim()];
    vec![
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
    ]
}

/// Lays `items` out on lines of at most `width` columns, two spaces apart,
/// starting a new line where the next item would not fit. An item wider
/// than a line (a long disconnect reason, a long filter) is folded onto
/// lines of its own.
fn flow(items: Vec<Item>, width: usize) -> Vec<Line<'static>> {
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

/// Why the selected client cannot be kicked, where there are several
/// servers and its own is lost or read-only.
fn unkickable(view: &ViewState) -> Option<String> {
    let several = view.fleet().several() && view.screen == Screen::Live;
    several.then(|| view.unkickable(view.selected.as_ref()?))?
}

fn footer(frame: &mut Frame, area: Rect, view: &ViewState) {
    let line = if view.editing_filter() {
        Line::from(vec![
            Span::raw(" filter: ").bold(),
            Span::raw(view.query.filter.clone()),
            Span::raw("█").slow_blink(),
            Span::raw("   Enter keep  Esc clear").dim(),
        ])
    } else if let Some(message) = &view.message {
        Line::from(Span::raw(format!(" {message}")).bold().fg(Color::Yellow))
    } else if let Some(why) = unkickable(view) {
        Line::from(Span::raw(format!(" {why}")).fg(Color::Yellow))
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
