//! A real Prometheus (the Debian package `prometheus`; `.ci/run` installs
//! it) on a free loopback port, and its query API.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{PATIENCE, temp};

/// Prometheus on a free loopback port, scraping `targets` every second.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
}

impl Prometheus {
    /// Scraping the static `targets` as job `hbmon`, with the shipped rules.
    pub fn start(targets: &[&str]) -> Prometheus {
        let rules = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/prometheus/hbmon-rules.yml"
        );
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let scrape = format!(
            "rule_files: ['{rules}']\nscrape_configs:\n  - job_name: hbmon\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        Prometheus::with(&scrape, &Prometheus::dir())
    }

    /// A fresh directory for a Prometheus's config and data, one of its
    /// own for each Prometheus a test process starts.
    pub fn dir() -> PathBuf {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = temp(&format!("prometheus-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Scraping and evaluating every second, with `scrape` (rule files
    /// and scrape configs, as YAML) for the rest, kept in `dir`.
    pub fn with(scrape: &str, dir: &Path) -> Prometheus {
        let config = format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{scrape}");
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
    pub fn get(&self, path: &str) -> Option<Value> {
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
    pub fn scalar(&self, query: &str) -> Option<f64> {
        let answer = self.get(&format!("/api/v1/query?query={}", encode(query)))?;
        let result = answer["data"]["result"].as_array()?;
        match result.as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Waits until `query` reads `want`; panics with the last reading.
    pub fn wait_for(&self, query: &str, want: f64) {
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
