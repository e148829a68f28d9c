//! The dashboard over several servers, drawn into ratatui's `TestBackend`:
//! the merged table with its server column, one filter across servers, a
//! selection that stays on its client whichever server's snapshot comes, a
//! lost server's rows dimmed and not kicked, failover marks, the servers
//! screen, kicks that name their servers, and the events of all in time
//! order.

mod screen;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::KeyCode;
use hbmon::feed::Connection;
use hbmon::feed::event::{Event, EventKind};
use hbmon::feed::merged::{Key, Part};
use hbmon::feed::snapshot::{ClientView, Snapshot};
use hbmon::front::tui::KickDialog;
use hbmon::front::tui::keys::{Action, handle_key};
use hbmon::front::tui::view::{Screen, ViewState};
use hbmon::protocol::Status;
use ratatui::style::Modifier;

use screen::*;

fn part(name: &str, snapshot: Arc<Snapshot>) -> Part {
    Part {
        name: Arc::from(name),
        address: Arc::from(format!("127.0.0.1:1400{}", name.len())),
        ..Part::local(snapshot)
    }
}

/// A client on `port` of a server with its own ip and pid.
fn on(port: u16, status: Status, ip: &str, pid: u32) -> ClientView {
    let mut c = client(port, status, 0, u64::from(port));
    c.ip = Some(Arc::from(ip));
    c.pid = Some(pid);
    c
}

/// Server `a` with clients 5001 and 5002 (in leave), `b` with 6001 and
/// 6002, `c` with 7001 (the same ip and pid as 5001: it failed over).
fn fleet() -> ViewState {
    let a = snapshot(vec![
        on(5001, Status::Alive, "10.0.0.1", 1),
        on(5002, Status::Leave, "10.0.0.2", 2),
    ]);
    let b = snapshot(vec![
        on(6001, Status::Alive, "10.0.1.1", 11),
        on(6002, Status::Leave, "10.0.1.2", 12),
    ]);
    let c = snapshot(vec![on(7001, Status::Alive, "10.0.0.1", 1)]);
    ViewState::of(vec![part("a", a), part("bb", b), part("ccc", c)])
}

fn key(server: &str, port: u16) -> Key {
    Key {
        server: Arc::from(server),
        peer: peer(port),
    }
}

fn row_of(text: &str, port: u16) -> &str {
    let port = format!(":{port}");
    text.lines().find(|l| l.contains(&port)).unwrap_or("")
}

fn press_code(view: &mut ViewState, code: KeyCode) -> Option<Action> {
    handle_key(screen::key(code), view)
}

#[test]
fn several_servers_open_on_the_servers_screen_and_enter_shows_one_servers_clients() {
    let mut view = fleet();
    assert_eq!(view.screen, Screen::Servers);
    let text = screen(&draw(&mut view, 160, 30));
    assert!(text.contains("servers: 3/3 connected"), "{text}");
    assert!(text.contains("3/3 servers"), "the header:\n{text}");
    assert!(
        text.contains("clients 5  alive 3  leave 2"),
        "totals:\n{text}"
    );
    let b = text.lines().find(|l| l.contains("│bb ")).expect(&text);
    assert!(
        b.contains("127.0.0.1:14002") && b.contains("connected"),
        "{b}"
    );

    press(&mut view, "j");
    press_code(&mut view, KeyCode::Enter);
    assert_eq!(view.screen, Screen::Live);
    let text = screen(&draw(&mut view, 160, 30));
    assert!(text.contains("server bb"), "the badge says which:\n{text}");
    assert_eq!(view.rows().len(), 2, "only bb's clients");
    press_code(&mut view, KeyCode::Esc);
    assert_eq!(view.rows().len(), 5, "Esc: every server's again");
    press_code(&mut view, KeyCode::Tab);
    press_code(&mut view, KeyCode::Tab);
    press_code(&mut view, KeyCode::Tab);
    assert_eq!(view.screen, Screen::Servers, "in the Tab cycle");
}

#[test]
fn the_merged_table_names_each_rows_server_and_the_filter_matches_it() {
    let mut view = fleet();
    view.screen = Screen::Live;
    let text = screen(&draw(&mut view, 160, 30));
    assert!(text.contains("server"), "{text}");
    assert!(row_of(&text, 6002).contains("bb"), "{text}");
    assert!(row_of(&text, 5001).contains("a ⇄"), "failed over:\n{text}");
    assert!(
        row_of(&text, 7001).contains("ccc ⇄"),
        "marked in both:\n{text}"
    );
    assert!(!row_of(&text, 6001).contains('⇄'), "{text}");
    press(&mut view, "/ccc");
    press_code(&mut view, KeyCode::Enter);
    assert_eq!(view.rows().len(), 1);
    assert_eq!(view.client(0).peer, peer(7001));
    // One server: no server column, as before.
    let mut one = ViewState::new(three());
    let text = screen(&draw(&mut one, 160, 30));
    assert!(!text.contains("server"), "{text}");
}

