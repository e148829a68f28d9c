//! Event hooks (`serve --on-event`), end to end: what a hook is given, how
//! a failing or hanging one is reported, that a hook past its timeout takes
//! every process it started with it, that hooks never hold up a stop, and
//! that a saved config runs the same hooks.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Bystanders, PATIENCE, RawClient, Serve, hbmon, temp};

/// `serve` with a hook, its stderr kept in a file.
fn serve_with_hook(hook: &str, extra: &[&str], log: &Path) -> Serve {
    let mut command = common::serve_command();
    command
        .args(["--on-event", hook, "--stats-every", "100ms"])
        .args(extra)
        .stderr(std::fs::File::create(log).unwrap());
    Serve::launch(&mut command)
}

/// The pids a hook wrote to `path`, one a line.
fn pids(path: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| l.trim().parse().unwrap()).collect()
}

/// Waits until `path` holds `count` pids.
fn wait_for_pids(path: &Path, count: usize) -> Vec<u32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let pids = pids(path);
        if pids.len() >= count {
            return pids;
        }
        assert!(Instant::now() < deadline, "the hooks wrote {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is still the `sleep SECONDS` a hook started (a zombie, or
/// a pid another program has taken since, is not).
fn still_sleeping(pid: u32, seconds: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline == format!("sleep\0{seconds}\0").as_bytes())
}

