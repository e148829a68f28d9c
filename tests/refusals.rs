//! What `hbmon serve` refuses, and why it says so: bad frames, clients
//! over the limits, connections that never finish a hello or a frame.
//! Every refusal names its reason, and healthy clients stay alive.

mod common;

use std::time::{Duration, Instant};

use common::timeline::HEALTHY_EVERY;
use common::{Beater, PATIENCE, RawClient, Serve, frame, heartbeat};

#[test]
fn every_bad_input_gets_its_reason_and_other_clients_stay_alive() {
    let mut serve = Serve::start(&[
        "--max-frame",
        "1024",
        "--tick",
        "100ms",
        "--stats-every",
        "100ms",
    ]);
    let healthy: Vec<Beater> = (0..3)
        .map(|i| Beater::start(serve.addr, 100 + i, HEALTHY_EVERY))
        .collect();
    for beater in &healthy {
        serve.wait_for_client(beater.local, |c| c["heartbeats"].as_u64() >= Some(1));
    }

    for (name, bytes, expected) in bad_inputs() {
        let mut bad = RawClient::connect(serve.addr);
        // A valid heartbeat first: the bad frame must not depend on being first.
        bad.send(&heartbeat(55));
        bad.send(&bytes);
        if name == "truncated at EOF" {
            bad.stream.shutdown(std::net::Shutdown::Write).unwrap();
        }
        let reason = bad.expect_closed();
        assert!(
            reason.starts_with("bad frame: ") && reason.contains(expected),
            "{name}: close frame said {reason:?}"
        );
        let event = serve.wait_for_peer("bad_frame", bad.local);
        assert!(
            event["reason"].as_str().unwrap().contains(expected),
            "{name}: {event}"
        );
        let closed = serve.wait_for_peer("closed", bad.local);
        assert_eq!(closed["status"], "close", "{name}");
        assert_eq!(closed["reason"].as_str(), Some(reason.as_str()), "{name}");
    }

    let listed = serve.list();
    assert_eq!(
        listed.len(),
        healthy.len(),
        "only the healthy clients remain: {listed:#?}"
    );
    for beater in &healthy {
        assert!(
            serve
                .events_about(beater.local)
                .iter()
                .all(|e| e["event"] == "connected"),
            "{:#?}",
            serve.events_about(beater.local)
        );
        assert_eq!(serve.client(beater.local).unwrap()["status"], "alive");
    }
    let stats = serve.wait_for("stats", |l| l["bad_frames"] == 15);
    assert_eq!(
        (stats["clients"].as_u64(), stats["alive"].as_u64()),
        (Some(3), Some(3))
    );
}