#[test]
fn the_selection_stays_on_its_client_when_another_server_sends_a_snapshot() {
    let mut view = fleet();
    view.screen = Screen::Live;
    press(&mut view, "jjj");
    assert_eq!(view.selected, Some(key("bb", 6002)));
    // a gains two clients before it; bb's rows move down.
    let grown = snapshot(vec![
        on(4001, Status::Alive, "10.0.0.7", 7),
        on(4002, Status::Alive, "10.0.0.8", 8),
        on(5001, Status::Alive, "10.0.0.1", 1),
        on(5002, Status::Leave, "10.0.0.2", 2),
    ]);
    view.update(0, grown);
    assert_eq!(view.selected, Some(key("bb", 6002)));
    assert_eq!(view.live.pos, 5);
    // The same port on another server is another client.
    view.update(2, snapshot(vec![on(6002, Status::Alive, "10.9.9.9", 99)]));
    assert_eq!(view.selected, Some(key("bb", 6002)));
}

#[test]
fn a_lost_servers_rows_stay_dimmed_and_are_not_kicked() {
    let mut view = fleet();
    view.screen = Screen::Live;
    view.set_connection(
        1,
        Connection::Lost("cannot reach 127.0.0.1:14002".to_owned()),
    );
    press(&mut view, "jj");
    let terminal = draw(&mut view, 160, 30);
    let text = screen(&terminal);
    assert!(text.contains("2/3 servers"), "{text}");
    assert!(
        text.contains("bb is disconnected"),
        "the footer says why:\n{text}"
    );
    let all = lines(&terminal);
    let dim = |port: u16| {
        let y = all
            .iter()
            .position(|l| l.contains(&format!(":{port}")))
            .unwrap();
        terminal.backend().buffer()[(5, y as u16)]
            .modifier
            .contains(Modifier::DIM)
    };
    assert!(dim(6001) && dim(6002), "bb's rows dimmed");
    assert!(!dim(5001) && !dim(7001), "the others live");
    assert_eq!(press(&mut view, "d"), []);
    assert!(view.kick_dialog().is_none());
    assert!(
        view.message
            .as_deref()
            .unwrap_or("")
            .contains("bb is disconnected")
    );
    // K kicks those in leave on the servers that can be kicked only.
    press(&mut view, "K");
    let dialog = view.kick_dialog().expect("a question");
    assert_eq!(
        dialog,
        &KickDialog::Leave {
            peers: vec![key("a", 5002)]
        }
    );
    press_code(&mut view, KeyCode::Esc);
    view.screen = Screen::Servers;
    let text = screen(&draw(&mut view, 160, 30));
    let row = row_of(&text, 14002);
    assert!(row.contains("disconnected 0s, retrying"), "{text}");
    assert!(
        row.contains("cannot reach 127.0.0.1:14002"),
        "and why:\n{text}"
    );
}

#[test]
fn marks_on_two_servers_are_one_question_naming_both() {
    let mut view = fleet();
    view.screen = Screen::Live;
    press(&mut view, "j  ");
    press(&mut view, "d");
    let dialog = view.kick_dialog().expect("a question").clone();
    assert_eq!(dialog.question(), "Kick 2 clients on 2 servers?");
    let text = screen(&draw(&mut view, 160, 30));
    assert!(text.contains("127.0.0.1:5002 on a"), "{text}");
    assert!(text.contains("127.0.0.1:6001 on bb"), "{text}");
    assert_eq!(
        press(&mut view, "y"),
        [Action::Kick(vec![key("a", 5002), key("bb", 6001)], None)]
    );
}

#[test]
fn the_events_pane_merges_every_servers_events_in_time_order() {
    let at = |s: u64| SystemTime::UNIX_EPOCH + T0 + Duration::from_secs(s);
    let with = |secs: &[u64], port: u16| {
        let mut s = (*snapshot(Vec::new())).clone();
        let events = secs.iter().map(|&t| Event {
            at: at(t),
            kind: Arc::new(EventKind::Connected {
                peer: peer(port),
                identity: None,
            }),
        });
        s.recent = Arc::new(events.collect());
        Arc::new(s)
    };
    let mut view = ViewState::of(vec![
        part("a", with(&[1, 4], 5001)),
        part("bb", with(&[2, 3], 6001)),
    ]);
    view.screen = Screen::Live;
    let text = screen(&draw(&mut view, 120, 30));
    let order: Vec<&str> = (text.lines())
        .filter(|l| l.starts_with("│14:") && l.contains("connected"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(order, ["a", "bb", "bb", "a"], "{text}");
}

#[test]
fn a_set_of_no_servers_yet_is_drawn_not_a_panic() {
    let mut view = ViewState::of(Vec::new());
    assert_eq!(view.screen, Screen::Servers);
    let text = screen(&draw(&mut view, 120, 30));
    assert!(text.contains("0/0 servers"), "{text}");
    assert_eq!(press(&mut view, "\n d"), []);
    press_code(&mut view, KeyCode::Enter);
    press_code(&mut view, KeyCode::Tab);
    let text = screen(&draw(&mut view, 120, 30));
    assert!(text.contains("clients: none"), "{text}");
}
