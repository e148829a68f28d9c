//! The heartbeat token: the first heartbeat must carry it, `client` and
//! `simulate` send it, an empty token file is refused.

mod common;

use common::timeline::HEALTHY_EVERY;
use common::{Beater, RawClient, Serve, frame, heartbeat};
use serde_json::{Value, json};

#[test]
fn with_a_token_the_first_heartbeat_must_carry_it() {
    let secret = "correct horse battery staple";
    let mut serve = Serve::launch(common::serve_command().env("HBMON_TOKEN", secret));
    let with_token = |token: &str| {
        frame(
            json!({"ip": "127.0.0.1", "status": "alive", "pid": 8, "token": token})
                .to_string()
                .as_bytes(),
        )
    };

    let mut without = RawClient::connect(serve.addr);
    without.send(&heartbeat(8));
    assert_eq!(without.expect_closed(), "unauthorized");
    let closed = serve.wait_for_peer("closed", without.local);
    assert_eq!(
        (closed["status"].as_str(), closed["reason"].as_str()),
        (Some("close"), Some("unauthorized"))
    );

    let mut wrong = RawClient::connect(serve.addr);
    wrong.send(&with_token("correct horse battery stapl3"));
    assert_eq!(wrong.expect_closed(), "unauthorized");

    // The right token once; later heartbeats need not repeat it.
    let mut right = RawClient::connect(serve.addr);
    right.send(&with_token(secret));
    let resumed = Beater::over(right, 8, HEALTHY_EVERY);
    let listed = serve.wait_for_client(resumed.local, |c| c["heartbeats"].as_u64() >= Some(3));
    assert_eq!(listed["status"], "alive");

    let all: String = serve.seen.iter().map(|l| l.to_string()).collect();
    assert!(
        !all.contains("battery"),
        "the secret leaked into the event stream"
    );
}

#[test]
fn client_and_simulate_send_the_token_and_an_empty_token_is_refused() {
    let dir = std::env::temp_dir().join(format!("hbmon-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "t0k3n\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let mut serve = Serve::start(&["--token-file", file_arg]);
    let addr = serve.addr.to_string();

    let mut client = common::hbmon()
        .args([
            "client",
            "--server",
            &addr,
            "--interval",
            "50ms",
            "--pid",
            "71",
        ])
        .env("HBMON_TOKEN", "t0k3n")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let fleet = common::hbmon()
        .args([
            "simulate",
            "--server",
            &addr,
            "--clients",
            "3",
            "--every",
            "0",
            "--interval",
            "50ms",
        ])
        .args([
            "--mix",
            "steady=1",
            "--pid-base",
            "500",
            "--duration",
            "1s",
            "--format",
            "json",
            "--token-file",
            file_arg,
        ])
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&fleet.stdout).unwrap();
    assert_eq!(
        (
            summary["joined"].as_u64(),
            summary["closed_by_server"].as_u64()
        ),
        (Some(3), Some(0)),
        "{summary}"
    );
    serve.wait_for_clients("hbmon client alive with its token", |clients| {
        clients
            .iter()
            .any(|c| c["pid"] == 71 && c["heartbeats"].as_u64() >= Some(2))
    });
    assert!(
        !serve.seen.iter().any(|l| l["reason"] == "unauthorized"),
        "{:#?}",
        serve.seen
    );
    client.kill().unwrap();
    client.wait().unwrap();

    serve_refuses_an_empty_token_file(&file);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `serve` with a token file holding only blanks exits 1 and names the file.
fn serve_refuses_an_empty_token_file(file: &std::path::Path) {
    std::fs::write(file, "  \n").unwrap();
    let output = common::hbmon()
        .args([
            "serve",
            "--no-tui",
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("the token file {} is empty", file.display())),
        "{stderr}"
    );
}
