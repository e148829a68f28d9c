//! `hbmon simulate` and `hbmon demo` end to end: real fleets against the
//! real server over loopback.

mod common;

use std::collections::HashSet;

use common::{Serve, hbmon};
use serde_json::Value;

fn simulate(serve: &Serve, args: &[&str]) -> Value {
    let output = hbmon()
        .args([
            "simulate",
            "--server",
            &serve.addr.to_string(),
            "--format",
            "json",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "simulate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON summary")
}

#[test]
fn simulated_steady_fleet_is_all_alive_with_consecutive_pids() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    // A host name, as `client` takes.
    let addr = format!("localhost:{}", serve.addr.port());
    let fleet = hbmon()
        .args([
            "simulate",
            "--server",
            &addr,
            "--clients",
            "20",
            "--every",
            "0",
            "--interval",
            "50ms",
        ])
        .args([
            "--mix",
            "steady=1",
            "--pid-base",
            "7000",
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let clients = serve.wait_for_clients("the whole fleet alive", |clients| {
        clients.len() == 20 && clients.iter().all(|c| c["heartbeats"].as_u64() >= Some(2))
    });
    assert!(clients.iter().all(|c| c["status"] == "alive"));
    let pids: HashSet<u64> = clients.iter().map(|c| c["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids, (7000..7020).collect());

    // The fleet reacts to a close frame like a real client.
    let victim = clients[0]["peer"].as_str().unwrap().to_owned();
    serve.command(&format!("kick {victim}"));
    serve.wait_for("closed", |l| l["peer"] == victim.as_str());
    serve.command("quit");
    let output = fleet.wait_with_output().unwrap();
    assert!(output.status.success());
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["joined"], 20);
    assert_eq!(
        summary["closed_by_server"], 20,
        "1 kicked + 19 at shutdown: {summary}"
    );
    assert_eq!(summary["errors"], 0);
}

/// A server that closes a silent client within a few ticks of 50 ms.
fn quick_to_close() -> Serve {
    Serve::start(&[
        "--tick",
        "50ms",
        "--threshold",
        "1",
        "--cursor",
        "1",
        "--leave-timeout",
        "100ms",
    ])
}

/// Six simulated clients joining at once, beating every 20 ms, with `mix`.
fn six_of(serve: &Serve, mix: &[&str]) -> Value {
    let mut args = vec!["--clients", "6", "--every", "0", "--interval", "20ms"];
    args.extend_from_slice(mix);
    args.extend_from_slice(&["--duration", "10s"]);
    simulate(serve, &args)
}

#[test]
fn simulated_silent_and_bad_clients_are_closed_by_the_server() {
    let serve = quick_to_close();
    let summary = six_of(&serve, &["--mix", "silent=1,bad=1"]);
    assert_eq!(summary["joined"], 6);
    assert_eq!(summary["closed_by_server"], 6, "{summary}");
    assert_eq!(summary["connected"], 0);
}

#[test]
fn simulate_rejects_a_bad_mix_with_a_reason() {
    let output = hbmon()
        .args(["simulate", "--mix", "steady=70,lazy=30"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown behaviour 'lazy'"), "{stderr}");
}

#[test]
fn demo_shows_every_behaviour_within_a_minute() {
    let mut demo = Serve::launch(hbmon().args([
        "demo",
        "--no-tui",
        "--format",
        "json",
        "--listen",
        "127.0.0.1:0",
    ]));
    demo.wait_for("status", |l| l["from"] == "alive" && l["to"] == "leave");
    demo.wait_for("bad_frame", |_| true);
    demo.wait_for("status", |l| l["from"] == "leave" && l["to"] == "alive");
    demo.wait_for("closed", |l| {
        l["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("connection error"))
    });
    demo.wait_for("closed", |l| {
        l["reason"]
            .as_str()
            .is_some_and(|r| r.contains("leave timeout"))
    });
    let connected = demo
        .seen
        .iter()
        .filter(|l| l["event"] == "connected")
        .count();
    assert!(connected >= 12, "clients keep joining: {connected}");
    demo.command("quit");
    assert!(demo.wait_exit().success());
}

#[test]
fn simulate_against_a_closed_port_exits_non_zero_saying_where_and_why() {
    // A port nothing listens on: bound, then let go.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = hbmon()
        .args(["simulate", "--server", &addr.to_string(), "--clients", "5"])
        .args(["--every", "10s", "--mix", "steady=1", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to {addr}: Connection refused")),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    let refused = &summary["behaviours"]["steady"]["could_not_connect"];
    assert_eq!(
        refused
            .as_object()
            .map(|r| r.values().filter_map(Value::as_u64).sum()),
        Some(summary["joined"].as_u64().unwrap()),
        "every client that joined was refused, and the fleet gave up at once: {summary}"
    );
}

#[test]
fn the_summary_says_how_each_behaviour_ended_and_why() {
    let serve = quick_to_close();
    let summary = six_of(
        &serve,
        &["--mix", "silent=1,bad=1,dying=1", "--dying-after", "30ms"],
    );
    let behaviours = &summary["behaviours"];
    let reasons = |name: &str| -> Vec<(String, u64)> {
        let closed = behaviours[name]["closed_by_server"].as_object().unwrap();
        closed
            .iter()
            .map(|(r, n)| (r.clone(), n.as_u64().unwrap()))
            .collect()
    };
    for name in ["silent", "bad", "dying"] {
        assert_eq!(
            (
                behaviours[name]["joined"].as_u64(),
                behaviours[name]["connected"].as_u64()
            ),
            (Some(2), Some(2)),
            "{name}: {summary}"
        );
    }
    let silent = reasons("silent");
    assert!(
        silent.len() == 1 && silent[0].0.contains("leave timeout") && silent[0].1 == 2,
        "{summary}"
    );
    let bad = reasons("bad");
    assert!(
        bad.len() == 1 && bad[0].0.starts_with("bad frame") && bad[0].1 == 2,
        "{summary}"
    );
    assert_eq!(behaviours["dying"]["hung_up"], 2, "{summary}");
}
