//! Fleet-safe decisions end to end: a fleet that falls silent together (as
//! when the server's own network drops) is not closed; the close rate
//! spaces automatic closes; the server's own stall costs nobody.

mod common;

use std::process::{Child, Command};
use std::time::Duration;

use common::{Serve, steady_fleet};
use serde_json::Value;

/// Tick 100 ms, `leave` after 1.5 s of silence, closed 1 s later.
const FAST: [&str; 8] = [
    "--tick",
    "100ms",
    "--threshold",
    "5",
    "--cursor",
    "3",
    "--leave-timeout",
    "1s",
];

/// `n` steady clients beating every 50 ms, in one `hbmon simulate` process,
/// once all are heard.
fn fleet(serve: &mut Serve, n: usize) -> Child {
    let child = steady_fleet(serve.addr, n, 100_000);
    serve.wait_for_clients("the fleet heard", |clients| {
        clients.len() == n && clients.iter().all(|c| c["heartbeats"].as_u64() >= Some(2))
    });
    child
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn count(lines: &[Value], event: &str) -> usize {
    lines.iter().filter(|l| l["event"] == event).count()
}

#[test]
fn a_fleet_silent_together_is_not_closed_and_recovers() {
    let mut serve = Serve::start(&FAST);
    let mut clients = fleet(&mut serve, 20);
    signal(clients.id(), "STOP");
    let silent = serve.wait_for("fleet_silent", |_| true);
    assert_eq!(silent["clients"], 20);
    assert!(silent["silent"].as_u64() >= Some(10), "{silent}");
    // Silent for 2.5 s in all: past `leave` (1.5 s) and the leave timeout.
    std::thread::sleep(Duration::from_millis(2500));
    signal(clients.id(), "CONT");
    serve.wait_for("fleet_recovered", |_| true);
    serve.wait_for_clients("the fleet alive again", |clients| {
        clients.len() == 20 && clients.iter().all(|c| c["status"] == "alive")
    });
    assert_eq!(count(&serve.seen, "closed"), 0, "{:#?}", serve.seen);
    assert_eq!(count(&serve.seen, "fleet_silent"), 1);
    assert_eq!(count(&serve.seen, "fleet_recovered"), 1);
    clients.kill().unwrap();
    clients.wait().unwrap();
}

#[test]
fn with_the_guard_off_a_fleet_silent_together_is_closed() {
    let mut serve = Serve::start(&[&FAST[..], &["--silence-guard", "off"]].concat());
    let mut clients = fleet(&mut serve, 20);
    signal(clients.id(), "STOP");
    serve.wait_for_clients("every client closed", |clients| clients.is_empty());
    assert_eq!(count(&serve.seen, "fleet_silent"), 0);
    signal(clients.id(), "CONT");
    clients.kill().unwrap();
    clients.wait().unwrap();
}

#[test]
fn automatic_closes_keep_to_the_close_rate() {
    let args = [
        &FAST[..],
        &["--silence-guard", "off", "--close-rate", "4/s"],
    ]
    .concat();
    let mut serve = Serve::start(&args);
    let mut clients = fleet(&mut serve, 12);
    signal(clients.id(), "STOP");
    let mut at = Vec::new();
    for _ in 0..12 {
        let closed = serve.wait_for("closed", |_| true);
        let ts = humantime::parse_rfc3339(closed["ts"].as_str().unwrap()).unwrap();
        at.push(ts);
    }
    // A second's worth (4) at once, then one every 250 ms: 8 more take 2 s.
    let spread = at[11].duration_since(at[0]).unwrap();
    assert!(
        spread >= Duration::from_millis(1900),
        "12 closes over {spread:?}"
    );
    signal(clients.id(), "CONT");
    clients.kill().unwrap();
    clients.wait().unwrap();
}

#[test]
fn a_server_stopped_for_5_s_marks_no_healthy_client_leave_and_closes_none() {
    let mut serve = Serve::start(&[&FAST[..], &["--stats-every", "100ms"]].concat());
    let mut clients = fleet(&mut serve, 20);
    serve.signal("STOP");
    std::thread::sleep(Duration::from_secs(5));
    serve.signal("CONT");
    // Two seconds of ticks after it: past any leave a stall could cause.
    for _ in 0..20 {
        serve.wait_for("stats", |_| true);
    }
    let leaves = serve
        .seen
        .iter()
        .filter(|l| l["event"] == "status" && l["to"] == "leave")
        .count();
    assert_eq!(leaves, 0, "{:#?}", serve.seen);
    assert_eq!(count(&serve.seen, "closed"), 0);
    clients.kill().unwrap();
    clients.wait().unwrap();
}

#[test]
fn reconnects_and_flaps_are_counted_and_show_tells_the_story() {
    use common::{Beater, RawClient, heartbeat};
    let mut serve = Serve::start(&["--tick", "100ms", "--threshold", "2", "--cursor", "1"]);
    // pid 77 connects, says hello and hangs up; then connects again.
    let mut first = RawClient::connect(serve.addr);
    first.send(&heartbeat(77));
    serve.wait_for_client(first.local, |c| c["pid"] == 77);
    let first_peer = first.local;
    drop(first);
    serve.wait_for_peer("closed", first_peer);
    let again = Beater::start(serve.addr, 77, Duration::from_millis(25));
    let listed = serve.wait_for_client(again.local, |c| c["pid"] == 77);
    assert_eq!(listed["reconnects"], 1, "{listed}");
    // Falls silent long enough for leave (2 ticks), then comes back.
    let client = again.stop();
    serve.wait_for_peer("status", client.local);
    let back = Beater::over(client, 77, Duration::from_millis(25));
    serve.wait_for("status", |l| {
        l["peer"] == back.local.to_string() && l["to"] == "alive"
    });
    let listed = serve.wait_for_client(back.local, |c| c["flaps"] == 1);
    assert_eq!(listed["reconnects"], 1);

    serve.command(&format!("show {}", back.local));
    let details = serve.wait_for("details", |_| true);
    assert_eq!(details["peer"], back.local.to_string());
    assert_eq!(
        (details["reconnects"].as_u64(), details["flaps"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(details["earlier"][0]["peer"], first_peer.to_string());
    let gaps = details["gaps_ms"].as_array().unwrap();
    assert!(!gaps.is_empty(), "{details}");
    let changes: Vec<(&str, &str)> = details["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["from"].as_str().unwrap(), c["to"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, [("alive", "leave"), ("leave", "alive")]);
}

#[test]
fn under_the_guard_fraction_the_silent_clients_close_as_configured() {
    let mut serve = Serve::start(&FAST);
    let mut steady = fleet(&mut serve, 17);
    let mut dying = steady_fleet(serve.addr, 3, 900_000);
    serve.wait_for_clients("all 20 heard", |clients| {
        clients.len() == 20 && clients.iter().all(|c| c["heartbeats"].as_u64() >= Some(2))
    });
    signal(dying.id(), "STOP");
    for _ in 0..3 {
        let closed = serve.wait_for("closed", |_| true);
        assert!(closed["pid"].as_u64() >= Some(900_000), "{closed}");
        assert_eq!(
            closed["reason"],
            "no recovery within the leave timeout (1s)"
        );
    }
    assert_eq!(count(&serve.seen, "fleet_silent"), 0);
    signal(dying.id(), "CONT");
    for child in [&mut steady, &mut dying] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
