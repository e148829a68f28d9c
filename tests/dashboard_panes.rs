//! The dashboard beyond the live table: the history and events screens,
//! the help overlay, and the details pane.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::KeyCode;
use hbmon::feed::details::{Change, Details, PastConnection};
use hbmon::feed::event::{Event, EventKind};
use hbmon::front::tui::keys::{Action, handle_key};
use hbmon::front::tui::view::ViewState;
use hbmon::protocol::Status;

mod screen;
use screen::*;

#[test]
fn help_overlay_lists_every_key_and_any_key_closes_it() {
    let mut view = ViewState::new(three());
    press(&mut view, "?");
    let text = screen(&draw(&mut view, 100, 30));
    for keys in [
        "j/k",
        "PgUp/PgDn",
        "g/G",
        "Space",
        "Delete",
        "K",
        "s / S",
        "/",
        "f",
        "p",
        "Tab",
        "mouse",
        "Ctrl-C",
        "F1",
        "F9",
        "F10",
        "Ctrl-L",
    ] {
        assert!(text.contains(keys), "help lacks {keys}:\n{text}");
    }
    assert_eq!(
        press(&mut view, "q"),
        [],
        "the key that closes help does nothing else"
    );
    assert!(view.help().is_none());
}

#[test]
fn tab_shows_history_of_closed_clients_newest_first() {
    let mut s = (*three()).clone();
    let closed = |port: u16, reason: &str, after: u64| hbmon::feed::snapshot::ClosedClient {
        peer: peer(port),
        pid: Some(42),
        ip: None,
        status: Status::Close,
        reason: reason.to_owned(),
        heartbeats: 3,
        connected_at: s.started,
        closed_at: s.started + Duration::from_secs(after),
    };
    let history = vec![
        closed(4001, "kicked by operator", 10),
        closed(4002, "bad frame: empty frame (length 0)", 20),
    ];
    s.history = Arc::new(history.into_iter().collect());
    let mut view = ViewState::new(Arc::new(s));
    handle_key(key(KeyCode::Tab), &mut view);
    let text = screen(&draw(&mut view, 120, 20));
    let first = text.find("127.0.0.1:4002").expect("newest shown");
    let second = text.find("127.0.0.1:4001").expect("oldest shown");
    assert!(first < second, "newest first:\n{text}");
    assert!(
        text.contains("kicked by operator") && text.contains("bad frame: empty frame"),
        "{text}"
    );
    assert!(text.contains("45s ago"), "{text}");
    assert_eq!(press(&mut view, "d"), [], "no kicking from history");
    assert_eq!(view.kick_dialog(), None);
    assert!(
        screen(&draw(&mut view, 120, 20))
            .contains("d works on the clients screen (Tab to go there)")
    );
    // The history's filter searches reasons too.
    press(&mut view, "/kick");
    let text = screen(&draw(&mut view, 120, 20));
    assert!(
        text.contains("127.0.0.1:4001") && !text.contains("127.0.0.1:4002"),
        "{text}"
    );
    handle_key(key(KeyCode::Esc), &mut view);
    handle_key(key(KeyCode::Tab), &mut view);
    assert!(screen(&draw(&mut view, 120, 20)).contains("events 1-2 of 2"));
    handle_key(key(KeyCode::Tab), &mut view);
    assert!(screen(&draw(&mut view, 120, 20)).contains("clients 1-3 of 3"));
}

#[test]
fn help_scrolls_when_the_terminal_is_too_short_for_it() {
    let mut view = ViewState::new(three());
    handle_key(key(KeyCode::F(1)), &mut view);
    let text = screen(&draw(&mut view, 60, 15));
    assert!(text.contains("↑/↓ scroll"), "{text}");
    assert!(!text.contains("Ctrl-C"), "{text}");
    for _ in 0..20 {
        handle_key(key(KeyCode::Down), &mut view);
    }
    let text = screen(&draw(&mut view, 60, 15));
    assert!(
        text.contains("quit: the server keeps running"),
        "the last line: {text}"
    );
    handle_key(key(KeyCode::Char('x')), &mut view);
    assert!(view.help().is_none());
}

