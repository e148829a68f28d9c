//! The dashboard without a terminal, the clients screen: its layout at
//! every size, the live table (colors, navigation, sort, filter, pause,
//! mouse), and the header (badges, rate, banners). Rendering goes into
//! ratatui's `TestBackend`; keys go through `handle_key`, the function the
//! real loop calls. The kick and quit questions are in
//! `dashboard_dialogs.rs`; the other screens and panes in
//! `dashboard_panes.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use hbmon::feed::Connection;
use hbmon::feed::snapshot::{Held, Silence};
use hbmon::front::tui::KickDialog;
use hbmon::front::tui::keys::{Action, handle_key, handle_mouse};
use hbmon::front::tui::view::ViewState;
use hbmon::liveness::Liveness;
use hbmon::protocol::Status;
use ratatui::style::Color;

mod screen;
use screen::*;

#[test]
fn wide_layout_shows_header_table_events_and_footer() {
    let mut view = ViewState::new(three());
    let terminal = draw(&mut view, 140, 20);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn minimum_size_layout_fits_in_60x15() {
    let mut view = ViewState::new(three());
    let terminal = draw(&mut view, 60, 15);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn statuses_are_colored_alive_green_leave_yellow() {
    let mut view = ViewState::new(three());
    let terminal = draw(&mut view, 140, 20);
    assert_eq!(color_of(&terminal, "127.0.0.1:5001", "alive"), Color::Green);
    assert_eq!(
        color_of(&terminal, "127.0.0.1:5002", "leave"),
        Color::Yellow
    );
    assert_eq!(
        color_of(&terminal, "127.0.0.1:5002", "close in"),
        Color::Red
    );
    assert_eq!(
        color_of(&terminal, "alive -> leave", "127.0.0.1:5002"),
        Color::Yellow
    );
    // The selected row (the first) is highlighted, its status still green.
    let lines = lines(&terminal);
    let y = lines
        .iter()
        .position(|l| l.contains("127.0.0.1:5001"))
        .unwrap() as u16;
    let buffer = terminal.backend().buffer();
    assert_eq!(buffer[(5, y)].bg, Color::DarkGray);
    assert_eq!(buffer[(5, y + 1)].bg, Color::Reset);
    assert_eq!(color_of(&terminal, "127.0.0.1:5001", "alive"), Color::Green);
}

#[test]
fn too_small_terminal_gets_a_message_not_a_panic() {
    for (w, h) in [(59, 15), (60, 14), (40, 3), (20, 3), (1, 1), (0, 0)] {
        let mut view = ViewState::new(three());
        let terminal = draw(&mut view, w, h);
        if w >= 40 {
            let text = screen(&terminal);
            assert!(text.contains("terminal too small"), "{w}x{h}:\n{text}");
            assert!(
                text.contains(&format!("{w}x{h}, need at least 60x15")),
                "{w}x{h}:\n{text}"
            );
        }
    }
}

#[test]
fn navigation_moves_the_selection_and_stops_at_the_ends() {
    let mut view = ViewState::new(three());
    assert_eq!(selected_peer(&view), peer(5001));
    press(&mut view, "jj");
    assert_eq!(selected_peer(&view), peer(5003));
    press(&mut view, "j");
    assert_eq!(selected_peer(&view), peer(5003), "stops at the last row");
    press(&mut view, "k");
    assert_eq!(selected_peer(&view), peer(5002));
    handle_key(key(KeyCode::Home), &mut view);
    assert_eq!(selected_peer(&view), peer(5001));
    press(&mut view, "G");
    assert_eq!(selected_peer(&view), peer(5003));
    press(&mut view, "g");
    assert_eq!(selected_peer(&view), peer(5001));
    handle_key(key(KeyCode::Down), &mut view);
    assert_eq!(selected_peer(&view), peer(5002));
}

#[test]
fn page_keys_move_by_the_visible_height() {
    let clients = (0..500)
        .map(|i| client(6000 + i, Status::Alive, 0, 1))
        .collect();
    let mut view = ViewState::new(snapshot(clients));
    draw(&mut view, 100, 30); // learns how many rows fit
    let page = view.live.page;
    assert!(page > 5);
    handle_key(key(KeyCode::PageDown), &mut view);
    assert_eq!(view.live.pos, page);
    let terminal = draw(&mut view, 100, 30);
    assert!(screen(&terminal).contains(&format!("127.0.0.1:{}", 6000 + page)));
    handle_key(key(KeyCode::End), &mut view);
    let terminal = draw(&mut view, 100, 30);
    let text = screen(&terminal);
    assert!(text.contains("127.0.0.1:6499"), "{text}");
    assert!(
        text.contains(&format!("clients {}-500 of 500", 501 - page)),
        "{text}"
    );
    handle_key(key(KeyCode::PageUp), &mut view);
    assert_eq!(view.live.pos, 499 - page);
}

#[test]
fn selection_stays_on_the_same_client_when_rows_move() {
    let mut view = ViewState::new(three());
    press(&mut view, "j");
    assert_eq!(selected_peer(&view), peer(5002));
    // 5001 leaves and a new client arrives: 5002 moves up a row.
    view.show(snapshot(vec![
        client(5002, Status::Leave, 3, 11),
        client(5003, Status::Alive, 1, 21),
        client(5004, Status::Alive, 0, 1),
    ]));
    assert_eq!(selected_peer(&view), peer(5002));
    assert_eq!(view.live.pos, 0);
    // When the selected client goes, the selection stays at its row.
    view.show(snapshot(vec![
        client(5003, Status::Alive, 1, 22),
        client(5004, Status::Alive, 0, 2),
    ]));
    assert_eq!(selected_peer(&view), peer(5003));
}

#[test]
fn s_cycles_the_sort_column_and_capital_s_reverses() {
    let mut view = ViewState::new(three());
    let order =
        |view: &ViewState| -> Vec<u16> { (0..3).map(|r| view.client(r).peer.port()).collect() };
    press(&mut view, "s");
    assert_eq!(order(&view), [5001, 5002, 5003]); // ip:port
    press(&mut view, "S");
    assert_eq!(order(&view), [5003, 5002, 5001]);
    press(&mut view, "S");
    press(&mut view, "ss");
    assert_eq!(order(&view), [5001, 5003, 5002]); // status: alive before leave
    press(&mut view, "sss");
    assert_eq!(order(&view), [5002, 5003, 5001]); // beats: 10, 20, 30
    let text = screen(&draw(&mut view, 140, 20));
    assert!(text.contains("sort beats ▲"), "{text}");
    press(&mut view, "sss");
    assert_eq!(order(&view), [5001, 5002, 5003], "back to connection order");
}

#[test]
fn filter_narrows_live_enter_keeps_it_and_esc_clears_it() {
    let mut view = ViewState::new(three());
    press(&mut view, "/600");
    assert!(view.editing_filter());
    assert_eq!(view.rows().len(), 3, "pids 6001-6003 all match 600");
    press(&mut view, "3");
    assert_eq!(view.rows().len(), 1);
    assert_eq!(selected_peer(&view), peer(5003));
    let text = screen(&draw(&mut view, 100, 30));
    assert!(text.contains("filter: 6003"), "{text}");
    handle_key(key(KeyCode::Enter), &mut view);
    assert!(!view.editing_filter());
    assert_eq!(view.query.filter, "6003");
    // Keys act on the filtered rows.
    assert_eq!(
        press(&mut view, "dy"),
        [Action::Kick(vec![target(5003)], None)]
    );

    press(&mut view, "/");
    for _ in 0..4 {
        handle_key(key(KeyCode::Backspace), &mut view);
    }
    assert_eq!(view.rows().len(), 3);
    press(&mut view, "LEAVE");
    assert_eq!(view.rows().len(), 1, "status matches, case-insensitively");
    assert_eq!(selected_peer(&view), peer(5002));
    handle_key(key(KeyCode::Esc), &mut view);
    assert!(!view.editing_filter());
    assert_eq!((view.query.filter.as_str(), view.rows().len()), ("", 3));
    press(&mut view, "/:5001");
    assert_eq!(view.rows().len(), 1, "port matches");
}

#[test]
fn f_shows_only_clients_that_are_not_alive() {
    let mut view = ViewState::new(three());
    press(&mut view, "f");
    assert_eq!(view.rows().len(), 1);
    assert_eq!(view.client(0).peer, peer(5002));
    let text = screen(&draw(&mut view, 140, 20));
    assert!(
        text.contains("only not alive") && !text.contains("│  127.0.0.1:5001"),
        "{text}"
    );
    press(&mut view, "f");
    assert_eq!(view.rows().len(), 3);
}

#[test]
fn pause_freezes_the_view_and_shows_a_badge() {
    let mut view = ViewState::new(three());
    press(&mut view, "p");
    view.show(snapshot(vec![client(7000, Status::Alive, 0, 1)]));
    let text = screen(&draw(&mut view, 140, 20));
    assert!(text.contains("PAUSED"), "{text}");
    assert!(
        text.contains("127.0.0.1:5001") && !text.contains("127.0.0.1:7000"),
        "{text}"
    );
    press(&mut view, "p");
    view.show(snapshot(vec![client(7000, Status::Alive, 0, 1)]));
    let text = screen(&draw(&mut view, 140, 20));
    assert!(
        !text.contains("PAUSED") && text.contains("127.0.0.1:7000"),
        "{text}"
    );
}

#[test]
fn mouse_click_selects_a_row_and_the_wheel_scrolls() {
    let clients = (0..100)
        .map(|i| client(6000 + i, Status::Alive, 0, 1))
        .collect();
    let mut view = ViewState::new(snapshot(clients));
    let terminal = draw(&mut view, 100, 30);
    let y = lines(&terminal)
        .iter()
        .position(|l| l.contains("127.0.0.1:6004"))
        .unwrap() as u16;
    let click = |kind, row| MouseEvent {
        kind,
        column: 10,
        row,
        modifiers: KeyModifiers::NONE,
    };
    handle_mouse(click(MouseEventKind::Down(MouseButton::Left), y), &mut view);
    assert_eq!(selected_peer(&view), peer(6004));
    handle_mouse(click(MouseEventKind::ScrollDown, 0), &mut view);
    assert_eq!(selected_peer(&view), peer(6007));
    handle_mouse(click(MouseEventKind::ScrollUp, 0), &mut view);
    handle_mouse(click(MouseEventKind::ScrollUp, 0), &mut view);
    assert_eq!(selected_peer(&view), peer(6001));
    // A click on the header row selects nothing.
    handle_mouse(
        click(MouseEventKind::Down(MouseButton::Left), y - 5),
        &mut view,
    );
    assert_eq!(selected_peer(&view), peer(6001));
}

#[test]
fn next_column_says_what_happens_if_nothing_changes() {
    let mut steady = client(5001, Status::Alive, 0, 30);
    steady.liveness = Liveness {
        streak: 4,
        miss: 0,
        ..steady.liveness
    };
    let silent = client(5002, Status::Alive, 2, 5); // miss 1, strikes 2
    let mut view = ViewState::new(snapshot(vec![steady, silent]));
    let text = screen(&draw(&mut view, 140, 20));
    let row = |port: &str| text.lines().find(|l| l.contains(port)).unwrap().to_owned();
    assert!(row("5001").contains("steady"), "{text}");
    assert!(row("5002").contains("leave in 4s"), "{text}");
}

#[test]
fn hundred_thousand_clients_render_only_the_visible_window() {
    let clients = (0..100_000u32)
        .map(|i| client((i % 60_000) as u16, Status::Alive, 0, u64::from(i)))
        .collect();
    let mut view = ViewState::new(snapshot(clients));
    let text = screen(&draw(&mut view, 200, 50));
    assert!(text.contains("clients 1-"), "{text}");
    assert!(text.contains("of 100000"), "{text}");
    handle_key(key(KeyCode::End), &mut view);
    let text = screen(&draw(&mut view, 200, 50));
    assert!(text.contains("-100000 of 100000"), "{text}");
}

#[test]
fn header_warns_when_the_journal_loses_decisions() {
    let mut s = (*three()).clone();
    let quiet = screen(&draw(&mut ViewState::new(Arc::new(s.clone())), 140, 20));
    assert!(!quiet.contains("journal lost"));
    s.counters.journal_lost = 3;
    let terminal = draw(&mut ViewState::new(Arc::new(s)), 140, 20);
    assert!(screen(&terminal).contains("journal lost 3"));
    let lines = lines(&terminal);
    let y = lines
        .iter()
        .position(|l| l.contains("journal lost 3"))
        .unwrap();
    let x = lines[y].find("journal lost").unwrap();
    assert_eq!(
        terminal.backend().buffer()[(x as u16, y as u16)].bg,
        Color::Red
    );
}

#[test]
fn heartbeat_rate_holds_steady_through_a_connect_and_a_kick() {
    // 10 clients at 10 Hz: the counter grows 10 a tick (100 ms). A connect
    // and a kick each publish an extra snapshot a few milliseconds after a
    // tick, before that tick's heartbeats have been counted.
    let base = three();
    let start = Instant::now();
    let at = |ms: u64, frames: u64| {
        let mut s = (*base).clone();
        s.taken_mono = start + Duration::from_millis(ms);
        s.counters.frames = frames;
        Arc::new(s)
    };
    let mut view = ViewState::new(at(0, 0));
    let mut readings = Vec::new();
    for tick in 1..=40u64 {
        if tick == 15 || tick == 30 {
            // The connect (then the kick): 3 ms after the last tick.
            view.show(at(tick * 100 - 97, (tick - 1) * 10));
            readings.push(view.heartbeats_per_second());
        }
        view.show(at(tick * 100, tick * 10));
        readings.push(view.heartbeats_per_second());
    }
    assert!(
        readings[10..].iter().all(|r| (90.0..=110.0).contains(r)),
        "{readings:?}"
    );
    let text = screen(&draw(&mut view, 140, 20));
    assert!(text.contains("100 heartbeats/s"), "{text}");
}

#[test]
fn every_badge_and_help_and_quit_show_at_80x24_and_160x45() {
    let mut s = (*three()).clone();
    s.counters.journal_lost = 3;
    let mut view = ViewState::new(Arc::new(s));
    press(&mut view, "/600");
    handle_key(key(KeyCode::Enter), &mut view);
    press(&mut view, "fp");
    for (width, height) in [(80, 24), (160, 45), (60, 15)] {
        let text = screen(&draw(&mut view, width, height));
        for badge in [
            "journal lost 3",
            "PAUSED",
            "filter \"600\"",
            "only not alive",
            "? help",
            "q quit",
        ] {
            assert!(
                text.contains(badge),
                "{width}x{height} lacks {badge}:\n{text}"
            );
        }
    }
}

#[test]
fn function_keys_ctrl_l_and_unbound_keys_do_what_operators_expect() {
    let mut view = ViewState::new(three());
    handle_key(key(KeyCode::F(9)), &mut view);
    assert!(
        matches!(view.kick_dialog(), Some(KickDialog::One { .. })),
        "F9 kicks, as in htop"
    );
    handle_key(key(KeyCode::Esc), &mut view);
    assert_eq!(
        handle_key(key(KeyCode::F(10)), &mut view),
        Some(Action::Quit)
    );
    let ctrl_l = KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL);
    assert_eq!(handle_key(ctrl_l, &mut view), Some(Action::Redraw));
    assert_eq!(handle_key(key(KeyCode::Char(':')), &mut view), None);
    let text = screen(&draw(&mut view, 100, 30));
    assert!(
        text.contains(": does nothing here; ? lists the keys"),
        "{text}"
    );
    press(&mut view, "l");
    handle_key(key(KeyCode::Enter), &mut view);
    assert!(
        screen(&draw(&mut view, 100, 30)).contains("no closed client to open"),
        "Enter opens a row on every screen, and says when there is none"
    );
    assert!(screen(&draw(&mut view, 100, 30)).contains("history: none"));
    press(&mut view, "h");
    assert!(screen(&draw(&mut view, 100, 30)).contains("clients 1-3 of 3"));
}

#[test]
fn ages_and_countdowns_move_with_the_clock_between_snapshots() {
    let mut view = ViewState::new(three());
    let taken = view.snapshot().taken;
    view.clock = Some(taken + Duration::from_millis(2500));
    let text = screen(&draw(&mut view, 140, 20));
    let row = |port: &str| text.lines().find(|l| l.contains(port)).unwrap().to_owned();
    // Last seen 2 s before the snapshot, 4.5 s before now; 30 s to close at
    // the snapshot, 27.5 s now, shown rounded up.
    assert!(row("5002").contains("4s ago"), "{text}");
    assert!(row("5002").contains("close in 28s"), "{text}");
    assert!(row("5001").contains("leave in 12s"), "{text}");
}

#[test]
fn a_silent_fleet_gets_a_banner_and_held_clients_say_why_they_wait() {
    let mut s = (*three()).clone();
    s.fleet_silent = Some(Silence {
        since: s.started + Duration::from_secs(60),
        silent: 3,
        clients: 3,
    });
    s.clients[1].held = Some(Held::FleetSilent);
    s.clients[2].held = Some(Held::CloseRate { ahead: 2 });
    let mut view = ViewState::new(Arc::new(s));
    let text = screen(&draw(&mut view, 160, 30));
    assert!(
        text.contains(
            "FLEET SILENT since 14:14:20: 3 of 3 clients silent together; automatic closes are held"
        ),
        "{text}"
    );
    let row = |port: &str| text.lines().find(|l| l.contains(port)).unwrap().to_owned();
    assert!(row("5002").contains("close held: fleet silent"), "{text}");
    assert!(
        row("5003").contains("close queued: 2 ahead (--close-rate)"),
        "{text}"
    );
    assert!(
        !screen(&draw(&mut ViewState::new(three()), 160, 30)).contains("FLEET SILENT"),
        "no banner while the fleet is heard"
    );
}

#[test]
fn a_feed_that_lost_its_server_keeps_the_last_picture_dimmed_and_says_so() {
    let mut view = ViewState::new(three());
    view.set_connection(
        0,
        Connection::Lost("cannot reach 127.0.0.1:14001: Connection refused".to_owned()),
    );
    let terminal = draw(&mut view, 160, 30);
    let shown = screen(&terminal);
    assert!(shown.contains("disconnected, retrying"), "{shown}");
    assert!(shown.contains("Connection refused"), "{shown}");
    assert!(
        shown.contains("127.0.0.1:5001"),
        "the last table stays:\n{shown}"
    );
    let buffer = terminal.backend().buffer();
    let row = lines(&terminal)
        .iter()
        .position(|l| l.contains("127.0.0.1:5001"))
        .unwrap() as u16;
    let cell = &buffer[(5, row)];
    assert!(
        cell.modifier.contains(ratatui::style::Modifier::DIM),
        "the table is dimmed"
    );
}
