//! The operator API end to end: the real binary serving HTTP on loopback
//! (and a unix socket), driven as curl and scripts would drive it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{Beater, PATIENCE, RawClient, Serve, hbmon, temp};
use serde_json::{Value, json};

/// An HTTP agent that hands back every status instead of failing on 4xx.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(PATIENCE))
        .build()
        .into()
}

/// The answer to one request: status, content type and body.
struct Answer {
    status: u16,
    kind: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.expect("an HTTP answer");
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Answer {
        status: response.status().as_u16(),
        kind,
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn url(serve: &Serve, path: &str) -> String {
    format!(
        "http://{}{path}",
        serve.admin.as_deref().expect("the API is on")
    )
}

fn get(serve: &Serve, path: &str) -> Answer {
    answer(agent().get(url(serve, path)).call())
}

fn post(serve: &Serve, path: &str, body: &str) -> Answer {
    answer(
        agent()
            .post(url(serve, path))
            .header("content-type", "application/json")
            .send(body),
    )
}

/// `n` clients heard by the server, with pids `first..first+n`.
fn beaters(serve: &mut Serve, first: u32, n: u32) -> Vec<Beater> {
    let beaters: Vec<Beater> = (first..first + n)
        .map(|pid| Beater::start(serve.addr, pid, Duration::from_millis(50)))
        .collect();
    serve.wait_for_clients("all heard", |clients| {
        clients.len() == n as usize && clients.iter().all(|c| c["pid"].is_u64())
    });
    beaters
}

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

#[test]
fn with_an_admin_token_only_metrics_and_healthz_are_open() {
    let token_file = temp("admin-token");
    std::fs::write(&token_file, "s3cret-admin\n").unwrap();
    let mut serve = Serve::start(&["--admin-token-file", token_file.to_str().unwrap()]);
    assert_eq!(get(&serve, "/healthz").status, 200);
    assert_eq!(get(&serve, "/metrics").status, 200);
    assert_eq!(get(&serve, "/v1/clients").status, 401);
    assert_eq!(post(&serve, "/v1/kick-leave", "").status, 401);
    let with = |token: &str| {
        answer(
            agent()
                .get(url(&serve, "/v1/clients"))
                .header("authorization", format!("Bearer {token}"))
                .call(),
        )
    };
    let wrong = with("s3cret-admiN");
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains("s3cret"), "the token is never echoed");
    assert_eq!(with("s3cret-admin").status, 200);
    serve.command("quit");
    serve.wait_exit();
    assert!(serve.seen.iter().all(|l| !l.to_string().contains("s3cret")));
}

#[test]
fn an_admin_address_other_machines_reach_needs_a_token() {
    let refused = hbmon()
        .args(["serve", "--check", "--admin", "0.0.0.0:14001"])
        .env_remove("HBMON_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--admin 0.0.0.0:14001") && stderr.contains("HBMON_ADMIN_TOKEN"),
        "{stderr}"
    );
    let allowed = hbmon()
        .args(["serve", "--check", "--admin", "0.0.0.0:14001"])
        .env("HBMON_ADMIN_TOKEN", "t")
        .output()
        .unwrap();
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let garbage = hbmon()
        .args(["serve", "--check", "--admin", "somewhere"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("'somewhere' is not an address"));
}

#[test]
fn an_admin_port_in_use_is_a_clear_error() {
    let first = Serve::plain();
    let admin = first.admin.clone().unwrap();
    let second = hbmon()
        .args([
            "serve",
            "--no-tui",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            &admin,
        ])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("cannot serve the operator API on {admin}")),
        "{stderr}"
    );
}