#[test]
fn the_events_screen_follows_new_events_until_the_operator_scrolls_up() {
    let with_events = |n: u16| {
        let mut s = (*three()).clone();
        s.recent = Arc::new(
            (0..n)
                .map(|i| Event {
                    at: s.started + Duration::from_secs(u64::from(i)),
                    kind: Arc::new(EventKind::Connected {
                        peer: peer(7000 + i),
                        identity: None,
                    }),
                })
                .collect(),
        );
        Arc::new(s)
    };
    let mut view = ViewState::new(with_events(3));
    press(&mut view, "ll");
    assert_eq!(view.events.pos, 2, "starts at the newest");
    view.show(with_events(4));
    assert_eq!(view.events.pos, 3, "and follows it");
    press(&mut view, "k");
    view.show(with_events(5));
    assert_eq!(view.events.pos, 2, "stays put once scrolled up");
    let text = screen(&draw(&mut view, 100, 30));
    assert!(text.contains("events 1-5 of 5"), "{text}");
}

#[test]
fn enter_opens_the_details_pane_with_a_sparkline_of_the_gaps() {
    let mut view = ViewState::new(three());
    assert_eq!(
        handle_key(key(KeyCode::Enter), &mut view),
        Some(Action::Show(target(5001)))
    );
    assert!(screen(&draw(&mut view, 100, 30)).contains("asking the server"));
    let at = view.snapshot().started + Duration::from_secs(60);
    // The story comes as the real loop hands it over.
    view.story_came(Details {
        peer: peer(5001),
        ip: Some(Arc::from("10.0.0.1")),
        identity: None,
        pid: Some(6001),
        status: Status::Alive,
        gaps_ms: vec![1000, 1010, 990, 3000, 1000],
        phi: None,
        reconnects: 2,
        flaps: 1,
        changes: vec![Change {
            at,
            from: Status::Leave,
            to: Status::Alive,
        }],
        earlier: vec![PastConnection {
            peer: peer(4999),
            connected_at: at - Duration::from_secs(65),
            closed_at: at - Duration::from_secs(5),
            reason: "client disconnected".into(),
        }],
    });
    let terminal = draw(&mut view, 100, 30);
    let text = screen(&terminal);
    for expected in [
        "reconnects 2  flaps 1",
        "last 5 gaps: mean 1400 ms, p99 3000 ms, largest 3000 ms",
        "14:14:20 leave -> alive",
        "127.0.0.1:4999 lasted 1m00s: client disconnected",
    ] {
        assert!(text.contains(expected), "lacks {expected}:\n{text}");
    }
    // The sparkline: bars drawn for the gaps, the tallest for the 3 s one.
    assert!(text.contains('█'), "{text}");
    // ↓ moves on to the next client and asks for its story.
    assert_eq!(
        handle_key(key(KeyCode::Down), &mut view),
        Some(Action::Show(target(5002)))
    );
    handle_key(key(KeyCode::Esc), &mut view);
    assert!(view.details().is_none());
}

#[test]
fn the_help_says_what_quitting_does_and_how_to_run_as_a_service() {
    let mut view = ViewState::new(three());
    view.mode = serve_mode();
    press(&mut view, "?");
    let shown = screen(&draw(&mut view, 120, 40));
    assert!(
        shown.contains("quit: stops the server (asks first)"),
        "{shown}"
    );
    assert!(
        shown.contains("serve --no-tui, watch with hbmon top"),
        "{shown}"
    );
    let mut viewer = ViewState::new(three());
    press(&mut viewer, "?");
    let shown = screen(&draw(&mut viewer, 120, 40));
    assert!(shown.contains("quit: the server keeps running"), "{shown}");
}
