//! The journal end to end: every decision is written exactly once, in
//! order; it survives a kill -9 and a restart; `hbmon history` reads it.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::{Beater, RawClient, Serve, decisions, frame, hbmon, temp};
use serde_json::Value;

fn read_journal(path: &PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every journal line is JSON"))
        .collect()
}

fn history(args: &[&str]) -> (Vec<String>, String) {
    let output = hbmon().arg("history").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "history failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    (
        stdout.lines().map(str::to_owned).collect(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn journal_holds_every_decision_once_in_order_and_history_reads_it() {
    let path = temp("decisions");
    let path_arg = path.to_str().unwrap();
    let mut serve = Serve::start(&[
        "--journal",
        path_arg,
        "--max-clients",
        "3",
        "--tick",
        "100ms",
    ]);
    let keep = Beater::start(serve.addr, 11, Duration::from_millis(25));
    let kick = Beater::start(serve.addr, 12, Duration::from_millis(25));
    serve.wait_for_client(kick.local, |c| c["pid"] == 12);
    let mut bad = RawClient::connect(serve.addr);
    bad.send(&frame(b"{oops"));
    bad.expect_closed();
    let mut full = vec![RawClient::connect(serve.addr)];
    full.push(RawClient::connect(serve.addr));
    for client in &mut full {
        client.expect_closed();
    }
    serve.command(&format!("kick {}", kick.local));
    serve.wait_for_peer("closed", kick.local);
    serve.command("quit");
    assert!(serve.wait_exit().success());

    let journal = read_journal(&path);
    let written: Vec<Value> = decisions(&journal);
    assert_eq!(
        written,
        decisions(&serve.seen),
        "the journal is the event stream's decisions, in order"
    );
    assert_journal_holds_each_kind(&journal);
    assert_history_reads_it(path_arg, journal.len(), kick.local, keep.local);
    drop(keep);
    std::fs::remove_file(&path).unwrap();
}

/// Every kind of decision the run made is there, with what it must say;
/// a run opens with `started` and a clean stop closes it.
fn assert_journal_holds_each_kind(journal: &[Value]) {
    let kinds: Vec<&str> = journal
        .iter()
        .map(|l| l["event"].as_str().unwrap())
        .collect();
    for kind in ["connected", "bad_frame", "rejected", "kick", "closed"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let kick_line = journal.iter().find(|l| l["event"] == "kick").unwrap();
    assert_eq!(
        (kick_line["by"].as_str(), kick_line["pid"].as_u64()),
        (Some("stdin"), Some(12))
    );
    assert!(journal.iter().all(|l| l["ts"].is_string()));
    assert_eq!(
        journal.first().unwrap()["event"],
        "started",
        "a run opens with a marker"
    );
    assert_eq!(
        journal.last().unwrap()["event"],
        "stopped",
        "and a clean stop closes it"
    );
    let closed = journal
        .iter()
        .find(|l| l["event"] == "closed" && l["pid"] == 12)
        .unwrap();
    assert_eq!(
        closed["ip"], "127.0.0.1",
        "the journal keeps the reported ip"
    );
}

/// `hbmon history` reads the journal whole, by peer (a table), by pid
/// and since a time.
fn assert_history_reads_it(path_arg: &str, journal_len: usize, kick: SocketAddr, keep: SocketAddr) {
    let (all, stderr) = history(&[path_arg, "--format", "json"]);
    assert_eq!(all.len(), journal_len);
    assert!(stderr.is_empty(), "{stderr}");
    let (table, _) = history(&[path_arg, "--peer", &kick.to_string()]);
    assert!(
        table[0].starts_with("time (UTC)"),
        "a header row: {table:#?}"
    );
    let kicked = &table[1..];
    assert!(
        kicked.iter().all(|row| row.contains(&kick.to_string())),
        "{kicked:#?}"
    );
    assert!(
        kicked
            .iter()
            .any(|row| row.contains("kick") && row.contains("kicked from stdin")),
        "{kicked:#?}"
    );
    assert!(
        kicked
            .iter()
            .any(|row| row.contains("closed: kicked by operator")),
        "{kicked:#?}"
    );
    // Pid 11's lines, its connected line (which has no pid) included.
    let (by_pid, _) = history(&[path_arg, "--pid", "11", "--format", "json"]);
    let keep_peer = format!(r#""peer":"{keep}""#);
    assert!(
        by_pid.iter().any(|l| l.contains(r#""pid":11"#))
            && by_pid.iter().all(|l| l.contains(&keep_peer)),
        "{by_pid:#?}"
    );
    let (future, _) = history(&[path_arg, "--since", "2999-01-01T00:00:00Z"]);
    assert!(future.is_empty());
}

#[test]
fn journal_survives_kill_9_and_a_restart_appends() {
    let path = temp("crash");
    let path_arg = path.to_str().unwrap();
    let mut first = Serve::start(&["--journal", path_arg]);
    let early = Beater::start(first.addr, 21, Duration::from_millis(25));
    first.wait_for_peer("connected", early.local);
    // Decisions older than a second are on disk by now.
    std::thread::sleep(Duration::from_millis(1500));
    first.kill_hard();
    let early_peer = early.local;
    drop(early);
    // What a crash in the middle of a write leaves behind.
    let mut torn = std::fs::read(&path).unwrap();
    assert!(torn.ends_with(b"\n"), "whole lines only before the kill");
    torn.extend_from_slice(br#"{"ts":"2026-11-24T"#);
    std::fs::write(&path, torn).unwrap();

    let mut second = Serve::start(&["--journal", path_arg]);
    let late = Beater::start(second.addr, 22, Duration::from_millis(25));
    second.wait_for_peer("connected", late.local);
    second.command("quit");
    assert!(second.wait_exit().success());

    let (rows, stderr) = history(&[path_arg, "--format", "json"]);
    assert!(stderr.contains("skipped 1 unreadable line"), "{stderr}");
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    let connected = |peer: String| {
        rows.iter()
            .any(|r| r["event"] == "connected" && r["peer"] == peer.as_str())
    };
    assert!(
        connected(early_peer.to_string()),
        "the first run's decision survived the kill"
    );
    assert!(connected(late.local.to_string()), "the second run appended");
    let closed_late = rows
        .iter()
        .find(|r| r["event"] == "closed" && r["peer"] == late.local.to_string().as_str());
    assert_eq!(
        closed_late.unwrap()["reason"],
        "server shutting down",
        "a clean shutdown loses nothing"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn history_of_a_missing_file_says_so() {
    let output = hbmon()
        .args(["history", "/nonexistent/journal.jsonl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the journal /nonexistent/journal.jsonl"),
        "{stderr}"
    );
}

#[test]
fn a_journal_on_a_full_disk_counts_what_is_lost_and_serving_goes_on() {
    // Every write to /dev/full fails with "no space left on device".
    let mut serve = Serve::start(&["--journal", "/dev/full", "--stats-every", "200ms"]);
    let client = Beater::start(serve.addr, 1, Duration::from_millis(25));
    let stats = serve.wait_for("stats", |l| l["journal_lost"].as_u64() >= Some(1));
    assert_eq!(stats["clients"], 1);
    let listed = serve.wait_for_client(client.local, |c| c["heartbeats"].as_u64() >= Some(20));
    assert_eq!(listed["status"], "alive");
}

#[test]
fn history_refuses_a_peer_that_is_not_an_address() {
    let output = hbmon()
        .args(["history", "/nonexistent/journal.jsonl", "--peer", "foo"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("'foo' is neither ip:port (10.0.0.7:5000) nor an ip (10.0.0.7)"),
        "{stderr}"
    );
}

#[test]
fn history_gives_a_known_clients_lines_its_pid_and_pid_keeps_them_all() {
    let path = temp("pids");
    let path_arg = path.to_str().unwrap();
    let mut serve = Serve::start(&["--journal", path_arg]);
    let mut client = RawClient::connect(serve.addr);
    client.send(&common::heartbeat(31));
    serve.wait_for_client(client.local, |c| c["pid"] == 31);
    client.send(&frame(b"{oops"));
    client.expect_closed();
    serve.wait_for_peer("closed", client.local);
    serve.command("quit");
    assert!(serve.wait_exit().success());

    let peer = client.local.to_string();
    let (table, _) = history(&[path_arg, "--peer", &peer]);
    let bad = table
        .iter()
        .find(|row| row.contains("bad_frame"))
        .unwrap_or_else(|| panic!("no bad_frame row: {table:#?}"));
    let pid_column = table[0].find("pid").unwrap();
    assert_eq!(
        bad[..pid_column + 3].split_whitespace().last(),
        Some("31"),
        "the bad frame came from pid 31: {table:#?}"
    );
    let (by_pid, _) = history(&[path_arg, "--pid", "31", "--format", "json"]);
    let events: Vec<String> = by_pid
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .inspect(|l| assert_eq!(l["peer"], peer.as_str(), "only pid 31's lines"))
        .map(|l| l["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["connected", "bad_frame", "closed"], "{by_pid:#?}");
    std::fs::remove_file(&path).unwrap();
}
