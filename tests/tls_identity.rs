//! TLS as the operator sees it: `serve --check` on the TLS files, clients
//! by transport and the certificate's expiry in `/metrics`, the warning for
//! an API token that crosses the network in clear, a certificate identity
//! on the dashboard and in `history`, and mutual TLS end to end.

mod common;
mod screen;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use common::certs::{self, Ca, Pair, named};
use common::http::get;
use common::{RawClient, Serve, hbmon, heartbeat, serve_command, temp};
use hbmon::feed::snapshot::Transport;
use hbmon::front::tui::view::ViewState;
use hbmon::protocol::Status;
use rcgen::{CertificateParams, date_time_ymd};
use screen::{client, draw, screen, snapshot};

/// 2100-01-01T00:00:00Z, when the test certificates lapse.
const EXPIRY: i64 = 4_102_444_800;

/// A CA and a server pair for `hbmon.test` it signed, lapsing at [`EXPIRY`].
fn server_files(name: &str) -> (Ca, Pair) {
    let ca = Ca::new(name);
    let mut params = CertificateParams::new(vec!["hbmon.test".to_owned()]).unwrap();
    params.distinguished_name = named("hbmon server");
    params.not_after = date_time_ymd(2100, 1, 1);
    let pair = ca.issue_with("server", params);
    (ca, pair)
}

