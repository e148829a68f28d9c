//! Who may reach the operator API, and where it listens: the token, an
//! address other machines reach, a port in use, a unix socket's mode, and
//! what `hbmon top` says when it cannot attach.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use common::http::{agent, answer, get, post, url};
use common::{Serve, hbmon, temp};

#[test]
fn with_an_admin_token_only_metrics_and_healthz_are_open() {
    let token_file = temp("admin-token");
    std::fs::write(&token_file, "s3cret-admin\n").unwrap();
    let mut serve = Serve::start(&["--admin-token-file", token_file.to_str().unwrap()]);
    assert_eq!(get(&serve, "/healthz").status, 200);
    assert_eq!(get(&serve, "/metrics").status, 200);
    assert_eq!(get(&serve, "/v1/clients").status, 401);
    assert_eq!(post(&serve, "/v1/kick-leave", "").status, 401);
    let with = |token: &str| {
        answer(
            agent()
                .get(url(&serve, "/v1/clients"))
                .header("authorization", format!("Bearer {token}"))
                .call(),
        )
    };
    let wrong = with("s3cret-admiN");
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains("s3cret"), "the token is never echoed");
    assert_eq!(with("s3cret-admin").status, 200);
    serve.command("quit");
    serve.wait_exit();
    assert!(serve.seen.iter().all(|l| !l.to_string().contains("s3cret")));
}

#[test]
fn an_admin_address_other_machines_reach_needs_a_token() {
    let refused = hbmon()
        .args(["serve", "--check", "--admin", "0.0.0.0:14001"])
        .env_remove("HBMON_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--admin 0.0.0.0:14001") && stderr.contains("HBMON_ADMIN_TOKEN"),
        "{stderr}"
    );
    let allowed = hbmon()
        .args(["serve", "--check", "--admin", "0.0.0.0:14001"])
        .env("HBMON_ADMIN_TOKEN", "t")
        .output()
        .unwrap();
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let garbage = hbmon()
        .args(["serve", "--check", "--admin", "somewhere"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("'somewhere' is not an address"));
}

#[test]
fn an_admin_port_in_use_is_a_clear_error() {
    let first = Serve::plain();
    let admin = first.admin.clone().unwrap();
    let second = hbmon()
        .args([
            "serve",
            "--no-tui",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            &admin,
        ])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("cannot serve the operator API on {admin}")),
        "{stderr}"
    );
}

#[test]
fn on_a_unix_socket_the_api_is_mode_0600() {
    let path = temp("admin.sock");
    let _ = std::fs::remove_file(&path);
    let arg = format!("unix:{}", path.display());
    let mut serve = Serve::start(&["--admin", &arg]);
    assert_eq!(serve.admin.as_deref(), Some(arg.as_str()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut socket = UnixStream::connect(&path).unwrap();
    socket
        .write_all(b"GET /v1/clients HTTP/1.1\r\nhost: hbmon\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#""total":0"#), "{reply}");
    serve.command("quit");
    serve.wait_exit();
    assert!(
        !path.exists(),
        "the socket is removed when the server stops"
    );
}

/// `hbmon top --connect ADDR` without a terminal: what it says when it
/// cannot attach.
fn top(connect: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = hbmon()
        .args(["top", "--connect", connect])
        .env_remove("HBMON_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn top_says_why_it_cannot_attach() {
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, stderr) = top(&closed.to_string(), &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!("cannot reach hbmon's operator API at {closed}")),
        "{stderr}"
    );
    // Something that is not HTTP: the heartbeat port.
    let serve = Serve::plain();
    let (code, stderr) = top(&serve.addr.to_string(), &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not hbmon's operator API"), "{stderr}");
    // An HTTP server that is not hbmon.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_addr = other.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in other.incoming().flatten() {
            let mut stream = stream;
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let (code, stderr) = top(&other_addr.to_string(), &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("HTTP 404 Not Found for /v1/feed"),
        "{stderr}"
    );
    // A token it does not have.
    let token_file = temp("top-admin-token");
    std::fs::write(&token_file, "top-secret").unwrap();
    let guarded = Serve::start(&["--admin-token-file", token_file.to_str().unwrap()]);
    let admin = guarded.admin.clone().unwrap();
    let (code, stderr) = top(&admin, &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("needs the admin token"), "{stderr}");
    // With it, it attaches, then wants a terminal.
    let (code, stderr) = top(&admin, &[("HBMON_ADMIN_TOKEN", "top-secret")]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("hbmon top needs a terminal"), "{stderr}");
}
