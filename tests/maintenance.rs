//! Maintenance windows end to end, on the real binary: `POST /v1/maintenance`
//! (behind the API token and the same-origin guard, like kicks) keeps a
//! silent client out of `leave` while a control client without a window
//! goes `leave`; `/v1/clients`, `/metrics` and the events show it; the
//! window ends and the client is judged again; bad bodies are refused by
//! the field; stdin's `maintenance PEER DURATION|off` and `hbmon top`'s
//! feed (the same command, through the API) do the same.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::{Answer, agent, answer, get, post, url};
use common::{PATIENCE, RawClient, Serve, heartbeat, serve_command, temp};
use hbmon::endpoint::Endpoint;
use hbmon::feed::Snapshot;
use hbmon::feed::control::Target;
use hbmon::protocol::Token;
use hbmon::remote::{Api, attach};
use serde_json::{Value, json};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "maint-s3cret";

/// Silent clients go `leave` after four 50 ms ticks, and close a second
/// later; the API wants a token.
fn serve() -> Serve {
    serve_with(&[])
}

fn serve_with(more: &[&str]) -> Serve {
    Serve::launch(
        serve_command()
            .args(["--tick", "50ms", "--threshold", "2", "--cursor", "2"])
            .args(["--leave-timeout", "1s"])
            .args(more)
            .env("HBMON_ADMIN_TOKEN", TOKEN),
    )
}

/// A client that says hello once and then falls silent.
fn hello(serve: &mut Serve, pid: u32) -> RawClient {
    let mut client = RawClient::connect(serve.addr);
    client.send(&heartbeat(pid));
    serve.wait_for_client(client.local, |c| c["pid"] == pid);
    client
}