fn check(args: &[&str]) -> Output {
    hbmon()
        .args(["serve", "--check"])
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn check_shows_each_tls_file_with_its_subject_identity_and_expiry() {
    let (ca, server) = server_files("check-good");
    let output = check(&[
        "--tls-cert",
        path(&server.cert),
        "--tls-key",
        path(&server.key),
        "--client-ca",
        path(&ca.pem),
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let expected = format!(
        "hbmon: --tls-cert {}: subject \"CN=hbmon server\", identity hbmon.test, expires 2100-01-01T00:00:00Z (in ",
        server.cert.display()
    );
    assert!(stdout.contains(&expected), "{stdout}");
    let ca_line = format!(
        "hbmon: --client-ca {}: subject \"CN=hbmon test CA check-good\", identity hbmon test CA check-good, expires ",
        ca.pem.display()
    );
    assert!(stdout.contains(&ca_line), "{stdout}");
    assert!(
        stdout.ends_with("hbmon: the settings are good\n"),
        "{stdout}"
    );
}

/// `serve --check` with these TLS files fails: what it said on stderr.
fn refused(cert: &Path, key: &Path) -> String {
    let output = check(&["--tls-cert", path(cert), "--tls-key", path(key)]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    text(&output.stderr)
}

#[test]
fn check_names_a_key_that_is_not_the_certificates() {
    let (ca, server) = server_files("check-mismatch");
    let other = ca.client("other.test", "other.test");
    let stderr = refused(&server.cert, &other.key);
    let expected = format!(
        "the key in {} does not match the certificate in {}",
        other.key.display(),
        server.cert.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn check_names_a_garbage_or_missing_file_and_what_is_wrong() {
    let (_ca, server) = server_files("check-garbage");
    let at = server.cert.parent().unwrap();
    let cases = [
        (
            "plain.txt",
            "not a certificate at all\n",
            "holds no certificate (a -----BEGIN CERTIFICATE----- block)",
        ),
        (
            "torn.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB\n",
            "is not PEM: missing section end marker",
        ),
        (
            "junk.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "certificate 1 does not parse",
        ),
    ];
    for (name, content, says) in cases {
        let file = at.join(name);
        std::fs::write(&file, content).unwrap();
        let stderr = refused(&file, &server.key);
        assert!(stderr.contains(&format!("{}", file.display())), "{stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        // The same file as a key.
        let stderr = refused(&server.cert, &file);
        assert!(stderr.contains(&format!("{}", file.display())), "{stderr}");
    }
    let alone = check(&["--tls-cert", path(&server.cert)]);
    let stderr = text(&alone.stderr);
    assert!(stderr.contains("--tls-cert needs --tls-key"), "{stderr}");
    let missing = at.join("missing.pem");
    let stderr = refused(&missing, &server.key);
    let expected = format!("cannot read {}: No such file", missing.display());
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn check_refuses_an_expired_certificate_saying_when_it_lapsed() {
    let ca = Ca::new("check-expired");
    let mut params = CertificateParams::new(vec!["old.test".to_owned()]).unwrap();
    params.not_before = date_time_ymd(2000, 1, 1);
    params.not_after = date_time_ymd(2001, 1, 1);
    let old = ca.issue_with("old", params);
    let stderr = refused(&old.cert, &old.key);
    let expected = format!(
        "--tls-cert {}: EXPIRED 2001-01-01T00:00:00Z (",
        old.cert.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    // Before 1970, where RFC 3339 dates stop: in seconds, never a panic.
    let mut params = CertificateParams::new(vec!["older.test".to_owned()]).unwrap();
    params.not_before = date_time_ymd(1955, 1, 1);
    params.not_after = date_time_ymd(1960, 1, 1);
    let older = ca.issue_with("older", params);
    let stderr = refused(&older.cert, &older.key);
    assert!(
        stderr.contains("EXPIRED at -315619200 s since the Unix epoch"),
        "{stderr}"
    );
}

/// The sample `name` (with its labels) in an exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[test]
fn metrics_count_clients_by_transport_and_show_when_the_certificate_lapses() {
    let (_ca, server) = server_files("metrics");
    let mut serve = Serve::start(&[
        "--tls-cert",
        path(&server.cert),
        "--tls-key",
        path(&server.key),
        "--tls-mode",
        "optional",
        "--admin-tls",
        "off",
    ]);
    let mut plain = RawClient::connect(serve.addr);
    plain.send(&heartbeat(4242));
    let listed = serve.wait_for_client(plain.local, |c| c["pid"] == 4242);
    assert_eq!(listed["transport"], "plain");
    assert!(listed.get("identity").is_none(), "{listed}");
    let metrics = get(&serve, "/metrics").body;
    let by = |t: &str| {
        sample(
            &metrics,
            &format!("hbmon_clients_by_transport{{transport=\"{t}\"}}"),
        )
    };
    assert_eq!(
        (by("plain"), by("tls")),
        (Some(1.0), Some(0.0)),
        "{metrics}"
    );
    let expiry = sample(&metrics, "hbmon_tls_certificate_expiry_timestamp_seconds");
    assert_eq!(expiry, Some(EXPIRY as f64), "{metrics}");
}

#[test]
fn metrics_show_the_expiry_of_the_pair_in_force_through_a_renewal_and_a_broken_file() {
    let (ca, server) = server_files("expiry-reload");
    let mut serve = Serve::start(&[
        "--tls-cert",
        path(&server.cert),
        "--tls-key",
        path(&server.key),
        "--admin-tls",
        "off",
    ]);
    let expiry = |serve: &Serve| {
        let metrics = get(serve, "/metrics").body;
        sample(&metrics, "hbmon_tls_certificate_expiry_timestamp_seconds")
    };
    assert_eq!(expiry(&serve), Some(EXPIRY as f64));
    // Renewed for one more year (2101-01-01): mv new files over the old.
    let mut params = CertificateParams::new(vec!["hbmon.test".to_owned()]).unwrap();
    params.not_after = date_time_ymd(2101, 1, 1);
    let renewed = ca.issue_with("renewed", params);
    certs::write(&server.key, &std::fs::read_to_string(&renewed.key).unwrap());
    certs::write(
        &server.cert,
        &std::fs::read_to_string(&renewed.cert).unwrap(),
    );
    serve.wait_for("tls", |l| l["cause"] == "reloaded");
    let renewed_expiry = (EXPIRY + 365 * 86_400) as f64;
    assert_eq!(expiry(&serve), Some(renewed_expiry));
    // A broken replacement leaves the renewed pair, and its expiry, in force.
    certs::write(&server.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n");
    serve.wait_for("tls", |l| l["cause"] == "reload_failed");
    assert_eq!(expiry(&serve), Some(renewed_expiry));
}

#[test]
fn without_a_certificate_metrics_have_no_expiry() {
    let serve = Serve::plain();
    let metrics = get(&serve, "/metrics").body;
    assert!(!metrics.contains("tls_certificate_expiry"), "{metrics}");
    let plain = "hbmon_clients_by_transport{transport=\"plain\"}";
    assert_eq!(sample(&metrics, plain), Some(0.0), "{metrics}");
}

#[test]
fn serve_warns_when_the_api_token_would_cross_the_network_in_clear() {
    let token = temp("admin-token");
    std::fs::write(&token, "s3cret-admin-token").unwrap();
    let remote = ["--admin", "0.0.0.0:0", "--admin-token-file", path(&token)];
    let output = check(&remote);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let warning =
        "warning: the operator API on 0.0.0.0:0 takes its token in clear from other machines";
    assert!(stdout.contains(warning), "{stdout}");
    // On loopback the token never leaves the machine: nothing to say.
    let local = check(&["--admin", "127.0.0.1:0", "--admin-token-file", path(&token)]);
    assert!(
        !text(&local.stdout).contains("warning"),
        "{}",
        text(&local.stdout)
    );

    // Running, it says so on stderr and in the journal's `started` line.
    let journal = temp("warned-journal");
    let stderr = temp("warned-stderr");
    let mut command = serve_command();
    command
        .args(remote)
        .args(["--journal", path(&journal)])
        .stderr(std::fs::File::create(&stderr).unwrap());
    let mut serve = Serve::launch(&mut command);
    let started = serve.seen.iter().find(|l| l["event"] == "started").unwrap();
    let warnings = started["warnings"].as_array().expect("warnings").clone();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("takes its token in clear"),
        "{started}"
    );
    serve.signal("TERM");
    assert!(serve.wait_exit().success());
    let said = std::fs::read_to_string(&stderr).unwrap();
    assert!(said.contains(&format!("hbmon: {warning}")), "{said}");
    let written = std::fs::read_to_string(&journal).unwrap();
    let first = written.lines().next().unwrap();
    assert!(
        first.contains("\"event\":\"started\"") && first.contains("takes its token in clear"),
        "{first}"
    );
}

#[test]
fn the_dashboard_shows_identities_and_counts_tls_and_plain_clients() {
    let mut tls = client(4001, Status::Alive, 0, 5);
    tls.transport = Transport::Tls {
        identity: Some(Arc::from("web-7.prod")),
    };
    let plain = client(4002, Status::Alive, 0, 5);
    let mut view = ViewState::new(snapshot(vec![tls, plain]));
    let shown = screen(&draw(&mut view, 160, 20));
    assert!(shown.contains("identity"), "{shown}");
    assert!(shown.contains("web-7.prod"), "{shown}");
    assert!(shown.contains("tls 1  plain 1"), "{shown}");
    // A fleet in clear keeps the dashboard it had.
    let mut view = ViewState::new(snapshot(vec![client(4002, Status::Alive, 0, 5)]));
    let shown = screen(&draw(&mut view, 160, 20));
    assert!(
        !shown.contains("identity") && !shown.contains("tls "),
        "{shown}"
    );
    // The filter finds a client by its identity.
    let mut tls = client(4001, Status::Alive, 0, 5);
    tls.transport = Transport::Tls {
        identity: Some(Arc::from("web-7.prod")),
    };
    let mut view = ViewState::new(snapshot(vec![tls, client(4002, Status::Alive, 0, 5)]));
    screen::press(&mut view, "/web-7\n");
    let shown = screen(&draw(&mut view, 160, 20));
    assert!(shown.contains("clients 1-1 of 1"), "{shown}");
}

#[test]
fn history_says_which_identity_a_client_closed_with() {
    let journal = temp("identity-history");
    std::fs::write(
        &journal,
        concat!(
            r#"{"ts":"2026-11-24T10:00:00.000Z","event":"connected","peer":"10.0.0.1:5000"}"#,
            "\n",
            r#"{"ts":"2026-11-24T10:05:00.000Z","event":"closed","peer":"10.0.0.1:5000","pid":7,"ip":"10.0.0.1","identity":"web-7.prod\u001b[2J","status":"alive","reason":"client disconnected"}"#,
            "\n"
        ),
    )
    .unwrap();
    let output = hbmon().args(["history", path(&journal)]).output().unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let closed = stdout.lines().find(|l| l.contains("closed")).unwrap();
    assert!(closed.contains("(identity web-7.prod"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "escaped: {stdout:?}");
}

/// Mutual TLS end to end: a client with a certificate the CA signed is
/// listed with that certificate's identity, in `/v1/clients` and on the
/// dashboard of `hbmon top`. The flags are the TLS transport's.
#[test]
fn mutual_tls_shows_the_client_certificates_identity() {
    let (ca, server) = server_files("mutual");
    let worker = ca.client("worker-3.fleet.test", "worker-3.fleet.test");
    let mut serve = Serve::start(&[
        "--tls-cert",
        path(&server.cert),
        "--tls-key",
        path(&server.key),
        "--client-ca",
        path(&ca.pem),
        "--admin-tls",
        "off",
    ]);
    let mut client = hbmon()
        .args(["client", "--server", &serve.addr.to_string()])
        .args(["--tls", "--ca", path(&ca.pem), "--cert", path(&worker.cert)])
        .args([
            "--key",
            path(&worker.key),
            "--pid",
            "7301",
            "--server-name",
            "hbmon.test",
        ])
        .spawn()
        .unwrap();
    // The connection's first event already says who it is.
    let connected = serve.wait_for("connected", |_| true);
    assert_eq!(connected["identity"], "worker-3.fleet.test", "{connected}");
    let listed = serve.wait_for_clients("the TLS client", |c| c.iter().any(|c| c["pid"] == 7301));
    let listed = listed.iter().find(|c| c["pid"] == 7301).unwrap();
    assert_eq!(listed["transport"], "tls", "{listed}");
    assert_eq!(listed["identity"], "worker-3.fleet.test", "{listed}");
    let api = serve.admin.clone().unwrap();
    let top = common::tmux::Tmux::start(
        &format!("{} top --connect {api}", env!("CARGO_BIN_EXE_hbmon")),
        160,
        30,
    );
    top.wait_for("the identity column", |s| s.contains("worker-3.fleet.test"));
    let _ = client.kill();
    let _ = client.wait();
}

#[test]
fn the_shipped_alert_fires_two_weeks_before_the_certificate_lapses() {
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/prometheus/hbmon-rules.yml"
    );
    // A certificate that lapses 15 days after the test's time 0.
    let test = format!(
        r#"rule_files: ["{rules}"]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'hbmon_tls_certificate_expiry_timestamp_seconds{{instance="a"}}'
        values: '1296000+0x3000'
    alert_rule_test:
      - eval_time: 23h
        alertname: HbmonTlsCertificateExpiring
        exp_alerts: []
      - eval_time: 36h
        alertname: HbmonTlsCertificateExpiring
        exp_alerts:
          - exp_labels:
              severity: warning
              instance: a
            exp_annotations:
              summary: "the TLS certificate of hbmon on a expires in 13d 12h 0m 0s"
"#
    );
    let file = temp("tls-rules-test").with_extension("yml");
    std::fs::write(&file, test).unwrap();
    let output = std::process::Command::new("promtool")
        .args(["test", "rules", path(&file)])
        .output()
        .expect("running promtool (apt-get install prometheus; .ci/run installs it)");
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[test]
fn tls_files_come_from_the_config_file_or_the_environment_and_print_config_shows_them() {
    let (ca, server) = server_files("config");
    let config = temp("tls-config").with_extension("toml");
    let keys = format!(
        "tls-cert = \"{}\"\ntls-key = \"{}\"\ntls-mode = \"optional\"\n",
        server.cert.display(),
        server.key.display()
    );
    std::fs::write(&config, keys).unwrap();
    let printed = hbmon()
        .args(["serve", "--config", path(&config), "--print-config"])
        .output()
        .unwrap();
    let printed = text(&printed.stdout);
    let cert = format!("tls-cert = \"{}\"", server.cert.display());
    assert!(printed.contains(&cert), "{printed}");
    assert!(printed.contains("tls-mode = \"optional\""), "{printed}");
    assert!(printed.contains("admin-tls = \"on\""), "{printed}");
    let output = hbmon()
        .args(["serve", "--config", path(&config), "--check"])
        .env("HBMON_CLIENT_CA", &ca.pem)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.contains("--tls-cert") && stdout.contains("--client-ca"),
        "{stdout}"
    );
}
