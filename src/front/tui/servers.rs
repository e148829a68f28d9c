//! The servers screen (`hbmon top a b c`): one row per server followed,
//! with how its feed reaches it and its figures, so the operator sees the
//! fleet's shape before its clients. A model: glances' `--browser`.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::widgets::{Block, Cell, Row, Table};

use crate::feed::link::{Connection, Refusal};
use crate::feed::merged::Part;
use crate::front::tui::style::{row_style, short, status_style};
use crate::front::tui::view::ViewState;
use crate::protocol::Status;

const TITLES: [&str; 12] = [
    "server", "address", "state", "alive", "leave", "closed", "beats/s", "silent", "version", "up",
    "behind", "why",
];

/// The servers' table; Enter on one shows its clients.
pub fn servers(frame: &mut Frame, area: Rect, view: &ViewState) {
    let window = view.servers.window();
    let parts = view.fleet().parts();
    let rows: Vec<Row> = window
        .clone()
        .map(|row| {
            let cells = cells(row, view);
            Row::new(cells).style(row_style(row == view.servers.pos))
        })
        .collect();
    let widths = [
        Constraint::Length(14),
        Constraint::Length(21),
        Constraint::Length(26),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Min(10),
    ];
    let title = format!(
        " servers: {}/{} connected · Enter: its clients, Esc: all ",
        view.fleet().connected(),
        parts.len()
    );
    let table = Table::new(rows, widths)
        .header(Row::new(TITLES).bold().underlined())
        .block(Block::bordered().title(title));
    frame.render_widget(table, area);
}

/// The `row`-th server's row.
fn cells(row: usize, view: &ViewState) -> Vec<Cell<'static>> {
    let fleet = view.fleet();
    let part = &fleet.parts()[row];
    let rate = view.rate(row);
    let s = &part.snapshot;
    let now = view.now();
    let connected = part.connection == Connection::Connected;
    // A server never reached has no figures to show, only its state.
    let figure = |text: String| {
        if connected || s.taken > s.started {
            text
        } else {
            "-".into()
        }
    };
    let silent = match s.fleet_silent {
        Some(silence) => Cell::from(format!("{}/{}", silence.silent, silence.clients)).red(),
        None => Cell::from(figure("no".to_owned())),
    };
    let uptime = s.taken.duration_since(s.started).unwrap_or_default();
    let behind = now.duration_since(s.taken).unwrap_or_default();
    vec![
        Cell::from(part.name.to_string()).bold(),
        Cell::from(part.address.to_string()),
        state(part, now),
        count(fleet.count_of(row, Status::Alive), Status::Alive),
        count(fleet.count_of(row, Status::Leave), Status::Leave),
        Cell::from(figure(s.counters.closed.to_string())),
        Cell::from(figure(format!("{rate:.0}"))),
        silent,
        Cell::from(part.version.as_deref().unwrap_or("-").to_owned()),
        Cell::from(figure(short(uptime))),
        Cell::from(figure(lag(behind))),
        Cell::from(part.connection.lost().unwrap_or_default().to_owned()).dim(),
    ]
}

fn count(n: usize, status: Status) -> Cell<'static> {
    Cell::from(n.to_string()).style(status_style(status))
}

/// How far behind the server's last snapshot is: under a second reads as
/// live, so a steady feed does not flicker.
fn lag(behind: Duration) -> String {
    if behind < Duration::from_secs(1) {
        format!("{}ms", behind.as_millis())
    } else {
        short(behind)
    }
}

/// `connected`, `disconnected 12s, retrying`, `needs a token`, `not hbmon`.
fn state(part: &Part, now: std::time::SystemTime) -> Cell<'static> {
    let since = part.lost_since.and_then(|t| now.duration_since(t).ok());
    let (text, color) = match &part.connection {
        Connection::Connected => ("connected".to_owned(), Color::Green),
        Connection::Lost(_) => (
            format!(
                "disconnected {}, retrying",
                short(since.unwrap_or_default())
            ),
            Color::Red,
        ),
        Connection::Refused(Refusal::NeedsToken, _) => ("needs a token".to_owned(), Color::Yellow),
        Connection::Refused(Refusal::NotHbmon, _) => ("not hbmon".to_owned(), Color::Magenta),
    };
    Cell::from(text).style(Style::new().fg(color))
}
