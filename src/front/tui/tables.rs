//! The three screens' lists (live clients, history, events) and the events
//! pane under the live table. Only the rows in the window fitted before the
//! frame are built, so a frame costs the same however many clients there
//! are.

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use std::sync::Arc;
use std::time::Duration;

use crate::feed::event::Event;
use crate::feed::merged::Key;

use crate::feed::snapshot::{ClientView, Held, Snapshot};
use crate::front::tui::column::Column;
use crate::front::tui::style::{
    ago, clock, countdown, event_style, row_style, short, status_style,
};
use crate::front::tui::view::ViewState;
use crate::front::tui::wrap::wrap;
use crate::liveness::Outlook;
use crate::protocol::Status;

/// How the history and events titles say a row can be read whole.
const OPEN: &str = "· Enter: whole row ";

fn list_title(what: &str, window: &Range<usize>, total: usize, marked: usize) -> String {
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

/// The live table. Where there are several servers, each row names its
/// server; a lost server's rows are dimmed (its last picture).
pub fn clients(frame: &mut Frame, area: Rect, view: &ViewState) {
    let total = view.live.len();
    let window = view.live.window();
    let several = view.fleet().several();
    let identities = (view.fleet().parts().iter())
        .flat_map(|p| &p.snapshot.clients)
        .any(|c| c.transport.identity().is_some());
    let columns = Column::fitting(
        area.width.saturating_sub(2),
        view.query.sort,
        several,
        identities,
    );
    let rows: Vec<Row> = window
        .clone()
        .map(|row| {
            let cells = columns.iter().map(|&column| cell(column, row, view));
            let mut style = row_style(row == view.live.pos);
            if several && view.part(row).connection.lost().is_some() {
                style = style.add_modifier(Modifier::DIM);
            }
            Row::new(cells).style(style)
        })
        .collect();
    let widths = columns.iter().map(|c| match c {
        Column::Next => Constraint::Min(c.width()),
        _ => Constraint::Length(c.width()),
    });
    let sort = format!(
        "· sort {} {} ",
        Column::from(view.query.sort).title(),
        if view.query.reverse { "▼" } else { "▲" }
    );
    let title = list_title("clients", &window, total, view.marks.len()) + &sort;
    let table = Table::new(rows, widths)
        .header(
            Row::new(columns.iter().map(|c| c.title()))
                .bold()
                .underlined(),
        )
        .block(Block::bordered().title(title));
    frame.render_widget(table, area);
}

/// One cell of the live table's row `row`.
fn cell(column: Column, row: usize, view: &ViewState) -> Cell<'static> {
    let (c, part) = (view.client(row), view.part(row));
    let s = &part.snapshot;
    let l = &c.liveness;
    let rules = &s.settings.rules;
    let now = view.now();
    let key = || Key {
        server: Arc::clone(&part.name),
        peer: c.peer,
    };
    match column {
        Column::Mark if view.marks.contains(&key()) => Cell::from("*").bold().fg(Color::Magenta),
        Column::Mark => Cell::from(" "),
        // The same client (reported ip and pid) on another server too: it
        // failed over, and the old server has not closed it yet.
        Column::Server if view.fleet().twin(view.rows()[row]) => {
            Cell::from(format!("{} ⇄", part.name)).fg(Color::LightMagenta)
        }
        Column::Server => Cell::from(part.name.to_string()),
        Column::Peer => Cell::from(c.peer.to_string()),
        Column::ReportedIp => Cell::from(c.ip.as_deref().unwrap_or("-").to_owned()),
        Column::Identity => Cell::from(c.transport.identity().unwrap_or("-").to_owned()),
        Column::Pid => Cell::from(c.pid.map_or_else(|| "-".to_owned(), |p| p.to_string())),
        Column::Status => Cell::from(c.status().as_str()).style(status_style(c.status())),
        Column::Miss => Cell::from(format!("{}/{}", l.miss, rules.threshold)),
        Column::Strikes => Cell::from(format!("{}/{}", l.strikes, rules.cursor)),
        Column::Beats => Cell::from(c.heartbeats.to_string()),
        Column::Reconnects => Cell::from(c.reconnects.to_string()),
        Column::Flaps => Cell::from(c.flaps.to_string()),
        Column::LastSeen => Cell::from(
            c.last_seen
                .map_or_else(|| "never".to_owned(), |t| ago(now, t)),
        ),
        Column::Connected => Cell::from(short(
            now.duration_since(c.connected_at).unwrap_or_default(),
        )),
        Column::Next => outlook(c, s, view),
    }
}

