//! The dashboard says everything and hides nothing: long reasons and events
//! read whole at 80 columns, every key in the help (and in the manual page,
//! drawn from the same table), the footer and the kick question worded for
//! the state they are in, and every sort order the API has.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::KeyCode;
use hbmon::feed::Connection;
use hbmon::feed::details::{Details, PastConnection};
use hbmon::feed::event::{Event, EventKind};
use hbmon::feed::query::Sort;
use hbmon::feed::snapshot::{ClosedClient, Snapshot};
use hbmon::front::tui::keys::{KEYS, QUIT, handle_key, quit_does};
use hbmon::front::tui::view::{Mode, ViewState};
use hbmon::protocol::Status;

mod screen;
use screen::*;

/// A close reason far wider than an 80-column table's reason column.
const REASON: &str = "bad frame: heartbeat JSON: unknown field `statuss`, expected one of `ip`, \
     `status`, `pid`, `token` at line 1 column 42 (the peer sent 58 bytes and then went quiet)";

/// The text of the pane that opens over the screen: its 76 columns in the
/// middle, without what shows either side, flattened.
fn pane(shown: &str) -> String {
    let lines: Vec<String> = shown
        .lines()
        .map(|l| l.chars().skip(3).take(74).collect())
        .collect();
    flat(&lines.join("\n"))
}

