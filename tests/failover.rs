//! Clients given several servers fail over between real servers:
//! `hbmon client --server A --server B`, `hbmon simulate` over two servers,
//! and the Python library. What is asserted is what a user sees: which
//! server lists the client, and what the client says on stderr.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::{Beater, PATIENCE, Serve, hbmon, http};
use serde_json::Value;

/// The lines a child writes on one of its pipes, read as they come.
struct Lines {
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(pipe: impl Read + Send + 'static) -> Lines {
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line containing `text`.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {text:?}; seen: {:#?}", self.seen),
            }
        }
    }
}

/// A heartbeat server with fast rules.
fn server(extra: &[&str]) -> Serve {
    let mut args = vec!["--tick", "100ms"];
    args.extend_from_slice(extra);
    Serve::start(&args)
}

/// `hbmon client` over `servers` in order, heartbeating every 50 ms as
/// `pid`, its stderr piped.
fn client(servers: &[&Serve], pid: u32, extra: &[&str]) -> (Child, Lines) {
    let mut command = hbmon();
    command.args(["client", "--interval", "50ms", "--pid", &pid.to_string()]);
    for serve in servers {
        command.args(["--server", &serve.addr.to_string()]);
    }
    let mut child = command
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Lines::of(child.stderr.take().unwrap());
    (child, stderr)
}

/// Waits until `serve` lists a client of `pid` alive; returns its row.
fn alive_on(serve: &mut Serve, pid: u32) -> Value {
    let has = |c: &Value| c["pid"] == pid && c["status"] == "alive";
    let clients = serve.wait_for_clients(&format!("pid {pid} alive"), |clients| {
        clients.iter().any(has)
    });
    clients.into_iter().find(has).unwrap()
}

/// Stops `serve` the clean way: its clients get the shutdown close.
fn quit(serve: &mut Serve) {
    serve.command("quit");
    assert!(serve.wait_exit().success());
}