/// What happens next, as of now: the snapshot's outlook, less the time
/// since it was taken; for a client in maintenance, the window's time left.
fn outlook(c: &ClientView, s: &Snapshot, view: &ViewState) -> Cell<'static> {
    let since = view.now().duration_since(s.taken).unwrap_or_default();
    if let Some(until) = c.maintenance {
        let left = countdown(until.duration_since(view.now()).unwrap_or_default());
        return Cell::from(format!("maint {left}")).style(Style::new().fg(Color::Gray));
    }
    let (text, status) = match (c.held, c.outlook(s)) {
        (Some(Held::FleetSilent), _) => ("close held: fleet silent".to_owned(), Status::Leave),
        (Some(Held::CloseRate { ahead }), _) => (
            format!("close queued: {ahead} ahead (--close-rate)"),
            Status::Close,
        ),
        // Under the phi detector an alive client's outlook is its suspicion.
        (None, _) if c.status() == Status::Alive && c.phi.is_some() => {
            (format!("φ {:.1}", c.phi.unwrap_or_default()), Status::Alive)
        }
        (None, outlook) => outlook_text(outlook, s, since),
    };
    Cell::from(text).style(status_style(status).add_modifier(Modifier::DIM))
}

fn outlook_text(outlook: Outlook, s: &Snapshot, since: Duration) -> (String, Status) {
    match outlook {
        Outlook::Steady => ("steady".to_owned(), Status::Alive),
        Outlook::LeaveAfterTicks(ticks) => (
            format!(
                "leave in {}",
                countdown((s.settings.tick.saturating_mul(ticks)).saturating_sub(since))
            ),
            Status::Leave,
        ),
        Outlook::AliveAfterBeats(1) => ("alive after 1 more beat".to_owned(), Status::Alive),
        Outlook::AliveAfterBeats(n) => (format!("alive after {n} more beats"), Status::Alive),
        Outlook::CloseIn(d) => (
            format!("close in {}", countdown(d.saturating_sub(since))),
            Status::Close,
        ),
        Outlook::Closed => ("closing".to_owned(), Status::Close),
    }
}

pub fn history(frame: &mut Frame, area: Rect, view: &ViewState) {
    let total = view.history.len();
    let window = view.history.window();
    let now = view.now();
    let several = view.fleet().several();
    let rows: Vec<Row> = window
        .clone()
        .map(|row| {
            let h = view.closed(row);
            // Across servers, the reason says whose client it was.
            let reason = match &*view.closed_part(row).name {
                name if several && !name.is_empty() => format!("{name}: {}", h.reason),
                _ => h.reason.clone(),
            };
            Row::new(vec![
                Cell::from(h.peer.to_string()),
                Cell::from(h.pid.map_or_else(|| "-".to_owned(), |p| p.to_string())),
                Cell::from(h.status.as_str()).style(status_style(h.status)),
                Cell::from(reason),
                Cell::from(ago(now, h.closed_at)),
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
        .block(Block::bordered().title(list_title("history", &window, total, 0) + OPEN));
    frame.render_widget(table, area);
}

/// The events screen: every recent event, scrollable, through the filter.
pub fn events(frame: &mut Frame, area: Rect, view: &ViewState) {
    let total = view.events.len();
    let window = view.events.window();
    let lines: Vec<Line> = window
        .clone()
        .map(|row| {
            let server = server_of(view, &view.event_part(row).name);
            event_line(view.event(row), server).style(row_style(row == view.events.pos))
        })
        .collect();
    let title = list_title("events", &window, total, 0) + OPEN;
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// The pane under the live table: the latest events that fit, every
/// server's in time order, each folded onto as many lines as it needs, so
/// none is cut off at the edge.
pub fn events_pane(frame: &mut Frame, area: Rect, view: &ViewState) {
    let height = usize::from(area.height.saturating_sub(2));
    let width = usize::from(area.width.saturating_sub(2));
    let fleet = view.fleet();
    let mut latest: Vec<(&str, &Event)> = (fleet.parts().iter())
        .flat_map(|p| {
            let server = server_of(view, &p.name);
            p.snapshot
                .recent
                .iter()
                .rev()
                .take(height)
                .map(move |e| (server, e))
        })
        .collect();
    latest.reverse();
    if fleet.several() {
        latest.sort_by_key(|(_, e)| e.at);
    }
    let mut lines: Vec<Line> = Vec::new();
    for (server, event) in latest.into_iter().rev() {
        if lines.len() >= height {
            break;
        }
        let folded = wrap(&event_line(event, server).spans, width, CLOCK_WIDTH);
        lines.splice(0..0, folded);
    }
    // The oldest event shown may lose its first lines, never the newest.
    let lines = lines.split_off(lines.len().saturating_sub(height));
    let title = " events (Tab: all of them) ";
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// The server name an event line shows: none where there is one server.
fn server_of<'a>(view: &ViewState, name: &'a str) -> &'a str {
    if view.fleet().several() { name } else { "" }
}

/// The columns an event's time takes, with the space after it.
const CLOCK_WIDTH: usize = 9;

fn event_line(e: &Event, server: &str) -> Line<'static> {
    let mut spans = vec![Span::raw(format!("{} ", clock(e.at))).dim()];
    if !server.is_empty() {
        spans.push(Span::raw(format!("{server} ")).bold());
    }
    spans.push(Span::styled(e.kind.to_string(), event_style(&e.kind)));
    Line::from(spans)
}
