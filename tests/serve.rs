//! A client's timeline through `hbmon serve --no-tui` over loopback:
//! alive, leave, close, back to alive, every frame counted, a goodbye.

mod common;

use std::time::{Duration, Instant};

use common::timeline::{HEALTHY_EVERY, fast, status_change, timeline};
use common::{Beater, PATIENCE, RawClient, Serve, frame, heartbeat};
use serde_json::json;

#[test]
fn client_becomes_alive_with_its_pid_and_reported_ip() {
    let mut serve = Serve::start(&fast());
    let beater = Beater::start(serve.addr, 4242, HEALTHY_EVERY);
    serve.wait_for_peer("connected", beater.local);
    let client = serve.wait_for_client(beater.local, |c| c["heartbeats"].as_u64() >= Some(3));
    assert_eq!(client["status"], "alive");
    assert_eq!(client["pid"], 4242);
    assert_eq!(client["ip"], "127.0.0.1");
    assert_eq!(client["reported"], "alive");
    assert!(client["last_seen"].is_string());
}

#[test]
fn silent_client_goes_leave_then_close_with_notices() {
    let mut serve = Serve::start(&fast());
    let mut client = RawClient::connect(serve.addr);
    client.send(&heartbeat(7));
    let sent_last = Instant::now();

    let leave = status_change(&mut serve, client.local, "alive", "leave");
    assert_eq!(
        (leave["pid"].clone(), leave["strikes"].clone()),
        (json!(7), json!(2))
    );
    let silent_for = sent_last.elapsed();
    // 2 strikes x 2 missed ticks x 100 ms, less the tick the heartbeat landed in.
    assert!(
        silent_for >= Duration::from_millis(300),
        "leave after only {silent_for:?}"
    );

    let notice = client.read_frame(PATIENCE).expect("a leave notice");
    assert_eq!(notice["status"], "leave");
    assert!(
        notice["reason"].as_str().unwrap().contains("inactive"),
        "{notice}"
    );

    status_change(&mut serve, client.local, "leave", "close");
    let closed = serve.wait_for_peer("closed", client.local);
    assert_eq!(closed["status"], "close");
    assert_eq!(closed["pid"], 7);
    assert_eq!(
        closed["reason"],
        "no recovery within the leave timeout (600ms)"
    );
    assert!(sent_last.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        client.expect_closed(),
        "no recovery within the leave timeout (600ms)"
    );
    assert!(
        serve.client(client.local).is_none(),
        "closed client left the live list"
    );
}

#[test]
fn leave_client_that_resumes_comes_back_alive() {
    let mut serve = Serve::start(&timeline("100ms", 2, 2, 3, "30s"));
    let mut client = RawClient::connect(serve.addr);
    client.send(&heartbeat(9));
    status_change(&mut serve, client.local, "alive", "leave");
    assert_eq!(client.read_frame(PATIENCE).unwrap()["status"], "leave");

    let resumed = Beater::over(client, 9, HEALTHY_EVERY);
    let back = status_change(&mut serve, resumed.local, "leave", "alive");
    assert_eq!(
        (back["miss"].clone(), back["strikes"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(serve.client(resumed.local).unwrap()["status"], "alive");
    let mut client = resumed.stop();
    let notice = client.read_frame(PATIENCE).expect("an alive notice");
    assert_eq!(notice["status"], "alive");
    assert!(
        notice["reason"].as_str().unwrap().starts_with("recovered"),
        "{notice}"
    );
}

#[test]
fn split_and_coalesced_frames_are_all_counted() {
    let mut serve = Serve::plain();
    // One byte per write, with the socket flushing each (no Nagle).
    let mut trickle = RawClient::connect(serve.addr);
    let stream: Vec<u8> = (0..20).flat_map(|_| heartbeat(1)).collect();
    for byte in &stream {
        trickle.send(std::slice::from_ref(byte));
    }
    // A thousand frames in a single write, the pid changing after 600.
    let mut burst = RawClient::connect(serve.addr);
    let stream: Vec<u8> = (0..1000)
        .flat_map(|i| heartbeat(if i < 600 { 2 } else { 3 }))
        .collect();
    burst.send(&stream);

    let trickled = serve.wait_for_client(trickle.local, |c| c["heartbeats"].as_u64() >= Some(20));
    // The counts are on the link at once, the new pid reaches the registry
    // as a report: a `list` between the two shows the one without the other.
    let bursted = serve.wait_for_client(burst.local, |c| {
        c["heartbeats"].as_u64() >= Some(1000) && c["pid"] == 3
    });
    assert_eq!(trickled["heartbeats"], 20);
    assert_eq!(
        (bursted["heartbeats"].clone(), bursted["pid"].clone()),
        (json!(1000), json!(3))
    );
    assert!(
        !serve.seen.iter().any(|l| l["event"] == "bad_frame"),
        "{:#?}",
        serve.seen
    );
}

#[test]
fn goodbye_is_recorded_as_a_clean_close_not_a_bad_frame() {
    let mut serve = Serve::plain();
    let mut client = RawClient::connect(serve.addr);
    client.send(&heartbeat(5));
    client.send(&frame(br#"{"ip":"127.0.0.1","status":"close","pid":5}"#));
    assert_eq!(client.expect_closed(), "client said goodbye");
    let closed = serve.wait_for_peer("closed", client.local);
    assert_eq!(
        (closed["status"].as_str(), closed["reason"].as_str()),
        (Some("close"), Some("client said goodbye"))
    );
    assert!(
        !serve
            .events_about(client.local)
            .iter()
            .any(|e| e["event"] == "bad_frame")
    );
}
