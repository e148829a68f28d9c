//! The dashboard end to end in a real pseudo-terminal (tmux): real clients
//! connect, the operator presses keys, and exactly the chosen client is
//! kicked with a close frame.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{Beater, Serve};

#[test]
fn dashboard_kick_key_closes_exactly_the_selected_client() {
    let binary = env!("CARGO_BIN_EXE_hbmon");
    // The shell prints hbmon's exit status on the normal screen afterwards.
    let command = format!(
        "sh -c '{binary} serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --tick 100ms; echo hbmon exited with $?'"
    );
    let tmux = Tmux::start(&command, 120, 30);
    let screen = tmux.wait_for("the listen address", |s| s.contains("listening 127.0.0.1:"));
    let addr: SocketAddr = screen
        .split("listening ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address on screen:\n{screen}"));

    let keep = Beater::start(addr, 501, Duration::from_millis(25));
    let kick = Beater::start(addr, 502, Duration::from_millis(25));
    tmux.wait_for("both clients", |s| {
        s.contains(&keep.local.to_string()) && s.contains(&kick.local.to_string())
    });

    // Enter opens the selected client's story, with its gaps and pid.
    tmux.keys("Enter");
    tmux.wait_for("the details pane", |s| {
        s.contains("heartbeat gaps") && s.contains("pid 501") && s.contains("mean")
    });
    tmux.keys("Escape");
    tmux.wait_for("the details pane closed", |s| !s.contains("heartbeat gaps"));

    // Rows are in connection order and the first is selected: move down one.
    tmux.keys("j");
    tmux.keys("d");
    let question = format!("Kick {} (pid 502)?", kick.local);
    tmux.wait_for("the confirmation", |s| s.contains(&question));
    tmux.keys("y");

    let mut kicked = kick.stop();
    assert_eq!(kicked.expect_closed(), "kicked by operator");
    tmux.wait_for("the kicked client gone", |s| {
        !s.contains(&format!("{}  ", kicked.local)) && s.contains("closed 1")
    });
    let screen = tmux.screen();
    assert!(
        screen.contains(&keep.local.to_string()),
        "the other client is still listed:\n{screen}"
    );

    // The other client was never told anything; it still gets its close
    // frame only when the operator quits.
    let mut kept = keep.stop();
    // With a client still connected, q asks first.
    tmux.keys("q");
    tmux.wait_for("the quit question", |s| {
        s.contains("Stop the server and close its 1 client?")
    });
    tmux.keys("y");
    assert_eq!(kept.expect_closed(), "server shutting down");
    let history = tmux.wait_for_exit("hbmon exited with");
    assert!(history.contains("hbmon exited with 0"), "{history}");
    // The dashboard drew on the alternate screen, which is gone.
    assert!(!history.contains("listening"), "{history}");
    assert_eq!(
        tmux.pane("#{alternate_on}"),
        "0",
        "back from the alternate screen"
    );
}

/// A free loopback address for a server's operator API, so that a second
/// server can take the same one.
fn free_admin_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn top_attaches_kicks_follows_a_restart_and_quits_leaving_the_server_running() {
    let admin = free_admin_address();
    let mut serve = Serve::start(&["--admin", &admin, "--tick", "100ms"]);
    let keep = Beater::start(serve.addr, 601, Duration::from_millis(25));
    let kick = Beater::start(serve.addr, 602, Duration::from_millis(25));
    serve.wait_for_clients("both heard", |c| {
        c.len() == 2 && c.iter().all(|c| c["pid"].is_u64())
    });

    let binary = env!("CARGO_BIN_EXE_hbmon");
    let tmux = Tmux::start(
        &format!("sh -c '{binary} top --connect {admin}; echo top exited with $?'"),
        120,
        30,
    );
    tmux.wait_for("both clients", |s| {
        s.contains(&keep.local.to_string()) && s.contains(&kick.local.to_string())
    });
    let header = tmux.screen();
    assert!(header.contains(&format!("api {admin}")), "{header}");

    // The second row is the second client to connect.
    tmux.keys("j");
    tmux.keys("d");
    let question = format!("Kick {} (pid 602)?", kick.local);
    tmux.wait_for("the confirmation", |s| s.contains(&question));
    tmux.keys("y");
    let mut kicked = kick.stop();
    assert_eq!(kicked.expect_closed(), "kicked by operator");
    let event = serve.wait_for("kick", |_| true);
    assert_eq!(event["by"], "api", "{event}");
    tmux.wait_for("the kicked client gone", |s| {
        !s.contains(&format!("{}  ", kicked.local)) && s.contains("closed 1")
    });

    // The server goes away: the last picture stays, and says so.
    let kept = keep.stop();
    drop(kept);
    serve.command("quit");
    serve.wait_exit();
    tmux.wait_for("the disconnected badge", |s| {
        s.contains("disconnected, retrying")
    });

    // Another server on the same admin address is followed again.
    let mut again = Serve::start(&["--admin", &admin, "--tick", "100ms"]);
    let back_at = Instant::now();
    let back = Beater::start(again.addr, 603, Duration::from_millis(25));
    tmux.wait_for("the new server's client", |s| {
        s.contains(&back.local.to_string()) && !s.contains("disconnected")
    });
    let took = back_at.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "followed again after {took:?}"
    );

    // q quits the viewer only: the server and its client run on.
    tmux.keys("q");
    let history = tmux.wait_for_exit("top exited with");
    assert!(history.contains("top exited with 0"), "{history}");
    let clients = again.list();
    assert_eq!(clients.len(), 1, "{clients:?}");
    assert_eq!(
        (clients[0]["pid"].as_u64(), clients[0]["status"].as_str()),
        (Some(603), Some("alive"))
    );
    drop(back);
}
