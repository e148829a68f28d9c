//! A real Prometheus (the Debian package `prometheus`; `.ci/run` installs it)
//! scrapes two hbmon servers, and its own query API must add their clients
//! up right. It also loads the alerting rules shipped in `assets/`.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Beater, PATIENCE, Serve, temp};
use serde_json::Value;

/// Prometheus on a free loopback port, scraping `targets` every second.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(targets: &[&str]) -> Prometheus {
        let dir = temp("prometheus");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rules = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/prometheus/hbmon-rules.yml"
        );
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{rules}']\nscrape_configs:\n  - job_name: hbmon\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).unwrap();
        // A free port: bound, read, released (Prometheus binds it next).
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("running prometheus (apt-get install prometheus; .ci/run installs it)");
        Prometheus { child, addr }
    }

    /// Prometheus' own answer to `GET path`, once it answers at all.
    fn get(&self, path: &str) -> Option<Value> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut response = agent
            .get(format!("http://{}{path}", self.addr))
            .call()
            .ok()?;
        serde_json::from_str(&response.body_mut().read_to_string().ok()?).ok()
    }

    /// The value of an instant query, when it has exactly one.
    fn scalar(&self, query: &str) -> Option<f64> {
        let answer = self.get(&format!("/api/v1/query?query={}", encode(query)))?;
        let result = answer["data"]["result"].as_array()?;
        match result.as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Waits until `query` reads `want`; panics with the last reading.
    fn wait_for(&self, query: &str, want: f64) {
        let deadline = Instant::now() + 3 * PATIENCE;
        loop {
            let got = self.scalar(query);
            if got == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{query} reads {got:?}, not {want}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query for a URL.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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
