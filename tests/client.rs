//! Clients against the real server: `hbmon client`, and a plain Python
//! client written with socket/struct/json only.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{Serve, hbmon};
use serde_json::Value;

#[test]
fn hbmon_client_is_alive_then_exits_zero_with_the_kick_reason() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let client = hbmon()
        .args([
            "client",
            "--server",
            &serve.addr.to_string(),
            "--interval",
            "50ms",
            "--pid",
            "31337",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let connected = serve.wait_for("connected", |_| true);
    let peer = connected["peer"].as_str().unwrap().parse().unwrap();
    let listed = serve.wait_for_client(peer, |c| c["heartbeats"].as_u64() >= Some(2));
    assert_eq!(
        (listed["status"].as_str(), listed["pid"].as_u64()),
        (Some("alive"), Some(31337))
    );
    assert_eq!(listed["ip"], "127.0.0.1");

    serve.command(&format!("kick {peer}"));
    let output = client.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "client exit status {}",
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
    let second = serve.wait_for("connected", |l| l["peer"] != first.as_str())["peer"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = serve.wait_for_client(second.parse().unwrap(), |c| {
        c["heartbeats"].as_u64() >= Some(1)
    });
    assert_eq!(again["pid"], 4444);
    client.kill().unwrap();
    client.wait().unwrap();
}