/// Every kind of bad input, by name, with the words its close reason must
/// hold (the server runs with `--max-frame 1024`).
fn bad_inputs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let over_limit = 2000i32.to_be_bytes().to_vec();
    vec![
        (
            "negative length",
            (-1i32).to_be_bytes().to_vec(),
            "negative frame length -1",
        ),
        (
            "over --max-frame",
            over_limit,
            "frame length 2000 exceeds the limit of 1024 bytes",
        ),
        ("zero length", frame(b""), "empty frame (length 0)"),
        (
            "not UTF-8",
            frame(b"{\"ip\":\"\xc3\x28\"}"),
            "frame is not valid UTF-8",
        ),
        (
            "not JSON",
            frame(b"{\"ip\": 127.0.0.1"),
            "frame is not valid JSON",
        ),
        (
            "not an object",
            frame(b"[\"127.0.0.1\",\"alive\",1]"),
            "message must be a JSON object",
        ),
        (
            "missing ip",
            frame(br#"{"status":"alive","pid":1}"#),
            "missing field `ip`",
        ),
        (
            "missing status",
            frame(br#"{"ip":"a","pid":1}"#),
            "missing field `status`",
        ),
        (
            "missing pid",
            frame(br#"{"ip":"a","status":"alive"}"#),
            "missing field `pid`",
        ),
        (
            "ip not a string",
            frame(br#"{"ip":7,"status":"alive","pid":1}"#),
            "invalid type: integer `7`, expected a string",
        ),
        (
            "pid not an integer",
            frame(br#"{"ip":"a","status":"alive","pid":"1"}"#),
            "invalid type: string \"1\", expected u32",
        ),
        (
            "pid out of range",
            frame(br#"{"ip":"a","status":"alive","pid":99999999999}"#),
            "expected u32",
        ),
        (
            "status not a string",
            frame(br#"{"ip":"a","status":1,"pid":1}"#),
            "invalid type: integer `1`",
        ),
        (
            "unknown status",
            frame(br#"{"ip":"a","status":"dead","pid":1}"#),
            "unknown variant `dead`",
        ),
        (
            "truncated at EOF",
            heartbeat(1)[..10].to_vec(),
            "connection closed in the middle of a frame",
        ),
    ]
}

#[test]
fn client_over_max_clients_is_refused_with_a_reason() {
    let mut serve = Serve::start(&["--max-clients", "2"]);
    let _a = Beater::start(serve.addr, 1, HEALTHY_EVERY);
    let _b = Beater::start(serve.addr, 2, HEALTHY_EVERY);
    serve.wait_for("connected", |_| true);
    serve.wait_for("connected", |_| true);
    let mut third = RawClient::connect(serve.addr);
    assert_eq!(
        third.expect_closed(),
        "server full: 2 clients connected (--max-clients)"
    );
    let rejected = serve.wait_for_peer("rejected", third.local);
    assert_eq!(
        rejected["reason"],
        "server full: 2 clients connected (--max-clients)"
    );
}

#[test]
fn connection_that_never_says_hello_is_closed_after_the_hello_timeout() {
    let mut serve = Serve::start(&["--tick", "100ms", "--hello-timeout", "300ms"]);
    let healthy = Beater::start(serve.addr, 1, HEALTHY_EVERY);
    let started = Instant::now();
    let mut mute = RawClient::connect(serve.addr);
    let reason = "no heartbeat within the hello timeout (300ms)";
    assert_eq!(mute.expect_closed(), reason);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let closed = serve.wait_for_peer("closed", mute.local);
    assert_eq!(
        (closed["reason"].as_str(), closed["pid"].is_null()),
        (Some(reason), true)
    );
    assert_eq!(serve.client(healthy.local).unwrap()["status"], "alive");
}

#[test]
fn stalled_frame_is_closed_after_the_frame_timeout() {
    let mut serve = Serve::start(&["--tick", "100ms", "--frame-timeout", "300ms"]);
    let healthy = Beater::start(serve.addr, 1, HEALTHY_EVERY);
    let reason = "part of a frame unfinished for the frame timeout (300ms)";
    // Stalls inside the header, and inside the body.
    for cut in [2, 10] {
        let mut slow = RawClient::connect(serve.addr);
        slow.send(&heartbeat(9));
        let started = Instant::now();
        slow.send(&heartbeat(9)[..cut]);
        assert_eq!(slow.expect_closed(), reason, "cut at {cut}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(serve.wait_for_peer("closed", slow.local)["reason"], reason);
    }
    assert_eq!(serve.client(healthy.local).unwrap()["status"], "alive");
}

#[test]
fn connections_over_max_per_ip_are_refused_until_one_ends() {
    let mut serve = Serve::start(&["--max-per-ip", "2"]);
    let first = Beater::start(serve.addr, 1, HEALTHY_EVERY);
    let _second = Beater::start(serve.addr, 2, HEALTHY_EVERY);
    serve.wait_for_client(first.local, |c| c["heartbeats"].as_u64() >= Some(1));
    let mut third = RawClient::connect(serve.addr);
    let reason = "too many connections from 127.0.0.1 (--max-per-ip 2)";
    assert_eq!(third.expect_closed(), reason);
    assert_eq!(
        serve.wait_for_peer("rejected", third.local)["reason"],
        reason
    );
    // When a connection ends, its address may connect again.
    let gone = first.local;
    drop(first.stop());
    serve.wait_for_peer("closed", gone);
    let deadline = Instant::now() + PATIENCE;
    loop {
        // The slot comes back when the connection task has finished, just
        // after the closed event: a retry may still be refused.
        let again = RawClient::connect(serve.addr);
        let peer = again.local.to_string();
        let line = serve.wait_for_line("connected or rejected", |l| l["peer"] == peer.as_str());
        if line["event"] == "connected" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the address never got its slot back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_flood_of_refused_connections_is_reported_once_a_second_with_counts() {
    let mut serve = Serve::start(&["--max-clients", "1"]);
    let _only = Beater::start(serve.addr, 1, HEALTHY_EVERY);
    serve.wait_for("connected", |_| true);
    let refused: Vec<RawClient> = (0..60).map(|_| RawClient::connect(serve.addr)).collect();
    let mut counted = 0;
    let mut lines = 0;
    while counted < refused.len() as u64 {
        let line = serve.wait_for("rejected", |_| true);
        counted += line["count"].as_u64().unwrap();
        lines += 1;
    }
    assert_eq!(counted, 60);
    assert!(
        lines <= 3,
        "{lines} lines for one second's flood from one address"
    );
    let stats = serve.wait_for("stats", |_| true);
    assert_eq!(stats["clients"], 1);
}
