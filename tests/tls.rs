//! TLS on the heartbeat port and the operator API, end to end: the real
//! binary with certificates made at test time, real `hbmon client`,
//! `hbmon top` and Python clients.

mod common;

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::certs::{self, Ca, Pair};
use common::http;
use common::tmux::Tmux;
use common::{Beater, RawClient, Serve, hbmon, heartbeat};
use serde_json::Value;

/// `hbmon serve` with TLS from `pair`, the API in clear (so the tests read
/// `/metrics` with a plain HTTP agent), and `args`.
fn serve_tls(pair: &Pair, args: &[&str]) -> Serve {
    let mut all = vec!["--tls-cert", pair.cert(), "--tls-key", pair.key()];
    all.extend(["--admin-tls", "off", "--tick", "100ms"]);
    all.extend(args);
    Serve::start(&all)
}

/// `hbmon client` as pid `pid`, heartbeating every 50 ms, with `args`;
/// its stdout lines to read.
fn client(serve: &Serve, pid: u32, args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = spawn_client(serve, pid, args);
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

fn spawn_client(serve: &Serve, pid: u32, args: &[&str]) -> Child {
    hbmon()
        .args(["client", "--server", &serve.addr.to_string()])
        .args(["--interval", "50ms", "--pid", &pid.to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What a client the server refused said, once it exited: an error (1)
/// when it could tell in its handshake, or a lost connection (3) when the
/// refusal came after (TLS 1.3 checks a client's certificate after the
/// client's side of the handshake is done).
fn refused(child: Child) -> String {
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        matches!(output.status.code(), Some(1 | 3)),
        "the client should be refused: {said}"
    );
    said
}

/// The live client with this pid, once it is alive and heard.
fn alive(serve: &mut Serve, pid: u32) -> Value {
    let clients = serve.wait_for_clients(&format!("pid {pid} alive"), |clients| {
        clients
            .iter()
            .any(|c| c["pid"] == pid && c["heartbeats"].as_u64() >= Some(2))
    });
    clients.into_iter().find(|c| c["pid"] == pid).unwrap()
}

/// `hbmon_tls_handshake_failures_total{cause}` from `/metrics`.
pub fn failures(serve: &Serve, cause: &str) -> u64 {
    metric(
        serve,
        &format!("hbmon_tls_handshake_failures_total{{cause=\"{cause}\"}}"),
    )
}

fn metric(serve: &Serve, name: &str) -> u64 {
    let text = http::get(serve, "/metrics").body;
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

#[test]
fn optional_mode_serves_a_tls_client_and_a_plaintext_one_on_the_same_port() {
    let ca = Ca::new("optional");
    let mut serve = serve_tls(&ca.server("server"), &["--tls-mode", "optional"]);
    let (mut tls, mut said) = client(&serve, 701, &["--tls", "--ca", ca.ca()]);
    let plain = Beater::start(serve.addr, 702, Duration::from_millis(50));
    let first = said.next().unwrap().unwrap();
    assert!(first.contains("over TLS"), "{first}");
    let over_tls = alive(&mut serve, 701);
    let in_clear = alive(&mut serve, 702);
    assert_eq!(
        (over_tls["status"].as_str(), in_clear["status"].as_str()),
        (Some("alive"), Some("alive"))
    );
    assert_eq!(failures(&serve, "plaintext"), 0);
    tls.kill().unwrap();
    drop(plain);
}

#[test]
fn required_mode_closes_a_plaintext_client_with_a_reason_it_can_read() {
    let ca = Ca::new("required");
    let mut serve = serve_tls(&ca.server("server"), &[]);
    let mut raw = RawClient::connect(serve.addr);
    raw.send(&heartbeat(703));
    let reason = raw.expect_closed();
    assert!(reason.contains("requires TLS"), "{reason}");
    let event = serve.wait_for("tls", |l| l["cause"] == "plaintext");
    assert_eq!(event["peer"], raw.local.to_string());
    assert_eq!(event["reason"], reason);
    assert_eq!(failures(&serve, "plaintext"), 1);
    assert!(serve.list().is_empty(), "a refused connection is no client");
}

#[test]
fn mutual_tls_admits_a_verified_client_without_the_token_and_refuses_an_untrusted_one() {
    let (ca, stranger) = (Ca::new("mutual"), Ca::new("stranger"));
    let token = common::temp("tls-token");
    std::fs::write(&token, "s3cret").unwrap();
    let mut serve = serve_tls(
        &ca.server("server"),
        &[
            "--client-ca",
            ca.ca(),
            "--token-file",
            token.to_str().unwrap(),
        ],
    );
    let trusted = ca.client("trusted", "worker-1.example");
    let ours = [
        "--tls",
        "--ca",
        ca.ca(),
        "--cert",
        trusted.cert(),
        "--key",
        trusted.key(),
    ];
    let (mut verified, _said) = client(&serve, 704, &ours);
    alive(&mut serve, 704);

    let untrusted = stranger.client("untrusted", "worker-2.example");
    let theirs = [
        "--tls",
        "--ca",
        ca.ca(),
        "--cert",
        untrusted.cert(),
        "--key",
        untrusted.key(),
    ];
    let intruder = spawn_client(&serve, 705, &theirs);
    let said = refused(intruder);
    assert!(said.contains("alert"), "{said}");
    let event = serve.wait_for("tls", |l| l["cause"] == "untrusted_certificate");
    assert!(
        event["reason"].as_str().unwrap().contains("UnknownIssuer"),
        "{event}"
    );
    assert_eq!(failures(&serve, "untrusted_certificate"), 1);

    // Without a certificate at all: refused too.
    let anonymous = spawn_client(&serve, 706, &["--tls", "--ca", ca.ca()]);
    refused(anonymous);
    serve.wait_for("tls", |l| l["cause"] == "no_certificate");
    verified.kill().unwrap();
}

#[test]
fn a_replaced_certificate_serves_the_next_connection_and_a_broken_one_leaves_it_in_force() {
    let (old, new) = (Ca::new("reload-old"), Ca::new("reload-new"));
    let live = old.server("live");
    let mut serve = serve_tls(&live, &[]);
    let (mut first, _) = client(&serve, 707, &["--tls", "--ca", old.ca()]);
    alive(&mut serve, 707);

    // An operator renews the pair: mv new files over the old.
    let renewed = new.server("renewed");
    certs::write(&live.key, &std::fs::read_to_string(&renewed.key).unwrap());
    certs::write(&live.cert, &std::fs::read_to_string(&renewed.cert).unwrap());
    serve.wait_for("tls", |l| l["cause"] == "reloaded");
    let (mut second, _) = client(&serve, 708, &["--tls", "--ca", new.ca()]);
    alive(&mut serve, 708);
    let stale = spawn_client(&serve, 709, &["--tls", "--ca", old.ca()]);
    refused(stale);
    // The connection made before the renewal keeps its session.
    assert_eq!(alive(&mut serve, 707)["status"], "alive");

    // A broken replacement: reported, counted, and the renewed pair stays.
    certs::write(&live.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n");
    let failed = serve.wait_for("tls", |l| l["cause"] == "reload_failed");
    let reason = failed["reason"].as_str().unwrap();
    assert!(reason.contains("previous pair stays in force"), "{reason}");
    assert!(reason.contains(live.cert()), "names the file: {reason}");
    let (mut third, _) = client(&serve, 710, &["--tls", "--ca", new.ca()]);
    alive(&mut serve, 710);
    let reloads = |outcome: &str| {
        metric(
            &serve,
            &format!("hbmon_tls_reloads_total{{outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!((reloads("loaded"), reloads("failed")), (1, 1));
    for child in [&mut first, &mut second, &mut third] {
        child.kill().unwrap();
    }
}

#[test]
fn top_attaches_over_https_and_kicks() {
    let ca = Ca::new("top");
    let pair = ca.server("server");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = listener.local_addr().unwrap().to_string();
    drop(listener);
    let mut serve = Serve::start(&[
        "--tls-cert",
        pair.cert(),
        "--tls-key",
        pair.key(),
        "--tls-mode",
        "optional",
        "--admin",
        &admin,
        "--tick",
        "100ms",
    ]);
    let kick = Beater::start(serve.addr, 711, Duration::from_millis(25));
    alive(&mut serve, 711);

    let binary = env!("CARGO_BIN_EXE_hbmon");
    let tmux = Tmux::start(
        &format!(
            "sh -c '{binary} top --connect https://{admin} --ca {}; echo top exited with $?'",
            ca.ca()
        ),
        120,
        30,
    );
    tmux.wait_for("the client", |s| s.contains(&kick.local.to_string()));
    tmux.keys("d");
    tmux.wait_for("the confirmation", |s| {
        s.contains(&format!("Kick {} (pid 711)?", kick.local))
    });
    tmux.keys("y");
    let mut kicked = kick.stop();
    assert_eq!(kicked.expect_closed(), "kicked by operator");
    assert_eq!(serve.wait_for("kick", |_| true)["by"], "api");
    tmux.keys("q");
    let history = tmux.wait_for_exit("top exited with");
    assert!(history.contains("top exited with 0"), "{history}");

    // The same API in clear is refused: it speaks only TLS.
    let stderr = top_once(&admin);
    assert!(stderr.contains(&admin), "{stderr}");
}

/// `hbmon top --connect ADDR` without a terminal, in clear: what it says.
fn top_once(admin: &str) -> String {
    let output = hbmon().args(["top", "--connect", admin]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_python_library_heartbeats_over_tls() {
    let ca = Ca::new("python");
    let mut serve = serve_tls(&ca.server("server"), &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_library.py");
    let mut python = Command::new("python3")
        .args([script, "localhost", &serve.addr.port().to_string(), ca.ca()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the library test");
    let mut lines = BufReader::new(python.stdout.take().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    let pid = next()["pid"].as_u64().unwrap() as u32;
    let listed = alive(&mut serve, pid);
    serve.command(&format!("kick {}", listed["peer"].as_str().unwrap()));
    assert_eq!(
        next()["reason"],
        "kicked by operator",
        "the close frame read over TLS"
    );
    drop(python.stdin.take());
    assert_eq!(next()["stopped"], true);
    assert!(python.wait().unwrap().success());
    assert_eq!(failures(&serve, "plaintext"), 0);
}

#[test]
fn bad_tls_settings_are_refused_with_what_is_wrong() {
    let (ca, other) = (Ca::new("settings"), Ca::new("settings-other"));
    let (pair, stranger) = (ca.server("server"), other.server("server"));
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let output = hbmon()
            .args(["serve", "--check"])
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, said) = check(&["--tls-cert", pair.cert()], &[]);
    assert_eq!(code, Some(1));
    assert!(
        said.contains("--tls-cert and --tls-key go together"),
        "{said}"
    );
    let (_, said) = check(&["--client-ca", ca.ca()], &[]);
    assert!(said.contains("give --tls-cert and --tls-key"), "{said}");
    let (_, said) = check(
        &["--tls-cert", "/nonexistent.pem", "--tls-key", pair.key()],
        &[],
    );
    assert!(
        said.contains("cannot read the certificate file (--tls-cert) /nonexistent.pem"),
        "{said}"
    );
    let (_, said) = check(
        &["--tls-cert", pair.cert(), "--tls-key", stranger.key()],
        &[],
    );
    assert!(
        said.contains(&format!("cannot use the key {}", stranger.key())),
        "{said}"
    );
    let (_, said) = check(&["--tls-cert", pair.key(), "--tls-key", pair.key()], &[]);
    assert!(said.contains("holds no certificate"), "{said}");
    // The environment, as for every serve flag.
    let env = [
        ("HBMON_TLS_CERT", pair.cert()),
        ("HBMON_TLS_KEY", pair.key()),
        ("HBMON_TLS_MODE", "optional"),
    ];
    assert_eq!(check(&[], &env).0, Some(0));

    let output = hbmon().args(["client", "--ca", ca.ca()]).output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("are for TLS: add --tls"), "{said}");
}
