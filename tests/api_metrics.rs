//! `/metrics` end to end: what the operator API counts, read as
//! Prometheus reads it.

mod common;

use std::time::{Duration, Instant};

use common::http::{agent, answer, beaters, get, url};
use common::{PATIENCE, RawClient, Serve};

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
