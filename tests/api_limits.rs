//! The operator API cannot take what heartbeats need, end to end: its
//! connections are capped and timed out, `serve` refuses to start when its
//! parts would not fit the open-file limit, and a unix socket is removed at
//! stop only while it is still this server's.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Bystanders, PATIENCE, RawClient, Serve, heartbeat, serve_command, temp};

/// `serve` with these arguments, under an open-file limit of `limit` (soft
/// and hard, so it cannot be raised), its stderr in `stderr`.
fn limited(limit: u32, args: &[&str], stderr: &std::path::Path) -> Command {
    let serve = serve_command();
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={limit}"))
        .arg(serve.get_program())
        .args(serve.get_args())
        .args(args)
        .stderr(std::fs::File::create(stderr).unwrap());
    for (name, value) in serve.get_envs() {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    command
}

/// Connects to the API, or fails within a few seconds (a server that no
/// longer accepts leaves a full queue, where a connect would wait minutes).
fn connect(admin: &str) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&admin.parse().unwrap(), Duration::from_secs(5))
}

/// A connection to the API that sends `bytes` and then nothing.
fn idle(admin: &str, bytes: &[u8]) -> TcpStream {
    try_idle(admin, bytes).expect("connecting to the API")
}

fn try_idle(admin: &str, bytes: &[u8]) -> std::io::Result<TcpStream> {
    let mut stream = connect(admin)?;
    stream.write_all(bytes)?;
    Ok(stream)
}

/// When the server closes `stream` (reading whatever it sends first);
/// `None` if it is still open after `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> Option<Instant> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(_) => return Some(Instant::now()),
        }
    }
}

/// A GET with `Connection: close`: the status and the body, or `None` when
/// the connection was closed without an answer.
fn get(admin: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = connect(admin).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {admin}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let status = reply.split(' ').nth(1)?.parse().ok()?;
    Some((status, reply.split_once("\r\n\r\n")?.1.to_owned()))
}

