//! The operator API end to end: the real binary serving HTTP on loopback,
//! driven as curl and scripts would drive it: the clients it lists, the
//! kicks it carries out, the events it streams. Who may reach it is in
//! tests/api_access.rs, what it counts in tests/api_metrics.rs.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use common::http::{agent, beaters, get, post, url};
use common::{Beater, PATIENCE, RawClient, Serve, temp};
use serde_json::{Value, json};

#[test]
fn healthz_and_unknown_paths_and_methods_answer_in_json() {
    let serve = Serve::plain();
    let health = get(&serve, "/healthz");
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("ok"))
    );
    let unknown = get(&serve, "/v2/nothing");
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.json()["error"]
            .as_str()
            .unwrap()
            .contains("/v2/nothing")
    );
    let wrong = get(&serve, "/v1/kick");
    assert_eq!(wrong.status, 405);
    assert!(wrong.json()["error"].as_str().unwrap().contains("POST"));
}

#[test]
fn clients_are_paged_filtered_and_sorted_and_carry_the_total() {
    let mut serve = Serve::plain();
    let _beaters = beaters(&mut serve, 7001, 5);
    let all = get(&serve, "/v1/clients").json();
    assert_eq!(all["total"], 5);
    assert_eq!(all["clients"].as_array().unwrap().len(), 5);
    // The same objects as the headless `snapshot` line.
    let listed = serve.list();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&all["clients"][0]), keys(&listed[0]));

    let page = get(&serve, "/v1/clients?sort=-pid&limit=2&offset=1").json();
    assert_eq!(page["total"], 5, "{page}");
    let pids: Vec<u64> = page["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, [7004, 7003]);

    let one = get(&serve, "/v1/clients?filter=7002&status=alive").json();
    assert_eq!(
        (one["total"].clone(), one["clients"][0]["pid"].clone()),
        (json!(1), json!(7002))
    );
    let none = get(&serve, "/v1/clients?status=leave").json();
    assert_eq!(none["total"], 0);

    // One client's story, as `show` tells it.
    let peer = all["clients"][0]["peer"].as_str().unwrap().to_owned();
    let story = get(&serve, &format!("/v1/clients/{peer}"));
    assert_eq!(story.status, 200, "{}", story.body);
    assert_eq!(story.json()["pid"], 7001);
    assert!(story.json()["gaps_ms"].is_array());
    assert_eq!(get(&serve, "/v1/clients/127.0.0.1:1").status, 404);
    assert_eq!(get(&serve, "/v1/clients/nowhere").status, 400);

    for (query, named) in [
        ("sort=bogus", "sort"),
        ("status=dead", "status"),
        ("limit=-1", "limit"),
        ("colour=red", "colour"),
    ] {
        let bad = get(&serve, &format!("/v1/clients?{query}"));
        assert_eq!(bad.status, 400, "{query}");
        let reason = bad.json()["error"].as_str().unwrap().to_owned();
        assert!(reason.contains(named), "{query}: {reason}");
    }
}

