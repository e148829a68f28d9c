//! A real Prometheus (the Debian package `prometheus`; `.ci/run` installs it)
//! scrapes two hbmon servers, and its own query API must add their clients
//! up right. It also loads the alerting rules shipped in `assets/`.

mod common;

use std::time::Duration;

use common::prometheus::Prometheus;
use common::{Beater, Serve};

fn heard(serve: &mut Serve, pids: std::ops::Range<u32>) -> Vec<Beater> {
    let n = pids.len();
    let beaters = pids
        .map(|pid| Beater::start(serve.addr, pid, Duration::from_millis(100)))
        .collect();
    serve.wait_for_clients("all heard", |c| {
        c.len() == n && c.iter().all(|c| c["pid"].is_u64())
    });
    beaters
}

#[test]
fn prometheus_sums_the_clients_of_two_servers() {
    let mut first = Serve::plain();
    let mut second = Serve::plain();
    let _a = heard(&mut first, 100..103);
    let _b = heard(&mut second, 200..202);
    let targets = [first.admin.clone().unwrap(), second.admin.clone().unwrap()];
    let prometheus = Prometheus::start(&[&targets[0], &targets[1]]);

    prometheus.wait_for("count(up{job=\"hbmon\"} == 1)", 2.0);
    prometheus.wait_for("sum(hbmon_clients)", 5.0);
    prometheus.wait_for("sum(hbmon_clients{status=\"alive\"})", 5.0);
    prometheus.wait_for("count(hbmon_build_info)", 2.0);

    // The shipped alerting rules loaded, and are healthy.
    let rules = prometheus.get("/api/v1/rules").expect("the rules API");
    let loaded: Vec<&str> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .expect("the hbmon rule group")
        .iter()
        .filter(|r| r["health"] == "ok" || r["health"] == "unknown")
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        loaded,
        ["HbmonClientsInLeave", "HbmonFleetSilent"],
        "{rules}"
    );
}