/// The screen's text with borders dropped and every run of blanks made one
/// space, so text folded onto several lines reads as one.
fn flat(text: &str) -> String {
    text.replace(['│', '┌', '┐', '└', '┘', '╭', '╮', '╰', '╯', '─'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn shows_whole(view: &mut ViewState, width: u16, height: u16, text: &str) -> bool {
    flat(&screen(&draw(view, width, height))).contains(&flat(text))
}

/// Three clients, and a closed one with [`REASON`] in the history and in
/// the events.
fn with_a_long_reason() -> Arc<Snapshot> {
    let mut s = (*three()).clone();
    let closed = ClosedClient {
        peer: peer(4001),
        pid: Some(42),
        ip: None,
        status: Status::Close,
        reason: REASON.to_owned(),
        heartbeats: 3,
        connected_at: s.started,
        closed_at: s.started + Duration::from_secs(20),
    };
    s.history = Arc::new([closed].into_iter().collect());
    let mut recent: Vec<Event> = s.recent.iter().cloned().collect();
    recent.push(Event {
        at: s.started + Duration::from_secs(20),
        kind: Arc::new(EventKind::Closed {
            peer: peer(4001),
            pid: Some(42),
            ip: None,
            identity: None,
            status: Status::Close,
            reason: REASON.to_owned(),
        }),
    });
    s.recent = Arc::new(recent.into_iter().collect());
    Arc::new(s)
}

#[test]
fn at_80_columns_the_events_pane_folds_a_long_event_instead_of_cutting_it() {
    let mut view = ViewState::new(with_a_long_reason());
    assert!(
        shows_whole(&mut view, 80, 24, REASON),
        "{}",
        screen(&draw(&mut view, 80, 24))
    );
    let lines = lines(&draw(&mut view, 80, 24));
    assert!(lines.iter().all(|l| l.chars().count() == 80));
}

#[test]
fn at_80_columns_enter_opens_a_closed_clients_whole_reason_on_the_history_screen() {
    let mut view = ViewState::new(with_a_long_reason());
    handle_key(key(KeyCode::Tab), &mut view);
    let table = screen(&draw(&mut view, 80, 24));
    assert!(table.contains("Enter: whole row"), "{table}");
    assert!(
        !flat(&table).contains(&flat(REASON)),
        "the table cuts it:\n{table}"
    );
    handle_key(key(KeyCode::Enter), &mut view);
    assert!(
        shows_whole(&mut view, 80, 24, REASON),
        "{}",
        screen(&draw(&mut view, 80, 24))
    );
    assert!(screen(&draw(&mut view, 80, 24)).contains("127.0.0.1:4001 closed"));
    handle_key(key(KeyCode::Esc), &mut view);
    assert!(!shows_whole(&mut view, 80, 24, REASON), "Esc closes it");
}

#[test]
fn at_80_columns_enter_opens_a_whole_event_and_arrows_open_the_next() {
    let mut view = ViewState::new(with_a_long_reason());
    handle_key(key(KeyCode::BackTab), &mut view);
    assert!(!shows_whole(&mut view, 80, 24, REASON), "the list cuts it");
    handle_key(key(KeyCode::Enter), &mut view);
    let shown = screen(&draw(&mut view, 80, 24));
    assert!(pane(&shown).contains(&flat(REASON)), "{shown}");
    assert!(shown.contains("event at 14:13:40 UTC"), "{shown}");
    // ↑ opens the event before it, which is folded too.
    handle_key(key(KeyCode::Up), &mut view);
    let shown = screen(&draw(&mut view, 80, 24));
    assert!(shown.contains("event at 14:14:20 UTC"), "{shown}");
    assert!(
        flat(&shown).contains("alive -> leave (miss 0, strikes 3)"),
        "{shown}"
    );
    handle_key(key(KeyCode::Char('x')), &mut view);
    assert!(view.entry().is_none());
}

#[test]
fn at_80_columns_the_details_pane_shows_an_earlier_close_reason_whole() {
    let mut view = ViewState::new(three());
    assert!(handle_key(key(KeyCode::Enter), &mut view).is_some());
    let at = view.snapshot().started + Duration::from_secs(60);
    // The story comes as the real loop hands it over.
    view.story_came(Details {
        peer: peer(5001),
        ip: None,
        identity: None,
        pid: Some(6001),
        status: Status::Alive,
        gaps_ms: vec![1000],
        phi: None,
        reconnects: 1,
        flaps: 0,
        changes: vec![],
        earlier: vec![PastConnection {
            peer: peer(4999),
            connected_at: at - Duration::from_secs(65),
            closed_at: at - Duration::from_secs(5),
            reason: REASON.into(),
        }],
    });
    let shown = screen(&draw(&mut view, 80, 24));
    assert!(pane(&shown).contains(&flat(REASON)), "{shown}");
    assert!(
        shown.contains("last gap:"),
        "one gap is not 'gaps':\n{shown}"
    );
}

#[test]
fn tops_disconnect_reason_folds_in_the_header_at_80_and_160_columns() {
    let why = format!("cannot reach 127.0.0.1:14001 after 12 attempts: {REASON}");
    let mut view = ViewState::new(three());
    view.set_connection(0, Connection::Lost(why.clone()));
    for width in [80, 160] {
        assert!(shows_whole(&mut view, width, 30, &why), "{width}");
    }
}

#[test]
fn the_help_lists_enter_shift_tab_and_what_space_does_every_line_whole_at_80_columns() {
    for mode in [
        Mode::default(),
        Mode {
            quit_stops_server: true,
            read_only: false,
        },
    ] {
        let mut view = ViewState::new(three());
        view.mode = mode;
        press(&mut view, "?");
        let shown = screen(&draw(&mut view, 80, 40));
        for needed in [
            "Enter",
            "a client's story",
            "Shift-Tab",
            "mark / unmark, then move down",
        ] {
            assert!(shown.contains(needed), "help lacks {needed}:\n{shown}");
        }
        for k in KEYS {
            let does = if k.keys == QUIT.keys {
                quit_does(mode)
            } else {
                k.does
            };
            assert!(
                shown.contains(k.keys) && shown.contains(does),
                "{does}:\n{shown}"
            );
        }
    }
}

#[test]
fn while_paused_the_footer_offers_p_resume() {
    for tabs in [0, 2] {
        let mut view = ViewState::new(three());
        for _ in 0..tabs {
            handle_key(key(KeyCode::Tab), &mut view);
        }
        let footer = |view: &mut ViewState| lines(&draw(view, 160, 30)).pop().unwrap();
        assert!(footer(&mut view).contains("p pause"));
        press(&mut view, "p");
        let paused = footer(&mut view);
        assert!(
            paused.contains("p resume") && !paused.contains("p pause"),
            "{paused}"
        );
        press(&mut view, "p");
        assert!(footer(&mut view).contains("p pause"));
    }
}

#[test]
fn the_kick_question_says_them_for_several_clients_and_it_for_one() {
    let mut view = ViewState::new(three());
    press(&mut view, "  d");
    let shown = screen(&draw(&mut view, 100, 30));
    assert!(shown.contains("Kick 2 marked clients?"), "{shown}");
    assert!(shown.contains("refuse them for a while"), "{shown}");
    for (keys, question) in [
        ("d", "Kick 127.0.0.1:5001 (pid 6001)?"),
        (" d", "Kick the marked client 127.0.0.1:5001?"),
        ("K", "Kick the 1 client in leave?"),
    ] {
        let mut view = ViewState::new(three());
        press(&mut view, keys);
        let shown = screen(&draw(&mut view, 100, 30));
        assert!(shown.contains(question), "{shown}");
        assert!(shown.contains("refuse it for a while"), "{shown}");
    }
}

#[test]
fn s_reaches_every_sort_the_api_has_and_shows_reconnects_and_flaps_at_80_columns() {
    let mut clients = vec![
        client(5001, Status::Alive, 0, 30),
        client(5002, Status::Leave, 3, 10),
        client(5003, Status::Alive, 1, 20),
    ];
    for (c, (reconnects, flaps)) in clients.iter_mut().zip([(2, 0), (0, 3), (1, 1)]) {
        c.reconnects = reconnects;
        c.flaps = flaps;
    }
    let mut view = ViewState::new(snapshot(clients));
    let order =
        |view: &ViewState| -> Vec<u16> { (0..3).map(|r| view.client(r).peer.port()).collect() };
    let mut seen = vec![view.query.sort];
    for _ in 1..Sort::ALL.len() {
        press(&mut view, "s");
        seen.push(view.query.sort);
        match view.query.sort {
            Sort::Reconnects => {
                assert_eq!(order(&view), [5002, 5003, 5001]);
                let shown = lines(&draw(&mut view, 80, 24));
                let header = shown.iter().find(|l| l.contains("ip:port")).unwrap();
                assert!(
                    header.contains("reconn"),
                    "the sorted column shows: {shown:#?}"
                );
                assert!(shown[3].contains("sort reconn ▲"), "{shown:#?}");
            }
            Sort::Flaps => {
                assert_eq!(order(&view), [5001, 5003, 5002]);
                press(&mut view, "S");
                assert_eq!(order(&view), [5002, 5003, 5001]);
                let shown = screen(&draw(&mut view, 80, 24));
                assert!(shown.contains("sort flaps ▼"), "{shown}");
                press(&mut view, "S");
            }
            _ => {}
        }
    }
    assert_eq!(
        seen,
        Sort::ALL,
        "the dashboard's orders are the API's, in order"
    );
    press(&mut view, "s");
    assert_eq!(view.query.sort, Sort::Connected, "and round again");
}

/// `hbmon man --dir DIR` into a fresh directory; the pages it wrote, by
/// file name, with roff's escapes undone.
fn man_pages() -> Vec<(String, String)> {
    let dir = std::env::temp_dir().join(format!("hbmon-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hbmon"))
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, text.replace("\\-", "-").replace("\\*(Aq", "'"))
        })
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    pages.sort();
    pages
}