#[test]
fn a_client_moves_to_the_next_server_when_its_own_shuts_down_and_ends_at_the_list_s_end() {
    let (mut a, mut b) = (server(&[]), server(&[]));
    let (mut child, mut stderr) = client(&[&a, &b], 4100, &[]);
    alive_on(&mut a, 4100);
    stderr.wait_for(&format!("on {} (server 1 of 2)", a.addr));

    quit(&mut a);
    let left = stderr.wait_for(&format!("left {}", a.addr));
    assert!(
        left.contains(&format!("(it shut down); trying {} in", b.addr)),
        "{left}"
    );
    stderr.wait_for(&format!("on {} (server 2 of 2)", b.addr));
    let row = alive_on(&mut b, 4100);
    assert!(row["heartbeats"].as_u64() >= Some(1), "{row}");

    // Without --reconnect the list is gone down once: B's shutdown ends
    // it, with today's exit code for a server that shut down.
    quit(&mut b);
    stderr.wait_for("no server left to try");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{:#?}", stderr.seen);
}

#[test]
fn a_client_refused_by_a_full_server_lands_on_the_next_at_once_and_says_why() {
    let mut a = server(&["--max-clients", "1"]);
    let mut b = server(&[]);
    let _filler = Beater::start(a.addr, 1, Duration::from_millis(50));
    alive_on(&mut a, 1);

    let (mut child, mut stderr) = client(&[&a, &b], 4200, &[]);
    let left = stderr.wait_for(&format!("left {}", a.addr));
    assert!(
        left.contains(&format!(
            "(server full: 1 client connected (--max-clients); asked to wait 5s); trying {} now",
            b.addr
        )),
        "{left}"
    );
    alive_on(&mut b, 4200);
    assert!(
        a.list().iter().all(|c| c["pid"] != 4200),
        "the full server does not list it"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_kick_with_a_hold_off_keeps_the_client_off_the_next_server_until_it_ends() {
    let (mut a, mut b) = (server(&[]), server(&[]));
    let (mut child, mut stderr) = client(&[&a, &b], 4300, &["--reconnect"]);
    let peer = alive_on(&mut a, 4300)["peer"].as_str().unwrap().to_owned();

    let kicked = http::post(
        &a,
        "/v1/kick",
        &format!(r#"{{"peer":"{peer}","hold":"3s"}}"#),
    );
    assert_eq!(kicked.status, 200, "{}", kicked.body);
    let since = Instant::now();
    let left = stderr.wait_for(&format!("left {}", a.addr));
    assert!(
        left.contains("asked to wait 3s") && left.contains(&format!("trying {} in 3", b.addr)),
        "{left}"
    );
    alive_on(&mut b, 4300);
    assert!(
        since.elapsed() >= Duration::from_millis(2800),
        "on the next server {:?} after a kick held off for 3 s",
        since.elapsed()
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The pids of `serve`'s live clients in `range`.
fn pids_in(serve: &mut Serve, range: std::ops::Range<u64>) -> usize {
    let clients = serve.list();
    clients
        .iter()
        .filter(|c| c["pid"].as_u64().is_some_and(|p| range.contains(&p)))
        .filter(|c| c["status"] == "alive")
        .count()
}

#[test]
fn simulate_spreads_its_fleet_over_two_servers_and_rehomes_it_when_one_stops() {
    let (mut a, mut b) = (server(&[]), server(&[]));
    let mut fleet = hbmon()
        .args(["simulate", "--every", "0", "--clients", "10"])
        .args([
            "--server",
            &a.addr.to_string(),
            "--server",
            &b.addr.to_string(),
        ])
        .args([
            "--interval",
            "50ms",
            "--mix",
            "steady=1",
            "--pid-base",
            "7000",
        ])
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pids = 7000..7010;
    let spread =
        |a: &mut Serve, b: &mut Serve| (pids_in(a, pids.clone()), pids_in(b, pids.clone()));
    let deadline = Instant::now() + PATIENCE;
    while spread(&mut a, &mut b) != (5, 5) {
        assert!(Instant::now() < deadline, "{:?}", spread(&mut a, &mut b));
        std::thread::sleep(Duration::from_millis(50));
    }

    quit(&mut a);
    b.wait_for_clients("the whole fleet", |clients| {
        clients.iter().filter(|c| c["status"] == "alive").count() == 10
    });
    let status = std::process::Command::new("kill")
        .args(["-INT", &fleet.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut out = String::new();
    fleet
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(fleet.wait().unwrap().success(), "{out}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["moved"], 5, "{summary}");
    assert_eq!(
        summary["behaviours"]["steady"]["connected"], 10,
        "{summary}"
    );
}

#[test]
fn the_python_library_fails_over_to_the_next_server() {
    let (mut a, mut b) = (server(&[]), server(&[]));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_library.py");
    let mut python = std::process::Command::new("python3")
        .args([script, "127.0.0.1", &a.addr.port().to_string()])
        .arg(b.addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the library test");
    let mut stdout = Lines::of(python.stdout.take().unwrap());
    let mut stderr = Lines::of(python.stderr.take().unwrap());
    let hello: Value = serde_json::from_str(&stdout.wait_for("pid")).unwrap();
    let pid = u32::try_from(hello["pid"].as_u64().unwrap()).unwrap();
    stderr.wait_for(&a.addr.to_string());
    alive_on(&mut a, pid);

    quit(&mut a);
    stdout.wait_for("server shutting down");
    stderr.wait_for(&b.addr.to_string());
    alive_on(&mut b, pid);

    drop(python.stdin.take());
    let closed = b.wait_for("closed", |l| l["pid"] == pid);
    assert_eq!(closed["reason"], "client said goodbye");
    assert!(python.wait().unwrap().success());
}

#[test]
fn bench_servers_re_homes_a_killed_server_s_clients_without_a_false_leave() {
    let output = hbmon()
        .args([
            "bench",
            "servers",
            "--servers",
            "2",
            "--server-clients",
            "50",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let servers = &report["servers"];
    assert_eq!(
        (servers["servers"].as_u64(), servers["clients"].as_u64()),
        (Some(2), Some(100)),
        "{servers}"
    );
    let rehome = servers["rehome_s"].as_f64().unwrap();
    assert!(rehome > 0.0 && rehome < 60.0, "{servers}");
    assert_eq!(servers["false_leave"], 0, "{servers}");
    let refused = hbmon()
        .args(["bench", "servers", "--servers", "1"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("1 is not in 2..=32"), "{stderr}");
}