#[test]
fn a_kick_over_http_closes_exactly_that_client_and_is_recorded_as_by_api() {
    let journal = temp("api-kick.jsonl");
    let journal_arg = journal.to_str().unwrap().to_owned();
    let mut serve = Serve::start(&["--journal", &journal_arg]);
    let mut target = RawClient::connect(serve.addr);
    target.send(&common::heartbeat(8001));
    let _other = Beater::start(serve.addr, 8002, Duration::from_millis(50));
    serve.wait_for_clients("both heard", |c| {
        c.len() == 2 && c.iter().all(|c| c["pid"].is_u64())
    });
    let peer = target.local.to_string();

    let kicked = post(
        &serve,
        "/v1/kick",
        &json!({ "peer": peer, "hold": "1s" }).to_string(),
    );
    assert_eq!(kicked.status, 200, "{}", kicked.body);
    assert_eq!(kicked.json()["kicked"], json!([peer]));
    let kick = serve.wait_for("kick", |_| true);
    assert_eq!(
        (kick["peer"].as_str(), kick["by"].as_str()),
        (Some(peer.as_str()), Some("api"))
    );
    assert!(target.expect_closed().contains("kicked"));
    assert_eq!(serve.list().len(), 1, "only that client was kicked");

    let again = post(&serve, "/v1/kick", &json!({ "peers": [peer] }).to_string());
    assert_eq!(again.status, 404);
    assert!(again.json()["error"].as_str().unwrap().contains(&peer));

    for (body, named) in [
        ("not json", "body"),
        ("{}", "names no client"),
        (r#"{"peer": "nowhere"}"#, "nowhere"),
        (r#"{"peer": "127.0.0.1:1", "extra": 1}"#, "extra"),
        (r#"{"peer": "127.0.0.1:1", "hold": "soon"}"#, "hold"),
        // What to send, not the name of a type inside the server.
        ("[]", r#"expected an object like {"peer": "ip:port""#),
    ] {
        let bad = post(&serve, "/v1/kick", body);
        assert_eq!(bad.status, 400, "{body}: {}", bad.body);
        let reason = bad.json()["error"].as_str().unwrap().to_owned();
        assert!(reason.contains(named), "{body}: {reason}");
    }
    let huge = format!(r#"{{"peers": ["{}"]}}"#, "1".repeat(100_000));
    assert_eq!(
        post(&serve, "/v1/kick", &huge).status,
        413,
        "bodies are bounded"
    );

    serve.command("quit");
    serve.wait_exit();
    let recorded = std::fs::read_to_string(&journal).unwrap();
    assert!(
        recorded
            .lines()
            .any(|l| l.contains(r#""event":"kick""#) && l.contains(r#""by":"api""#)),
        "the journal records the API's kick:\n{recorded}"
    );
}

#[test]
fn kick_leave_over_http_closes_only_the_clients_in_leave() {
    let mut serve = Serve::start(&["--tick", "50ms", "--threshold", "1", "--cursor", "2"]);
    let _alive = Beater::start(serve.addr, 9001, Duration::from_millis(20));
    let mut quiet = RawClient::connect(serve.addr);
    quiet.send(&common::heartbeat(9002));
    let peer = quiet.local.to_string();
    serve.wait_for("status", |l| {
        l["peer"] == peer.as_str() && l["to"] == "leave"
    });
    let kicked = post(&serve, "/v1/kick-leave", "");
    assert_eq!(kicked.status, 200, "{}", kicked.body);
    assert_eq!(kicked.json()["kicked"], json!([peer]));
    assert_eq!(serve.list().len(), 1);
    let bad = post(&serve, "/v1/kick-leave", "[]");
    assert_eq!(bad.status, 400, "{}", bad.body);
    let reason = bad.json()["error"].as_str().unwrap().to_owned();
    assert!(
        reason.contains(r#"expected an object like {"hold": "10m"}"#),
        "{reason}"
    );
}

#[test]
fn the_event_stream_begins_at_the_request_and_carries_every_decision() {
    let mut serve = Serve::plain();
    let _early = Beater::start(serve.addr, 9101, Duration::from_millis(50));
    serve.wait_for("connected", |_| true);
    let response = agent().get(url(&serve, "/v1/events")).call().unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    let late = RawClient::connect(serve.addr);
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        first["event"], "connected",
        "nothing from before the request: {first}"
    );
    assert_eq!(first["peer"], late.local.to_string());
    assert!(first["ts"].is_string());
    drop(late);
    let closed: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (closed["event"].as_str(), closed["reason"].as_str()),
        (Some("closed"), Some("client disconnected"))
    );
}

#[test]
fn the_event_stream_speaks_server_sent_events_when_asked() {
    let mut serve = Serve::plain();
    let response = agent()
        .get(url(&serve, "/v1/events"))
        .header("accept", "text/event-stream")
        .call()
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    let client = RawClient::connect(serve.addr);
    serve.wait_for("connected", |_| true);
    let line = lines.next().unwrap().unwrap();
    let data: Value =
        serde_json::from_str(line.strip_prefix("data: ").expect("a data line")).unwrap();
    assert_eq!(
        (data["event"].as_str(), data["peer"].as_str()),
        (Some("connected"), Some(client.local.to_string().as_str()))
    );
}

#[test]
fn a_reader_that_stops_reading_events_neither_slows_the_server_nor_grows_it() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let _healthy = beaters(&mut serve, 9201, 20);
    // A stream nobody reads, with a small receive window.
    let stalled = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    stalled.set_recv_buffer_size(4096).unwrap();
    let admin: std::net::SocketAddr = serve.admin.as_deref().unwrap().parse().unwrap();
    stalled.connect(&admin.into()).unwrap();
    let mut stalled: std::net::TcpStream = stalled.into();
    stalled
        .write_all(format!("GET /v1/events HTTP/1.1\r\nhost: {admin}\r\n\r\n").as_bytes())
        .unwrap();
    let before = common::rss(serve.pid());
    // Far more events than the socket buffers (a few MB on loopback) and
    // the ring hold: each connection that comes and goes is a connected and
    // a closed event. Reset rather than closed, so no port waits in
    // TIME_WAIT.
    let started = Instant::now();
    let addr: socket2::SockAddr = serve.addr.into();
    let churn: Vec<_> = (0..4)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                for _ in 0..8000 {
                    let s =
                        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                            .unwrap();
                    s.set_linger(Some(Duration::ZERO)).unwrap();
                    s.connect(&addr).unwrap();
                }
            })
        })
        .collect();
    for thread in churn {
        thread.join().unwrap();
    }
    let took = started.elapsed();
    let health = get(&serve, "/healthz");
    assert_eq!(health.status, 200);
    let clients = serve.wait_for_clients("the churn gone", |c| c.len() == 20);
    assert!(
        clients.iter().all(|c| c["status"] == "alive"),
        "{clients:?}"
    );
    let grown = common::rss(serve.pid()).saturating_sub(before);
    assert!(grown < 40 << 20, "grew {grown} bytes with a stalled reader");
    // Reading again, the reader learns it missed events.
    stalled.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + PATIENCE;
    while !String::from_utf8_lossy(&seen).contains(r#""event":"lagged""#) {
        assert!(
            Instant::now() < deadline,
            "no lagged line (32,000 connections in {took:?})"
        );
        let n = stalled.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended");
        seen.extend_from_slice(&buf[..n]);
    }
}
