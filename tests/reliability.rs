//! What an operator must be able to trust when things go wrong around the
//! server: a hangup, a stdout nobody reads, garbage on stdin, the server's
//! own stall.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{PATIENCE, RawClient, Serve, heartbeat, rss, serve_command, temp};
use serde_json::Value;

#[test]
fn sighup_shuts_down_cleanly_with_close_frames_and_the_journal_written() {
    let path = temp("hangup");
    let mut serve = Serve::start(&["--journal", path.to_str().unwrap()]);
    let mut client = RawClient::connect(serve.addr);
    client.send(&heartbeat(7));
    serve.wait_for_peer("connected", client.local);
    serve.signal("HUP");
    assert_eq!(client.expect_closed(), "server shutting down");
    let status = serve.wait_exit();
    assert!(status.success(), "{status}");
    let journal = std::fs::read_to_string(&path).unwrap();
    let peer = client.local.to_string();
    for event in ["connected", "closed"] {
        assert!(
            journal.lines().any(|l| {
                let l: Value = serde_json::from_str(l).unwrap();
                l["event"] == event && l["peer"] == peer.as_str()
            }),
            "no {event} in the journal:\n{journal}"
        );
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_stdout_nobody_reads_does_not_hold_a_shutdown() {
    let mut server = serve_command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the first line for the address, and then nothing more.
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut listening = String::new();
    stdout.read_line(&mut listening).unwrap();
    let listening: Value = serde_json::from_str(&listening).unwrap();
    let addr = listening["addr"].as_str().unwrap().parse().unwrap();
    let mut client = RawClient::connect(addr);
    client.send(&heartbeat(7));

    fill_stdout_until_stdin_backs_up(server.stdin.take().unwrap());

    let stopping = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(client.expect_closed(), "server shutting down");
    let exited = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < PATIENCE,
            "still running {PATIENCE:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = stopping.elapsed();
    assert!(exited.success(), "{exited}");
    assert!(took < Duration::from_secs(8), "exit took {took:?}");
    let mut stderr = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("lines were not written"), "{stderr}");
    drop(stdout);
}

/// Asks for snapshots until stdout (and then stdin) backs up: the server
/// has stopped taking commands because nobody reads what it writes.
fn fill_stdout_until_stdin_backs_up(mut stdin: ChildStdin) {
    let written = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&written);
    std::thread::spawn(move || {
        while stdin.write_all(b"list\n").is_ok() {
            count.fetch_add(5, Ordering::Relaxed);
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let mut last = (0, Instant::now());
    loop {
        let now = written.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) && now > 0 {
            break; // the server has stopped taking commands: stdout is full
        }
        assert!(Instant::now() < deadline, "stdin never backed up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_bytes_and_huge_lines_on_stdin_get_an_error_and_commands_go_on() {
    let mut serve = Serve::plain();
    let stdin = serve.stdin.as_mut().unwrap();
    stdin.write_all(b"\xff\xfe garbage\n").unwrap();
    stdin.flush().unwrap();
    let error = serve.wait_for("error", |_| true);
    assert_eq!(
        error["reason"],
        "a line that is not UTF-8 (invalid byte at offset 0); ignored"
    );

    // 100 MB without a newline, then one: streamed past, never held whole.
    let stdin = serve.stdin.as_mut().unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..100 {
        stdin.write_all(&chunk).unwrap();
    }
    stdin.write_all(b"\n").unwrap();
    stdin.flush().unwrap();
    let error = serve.wait_for("error", |_| true);
    assert_eq!(
        error["reason"],
        "a line of 104857600 bytes is longer than the limit of 4096; ignored"
    );
    let resident = rss(serve.pid());
    assert!(
        resident < 64 << 20,
        "RSS {resident} bytes after a 100 MB line"
    );

    serve.command("LIST");
    serve.wait_for("snapshot", |_| true);
    serve.command("kick");
    assert_eq!(
        serve.wait_for("error", |_| true)["reason"],
        "usage: kick IP:PORT [HOLD]"
    );
    serve.command("quit");
    assert!(serve.wait_exit().success());
}

#[test]
fn a_server_stall_longer_than_the_timeouts_closes_nobody_whose_bytes_arrived_in_time() {
    let mut serve = Serve::start(&[
        "--tick",
        "100ms",
        "--hello-timeout",
        "1s",
        "--frame-timeout",
        "1s",
        "--stats-every",
        "100ms",
    ]);
    // Many of each, so that on resume the tick is as likely to run before
    // a connection's read as after it.
    let mut quiet: Vec<RawClient> = (0..100).map(|_| RawClient::connect(serve.addr)).collect();
    let mut halfway: Vec<RawClient> = (0..100).map(|_| RawClient::connect(serve.addr)).collect();
    let hello = heartbeat(2);
    for client in &mut halfway {
        client.send(&heartbeat(2));
        client.send(&hello[..6]);
    }
    serve.wait_for_clients("200 clients, the half-way ones heard", |clients| {
        clients.len() == 200 && clients.iter().filter(|c| c["heartbeats"] == 1).count() == 100
    });

    // The server stops for 2 s, longer than both timeouts; meanwhile the
    // quiet clients say hello and the others finish their frames.
    serve.signal("STOP");
    for client in &mut quiet {
        client.send(&heartbeat(1));
    }
    for client in &mut halfway {
        client.send(&hello[6..]);
    }
    std::thread::sleep(Duration::from_secs(2));
    serve.signal("CONT");

    serve.wait_for_clients("every client heard after the stall", |clients| {
        clients.len() == 200 && clients.iter().all(|c| c["heartbeats"].as_u64() >= Some(1))
    });
    // Several ticks later, still nobody closed.
    for _ in 0..5 {
        serve.wait_for("stats", |_| true);
    }
    let closed: Vec<&Value> = serve
        .seen
        .iter()
        .filter(|l| l["event"] == "closed")
        .collect();
    assert!(
        closed.is_empty(),
        "{} closed: {:#?}",
        closed.len(),
        closed.first()
    );
}