/// Waits until none of `pids` is the `sleep SECONDS` it was.
fn assert_all_gone(pids: &[u32], seconds: &str) {
    let deadline = Instant::now() + PATIENCE;
    while pids.iter().any(|&p| still_sleeping(p, seconds)) {
        assert!(
            Instant::now() < deadline,
            "a hook's process outlived it: {:?}",
            pids.iter()
                .filter(|&&p| still_sleeping(p, seconds))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_hook_gets_each_chosen_event_on_stdin_with_its_name_and_peer() {
    let record = temp("hook-record");
    let log = temp("hook-log");
    let hook = format!(
        "printf '%s %s ' \"$HBMON_EVENT\" \"$HBMON_PEER\" >> {0}; cat >> {0}",
        record.display()
    );
    // One at a time, so that the two lines do not interleave in the file.
    let mut serve = serve_with_hook(&hook, &["--hook-concurrency", "1"], &log);
    let mut client = RawClient::connect(serve.addr);
    client.send(&common::heartbeat(5));
    serve.wait_for_client(client.local, |c| c["pid"] == 5);
    serve.command(&format!("kick {}", client.local));
    assert_eq!(client.expect_closed(), "kicked by operator");
    let peer = client.local.to_string();
    let stats = serve.wait_for("stats", |l| l["hooks_run"].as_u64() >= Some(2));
    assert_eq!(stats["hooks_failed"], 0);
    let text = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "kick and closed, not connected: {text}");
    for (line, event) in lines.iter().zip(["kick", "closed"]) {
        let (name, rest) = line.split_once(' ').unwrap();
        let (about, json) = rest.split_once(' ').unwrap();
        assert_eq!((name, about), (event, peer.as_str()), "{line}");
        let json: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            (json["event"].as_str(), json["peer"].as_str()),
            (Some(event), Some(peer.as_str()))
        );
    }
    serve.command("quit");
    assert!(serve.wait_exit().success());
    let _ = std::fs::remove_file(record);
}

#[test]
fn a_hook_that_hangs_or_fails_is_reported_and_the_server_goes_on() {
    for (hook, expected) in [
        (
            "sleep 30",
            "it ran past the hook timeout (300ms) and was killed",
        ),
        ("exit 3", "it exited with 3"),
    ] {
        let log = temp("hook-fails");
        let mut serve = serve_with_hook(
            hook,
            &["--hook-timeout", "300ms", "--hook-events", "connected"],
            &log,
        );
        let mut client = RawClient::connect(serve.addr);
        client.send(&common::heartbeat(6));
        serve.wait_for("stats", |l| l["hooks_failed"] == 1);
        // The server went on: the client is alive and heard.
        serve.wait_for_client(client.local, |c| c["status"] == "alive");
        serve.command("quit");
        assert!(serve.wait_exit().success());
        let stderr = std::fs::read_to_string(&log).unwrap();
        assert!(
            stderr.contains(&format!(
                "the hook for connected {} failed: {expected}",
                client.local
            )),
            "{} {expected}: {stderr}",
            client.local
        );
    }
    let output = hbmon()
        .args([
            "serve",
            "--on-event",
            "true",
            "--hook-events",
            "status,nope",
            "--check",
        ])
        .output()
        .unwrap();
    // Refused by the flag's parser, as every bad flag is: a usage error.
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("'--hook-events <HOOK_EVENTS>': 'nope' is not an event"),
        "{stderr}"
    );
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_every_process_it_started() {
    let started = temp("hook-group-pids");
    let log = temp("hook-group-log");
    // Two children: one ends on TERM, the other ignores it and needs KILL.
    // The hook waits for them, as a script that runs a pipeline would.
    let hook = format!(
        "sleep 1001 & echo $! >> {0}; (trap '' TERM; exec sleep 1001) & echo $! >> {0}; wait",
        started.display()
    );
    let mut serve = serve_with_hook(
        &hook,
        &["--hook-timeout", "2s", "--hook-events", "kick"],
        &log,
    );
    let bystanders = Bystanders::join(&mut serve, 700_000);
    let mut client = RawClient::connect(serve.addr);
    client.send(&common::heartbeat(7));
    serve.wait_for_client(client.local, |c| c["pid"] == 7);
    serve.command(&format!("kick {}", client.local));
    let children = wait_for_pids(&started, 2);
    serve.wait_for("stats", |l| l["hooks_failed"] == 1);
    assert_all_gone(&children, "1001");
    bystanders.assert_undisturbed(&mut serve);
    serve.command("quit");
    assert!(serve.wait_exit().success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    let reported = format!(
        "the hook for kick {} failed: it ran past the hook timeout (2s) and was killed",
        client.local
    );
    assert!(stderr.contains(&reported), "{stderr}");
    let _ = std::fs::remove_file(started);
}

#[test]
fn sigterm_stops_serve_within_10s_with_hooks_hanging_and_queued() {
    let started = temp("hook-stop-pids");
    let log = temp("hook-stop-log");
    // Hooks that ignore TERM and would run for hours: two run, the other
    // 198 bystanders' `connected` events wait in the queue.
    let hook = format!(
        "trap '' TERM; sleep 1002 & echo $! >> {}; wait",
        started.display()
    );
    let mut serve = serve_with_hook(
        &hook,
        &[
            "--hook-timeout",
            "10m",
            "--hook-events",
            "connected",
            "--hook-concurrency",
            "2",
        ],
        &log,
    );
    let bystanders = Bystanders::join(&mut serve, 710_000);
    let running = wait_for_pids(&started, 2);
    bystanders.assert_undisturbed(&mut serve);
    let signalled = Instant::now();
    serve.signal("TERM");
    let status = serve.wait_exit();
    let took = signalled.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(10),
        "serve took {took:?} to stop"
    );
    assert_eq!(
        pids(&started),
        running,
        "no queued hook started at the stop"
    );
    assert_all_gone(&running, "1002");
    let stderr = std::fs::read_to_string(&log).unwrap();
    for said in [
        "198 queued hooks were dropped",
        "2 running hooks were killed",
    ] {
        assert!(stderr.contains(said), "{said}: {stderr}");
    }
    let _ = std::fs::remove_file(started);
}

#[test]
fn a_printed_config_keeps_every_hook_event_and_runs_them_all() {
    let record = temp("hook-config-record");
    let log = temp("hook-config-log");
    let hook = format!("echo \"$HBMON_EVENT\" >> {}", record.display());
    let print = |args: &[&str]| {
        let output = hbmon()
            .args(["serve", "--print-config"])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let printed = print(&[
        "--listen",
        "127.0.0.1:0",
        "--on-event",
        &hook,
        "--hook-events",
        "kick,closed",
        "--hook-concurrency",
        "1",
    ]);
    let table: toml::Table = printed.parse().unwrap();
    let events = toml::Value::Array(vec!["kick".into(), "closed".into()]);
    assert_eq!(table["hook-events"], events, "{printed}");
    let file = temp("hook-config").with_extension("toml");
    std::fs::write(&file, &printed).unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(print(&["--config", file]), printed, "reads back the same");
    // The saved file runs the hook for both events.
    let mut serve = Serve::launch(
        common::serve_command()
            .args(["--config", file, "--stats-every", "100ms"])
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    let mut client = RawClient::connect(serve.addr);
    client.send(&common::heartbeat(8));
    serve.wait_for_client(client.local, |c| c["pid"] == 8);
    serve.command(&format!("kick {}", client.local));
    assert_eq!(client.expect_closed(), "kicked by operator");
    serve.wait_for("stats", |l| l["hooks_run"].as_u64() >= Some(2));
    serve.command("quit");
    assert!(serve.wait_exit().success());
    let ran = std::fs::read_to_string(&record).unwrap();
    assert_eq!(ran.lines().collect::<Vec<_>>(), ["kick", "closed"], "{ran}");
    let _ = std::fs::remove_file(record);
}

#[test]
fn check_refuses_an_unknown_hook_event_even_with_the_hook_turned_off() {
    let file = temp("hook-events-typo").with_extension("toml");
    std::fs::write(&file, "hook-events = [\"kick\", \"closd\"]\n").unwrap();
    let output = hbmon()
        .args(["serve", "--check", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 1: `hook-events`") && stderr.contains("'closd' is not an event"),
        "{stderr}"
    );
}
