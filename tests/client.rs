//! Clients against the real server: `hbmon client`, and a plain Python
//! client written with socket/struct/json only.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Serve, hbmon};
use serde_json::Value;

#[test]
fn hbmon_client_is_alive_then_exits_4_with_the_kick_reason() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let (client, peer) = client(&mut serve, &["--pid", "31337"]);
    let listed = serve.wait_for_client(peer, |c| c["heartbeats"].as_u64() >= Some(2));
    assert_eq!(
        (listed["status"].as_str(), listed["pid"].as_u64()),
        (Some("alive"), Some(31337))
    );
    assert_eq!(listed["ip"], "127.0.0.1");

    serve.command(&format!("kick {peer}"));
    let output = client.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(4),
        "a kicked client exits 4; got {}",
        output.status
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("closed by server: kicked by operator"),
        "client printed:\n{stdout}"
    );
}

#[test]
fn hbmon_client_fails_clearly_when_no_server_listens() {
    // Bind then drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = hbmon()
        .args(["client", "--server", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn python_socket_struct_json_client_is_seen_alive_with_its_pid() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_client.py");
    let mut python = std::process::Command::new("python3")
        .args([
            script,
            "127.0.0.1",
            &serve.addr.port().to_string(),
            "1000",
            "0.05",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the interoperability test");
    let mut lines = BufReader::new(python.stdout.take().unwrap()).lines();
    let hello: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let peer = hello["local"].as_str().unwrap().parse().unwrap();

    let listed = serve.wait_for_client(peer, |c| c["heartbeats"].as_u64() >= Some(3));
    assert_eq!(listed["status"], "alive");
    assert_eq!(listed["pid"].as_u64(), Some(u64::from(python.id())));

    // The Python client decodes the server's close frame too.
    serve.command(&format!("kick {peer}"));
    let notice: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(notice["status"], "close");
    assert_eq!(notice["reason"], "kicked by operator");
    assert!(python.wait().unwrap().success());
}

#[test]
fn hbmon_client_with_reconnect_comes_back_after_a_kick() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let mut client = hbmon()
        .args([
            "client",
            "--server",
            &serve.addr.to_string(),
            "--interval",
            "50ms",
            "--pid",
            "4444",
            "--reconnect",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let first = serve.wait_for("connected", |_| true)["peer"]
        .as_str()
        .unwrap()
        .to_owned();
    serve.wait_for_client(first.parse().unwrap(), |c| c["pid"] == 4444);
    serve.command(&format!("kick {first}"));
    serve.wait_for_peer("closed", first.parse().unwrap());
    let kicked_at = Instant::now();
    let second = serve.wait_for("connected", |l| l["peer"] != first.as_str())["peer"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        kicked_at.elapsed() >= Duration::from_millis(4500),
        "the kick's close frame asks for 5 s, and the client waits them: back after {:?}",
        kicked_at.elapsed()
    );
    // Back as the same client: the same pid, and one reconnect.
    let again = serve.wait_for_client(second.parse().unwrap(), |c| c["pid"] == 4444);
    assert_eq!(again["reconnects"], 1, "{again}");
    client.kill().unwrap();
    client.wait().unwrap();
}

/// `hbmon client` against `serve`, heartbeating every 50 ms, its stdout
/// piped; returns it with the address it connected from.
fn client(serve: &mut Serve, extra: &[&str]) -> (Child, SocketAddr) {
    let child = hbmon()
        .args([
            "client",
            "--server",
            &serve.addr.to_string(),
            "--interval",
            "50ms",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let peer = serve.wait_for("connected", |_| true)["peer"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    serve.wait_for_client(peer, |c| c["heartbeats"].as_u64() >= Some(1));
    (child, peer)
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the client to exit; its exit code and what it printed.
fn finish(child: Child) -> (Option<i32>, String) {
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn hbmon_client_exits_0_after_its_goodbye_and_after_a_server_shutdown() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let (polite, peer) = client(&mut serve, &[]);
    signal(polite.id(), "INT");
    let (code, stdout) = finish(polite);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("said goodbye; the server answered: client said goodbye"),
        "{stdout}"
    );
    let closed = serve.wait_for_peer("closed", peer);
    assert_eq!(closed["reason"], "client said goodbye");

    let (other, _) = client(&mut serve, &[]);
    serve.command("quit");
    let (code, stdout) = finish(other);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("the server shut down"), "{stdout}");
}

#[test]
fn hbmon_client_exits_3_when_the_connection_is_lost() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let (child, _) = client(&mut serve, &[]);
    serve.kill_hard();
    let (code, stdout) = finish(child);
    assert_eq!(code, Some(3), "{stdout}");
    assert!(stdout.contains("connection lost"), "{stdout}");
}

#[test]
fn hbmon_client_refused_by_a_full_server_exits_4_and_says_why() {
    let mut serve = Serve::start(&["--tick", "100ms", "--max-clients", "1"]);
    let (_first, _) = client(&mut serve, &[]);
    let refused = hbmon()
        .args(["client", "--server", &serve.addr.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8(refused.stdout).unwrap();
    assert_eq!(refused.status.code(), Some(4), "{stdout}");
    assert!(
        stdout.contains("closed by server: server full: 1 client connected (--max-clients)"),
        "{stdout}"
    );
}

#[test]
fn a_resumed_client_sends_one_heartbeat_not_a_burst_and_reports_the_close_it_missed() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let (child, peer) = client(&mut serve, &[]);
    signal(child.id(), "STOP");
    let before = serve.client(peer).unwrap()["heartbeats"].as_u64().unwrap();
    // Suspended for at least 4 ticks (8 intervals); nothing arrives meanwhile.
    let quiet = serve.wait_for_client(peer, |c| c["miss"].as_u64() >= Some(4));
    let stalled = quiet["heartbeats"].as_u64().unwrap();
    assert!(stalled <= before + 1, "{before} -> {stalled}");
    signal(child.id(), "CONT");
    let resumed = serve.wait_for_client(peer, |c| c["heartbeats"].as_u64() > Some(stalled));
    let jump = resumed["heartbeats"].as_u64().unwrap() - stalled;
    assert!(jump <= 3, "a burst of {jump} heartbeats after the resume");

    // Kicked while suspended: on resume it reads the close frame, whatever
    // it was about to write.
    signal(child.id(), "STOP");
    serve.command(&format!("kick {peer}"));
    serve.wait_for_peer("closed", peer);
    signal(child.id(), "CONT");
    let (code, stdout) = finish(child);
    assert_eq!(code, Some(4), "{stdout}");
    assert!(
        stdout.contains("closed by server: kicked by operator"),
        "{stdout}"
    );
    assert!(!stdout.contains("connection lost"), "{stdout}");
}

#[test]
fn the_python_library_reconnects_after_a_kick_and_a_server_restart_and_says_goodbye() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let port = serve.addr.port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_library.py");
    let mut python = Command::new("python3")
        .args([script, "127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the library test");
    let mut lines = BufReader::new(python.stdout.take().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    let pid = next()["pid"].as_u64().unwrap();
    let alive = |serve: &mut Serve| {
        serve.wait_for_clients("the python client", |clients| {
            clients
                .iter()
                .any(|c| c["pid"] == pid && c["status"] == "alive")
        })
    };
    let first = alive(&mut serve);
    let peer = first.iter().find(|c| c["pid"] == pid).unwrap()["peer"]
        .as_str()
        .unwrap()
        .to_owned();

    // A kick: the library hands over the close frame, waits retry_after, comes back.
    serve.command(&format!("kick {peer}"));
    let notice = next();
    assert_eq!(
        (notice["status"].as_str(), notice["reason"].as_str()),
        (Some("close"), Some("kicked by operator"))
    );
    assert_eq!(notice["retry_after"], 5);
    let kicked = Instant::now();
    serve.wait_for("connected", |l| l["peer"] != peer.as_str());
    assert!(
        kicked.elapsed() >= Duration::from_millis(4500),
        "back after {:?}",
        kicked.elapsed()
    );
    alive(&mut serve);

    // The server restarts on the same port; the library finds it again.
    serve.command("quit");
    assert!(serve.wait_exit().success());
    assert_eq!(next()["reason"], "server shutting down");
    let listen = format!("127.0.0.1:{port}");
    let mut serve = Serve::launch(
        hbmon()
            .args(["serve", "--no-tui", "--format", "json"])
            .args(["--tick", "100ms", "--listen", &listen]),
    );
    alive(&mut serve);

    // Its stdin closes: it says goodbye.
    drop(python.stdin.take());
    let closed = serve.wait_for("closed", |_| true);
    assert_eq!(closed["reason"], "client said goodbye");
    assert_eq!(closed["pid"].as_u64(), Some(pid));
    assert!(python.wait().unwrap().success());
}