#[test]
fn on_a_unix_socket_the_api_is_mode_0600() {
    let path = temp("admin.sock");
    let _ = std::fs::remove_file(&path);
    let arg = format!("unix:{}", path.display());
    let mut serve = Serve::start(&["--admin", &arg]);
    assert_eq!(serve.admin.as_deref(), Some(arg.as_str()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut socket = UnixStream::connect(&path).unwrap();
    socket
        .write_all(b"GET /v1/clients HTTP/1.1\r\nhost: hbmon\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#""total":0"#), "{reply}");
    serve.command("quit");
    serve.wait_exit();
    assert!(
        !path.exists(),
        "the socket is removed when the server stops"
    );
}

/// The value of the sample `name` (with its labels) in an exposition.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_clients_heartbeats_and_closes_by_cause() {
    let mut serve = Serve::plain();
    let _beaters = beaters(&mut serve, 9301, 3);
    let mut kicked = RawClient::connect(serve.addr);
    kicked.send(&common::heartbeat(9304));
    serve.wait_for_clients("4 heard", |c| {
        c.len() == 4 && c.iter().all(|c| c["pid"].is_u64())
    });
    serve.command(&format!("kick {}", kicked.local));
    serve.wait_for("closed", |_| true);
    // Snapshots are published at most every 100 ms: the scrape after the
    // kick's may still show four.
    let deadline = Instant::now() + PATIENCE;
    let metrics = loop {
        let metrics = get(&serve, "/metrics");
        if metrics.body.contains(r#"hbmon_clients{status="alive"} 3"#) || Instant::now() > deadline
        {
            break metrics;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        metrics.kind.starts_with("text/plain; version=0.0.4"),
        "{}",
        metrics.kind
    );
    let text = &metrics.body;
    assert_eq!(sample(text, r#"hbmon_clients{status="alive"}"#), 3.0);
    assert_eq!(sample(text, r#"hbmon_closes_total{cause="kicked"}"#), 1.0);
    assert_eq!(
        sample(text, r#"hbmon_closes_total{cause="leave_timeout"}"#),
        0.0
    );
    assert!(sample(text, "hbmon_heartbeats_total") >= 4.0);
    assert_eq!(sample(text, "hbmon_rule_threshold"), 5.0);
    assert_eq!(sample(text, "hbmon_refusals_total"), 0.0);
    // Clients came and one was kicked: snapshots were published, and took time.
    assert!(sample(text, "hbmon_publishes_total") >= 1.0);
    let publish = sample(text, "hbmon_publish_seconds_total");
    assert!(publish > 0.0 && publish < 1.0, "{publish}");
    // The registry's thread was running for about as long (its CPU clock,
    // read just outside each publish, adds a clock read's tail to each).
    let working = sample(text, "hbmon_publish_cpu_seconds_total");
    let reads = sample(text, "hbmon_publishes_total") * 50e-6;
    assert!(
        working > 0.0 && working <= publish + reads,
        "{working} of {publish}"
    );
    assert!(text.contains(&format!(
        "hbmon_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    // The process's own figures, under the names Prometheus expects.
    assert!(sample(text, "process_resident_memory_bytes") > 1e6);
    assert!(
        sample(text, "process_open_fds") >= 4.0,
        "the clients and listeners"
    );
    assert!(sample(text, "process_max_fds") >= sample(text, "process_open_fds"));
    assert!(sample(text, "process_cpu_seconds_total") > 0.0);
    let open = answer(
        agent()
            .get(url(&serve, "/metrics"))
            .header("accept", "application/openmetrics-text;version=1.0.0")
            .call(),
    );
    assert!(
        open.kind.starts_with("application/openmetrics-text"),
        "{}",
        open.kind
    );
    assert!(open.body.ends_with("# EOF\n"));
}

/// `hbmon top --connect ADDR` without a terminal: what it says when it
/// cannot attach.
fn top(connect: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = hbmon()
        .args(["top", "--connect", connect])
        .env_remove("HBMON_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn top_says_why_it_cannot_attach() {
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, stderr) = top(&closed.to_string(), &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!("cannot reach hbmon's operator API at {closed}")),
        "{stderr}"
    );
    // Something that is not HTTP: the heartbeat port.
    let serve = Serve::plain();
    let (code, stderr) = top(&serve.addr.to_string(), &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not hbmon's operator API"), "{stderr}");
    // An HTTP server that is not hbmon.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_addr = other.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in other.incoming().flatten() {
            let mut stream = stream;
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let (code, stderr) = top(&other_addr.to_string(), &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("HTTP 404 Not Found for /v1/feed"),
        "{stderr}"
    );
    // A token it does not have.
    let token_file = temp("top-admin-token");
    std::fs::write(&token_file, "top-secret").unwrap();
    let guarded = Serve::start(&["--admin-token-file", token_file.to_str().unwrap()]);
    let admin = guarded.admin.clone().unwrap();
    let (code, stderr) = top(&admin, &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("needs the admin token"), "{stderr}");
    // With it, it attaches, then wants a terminal.
    let (code, stderr) = top(&admin, &[("HBMON_ADMIN_TOKEN", "top-secret")]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("hbmon top needs a terminal"), "{stderr}");
}
