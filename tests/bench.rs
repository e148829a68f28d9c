//! `hbmon bench` end to end at a small size: every scenario runs and reports
//! the fields scripts compare across versions, with sane values.

mod common;

use common::hbmon;
use serde_json::Value;

#[test]
fn bench_reports_every_scenario_with_the_documented_fields() {
    let output = hbmon()
        .args([
            "bench",
            "--clients",
            "300",
            "--duration",
            "2s",
            "--flood-clients",
            "10",
        ])
        .args(["--detect-clients", "20", "--kicks", "20"])
        .args(["--jitter-clients", "40", "--jitter-gap", "100ms"])
        .args(["--viewer-clients", "300", "--viewers", "2"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    hold_and_floor(&report);
    flood(&report);
    detect_and_jitter(&report);
    kick_render_and_viewers(&report);
    publish_and_machine(&report);
}

#[test]
fn bench_rejects_an_unknown_scenario() {
    let output = hbmon()
        .args(["bench", "--only", "hold,warp"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "unknown scenario 'warp' (scenarios: floor, hold, flood, detect, kick, render, jitter, viewers)"
        ),
        "{stderr}"
    );
}

/// `report[scenario][field]` as a number; a missing one fails the test
/// with the whole report.
fn numbers(report: &Value) -> impl Fn(&str, &str) -> f64 + '_ {
    move |scenario: &str, field: &str| -> f64 {
        report[scenario][field]
            .as_f64()
            .unwrap_or_else(|| panic!("{scenario}.{field} missing: {report:#}"))
    }
}

/// `hold` holds its clients alive, and the floor ran first.
fn hold_and_floor(report: &Value) {
    let number = numbers(report);
    assert_eq!(number("hold", "clients"), 300.0);
    assert_eq!(number("hold", "false_leave"), 0.0, "{report:#}");
    assert!(number("hold", "server_cpu_share") > 0.0);
    assert!(number("hold", "rss_bytes_per_client") > 0.0);
    assert!(
        number("hold", "heartbeats_per_s") > 150.0,
        "300 clients at 1 Hz: {report:#}"
    );

    // The floor ran first: hold and flood say how far they are from it.
    assert_eq!(report["floor"]["hold"]["clients"], 300, "{report:#}");
    assert!(report["floor"]["flood"]["heartbeats_per_s"].as_f64() > Some(1000.0));
    assert!(report["hold"]["floor_ratio"]["cpu_per_heartbeat"].as_f64() > Some(0.0));
    assert!(report["hold"]["floor_ratio"]["rss_per_client"].is_number());
    assert!(
        report["flood"]["floor_ratio"].as_f64() > Some(0.0),
        "{report:#}"
    );
}

/// Both floods: fast, and no frame bad.
fn flood(report: &Value) {
    let number = numbers(report);
    assert_eq!(number("flood", "clients"), 10.0);
    assert!(number("flood", "heartbeats_per_s") > 1000.0, "{report:#}");
    assert_eq!(number("flood", "bad_frames"), 0.0);
    // The second flood numbers its heartbeats: each is parsed, none is bad.
    let numbered = &report["flood"]["numbered"];
    assert!(
        numbered["heartbeats_per_s"].as_f64() > Some(1000.0),
        "{report:#}"
    );
    assert_eq!(numbered["bad_frames"], 0, "{report:#}");
    assert!(numbered["floor_ratio"].as_f64() > Some(0.0), "{report:#}");
    assert!(report["floor"]["flood_seq"]["heartbeats_per_s"].as_f64() > Some(1000.0));
}

/// Silence is detected when the rules say, by both detectors.
fn detect_and_jitter(report: &Value) {
    let number = numbers(report);
    let expected = number("detect", "expected_leave_ms");
    let tick = number("detect", "tick_ms");
    assert_eq!((expected, tick), (1500.0, 100.0));
    let leave = number("detect", "leave_p50_ms");
    assert!(
        leave >= expected - tick && leave <= expected + 3.0 * tick,
        "leave p50 {leave} ms: {report:#}"
    );
    assert!(number("detect", "close_p99_ms") >= number("detect", "expected_close_ms") - tick);

    for detector in ["counter", "phi"] {
        for group in ["regular", "jittery"] {
            let verdict = &report["jitter"][detector][group];
            assert_eq!(verdict["stopped"], 2, "{report:#}");
            assert_eq!(verdict["undetected"], 0, "{report:#}");
            assert!(verdict["detect_p50_ms"].as_f64() > Some(0.0), "{report:#}");
        }
    }
    // Regular clients at 10 Hz: the counter needs 15 silent ticks; phi,
    // with its spread floored at 100 ms, about 7.
    assert!(
        report["jitter"]["phi"]["regular"]["detect_p50_ms"].as_f64()
            < report["jitter"]["counter"]["regular"]["detect_p50_ms"].as_f64(),
        "{report:#}"
    );
}

/// Kicks are quick, rendering is timed, viewers keep up.
fn kick_render_and_viewers(report: &Value) {
    let number = numbers(report);
    assert!(number("kick", "p50_ms") <= number("kick", "p99_ms"));
    assert!(number("kick", "p99_ms") < 1000.0, "{report:#}");

    for field in ["rows_1000_ms", "rows_10000_ms", "rows_100000_ms"] {
        assert!(number("render", field) > 0.0, "{field}: {report:#}");
    }
    assert_eq!(number("viewers", "clients"), 300.0);
    assert_eq!(number("viewers", "viewers"), 2.0);
    assert_eq!(number("viewers", "false_leave"), 0.0, "{report:#}");
    assert!(
        number("viewers", "full_frame_bytes") > 300.0 * 20.0,
        "{report:#}"
    );
    assert!(
        number("viewers", "bytes_per_s_per_viewer") > 0.0,
        "{report:#}"
    );
    assert!(
        number("viewers", "frames_per_s_per_viewer") > 0.5,
        "{report:#}"
    );
    let behind = &report["viewers"]["behind"];
    assert!(behind["p99_ms"].as_f64() < Some(1000.0), "{report:#}");
    assert!(number("viewers", "metrics_bytes") > 1000.0, "{report:#}");
}

/// The registry's own publish timings, a list round trip, the machine.
fn publish_and_machine(report: &Value) {
    // Timed by the registry itself: a publish of 300 rows is far under 100 ms,
    // and its CPU time is no more than its wall time (and a clock read's
    // tail: the CPU clock is read just outside the publish).
    for scenario in ["hold", "viewers"] {
        let publish = &report[scenario]["publish"];
        assert!(publish["p50_ms"].as_f64() > Some(0.0), "{report:#}");
        assert!(publish["max_ms"].as_f64() < Some(100.0), "{report:#}");
        let cpu = &report[scenario]["publish_cpu"];
        assert!(cpu["p50_ms"].as_f64() > Some(0.0), "{report:#}");
        let within = |q: &str| {
            let (cpu, wall) = (cpu[q].as_f64(), publish[q].as_f64());
            cpu.zip(wall).is_some_and(|(cpu, wall)| cpu <= wall + 0.05)
        };
        assert!(within("p50_ms") && within("max_ms"), "{report:#}");
    }
    assert!(report["viewers"]["list_round_trip"]["p50_ms"].as_f64() > Some(0.0));
    assert_eq!(
        report["machine"]["cores"].as_u64().map(|c| c > 0),
        Some(true)
    );
}
