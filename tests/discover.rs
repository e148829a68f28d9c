//! Servers found by a real Prometheus (`hbmon::remote::discover`, what
//! `hbmon top --discover` follows): the servers in its file-based service
//! discovery are found, named by their `instance` label and reached at
//! their operator API, and one added to the file is found without
//! restarting anything.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::prometheus::Prometheus;
use common::tmux::Tmux;
use common::{PATIENCE, Serve};
use hbmon::endpoint::Endpoint;
use hbmon::remote::discover::{self, Discovered, Target};

/// `hbmon serve --no-tui` with its operator API on a free port.
fn server() -> Serve {
    Serve::start(&["--admin", "127.0.0.1:0"])
}

/// Writes the file-based discovery file: each server a target group of
/// its own, with its `instance` label. Written whole, then renamed, so
/// Prometheus never reads half of it.
fn write_targets(file: &Path, servers: &[(&str, &Serve)]) {
    let groups: Vec<serde_json::Value> = servers
        .iter()
        .map(|(name, serve)| {
            serde_json::json!({"targets": [serve.admin.clone().unwrap()], "labels": {"instance": name}})
        })
        .collect();
    let partial = file.with_extension("partial");
    std::fs::write(&partial, serde_json::to_string(&groups).unwrap()).unwrap();
    std::fs::rename(&partial, file).unwrap();
}

/// Prometheus' configuration: job `hbmon` from the discovery `file`
/// (read again every second), and a job of another name beside it.
fn scrape(file: &Path) -> String {
    format!(
        "scrape_configs:\n  - job_name: hbmon\n    file_sd_configs:\n      - files: ['{}']\n        refresh_interval: 1s\n  - job_name: other\n    static_configs:\n      - targets: ['127.0.0.1:9']\n",
        file.display()
    )
}

fn target(name: &str, serve: &Serve) -> Target {
    Target {
        name: name.to_owned(),
        connect: Endpoint::Tcp(serve.admin.as_deref().unwrap().parse().unwrap()),
    }
}

#[test]
fn servers_in_prometheus_are_found_by_instance_and_a_new_one_appears_on_its_own() {
    let (alpha, beta, gamma) = (server(), server(), server());
    let dir = Prometheus::dir();
    let file = dir.join("hbmon-targets.json");
    write_targets(&file, &[("alpha", &alpha), ("beta", &beta)]);
    let prometheus = Prometheus::with(&scrape(&file), &dir);
    let url: discover::Prometheus = format!("http://{}", prometheus.addr).parse().unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // Prometheus takes a moment to answer at all.
        let deadline = Instant::now() + PATIENCE;
        while discover::targets(&url, "hbmon").await.is_err() {
            assert!(Instant::now() < deadline, "Prometheus never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let every = Duration::from_millis(200);
        let mut followed = discover::follow(url.clone(), "hbmon".into(), every)
            .await
            .unwrap();
        let both = [target("alpha", &alpha), target("beta", &beta)];
        let found = wait_until(&mut followed, |d| d.targets == both).await;
        assert!(
            found.left_out.is_empty() && found.trouble.is_none(),
            "{found:?}"
        );

        write_targets(
            &file,
            &[("alpha", &alpha), ("beta", &beta), ("gamma", &gamma)],
        );
        let all = [both[0].clone(), both[1].clone(), target("gamma", &gamma)];
        wait_until(&mut followed, |d| d.targets == all).await;

        let error = discover::targets(&url, "").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "the job name must be 1 to 256 bytes, not 0"
        );
    });
}

/// Waits until what `followed` found satisfies `pred`.
async fn wait_until(
    followed: &mut tokio::sync::watch::Receiver<Discovered>,
    pred: impl Fn(&Discovered) -> bool,
) -> Discovered {
    let found = tokio::time::timeout(3 * PATIENCE, followed.wait_for(|d| pred(d)))
        .await
        .map(|found| found.map(|d| d.clone()));
    match found {
        Ok(found) => found.unwrap(),
        Err(_) => panic!("never found; last: {:?}", *followed.borrow()),
    }
}

#[test]
fn top_discover_watches_the_servers_prometheus_scrapes_and_one_added_later() {
    let (alpha, beta, gamma) = (server(), server(), server());
    let dir = Prometheus::dir();
    let file = dir.join("hbmon-targets.json");
    write_targets(&file, &[("alpha", &alpha), ("beta", &beta)]);
    let prometheus = Prometheus::with(&scrape(&file), &dir);
    let deadline = Instant::now() + PATIENCE;
    while prometheus.get("/api/v1/targets").is_none() {
        assert!(Instant::now() < deadline, "Prometheus never answered");
        std::thread::sleep(Duration::from_millis(100));
    }

    let command = format!(
        "{} top --discover http://{} --discover-every 300ms",
        env!("CARGO_BIN_EXE_hbmon"),
        prometheus.addr
    );
    let tmux = Tmux::start(&command, 160, 40);
    let screen = tmux.wait_for("both servers found and followed", |s| {
        s.contains("2/2 servers") && s.contains("alpha") && s.contains("beta")
    });
    assert!(!screen.contains("gamma"), "{screen}");

    // A server added to what Prometheus scrapes: followed without a restart.
    write_targets(
        &file,
        &[("alpha", &alpha), ("beta", &beta), ("gamma", &gamma)],
    );
    tmux.wait_for("the third server found", |s| {
        s.contains("3/3 servers") && s.contains("gamma")
    });
}