#[test]
fn the_man_pages_list_every_dashboard_key_and_name_only_pages_that_exist() {
    let pages = man_pages();
    let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
    for (name, text) in &pages {
        // Every `hbmon-x(1)` a page points to is a page that was written.
        for (at, _) in text.match_indices("(1)") {
            let start = text[..at]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |i| i + 1);
            let pointed = format!("{}.1", &text[start..at]);
            assert!(
                names.contains(&pointed.as_str()),
                "{name} names {pointed}, not in {names:?}"
            );
        }
    }
    for page in ["hbmon.1", "hbmon-serve.1", "hbmon-top.1", "hbmon-demo.1"] {
        let (_, text) = pages.iter().find(|(name, _)| name == page).expect(page);
        let keys = &text[text
            .find(".SH KEYS")
            .unwrap_or_else(|| panic!("{page} has no KEYS"))..];
        for k in KEYS {
            assert!(
                keys.contains(k.keys) && keys.contains(k.does),
                "{page} lacks {}",
                k.keys
            );
        }
    }
    let (_, client) = pages
        .iter()
        .find(|(name, _)| name == "hbmon-client.1")
        .unwrap();
    assert!(!client.contains(".SH KEYS"), "only the dashboard's pages");
}

/// A client's reported ip with a bidi override (which reorders what the
/// operator reads) and a C1 CSI: neither reaches the terminal.
#[test]
fn a_reported_ip_with_a_bidi_override_reaches_the_terminal_without_it() {
    let mut hostile = client(5001, Status::Alive, 0, 3);
    hostile.ip = Some(Arc::from("10.0.0.1\u{9b}31m\u{202e}live"));
    let mut view = ViewState::new(snapshot(vec![hostile]));
    let terminal = draw(&mut view, 160, 30);
    let shown = screen(&terminal);
    assert!(!shown.contains(['\u{202e}', '\u{9b}']), "{shown}");
    assert!(shown.contains("10.0.0.131mlive"), "{shown}");
}
