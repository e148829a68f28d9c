//! Durations from outside, end to end: a duration past its limit is refused
//! where it is written (a flag, stdin, the operator API) with the limit
//! named, and the server it was sent to stays up for everyone else.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Instant;

use common::{Bystanders, PATIENCE, Serve, hbmon};

const HUGE: &str = "300000000000years";

/// One request over a fresh connection, as curl sends it: the status and
/// the body of the answer.
fn post(admin: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(admin).expect("connecting to the operator API");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {admin}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an HTTP answer");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"));
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[test]
fn a_kick_leave_holding_for_300000000000_years_is_a_400_naming_the_limit_and_the_server_stays_up() {
    let mut serve = Serve::plain();
    let bystanders = Bystanders::join(&mut serve, 400_000);
    let admin = serve.admin.clone().expect("the operator API is on");
    let body = format!(r#"{{"hold":"{HUGE}"}}"#);
    let (status, answer) = post(&admin, "/v1/kick-leave", "application/json", &body);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains(&format!("'{HUGE}' is too long for hold: at most 1year")),
        "{answer}"
    );
    // The request exactly as the issue sent it: refused too (for its
    // content type, once cross-site bodies are refused, or for the hold).
    let (status, answer) = post(&admin, "/v1/kick-leave", "text/plain", &body);
    assert!((400..500).contains(&status), "{status} {answer}");
    // A hold within the limit is still taken.
    let (status, answer) = post(
        &admin,
        "/v1/kick-leave",
        "application/json",
        r#"{"hold":"1year"}"#,
    );
    assert_eq!((status, answer.as_str()), (200, r#"{"kicked":[]}"#));
    bystanders.assert_undisturbed(&mut serve);
    assert!(
        !serve.seen.iter().any(|l| l["event"] == "stopped"),
        "the server stopped"
    );
}

#[test]
fn a_stdin_kick_holding_for_300000000000_years_is_refused_and_the_server_stays_up() {
    let mut serve = Serve::plain();
    let bystanders = Bystanders::join(&mut serve, 410_000);
    let victim = serve.list()[0]["peer"].as_str().unwrap().to_owned();
    serve.command(&format!("kick {victim} {HUGE}"));
    let error = serve.wait_for("error", |_| true);
    assert_eq!(
        error["reason"],
        format!("'{HUGE}' is too long for a hold-off: at most 1year")
    );
    bystanders.assert_undisturbed(&mut serve);
    assert!(
        !serve.seen.iter().any(|l| l["event"] == "stopped"),
        "the server stopped"
    );
}

/// `serve` with `args` (and `env`) must exit at once with an error,
/// saying `expected` on stderr.
fn refused(args: &[&str], env: &[(&str, &str)], expected: &str) {
    let mut child = hbmon()
        .args(["serve", "--no-tui", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("serve {args:?} {env:?} was accepted");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{args:?} {env:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?} {env:?}: {stderr}");
}

#[test]
fn serve_refuses_a_tick_of_100000000h_naming_the_limit_from_a_flag_the_environment_or_a_file() {
    let expected = "'100000000h' is too long for --tick: at most 1h";
    refused(&["--tick", "100000000h"], &[], expected);
    refused(&[], &[("HBMON_TICK", "100000000h")], expected);
    // The variable is named: the user never typed the flag.
    refused(
        &[],
        &[("HBMON_TICK", "100000000h")],
        "HBMON_TICK=100000000h:",
    );
    // A flag on the command line wins, so the variable it hides is not blamed.
    refused(
        &["--tick", "5000h"],
        &[("HBMON_TICK", "100000000h")],
        "'5000h' is too long for --tick",
    );
    let config = common::temp("huge-tick.toml");
    std::fs::write(&config, "tick = \"100000000h\"\n").unwrap();
    refused(&["--config", config.to_str().unwrap()], &[], expected);
    refused(
        &["--leave-timeout", HUGE],
        &[],
        &format!("'{HUGE}' is too long for --leave-timeout: at most 1day"),
    );
}
