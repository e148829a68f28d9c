//! What an operator does to `hbmon serve --no-tui` from outside: stdin
//! commands (kick, kick-leave, quit, stats), signals, and flags refused
//! with their reason.

mod common;

use std::time::{Duration, Instant};

use common::timeline::{HEALTHY_EVERY, fast, status_change, timeline};
use common::{Beater, RawClient, Serve, heartbeat};
use serde_json::{Value, json};

#[test]
fn kick_over_stdin_closes_exactly_that_client() {
    let mut serve = Serve::start(&fast());
    let beaters: Vec<Beater> = (0..3)
        .map(|i| Beater::start(serve.addr, 300 + i, HEALTHY_EVERY))
        .collect();
    for beater in &beaters {
        serve.wait_for_client(beater.local, |c| c["heartbeats"].as_u64() >= Some(1));
    }
    let mut beaters = beaters.into_iter();
    let (first, target, third) = (
        beaters.next().unwrap(),
        beaters.next().unwrap(),
        beaters.next().unwrap(),
    );

    let asked = Instant::now();
    serve.command(&format!("kick {}", target.local));
    let mut kicked = target.stop();
    assert_eq!(kicked.expect_closed(), "kicked by operator");
    let took = asked.elapsed();
    // The 100 ms target is measured by `hbmon bench`; this bound only guards
    // against a kick that waits for a tick or a snapshot.
    assert!(took < Duration::from_secs(2), "kick took {took:?}");
    let closed = serve.wait_for_peer("closed", kicked.local);
    assert_eq!(
        (closed["reason"].as_str(), closed["pid"].as_u64()),
        (Some("kicked by operator"), Some(301))
    );

    let live: Vec<String> = serve
        .list()
        .iter()
        .map(|c| c["peer"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(live, [first.local.to_string(), third.local.to_string()]);
    assert!(
        serve
            .events_about(first.local)
            .iter()
            .all(|e| e["event"] == "connected")
    );

    serve.command(&format!("kick {}", kicked.local));
    let error = serve.wait_for("error", |_| true);
    assert_eq!(
        error["reason"],
        format!("no live client at {}", kicked.local)
    );
    serve.command("kick nonsense");
    let error = serve.wait_for("error", |_| true);
    assert_eq!(
        error["reason"],
        "kick: 'nonsense' is not an ip:port address"
    );
}

#[test]
fn kick_leave_closes_only_leave_clients() {
    let mut serve = Serve::start(&timeline("100ms", 2, 2, 5, "1h"));
    let healthy = Beater::start(serve.addr, 1, HEALTHY_EVERY);
    let mut silent = RawClient::connect(serve.addr);
    silent.send(&heartbeat(2));
    status_change(&mut serve, silent.local, "alive", "leave");
    serve.command("kick-leave");
    let kicked = serve.wait_for("kicked", |_| true);
    assert_eq!(kicked["peers"], json!([silent.local.to_string()]));
    assert_eq!(
        silent.expect_closed(),
        "kicked by operator (all leave clients)"
    );
    assert_eq!(serve.client(healthy.local).unwrap()["status"], "alive");
}

#[test]
fn sigterm_closes_every_client_with_a_reason_and_exits_zero() {
    let mut serve = Serve::plain();
    let mut clients: Vec<RawClient> = (0..5).map(|_| RawClient::connect(serve.addr)).collect();
    for client in &mut clients {
        client.send(&heartbeat(1));
        serve.wait_for_peer("connected", client.local);
    }
    serve.signal("TERM");
    for client in &mut clients {
        assert_eq!(client.expect_closed(), "server shutting down");
    }
    let status = serve.wait_exit();
    assert!(status.success(), "exit status {status}");
    let closed = serve
        .seen
        .iter()
        .filter(|l| l["event"] == "closed" && l["reason"] == "server shutting down")
        .count();
    assert_eq!(closed, 5);
}

#[test]
fn quit_on_stdin_stops_the_server_cleanly() {
    let mut serve = Serve::plain();
    let mut client = RawClient::connect(serve.addr);
    client.send(&heartbeat(1));
    serve.wait_for_peer("connected", client.local);
    serve.command("quit");
    assert_eq!(client.expect_closed(), "server shutting down");
    assert!(serve.wait_exit().success());
}

#[test]
fn stats_lines_and_unknown_commands() {
    let mut serve = Serve::start(&["--stats-every", "200ms"]);
    let beater = Beater::start(serve.addr, 1, HEALTHY_EVERY);
    serve.wait_for_client(beater.local, |c| c["heartbeats"].as_u64() >= Some(2));
    let stats = serve.wait_for("stats", |l| l["clients"] == 1);
    for field in ["alive", "leave", "frames", "bad_frames", "closed"] {
        assert!(stats[field].is_u64(), "stats has {field}: {stats}");
    }
    assert!(stats["ts"].as_str().unwrap().ends_with('Z'));
    serve.command("frobnicate");
    let error = serve.wait_for("error", |_| true);
    assert!(
        error["reason"]
            .as_str()
            .unwrap()
            .starts_with("unknown command 'frobnicate'")
    );
}

#[test]
fn closed_stdin_does_not_stop_the_server() {
    let mut serve = Serve::start(&["--stats-every", "100ms"]);
    drop(serve.stdin.take());
    let beater = Beater::start(serve.addr, 1, HEALTHY_EVERY);
    serve.wait_for_peer("connected", beater.local);
    serve.wait_for("stats", |l| l["clients"] == 1);
}

#[test]
fn serve_without_a_terminal_says_so_and_runs_headless() {
    use std::io::{BufRead, BufReader};
    let mut child = common::hbmon()
        .args(["serve", "--listen", "127.0.0.1:0", "--format", "json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&stdout.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["event"], "listening");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let note = stderr.next().unwrap().unwrap();
    assert_eq!(
        note,
        "hbmon: stdout is not a terminal; running headless (as with --no-tui)"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn bad_flags_are_refused_with_the_reason() {
    let cases: &[(&[&str], &str)] = &[
        (&["--tick", "0s"], "must be greater than zero"),
        (&["--tick", "soon"], "write durations like 1s, 250ms, 2m"),
        (&["--tick", "-1s"], "'-1s' is not a duration"),
        (&["--threshold", "-1"], "-1 is not in 1..=4294967295"),
        (
            &["--close-rate", "5"],
            "'5' is not a rate (write closes per second",
        ),
        (
            &["--silence-guard", "2"],
            "'2' is not a fraction of the clients",
        ),
        (&["--threshold", "0"], "0 is not in 1..=4294967295"),
        (&["--listen", "localhost"], "invalid socket address"),
        (&["--format", "xml"], "possible values: text, json"),
    ];
    for (args, expected) in cases {
        let output = common::hbmon().arg("serve").args(*args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // An address that is taken gets a clear error, not a panic.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = common::hbmon()
        .args(["serve", "--no-tui", "--listen", &addr])
        // As many Rust users have it set: an ordinary error still gets one
        // clear line, not a backtrace.
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("hbmon: error: cannot listen on {addr}: ")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
