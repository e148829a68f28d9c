//! Fixtures for the dashboard's tests: snapshots of a few clients, key
//! presses through `handle_key` (the function the real loop calls), and
//! drawing into ratatui's `TestBackend`.
#![allow(dead_code)] // each test binary uses a different part of this

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hbmon::feed::event::{Event, EventKind};
use hbmon::feed::merged::Key;
use hbmon::feed::snapshot::{ClientView, Settings, Snapshot};
use hbmon::front::tui::keys::{Action, handle_key};
use hbmon::front::tui::render::{fit, render};
use hbmon::front::tui::view::{Mode, ViewState};
use hbmon::liveness::{Liveness, Rules};
use hbmon::protocol::Status;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

pub const T0: Duration = Duration::from_secs(1_790_000_000);

pub fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A client on `port` with pid `port + 1000`, `beats` heartbeats, last seen
/// 2 s before the snapshot.
pub fn client(port: u16, status: Status, strikes: u32, beats: u64) -> ClientView {
    let connected_at = SystemTime::UNIX_EPOCH + T0;
    ClientView {
        id: u64::from(port),
        peer: peer(port),
        ip: Some(Arc::from("10.0.0.1")),
        pid: Some(u32::from(port) + 1000),
        reported: Some(Status::Alive),
        liveness: Liveness {
            status,
            miss: 1,
            strikes,
            streak: 0,
            leave_since: None,
        },
        heartbeats: beats,
        connected_at,
        last_seen: Some(connected_at + Duration::from_secs(63)),
        held: None,
        phi: None,
        reconnects: 0,
        flaps: 0,
        maintenance: None,
        transport: Default::default(),
    }
}

pub fn snapshot(clients: Vec<ClientView>) -> Arc<Snapshot> {
    let settings = Settings {
        tick: Duration::from_secs(1),
        rules: Rules::default(),
    };
    let mut s = Snapshot::empty("127.0.0.1:14000".parse().unwrap(), settings);
    s.started = SystemTime::UNIX_EPOCH + T0;
    s.taken = s.started + Duration::from_secs(65);
    s.taken_mono = Instant::now();
    s.clients = clients;
    s.counters.closed = 4;
    let event = |secs, kind| Event {
        at: s.started + Duration::from_secs(secs),
        kind: Arc::new(kind),
    };
    s.recent = Arc::new(
        [
            event(
                1,
                EventKind::Connected {
                    peer: peer(5001),
                    identity: None,
                },
            ),
            event(
                60,
                EventKind::Status {
                    peer: peer(5002),
                    pid: Some(6002),
                    from: Status::Alive,
                    to: Status::Leave,
                    miss: 0,
                    strikes: 3,
                },
            ),
        ]
        .into_iter()
        .collect(),
    );
    Arc::new(s)
}

pub fn three() -> Arc<Snapshot> {
    snapshot(vec![
        client(5001, Status::Alive, 0, 30),
        client(5002, Status::Leave, 3, 10),
        client(5003, Status::Alive, 1, 20),
    ])
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Presses keys in order; returns the actions they produced.
pub fn press(view: &mut ViewState, keys: &str) -> Vec<Action> {
    keys.chars()
        .filter_map(|c| handle_key(key(KeyCode::Char(c)), view))
        .collect()
}

pub fn draw(view: &mut ViewState, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    // As the real loop does: fit the view to the terminal, then draw it.
    terminal
        .draw(|frame| {
            fit(view, frame.area());
            render(frame, view)
        })
        .unwrap();
    terminal
}

pub fn lines(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect()
        })
        .collect()
}

pub fn screen(terminal: &Terminal<TestBackend>) -> String {
    lines(terminal).join("\n")
}

/// The foreground color of the first cell of `text` on the line containing
/// `row_marker`.
pub fn color_of(terminal: &Terminal<TestBackend>, row_marker: &str, text: &str) -> Color {
    let lines = lines(terminal);
    let y = lines
        .iter()
        .position(|l| l.contains(row_marker))
        .expect("row on screen");
    let x = lines[y].find(text).expect("text in row");
    // Columns are characters, and the border is multi-byte.
    let x = lines[y][..x].chars().count();
    terminal.backend().buffer()[(x as u16, y as u16)].fg
}

pub fn selected_peer(view: &ViewState) -> SocketAddr {
    view.selected.as_ref().expect("a selection").peer
}

/// The client on `port` of a dashboard's one server, as kicks name it.
pub fn target(port: u16) -> Key {
    Key::local(peer(port))
}

/// `serve`'s own dashboard: quitting stops the server.
pub fn serve_mode() -> Mode {
    Mode {
        quit_stops_server: true,
        read_only: false,
    }
}
