//! Hostile peers on a TLS port (mutual TLS): plaintext, untrusted and
//! expired certificates, a certificate for another name, a handshake that
//! stops half way, garbage after the handshake, and a flood of handshakes.
//! Each is closed with its reason, counted by cause, reported at most once
//! a second per cause, and costs 200 healthy TLS clients nothing.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::certs::{Ca, Pair};
use common::{Bystanders, PATIENCE, RawClient, Serve, hbmon, heartbeat, http};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A mutual-TLS server (the default 10 s hello timeout: room for 200
/// handshakes at once in a debug build on a busy machine), its API in
/// clear, and 200 TLS bystanders (pids from `pid_base`) with certificates
/// of their own.
fn guarded(ca: &Ca, pid_base: u32) -> (Serve, Bystanders) {
    let server = ca.server("server");
    let mut serve = Serve::start(&[
        "--tls-cert",
        server.cert(),
        "--tls-key",
        server.key(),
        "--client-ca",
        ca.ca(),
        "--admin-tls",
        "off",
    ]);
    let fleet = ca.client("fleet", "fleet.example");
    let tls = [
        "--tls",
        "--ca",
        ca.ca(),
        "--cert",
        fleet.cert(),
        "--key",
        fleet.key(),
    ];
    let bystanders = Bystanders::join_with(&mut serve, pid_base, &tls);
    (serve, bystanders)
}

fn failures(serve: &Serve, cause: &str) -> u64 {
    let name = format!("hbmon_tls_handshake_failures_total{{cause=\"{cause}\"}}");
    let text = http::get(serve, "/metrics").body;
    text.lines()
        .find_map(|l| l.strip_prefix(name.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// `hbmon client` with `args`, run until the server refuses it; what it said.
fn refused_client(serve: &Serve, args: &[&str]) -> String {
    let output = hbmon()
        .args([
            "client",
            "--server",
            &serve.addr.to_string(),
            "--interval",
            "50ms",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(1 | 3)),
        "not refused: {said}"
    );
    said
}

#[test]
fn each_hostile_handshake_is_closed_with_its_reason_and_counted_by_cause() {
    let (ca, stranger) = (Ca::new("hostile"), Ca::new("hostile-stranger"));
    let (mut serve, bystanders) = guarded(&ca, 40_000);

    // Plaintext: a close frame it can read.
    let mut plain = RawClient::connect(serve.addr);
    plain.send(&heartbeat(41_000));
    assert!(plain.expect_closed().contains("requires TLS"));
    serve.wait_for("tls", |l| l["cause"] == "plaintext");

    // Untrusted, then expired, client certificates.
    let cases = [
        (
            stranger.client("untrusted", "x.example"),
            "untrusted_certificate",
        ),
        (
            ca.expired_client("expired", "y.example"),
            "expired_certificate",
        ),
    ];
    for (pair, cause) in &cases {
        let args = [
            "--tls",
            "--ca",
            ca.ca(),
            "--cert",
            pair.cert(),
            "--key",
            pair.key(),
        ];
        let said = refused_client(&serve, &args);
        assert!(said.contains("alert"), "{cause}: {said}");
        serve.wait_for("tls", |l| l["cause"] == *cause);
    }

    // A server certificate for another name: the client refuses it.
    let fleet = ca.client("other-name", "z.example");
    let args = [
        "--tls",
        "--ca",
        ca.ca(),
        "--cert",
        fleet.cert(),
        "--key",
        fleet.key(),
    ];
    let said = refused_client(
        &serve,
        &[&args[..], &["--server-name", "other.example"]].concat(),
    );
    assert!(
        said.contains("not valid for name \"other.example\""),
        "{said}"
    );
    serve.wait_for("tls", |l| l["cause"] == "refused_by_client");

    // A handshake that stops half way: closed at the hello timeout.
    let mut stalled = TcpStream::connect(serve.addr).unwrap();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let event = serve.wait_for("tls", |l| l["cause"] == "timeout");
    let reason = event["reason"].as_str().unwrap();
    assert!(reason.contains("hello timeout (10s)"), "{reason}");
    stalled.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(stalled.read(&mut [0u8; 64]).unwrap(), 0, "closed");

    // Garbage after a good handshake: a record that does not decrypt.
    let peer = garbage_after_handshake(&mut serve, &ca, &fleet);
    let closed = serve.wait_for_peer("closed", peer);
    assert!(
        closed["reason"]
            .as_str()
            .unwrap()
            .contains("connection error"),
        "{closed}"
    );

    for cause in ["plaintext", "untrusted_certificate", "expired_certificate"] {
        assert_eq!(failures(&serve, cause), 1, "{cause}");
    }
    for cause in ["refused_by_client", "timeout", "bad_record"] {
        assert_eq!(failures(&serve, cause), 1, "{cause}");
    }
    bystanders.assert_undisturbed(&mut serve);
}

/// Shakes hands properly (with a client certificate), sends one heartbeat,
/// and once the server has it, writes bytes that are no TLS record of this
/// session; the peer's address.
fn garbage_after_handshake(serve: &mut Serve, ca: &Ca, pair: &Pair) -> SocketAddr {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&ca.pem).unwrap())
        .unwrap();
    let chain = vec![CertificateDer::from_pem_file(&pair.cert).unwrap()];
    let key = PrivateKeyDer::from_pem_file(&pair.key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let session = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(serve.addr).unwrap();
    let local = tcp.local_addr().unwrap();
    let mut tls = rustls::StreamOwned::new(session, tcp);
    tls.write_all(&heartbeat(41_001)).unwrap();
    tls.flush().unwrap();
    serve.wait_for_client(local, |c| c["pid"] == 41_001);
    // An application-data record of 16 bytes the session never sealed.
    let mut garbage = vec![0x17, 0x03, 0x03, 0x00, 0x10];
    garbage.extend([0xAB; 16]);
    tls.sock.write_all(&garbage).unwrap();
    local
}

#[test]
fn a_flood_of_handshakes_is_reported_once_a_second_per_cause_and_costs_bystanders_nothing() {
    let ca = Ca::new("flood");
    let (mut serve, bystanders) = guarded(&ca, 42_000);
    let flood = 1500;
    let started = Instant::now();
    // 500 a second: a handshake record whose body is nonsense, each on a
    // connection of its own.
    for i in 0..flood {
        let due = started + Duration::from_millis(2 * i);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        if let Ok(mut tcp) = TcpStream::connect(serve.addr) {
            let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]);
        }
    }
    let took = started.elapsed();
    let deadline = Instant::now() + PATIENCE;
    let counted = || {
        ["protocol", "incomplete"]
            .iter()
            .map(|c| failures(&serve, c))
            .sum::<u64>()
    };
    while counted() < flood {
        assert!(
            Instant::now() < deadline,
            "counted {} of {flood}",
            counted()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every refusal is in the event stream, folded into at most one line a
    // second per cause.
    let reported = |serve: &Serve, cause: &str| -> (u64, usize) {
        let lines: Vec<_> = serve
            .seen
            .iter()
            .filter(|l| l["event"] == "tls" && l["cause"] == cause)
            .collect();
        (
            lines.iter().map(|l| l["count"].as_u64().unwrap()).sum(),
            lines.len(),
        )
    };
    for cause in ["protocol", "incomplete"] {
        let total = failures(&serve, cause);
        while reported(&serve, cause).0 < total {
            serve.wait_for("tls", |l| l["cause"] == cause);
        }
        let (sum, lines) = reported(&serve, cause);
        assert_eq!(sum, total, "{cause}");
        let seconds = (Instant::now() - started).as_secs() as usize + 1;
        assert!(lines <= seconds + 1, "{lines} {cause} lines in {seconds} s");
    }
    eprintln!("{flood} handshakes in {took:?}");
    bystanders.assert_undisturbed(&mut serve);
}