fn maintain(serve: &Serve, body: &Value) -> Answer {
    answer(
        agent()
            .post(url(serve, "/v1/maintenance"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .send(body.to_string()),
    )
}

/// The client at `peer` as `GET /v1/clients` lists it.
fn listed(serve: &Serve, peer: SocketAddr) -> Value {
    let answer = answer(
        agent()
            .get(url(serve, "/v1/clients"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .call(),
    );
    let all = answer.json()["clients"].as_array().unwrap().clone();
    all.into_iter()
        .find(|c| c["peer"] == peer.to_string())
        .unwrap_or_else(|| panic!("{peer} not in {}", answer.body))
}

/// The value of the unlabelled metric `name` at a scrape.
fn metric(serve: &Serve, name: &str) -> f64 {
    let text = get(serve, "/metrics").body;
    let value = (text.lines()).find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok());
    value.unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[test]
fn a_silent_client_in_maintenance_stays_out_of_leave_while_one_without_goes_leave() {
    let mut serve = serve();
    let mut planned = hello(&mut serve, 9001);
    let body = json!({ "peer": planned.local.to_string(), "duration": "4s" });
    assert_eq!(
        post(&serve, "/v1/maintenance", &body.to_string()).status,
        401
    );
    let answer = maintain(&serve, &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["clients"], json!([planned.local.to_string()]));
    let until = answer.json()["until"].as_str().unwrap().to_owned();
    let started = serve.wait_for_peer("maintenance_started", planned.local);
    assert_eq!(
        (&started["by"], &started["until"]),
        (&json!("api"), &json!(until))
    );
    assert_eq!(started["pid"], 9001);

    let control = hello(&mut serve, 9002);
    let left = serve.wait_for_peer("status", control.local);
    assert_eq!(left["to"], "leave");
    serve.wait_for_peer("closed", control.local);
    // Heartbeats in the window are still counted.
    planned.send(&heartbeat(9001));
    serve.wait_for_client(planned.local, |c| c["heartbeats"] == 2);
    let shown = listed(&serve, planned.local);
    assert_eq!(
        (&shown["status"], &shown["maintenance_until"]),
        (&json!("alive"), &json!(until))
    );
    assert_eq!(metric(&serve, "hbmon_clients_in_maintenance"), 1.0);

    let ended = serve.wait_for_peer("maintenance_ended", planned.local);
    assert!(ended.get("by").is_none(), "{ended}");
    let about = serve.events_about(planned.local);
    let before_end = about
        .iter()
        .take_while(|e| e["event"] != "maintenance_ended");
    for event in before_end {
        assert!(
            !matches!(event["event"].as_str(), Some("status" | "closed")),
            "{event} during the window"
        );
    }
    // Judged again from the end: silent, it goes `leave` as any client would.
    let after = serve.wait_for_peer("status", planned.local);
    assert_eq!(after["to"], "leave");
    // (`list` takes a snapshot now, which `/metrics` then reads.)
    serve.wait_for_client(planned.local, |c| c.get("maintenance_until").is_none());
    assert_eq!(metric(&serve, "hbmon_clients_in_maintenance"), 0.0);
}

#[test]
fn bad_bodies_are_refused_with_400_naming_what_was_wrong() {
    let mut serve = serve();
    let client = hello(&mut serve, 9101);
    let peer = client.local.to_string();
    let cases = [
        (json!({ "peer": peer }), "duration: missing"),
        (
            json!({ "peer": peer, "duration": 300 }),
            "duration: 300 is not a duration",
        ),
        (
            json!({ "peer": peer, "duration": "soon" }),
            "'soon' is not a duration for duration",
        ),
        (
            json!({ "peer": peer, "duration": "31d" }),
            "'31d' is too long for duration: at most 30days",
        ),
        (json!({ "duration": "5m" }), "names no client"),
        (
            json!({ "ip": "127.0.0.1", "pid": 9101, "duration": "5m" }),
            "more than one way",
        ),
        (
            json!({ "pid": -1, "duration": "5m" }),
            "pid: -1 is not a process id",
        ),
        (json!({ "filter": " ", "duration": "5m" }), "filter: empty"),
        (
            json!({ "peer": "web1", "duration": "5m" }),
            "'web1' is not a client address",
        ),
        (
            json!({ "peer": peer, "duration": "5m", "hold": "1m" }),
            "unknown field `hold`",
        ),
    ];
    for (body, named) in cases {
        let answer = maintain(&serve, &body);
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        let error = answer.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(named), "{body}: {error}");
    }
    // A target that covers nobody is not found; a filter or an ip covers
    // what it matches.
    let nobody = maintain(&serve, &json!({ "peer": "127.0.0.1:1", "duration": "5m" }));
    assert_eq!(nobody.status, 404, "{}", nobody.body);
    let by_pid = maintain(&serve, &json!({ "filter": "9101", "duration": "5m" }));
    assert_eq!(by_pid.json()["clients"], json!([peer]), "{}", by_pid.body);
    let off = maintain(&serve, &json!({ "ip": "127.0.0.1", "duration": "off" }));
    assert_eq!(off.json()["clients"], json!([peer]), "{}", off.body);
    assert_eq!(
        serve.wait_for_peer("maintenance_ended", client.local)["by"],
        "api"
    );
    // A browser on another site is refused, as for kicks.
    let forged = answer(
        agent()
            .post(url(&serve, "/v1/maintenance"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("origin", "http://evil.example")
            .send(json!({ "peer": peer, "duration": "5m" }).to_string()),
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    let plain = answer(
        agent()
            .post(url(&serve, "/v1/maintenance"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "text/plain")
            .send(json!({ "peer": peer, "duration": "5m" }).to_string()),
    );
    assert_eq!(plain.status, 415, "{}", plain.body);
    assert_eq!(get(&serve, "/v1/maintenance").status, 405);
}

#[test]
fn stdin_maintenance_starts_a_window_and_off_ends_it_in_the_journal_too() {
    let journal = temp("maintenance-journal");
    let mut serve = serve_with(&["--journal", journal.to_str().unwrap()]);
    let client = hello(&mut serve, 9201);
    serve.command(&format!("maintenance {} 10m", client.local));
    let line = serve.wait_for("maintenance", |_| true);
    assert_eq!(line["clients"], json!([client.local.to_string()]));
    let started = serve.wait_for_peer("maintenance_started", client.local);
    assert_eq!(
        (&started["by"], &started["until"]),
        (&json!("stdin"), &line["until"])
    );
    let shown = serve.wait_for_client(client.local, |c| c["maintenance_until"].is_string());
    assert_eq!(shown["maintenance_until"], line["until"]);
    serve.command(&format!("maintenance {} off", client.local));
    let ended = serve.wait_for_peer("maintenance_ended", client.local);
    assert_eq!(ended["by"], "stdin");
    serve.command(&format!("maintenance {} off", client.local));
    let error = serve.wait_for("error", |_| true);
    assert_eq!(
        error["reason"],
        format!("{} is not in maintenance", client.local)
    );
    serve.command("maintenance 127.0.0.1:1 10m");
    let error = serve.wait_for("error", |_| true);
    assert_eq!(
        error["reason"],
        "no live client at 127.0.0.1:1 that said hello"
    );
    serve.command("maintenance 127.0.0.1:1 31d");
    let error = serve.wait_for("error", |_| true);
    assert!(
        error["reason"].as_str().unwrap().contains("at most 30days"),
        "{error}"
    );
    serve.command("quit");
    assert!(serve.wait_exit().success());
    let written = std::fs::read_to_string(&journal).unwrap();
    let windows: Vec<Value> = (written.lines())
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["event"].as_str().unwrap().starts_with("maintenance_"))
        .collect();
    assert_eq!(windows, [started, ended], "{written}");
}

#[test]
fn top_sends_the_command_through_the_api_and_its_replica_shows_the_window() {
    let mut serve = serve();
    let client = hello(&mut serve, 9301);
    let endpoint: Endpoint = serve.admin.clone().unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stop = CancellationToken::new();
        let api = Api {
            endpoint,
            token: Token::new(TOKEN),
            tls: None,
        };
        let feed = attach(api, stop.clone()).await.unwrap();
        let target = || Target::Peers(vec![client.local]);
        let length = Some(Duration::from_secs(600));
        let answer = feed
            .control
            .maintenance(target(), length, "dashboard")
            .await
            .unwrap();
        assert_eq!(answer.clients, vec![client.local]);
        let mut snapshots = feed.snapshots.clone();
        let windows = |s: &Snapshot| s.clients.iter().map(|c| c.maintenance).collect::<Vec<_>>();
        let shown = timeout(
            PATIENCE,
            snapshots.wait_for(|s| windows(s) == [answer.until]),
        );
        shown.await.expect("the window reaches top").unwrap();
        let ended = feed
            .control
            .maintenance(target(), None, "dashboard")
            .await
            .unwrap();
        assert_eq!((ended.clients, ended.until), (vec![client.local], None));
        let gone = timeout(PATIENCE, snapshots.wait_for(|s| windows(s) == [None]));
        gone.await.expect("its end reaches top").unwrap();
        // Nobody in a window: the server's refusal, in its words.
        let refused = feed.control.maintenance(target(), None, "dashboard").await;
        let error = refused.unwrap_err().to_string();
        assert!(
            error.contains("no client the target names is in maintenance"),
            "{error}"
        );
        stop.cancel();
    });
    assert_eq!(
        serve.wait_for_peer("maintenance_started", client.local)["by"],
        "api"
    );
}

#[test]
fn a_client_in_a_window_that_disconnects_runs_no_hook() {
    let log = temp("maintenance-hooks");
    let hook = format!("echo \"$HBMON_PEER\" >> {}", log.display());
    let mut serve = Serve::launch(
        serve_command()
            .args(["--on-event", &hook, "--hook-events", "closed"])
            .args(["--hook-concurrency", "1"])
            .env("HBMON_ADMIN_TOKEN", TOKEN),
    );
    let planned = hello(&mut serve, 9401);
    let peer = planned.local;
    let body = json!({ "peer": peer.to_string(), "duration": "10m" });
    assert_eq!(maintain(&serve, &body).status, 200);
    serve.wait_for_peer("maintenance_started", peer);
    drop(planned);
    serve.wait_for_peer("closed", peer);
    let control = hello(&mut serve, 9402);
    let control_peer = control.local;
    drop(control);
    serve.wait_for_peer("closed", control_peer);
    // Hooks run one at a time, in the order of their events: once the
    // control's has written, the planned client's would have.
    let deadline = std::time::Instant::now() + PATIENCE;
    let written = loop {
        let written = std::fs::read_to_string(&log).unwrap_or_default();
        if written.contains(&control_peer.to_string()) {
            break written;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no hook ran: {written:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(written.trim(), control_peer.to_string());
}
