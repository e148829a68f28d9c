//! The dashboard's questions: kicking (one client, the marked ones, all in
//! `leave`), what a kick did, quitting a server with clients, and a
//! read-only viewer that never asks to kick.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use hbmon::feed::control::Kicked;
use hbmon::front::tui::keys::{Action, handle_key};
use hbmon::front::tui::view::{Mode, ViewState};
use hbmon::front::tui::{KickDialog, outcome};
use hbmon::protocol::Status;

mod screen;
use screen::*;

#[test]
fn kick_asks_for_confirmation_and_enter_confirms() {
    let mut view = ViewState::new(three());
    let actions = press(&mut view, "jd");
    assert!(actions.is_empty(), "nothing is kicked before confirmation");
    assert_eq!(
        view.kick_dialog(),
        Some(&KickDialog::One {
            peer: target(5002),
            pid: Some(6002)
        })
    );
    let text = screen(&draw(&mut view, 100, 30));
    assert!(text.contains("Kick 127.0.0.1:5002 (pid 6002)?"), "{text}");
    assert!(text.contains("y/Enter"), "{text}");
    assert_eq!(
        handle_key(key(KeyCode::Enter), &mut view),
        Some(Action::Kick(vec![target(5002)], None))
    );
    assert_eq!(view.kick_dialog(), None);
}

#[test]
fn kick_is_cancelled_by_n_or_esc_and_other_keys_keep_asking() {
    let mut view = ViewState::new(three());
    press(&mut view, "d");
    assert_eq!(press(&mut view, "jx"), []);
    assert!(
        view.kick_dialog().is_some(),
        "unrelated keys leave the question open"
    );
    assert_eq!(
        selected_peer(&view),
        peer(5001),
        "and do not move the selection"
    );
    assert_eq!(press(&mut view, "n"), []);
    assert_eq!(view.kick_dialog(), None);
    press(&mut view, "d");
    assert_eq!(handle_key(key(KeyCode::Esc), &mut view), None);
    assert_eq!(view.kick_dialog(), None);
    assert!(!screen(&draw(&mut view, 100, 30)).contains("Confirm kick"));
    handle_key(key(KeyCode::Delete), &mut view);
    assert!(view.kick_dialog().is_some(), "Delete asks too");
    assert_eq!(
        press(&mut view, "y"),
        [Action::Kick(vec![target(5001)], None)]
    );
}

#[test]
fn marks_survive_sorting_and_one_confirmation_kicks_them_all() {
    let mut view = ViewState::new(three());
    press(&mut view, " "); // marks 5001, moves to 5002
    press(&mut view, "j "); // marks 5003
    assert_eq!(view.marks.len(), 2);
    press(&mut view, "sss"); // sort by status
    press(&mut view, "S");
    assert_eq!(view.marks.len(), 2);
    let text = screen(&draw(&mut view, 140, 20));
    assert!(text.contains("(2 marked)"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains("│* 127.0.0.1")).count(),
        2,
        "{text}"
    );
    press(&mut view, "d");
    assert_eq!(
        view.kick_dialog(),
        Some(&KickDialog::Marked {
            peers: vec![target(5001), target(5003)],
            hidden: 0
        })
    );
    assert!(screen(&draw(&mut view, 100, 30)).contains("Kick 2 marked clients?"));
    assert_eq!(
        press(&mut view, "y"),
        [Action::Kick(vec![target(5001), target(5003)], None)]
    );
    assert!(view.marks.is_empty());
}

#[test]
fn capital_k_kicks_every_leave_client_after_confirmation() {
    let mut view = ViewState::new(three());
    press(&mut view, "K");
    assert_eq!(
        view.kick_dialog(),
        Some(&KickDialog::Leave {
            peers: vec![target(5002)]
        })
    );
    let text = screen(&draw(&mut view, 100, 30));
    assert!(text.contains("Kick the 1 client in leave?"), "{text}");
    assert!(
        text.contains("127.0.0.1:5002"),
        "the dialog names it: {text}"
    );
    assert_eq!(
        press(&mut view, "y"),
        [Action::Kick(vec![target(5002)], None)]
    );

    let mut calm = ViewState::new(snapshot(vec![client(1, Status::Alive, 0, 1)]));
    assert_eq!(press(&mut calm, "K"), []);
    assert_eq!(calm.kick_dialog(), None);
    assert!(screen(&draw(&mut calm, 100, 30)).contains("no clients in leave"));
}

#[test]
fn capital_k_kicks_the_clients_it_named_not_those_in_leave_at_confirmation() {
    let mut view = ViewState::new(three());
    press(&mut view, "K");
    // While the question is open, 5002 recovers and 5001 and 5003 go leave.
    view.show(snapshot(vec![
        client(5001, Status::Leave, 3, 30),
        client(5002, Status::Alive, 0, 10),
        client(5003, Status::Leave, 3, 20),
    ]));
    assert!(screen(&draw(&mut view, 100, 30)).contains("Kick the 1 client in leave?"));
    assert_eq!(
        press(&mut view, "y"),
        [Action::Kick(vec![target(5002)], None)]
    );
}