/// Asks until an answer comes (a connection beyond the cap may be closed
/// unanswered while others hold every place).
fn get_answered(admin: &str, path: &str) -> (u16, String) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(answer) = get(admin, path) {
            return answer;
        }
        assert!(Instant::now() < deadline, "{path} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn idle_api_connections_under_a_low_file_limit_starve_neither_heartbeats_nor_healthz() {
    let stderr = temp("fd-stderr");
    let args = ["--max-clients", "250", "--admin-max-connections", "16"];
    let mut serve = Serve::launch(&mut limited(400, &args, &stderr));
    let bystanders = Bystanders::join(&mut serve, 44_000);
    let admin = serve.admin.clone().unwrap();
    // More idle connections than the whole limit, half of them with half
    // a request head, for as long as the server takes them.
    let hostile: Vec<TcpStream> = (0..500)
        .map_while(|i| try_idle(&admin, if i % 2 == 0 { b"GET /v1/cli" } else { b"" }).ok())
        .collect();
    let mut client = RawClient::connect(serve.addr);
    client.send(&heartbeat(77));
    serve.wait_for_client(client.local, |c| c["pid"] == 77);
    let (status, body) = get_answered(&admin, "/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""status":"ok""#), "{body}");
    assert_eq!(hostile.len(), 500, "the API stopped taking connections");
    bystanders.assert_undisturbed(&mut serve);
    drop(hostile);
    serve.command("quit");
    serve.wait_exit();
    let stderr = std::fs::read_to_string(&stderr).unwrap();
    assert!(!stderr.contains("Too many open files"), "{stderr}");
}

#[test]
fn at_the_cap_the_api_refuses_with_a_reason_and_still_answers_healthz() {
    let args = [
        "--admin-max-connections",
        "4",
        "--admin-head-timeout",
        "60s",
    ];
    let mut serve = Serve::start(&args);
    let bystanders = Bystanders::join(&mut serve, 45_000);
    let admin = serve.admin.clone().unwrap();
    // An event reader holds a place as long as it reads.
    let events = format!("GET /v1/events HTTP/1.1\r\nhost: {admin}\r\n\r\n");
    let mut reader = idle(&admin, events.as_bytes());
    let mut head = [0u8; 12];
    reader.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let mut holders: Vec<TcpStream> = (0..3).map(|_| idle(&admin, b"")).collect();
    let (status, body) = get_answered(&admin, "/v1/clients");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("cap of 4 connections (--admin-max-connections)"),
        "{body}"
    );
    let (status, body) = get_answered(&admin, "/healthz");
    assert_eq!(status, 200, "{body}");
    // A place freed is a place taken.
    holders.pop();
    let deadline = Instant::now() + PATIENCE;
    while get(&admin, "/v1/clients").map(|(status, _)| status) != Some(200) {
        assert!(Instant::now() < deadline, "no place was freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    bystanders.assert_undisturbed(&mut serve);
}

#[test]
fn a_slow_head_and_an_idle_kept_alive_connection_are_closed_each_at_its_timeout() {
    let fast_head = ["--admin-head-timeout", "1s", "--admin-idle-timeout", "60s"];
    let fast_idle = ["--admin-head-timeout", "60s", "--admin-idle-timeout", "1s"];
    for (args, head_closes) in [(fast_head, true), (fast_idle, false)] {
        let mut serve = Serve::start(&args);
        let bystanders = Bystanders::join(&mut serve, 46_000);
        let admin = serve.admin.clone().unwrap();
        let request = format!("GET /healthz HTTP/1.1\r\nhost: {admin}\r\n\r\n");
        let mut kept = idle(&admin, request.as_bytes());
        let mut answer = [0u8; 12];
        kept.read_exact(&mut answer).unwrap();
        let mut silent = idle(&admin, b"");
        let mut half = idle(&admin, b"GET /v1/clients HTTP/1.1\r\nhost: 127");
        let slow_body = format!(
            "POST /v1/kick HTTP/1.1\r\nhost: {admin}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"pe"
        );
        let mut slow = idle(&admin, slow_body.as_bytes());
        let opened = Instant::now();
        // What must close does within the test's patience, not before its
        // timeout; what must stay open still is, a while after.
        let (closing, staying) = if head_closes {
            (vec![&mut silent, &mut half, &mut slow], vec![&mut kept])
        } else {
            (vec![&mut kept], vec![&mut silent, &mut half, &mut slow])
        };
        for stream in closing {
            let closed =
                closed_within(stream, PATIENCE).unwrap_or_else(|| panic!("{args:?}: not closed"));
            let after = closed - opened;
            assert!(
                after >= Duration::from_millis(500),
                "{args:?}: closed too soon: {after:?}"
            );
        }
        for stream in staying {
            assert_eq!(
                closed_within(stream, Duration::from_secs(2)),
                None,
                "{args:?}"
            );
        }
        bystanders.assert_undisturbed(&mut serve);
    }
}

#[test]
fn serve_refuses_to_start_when_its_files_would_not_fit_the_open_file_limit() {
    let stderr = temp("budget-stderr");
    for extra in [&[][..], &["--check"][..]] {
        let mut serve = limited(1000, extra, &stderr)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = serve.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                serve.kill().unwrap();
                panic!("{extra:?}: serve started under a limit it cannot keep");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let said = std::fs::read_to_string(&stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{extra:?}: {said}");
        for words in [
            "the open-file limit is 1000",
            "10000 for clients (--max-clients 10000)",
            "72 for operator API connections (--admin-max-connections 64",
            "ulimit -n 10136",
            "LimitNOFILE=10136",
            "lower --max-clients or --admin-max-connections",
        ] {
            assert!(said.contains(words), "{extra:?}: no '{words}' in: {said}");
        }
    }
}

#[test]
fn stopping_a_server_leaves_a_socket_it_no_longer_owns() {
    let path = temp("owned.sock");
    let arg = format!("unix:{}", path.display());
    let mut first = Serve::start(&["--admin", &arg]);
    std::fs::remove_file(&path).unwrap();
    let mut second = Serve::start(&["--admin", &arg]);
    let bystanders = Bystanders::join(&mut second, 47_000);
    first.command("quit");
    first.wait_exit();
    assert!(
        path.exists(),
        "the first server removed the second's socket"
    );
    let mut socket = UnixStream::connect(&path).expect("the second server still answers");
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    bystanders.assert_undisturbed(&mut second);
    second.command("quit");
    second.wait_exit();
    assert!(
        !path.exists(),
        "a server removes its own socket when it stops"
    );
}
