//! `hbmon bench detectors` and `serve --record-gaps`, end to end: the
//! replay prints its table and JSON, a real fleet's gaps are recorded over
//! loopback and replayed, a bad trace is refused with its line, and the
//! recording stops whole at its cap.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Beater, PATIENCE, Serve, hbmon, temp};
use serde_json::Value;

const TRACES: [&str; 7] = [
    "regular-1%",
    "regular-10%",
    "jittery-30%",
    "bursty",
    "gc-pause",
    "stopped",
    "blink",
];

/// Runs `hbmon bench detectors` with `args`; its stdout, or the test fails
/// with its stderr.
fn detectors(args: &[&str]) -> String {
    let output = hbmon()
        .args(["bench", "detectors"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench detectors failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// The rows of a JSON report.
fn rows(report: &str) -> Vec<Value> {
    let report: Value = serde_json::from_str(report).expect("one JSON object");
    report["rows"].as_array().expect("rows").clone()
}

fn row<'a>(rows: &'a [Value], trace: &str, detector: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["trace"] == trace && r["detector"] == detector)
        .unwrap_or_else(|| panic!("no row for {trace} / {detector}"))
}

#[test]
fn the_replay_prints_a_table_and_json_of_every_trace_through_every_detector() {
    let small = ["--replay-clients", "10", "--replay-duration", "10m"];
    let started = Instant::now();
    let table = detectors(&small);
    assert!(started.elapsed() < PATIENCE, "{:?}", started.elapsed());
    assert!(
        table.starts_with("hbmon bench detectors: tick 1000 ms"),
        "{table}"
    );
    for name in TRACES.iter().chain(&["counter", "phi 8 pause 2000ms"]) {
        assert!(table.contains(name), "{name} missing:\n{table}");
    }

    let json = detectors(&[&small[..], &["--format", "json"]].concat());
    let rows = rows(&json);
    assert_eq!(rows.len(), TRACES.len() * 8, "{json}");
    for trace in TRACES {
        // The counter never raises a false alarm on these traces, and
        // neither does phi granted a pause of two gaps.
        for detector in ["counter", "phi 8 pause 2000ms"] {
            assert_eq!(
                row(&rows, trace, detector)["false_leave"],
                0,
                "{trace} {detector}"
            );
        }
    }
    // Phi alone mistakes a 3-gap pause for a stop; the pause forgives it.
    assert_eq!(row(&rows, "gc-pause", "phi 8")["false_leave"], 10);
    let stopped = |detector| {
        row(&rows, "stopped", detector)["leave_p99_s"]
            .as_f64()
            .unwrap()
    };
    assert!(stopped("phi 8 pause 2000ms") < 5.0, "{json}");
    assert!(stopped("counter") > 15.0, "{json}");
}

/// Waits until `path` holds at least `each` gap lines for every one of
/// `peers`; the lines read.
fn wait_for_gaps(path: &Path, peers: &[SocketAddr], each: usize) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON gap line"))
            .collect();
        let count = |peer: &SocketAddr| {
            let peer = peer.to_string();
            lines.iter().filter(|l| l["peer"] == *peer).count()
        };
        if peers.iter().all(|p| count(p) >= each) {
            return lines;
        }
        assert!(Instant::now() < deadline, "gaps recorded: {lines:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn gaps_recorded_from_a_real_fleet_are_replayed_through_every_detector() {
    let path = temp("recorded-gaps");
    let path_text = path.to_str().unwrap();
    let mut serve = Serve::start(&["--tick", "50ms", "--record-gaps", path_text]);
    let beaters: Vec<Beater> = (0..3)
        .map(|i| Beater::start(serve.addr, 7100 + i, Duration::from_millis(50)))
        .collect();
    let peers: Vec<SocketAddr> = beaters.iter().map(|b| b.local).collect();
    let lines = wait_for_gaps(&path, &peers, 20);
    for line in &lines {
        assert_eq!(line["ip"], "127.0.0.1", "{line}");
        let pid = line["pid"].as_u64().unwrap();
        assert!((7100..7103).contains(&pid), "{line}");
        let gap = line["gap_ms"].as_u64().unwrap();
        assert!((1..2000).contains(&gap), "{line}");
    }
    drop(beaters);
    serve.signal("TERM");
    assert!(serve.wait_exit().success());

    let json = detectors(&[
        "--trace",
        path_text,
        "--replay-tick",
        "50ms",
        "--format",
        "json",
    ]);
    let rows = rows(&json);
    assert_eq!(rows.len(), 8, "{json}");
    for row in &rows {
        assert_eq!(row["trace"], path_text, "{row}");
        assert_eq!(
            (row["clients"].as_u64(), row["stopped"].as_u64()),
            (Some(3), Some(3))
        );
        // Each recorded client stops after its last gap, and every detector
        // sends it to leave and closes it.
        assert_eq!(row["undetected"], 0, "{row}");
        assert!(
            row["close_p99_s"].as_f64() > row["leave_p99_s"].as_f64(),
            "{row}"
        );
    }
    let table = detectors(&["--trace", path_text, "--replay-tick", "50ms"]);
    assert_eq!(
        table.lines().filter(|l| l.starts_with(path_text)).count(),
        8,
        "{table}"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_bad_trace_file_is_refused_with_the_line_and_what_is_wrong() {
    let path = temp("bad-trace");
    let good = r#"{"peer":"127.0.0.1:5000","ip":"127.0.0.1","pid":1,"gap_ms":1000}"#;
    std::fs::write(
        &path,
        format!("{good}\n{good}\n{{\"peer\":\"127.0.0.1:5000\"}}\n"),
    )
    .unwrap();
    let output = hbmon()
        .args(["bench", "detectors", "--trace", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("{} line 3: not a gap line like", path.display());
    assert!(stderr.contains(&expected), "{stderr}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_gap_file_never_grows_past_its_cap_and_ends_on_a_whole_line() {
    const CAP: u64 = 1 << 20;
    let path = temp("capped-gaps");
    // Nearly full already: what is in the file counts.
    let filler = r#"{"peer":"127.0.0.1:1","ip":"127.0.0.1","pid":1,"gap_ms":1000}"#;
    let room = 3 * 70;
    let count = (CAP as usize - room) / (filler.len() + 1);
    std::fs::write(&path, format!("{filler}\n").repeat(count)).unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    let args = ["--tick", "20ms", "--record-gaps-max", "1", "--record-gaps"];
    let mut serve = Serve::start(&[&args[..], &[path.to_str().unwrap()]].concat());
    let beater = Beater::start(serve.addr, 7200, Duration::from_millis(10));
    // Far more heartbeats than the room left has lines for.
    serve.wait_for_client(beater.local, |c| c["heartbeats"].as_u64() >= Some(100));
    drop(beater);
    serve.signal("TERM");
    assert!(serve.wait_exit().success());
    let text = std::fs::read_to_string(&path).unwrap();
    let after = text.len() as u64;
    assert!(after > before, "some gaps were recorded");
    assert!(after <= CAP, "{after} bytes, past the cap");
    assert!(text.ends_with('\n'));
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_replay_too_long_to_finish_in_seconds_is_refused_with_the_limit() {
    let output = hbmon()
        .args(["bench", "detectors", "--replay-tick", "1ms"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "regular-1%: 100 clients over 1h at a 1ms tick is 360000000 judgements a setting; at most 100000000"
        ),
        "{stderr}"
    );
}