#[test]
fn marked_clients_hidden_by_the_filter_are_named_and_counted_in_the_dialog() {
    let mut view = ViewState::new(three());
    press(&mut view, " "); // marks 5001
    press(&mut view, "/6003");
    handle_key(key(KeyCode::Enter), &mut view);
    assert_eq!(selected_peer(&view), peer(5003));
    press(&mut view, "d");
    assert_eq!(
        view.kick_dialog(),
        Some(&KickDialog::Marked {
            peers: vec![target(5001)],
            hidden: 1
        })
    );
    let text = screen(&draw(&mut view, 100, 30));
    assert!(
        text.contains("Kick the marked client 127.0.0.1:5001?"),
        "{text}"
    );
    assert!(
        text.contains("it is hidden by the filter") && !text.contains("of them hidden"),
        "one client is not 'them':\n{text}"
    );
    assert_eq!(
        press(&mut view, "y"),
        [Action::Kick(vec![target(5001)], None)]
    );
}

#[test]
fn a_kick_outcome_says_how_many_were_kicked_and_how_many_had_gone() {
    let kicked = |kicked: &[u16], gone: &[u16]| {
        outcome(&Kicked {
            kicked: kicked.iter().map(|&p| peer(p)).collect(),
            gone: gone.iter().map(|&p| peer(p)).collect(),
        })
    };
    assert_eq!(kicked(&[1], &[]), "kicked 127.0.0.1:1");
    assert_eq!(kicked(&[1, 2, 3], &[]), "kicked 3 clients");
    assert_eq!(
        kicked(&[1, 2, 3], &[4]),
        "kicked 3 of 4; 1 had already gone"
    );
    assert_eq!(
        kicked(&[], &[4]),
        "kicked nobody: 127.0.0.1:4 had already gone"
    );
    assert_eq!(
        kicked(&[], &[4, 5]),
        "kicked nobody: all 2 had already gone"
    );
}

#[test]
fn q_and_ctrl_c_quit_even_from_a_dialog() {
    let mut view = ViewState::new(three());
    assert_eq!(press(&mut view, "q"), [Action::Quit]);
    press(&mut view, "d");
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(handle_key(ctrl_c, &mut view), Some(Action::Quit));
}

#[test]
fn in_serve_q_with_clients_connected_asks_before_stopping_the_server() {
    let mut view = ViewState::new(three());
    view.mode = serve_mode();
    assert_eq!(press(&mut view, "q"), []);
    assert_eq!(view.quitting(), Some(3));
    let shown = screen(&draw(&mut view, 120, 30));
    assert!(
        shown.contains("Stop the server and close its 3 clients?"),
        "{shown}"
    );
    assert!(
        shown.contains("serve --no-tui, watch with hbmon top"),
        "{shown}"
    );
    // n keeps it running; any other key too.
    assert_eq!(press(&mut view, "n"), []);
    assert_eq!(view.quitting(), None);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(handle_key(ctrl_c, &mut view), None, "Ctrl-C asks too");
    assert_eq!(press(&mut view, "x"), []);
    assert_eq!(view.quitting(), None);
    assert_eq!(press(&mut view, "qy"), [Action::Quit]);
    assert_eq!(handle_key(ctrl_c, &mut view), None);
    assert_eq!(
        handle_key(ctrl_c, &mut view),
        Some(Action::Quit),
        "Ctrl-C twice quits"
    );
    // With nobody connected there is nothing to lose.
    let mut empty = ViewState::new(snapshot(vec![]));
    empty.mode = serve_mode();
    assert_eq!(press(&mut empty, "q"), [Action::Quit]);
}

#[test]
fn a_read_only_viewer_shows_no_kick_keys_and_never_kicks() {
    let mut view = ViewState::new(three());
    view.mode = Mode {
        quit_stops_server: false,
        read_only: true,
    };
    let shown = screen(&draw(&mut view, 200, 30));
    assert!(shown.contains("read-only"), "{shown}");
    let footer = lines(&draw(&mut view, 200, 30)).pop().unwrap();
    assert!(
        !footer.contains("kick") && !footer.contains("mark"),
        "{footer}"
    );
    assert!(
        footer.contains("? help") && footer.contains("q quit"),
        "{footer}"
    );
    for keys in ["d", "K", " ", "dy", "Ky"] {
        assert_eq!(press(&mut view, keys), [], "{keys:?}");
        assert!(view.kick_dialog().is_none(), "{keys:?} opened a dialog");
    }
    assert_eq!(handle_key(key(KeyCode::F(9)), &mut view), None);
    assert_eq!(
        view.message.as_deref(),
        Some("read-only: this viewer does not kick")
    );
    press(&mut view, "?");
    let help = screen(&draw(&mut view, 120, 40));
    assert!(!help.contains("kick selected"), "{help}");
    // Watching still works: the details pane asks for a story.
    press(&mut view, "x");
    assert!(matches!(
        handle_key(key(KeyCode::Enter), &mut view),
        Some(Action::Show(_))
    ));
}
