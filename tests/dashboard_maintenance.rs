//! The dashboard's maintenance key (`m`), through the same key path as the
//! real loop: it asks how long, applies to the marked clients as a kick
//! does (else the selected one), refuses a length it cannot read in the
//! question itself, and the `next` column shows a window's time left.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::KeyCode;
use hbmon::front::tui::keys::{Action, KEYS, handle_key};
use hbmon::front::tui::maintained;
use hbmon::front::tui::view::{Mode, ViewState};
use hbmon::protocol::Status;

mod screen;
use screen::*;

/// Empties the length the question offers.
fn clear_length(view: &mut ViewState) {
    for _ in 0..8 {
        assert_eq!(handle_key(key(KeyCode::Backspace), view), None);
    }
}

#[test]
fn m_asks_how_long_and_enter_puts_the_selected_client_into_maintenance() {
    let mut view = ViewState::new(three());
    assert_eq!(press(&mut view, "jm"), [], "nothing before the length");
    let text = screen(&draw(&mut view, 100, 30));
    assert!(
        text.contains("Put 127.0.0.1:5002 (pid 6002) into maintenance"),
        "{text}"
    );
    assert!(text.contains("for: 30m"), "{text}");
    clear_length(&mut view);
    // Keys that mean something on the screen are text here.
    assert_eq!(press(&mut view, "2h"), []);
    assert_eq!(selected_peer(&view), peer(5002));
    assert_eq!(
        handle_key(key(KeyCode::Enter), &mut view),
        Some(Action::Maintenance(
            vec![target(5002)],
            Some(Duration::from_secs(7200))
        ))
    );
    assert!(!screen(&draw(&mut view, 100, 30)).contains("Maintenance window"));
}

#[test]
fn a_length_past_the_limit_is_refused_in_the_question_and_off_ends_the_window() {
    let mut view = ViewState::new(three());
    press(&mut view, "m");
    clear_length(&mut view);
    press(&mut view, "31d");
    assert_eq!(handle_key(key(KeyCode::Enter), &mut view), None);
    let text = screen(&draw(&mut view, 100, 30));
    assert!(
        text.contains("'31d' is too long for a maintenance window: at most 30days"),
        "{text}"
    );
    clear_length(&mut view);
    press(&mut view, "off");
    assert_eq!(
        handle_key(key(KeyCode::Enter), &mut view),
        Some(Action::Maintenance(vec![target(5001)], None))
    );
    // Esc cancels, with nothing sent.
    press(&mut view, "m");
    assert_eq!(handle_key(key(KeyCode::Esc), &mut view), None);
    assert!(!screen(&draw(&mut view, 100, 30)).contains("Maintenance window"));
}

#[test]
fn m_applies_to_the_marked_clients_as_a_kick_does_and_clears_the_marks() {
    let mut view = ViewState::new(three());
    press(&mut view, " j "); // marks 5001 and 5003
    press(&mut view, "m");
    let text = screen(&draw(&mut view, 100, 30));
    assert!(
        text.contains("Put 2 marked clients into maintenance"),
        "{text}"
    );
    assert_eq!(
        handle_key(key(KeyCode::Enter), &mut view),
        Some(Action::Maintenance(
            vec![target(5001), target(5003)],
            Some(Duration::from_secs(1800))
        ))
    );
    assert!(view.marks.is_empty());
}

#[test]
fn the_next_column_shows_the_time_left_in_a_window() {
    let mut s = (*three()).clone();
    s.clients[1].maintenance = Some(s.taken + Duration::from_secs(9 * 60 + 41));
    let mut view = ViewState::new(Arc::new(s));
    let terminal = draw(&mut view, 160, 20);
    let row = lines(&terminal)
        .into_iter()
        .find(|l| l.contains("127.0.0.1:5002"))
        .unwrap();
    assert!(row.contains("maint 9m41s"), "{row}");
    // The client is in `leave`, and the window, not the leave timeout, is
    // what comes next for it.
    assert_eq!(three().clients[1].status(), Status::Leave);
    assert!(!row.contains("close in"), "{row}");
}

#[test]
fn the_help_lists_m_and_a_read_only_viewer_says_why_it_does_nothing() {
    assert!(KEYS.iter().any(|k| k.keys == "m"));
    let mut view = ViewState::new(three());
    press(&mut view, "?");
    let help = screen(&draw(&mut view, 120, 50));
    assert!(
        help.contains("maintenance window for selected or marked"),
        "{help}"
    );
    let mut view = ViewState::new(three());
    view.mode = Mode {
        quit_stops_server: false,
        read_only: true,
    };
    assert_eq!(press(&mut view, "m"), []);
    assert_eq!(
        view.message.as_deref(),
        Some("read-only: this viewer does not start maintenance windows")
    );
}

#[test]
fn the_footer_says_what_the_server_did_with_the_window() {
    assert_eq!(maintained(1, false), "1 client in maintenance");
    assert_eq!(maintained(3, true), "maintenance ended for 3 clients");
    assert_eq!(
        maintained(0, false),
        "in maintenance: nobody (gone, or not yet said hello)"
    );
    assert_eq!(
        maintained(0, true),
        "maintenance ended for nobody (none was in a window)"
    );
}
