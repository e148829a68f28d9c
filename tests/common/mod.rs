//! Helpers for end-to-end tests: the real `hbmon` binary on 127.0.0.1:0,
//! driven through its headless JSON stream and stdin, and raw TCP clients
//! that speak the wire protocol byte by byte.
#![allow(dead_code)] // each test binary uses a different part of this

pub mod certs;
pub mod http;
pub mod timeline;
pub mod tmux;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Generous bound for anything that should happen "soon", so tests pass on a
/// loaded 2-core machine. Tests wait for events, never sleep for them.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The binary. Its operator API, on by default at a fixed port, is moved
/// to a free one (`HBMON_ADMIN`, as an operator would), so tests can run
/// side by side; a test's own `--admin` wins.
pub fn hbmon() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hbmon"));
    command.env("HBMON_ADMIN", "127.0.0.1:0");
    command
}

/// `hbmon serve --no-tui --format json` on a free loopback port.
pub struct Serve {
    child: Child,
    pub stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Every line read so far, in order.
    pub seen: Vec<Value>,
    pub addr: SocketAddr,
    /// Where the operator API listens, as the `listening` line says.
    pub admin: Option<String>,
}

/// `hbmon serve --no-tui --format json` on a free loopback port, not started.
pub fn serve_command() -> Command {
    let mut command = hbmon();
    command.args([
        "serve",
        "--no-tui",
        "--format",
        "json",
        "--listen",
        "127.0.0.1:0",
    ]);
    command
}

impl Serve {
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Serve {
        Serve::launch(serve_command().args(args))
    }

    /// `hbmon serve` with its default settings.
    pub fn plain() -> Serve {
        Serve::start::<&str>(&[])
    }

    /// Starts a command that prints the headless JSON stream.
    pub fn launch(command: &mut Command) -> Serve {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawning hbmon serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut serve = Serve {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            addr: "0.0.0.0:0".parse().unwrap(),
            admin: None,
        };
        let listening = serve.wait_for("listening", |_| true);
        serve.addr = listening["addr"].as_str().unwrap().parse().unwrap();
        serve.admin = listening["admin"].as_str().map(str::to_owned);
        // The registry starts on a thread of its own and says so after the
        // listener does: wait for it, so that a test reading the event
        // stream from here on does not find `started` before its own event.
        serve.wait_for("started", |_| true);
        serve
    }

    /// Waits for the next line with `"event": kind` that satisfies `pred`.
    pub fn wait_for(&mut self, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_line(kind, |line| line["event"] == kind && pred(line))
    }

    /// Waits for the next line that satisfies `pred`; `what` names it in
    /// the failure message.
    pub fn wait_for_line(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no '{what}' line within {PATIENCE:?}; seen: {:#?}",
                        self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "hbmon exited before a '{what}' line; seen: {:#?}",
                        self.seen
                    )
                }
            }
        }
    }

    /// The event of this kind about `peer`: already seen, or the next one.
    /// (A peer has one event of each kind, and waiting for one peer's may
    /// read past another's.)
    pub fn wait_for_peer(&mut self, kind: &str, peer: SocketAddr) -> Value {
        let peer = peer.to_string();
        let about = |line: &Value| line["event"] == kind && line["peer"] == peer.as_str();
        if let Some(line) = self.seen.iter().find(|l| about(l)) {
            return line.clone();
        }
        self.wait_for(kind, |line| line["peer"] == peer.as_str())
    }

    pub fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("writing a command to hbmon");
        stdin.flush().unwrap();
    }

    /// The live clients, from `list`.
    pub fn list(&mut self) -> Vec<Value> {
        self.command("list");
        let snapshot = self.wait_for("snapshot", |_| true);
        snapshot["clients"].as_array().unwrap().clone()
    }

    /// The live client at `peer`, from `list`.
    pub fn client(&mut self, peer: SocketAddr) -> Option<Value> {
        let peer = peer.to_string();
        self.list().into_iter().find(|c| c["peer"] == peer.as_str())
    }

    /// Polls `list` until `pred` holds for the live clients; returns them.
    pub fn wait_for_clients(&mut self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let clients = self.list();
            if pred(&clients) {
                return clients;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; last list: {clients:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls `list` until `pred` holds for the client at `peer`.
    pub fn wait_for_client(&mut self, peer: SocketAddr, pred: impl Fn(&Value) -> bool) -> Value {
        let peer = peer.to_string();
        let matching = |clients: &[Value]| {
            clients
                .iter()
                .find(|c| c["peer"] == peer.as_str() && pred(c))
                .cloned()
        };
        let clients = self.wait_for_clients(&format!("client {peer} as expected"), |clients| {
            matching(clients).is_some()
        });
        matching(&clients).expect("found just now")
    }

    /// Events seen so far about `peer`.
    pub fn events_about(&self, peer: SocketAddr) -> Vec<Value> {
        let peer = peer.to_string();
        self.seen
            .iter()
            .filter(|l| l["peer"] == peer.as_str())
            .cloned()
            .collect()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill_hard(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit, draining its output into `seen`.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread may still hold the last lines.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(Instant::now() < deadline, "hbmon did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident memory, from /proc.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// A fresh path in the temporary directory for this test process.
pub fn temp(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("hbmon-{}-{name}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = (body.len() as i32).to_be_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

/// The lines of an event stream (or a journal) that are the server's
/// decisions, not the headless front end's own lines, without timestamps.
pub fn decisions(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| {
            !matches!(
                l["event"].as_str(),
                Some("listening" | "stats" | "snapshot" | "kicked" | "error" | "lagged")
            )
        })
        .map(|l| {
            let mut l = l.clone();
            if let Some(fields) = l.as_object_mut() {
                fields.remove("ts");
            }
            l
        })
        .collect()
}

pub fn heartbeat(pid: u32) -> Vec<u8> {
    let body = json!({"ip": "127.0.0.1", "status": "alive", "pid": pid});
    frame(body.to_string().as_bytes())
}

/// A client speaking the protocol by hand over a blocking socket.
pub struct RawClient {
    pub stream: TcpStream,
    pub local: SocketAddr,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connecting to hbmon");
        stream.set_nodelay(true).unwrap();
        let local = stream.local_addr().unwrap();
        RawClient { stream, local }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("writing to hbmon");
    }

    /// Reads one frame from the server, or `None` at EOF.
    pub fn read_frame(&mut self, timeout: Duration) -> Option<Value> {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut header = [0u8; 4];
        match self.stream.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) => panic!("reading a frame from hbmon: {e}"),
        }
        let len = i32::from_be_bytes(header);
        let mut body = vec![0u8; usize::try_from(len).expect("server sent a negative length")];
        self.stream
            .read_exact(&mut body)
            .expect("reading a frame body");
        Some(serde_json::from_slice(&body).expect("server frame is JSON"))
    }

    /// Expects a close frame, then EOF; returns the close frame's reason.
    pub fn expect_closed(&mut self) -> String {
        let notice = loop {
            let notice = self.read_frame(PATIENCE).expect("a close frame before EOF");
            if notice["status"] == "close" {
                break notice;
            }
        };
        assert_eq!(self.read_frame(PATIENCE), None, "EOF after the close frame");
        notice["reason"].as_str().unwrap().to_owned()
    }
}

/// A healthy client heartbeating from its own thread until dropped.
pub struct Beater {
    pub local: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<RawClient>>,
}

impl Beater {
    pub fn start(addr: SocketAddr, pid: u32, every: Duration) -> Beater {
        Beater::over(RawClient::connect(addr), pid, every)
    }

    /// Starts heartbeating over an existing connection.
    pub fn over(mut client: RawClient, pid: u32, every: Duration) -> Beater {
        let local = client.local;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if client.stream.write_all(&heartbeat(pid)).is_err() {
                    break;
                }
                std::thread::sleep(every);
            }
            client
        });
        Beater {
            local,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops heartbeating and hands back the connection.
    pub fn stop(mut self) -> RawClient {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Beater {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `clients` steady simulated clients beating every 50 ms against `addr`,
/// in one `hbmon simulate` process, all joining at once; pids from
/// `pid_base` on.
pub fn steady_fleet(addr: SocketAddr, clients: usize, pid_base: u32) -> Child {
    hbmon()
        .args(["simulate", "--server", &addr.to_string(), "--every", "0"])
        .args(["--clients", &clients.to_string(), "--interval", "50ms"])
        .args(["--mix", "steady=1", "--pid-base", &pid_base.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting hbmon simulate")
}

/// Healthy clients that run beside a hostile test: whatever the test does
/// to the server, none of them may ever leave `alive`.
pub struct Bystanders {
    fleet: Child,
    pids: std::ops::Range<u64>,
}

impl Bystanders {
    /// How many run beside each hostile test.
    pub const COUNT: usize = 200;

    /// Starts [`Bystanders::COUNT`] steady clients (pids from `pid_base`)
    /// and waits until every one is `alive` and heard twice.
    pub fn join(serve: &mut Serve, pid_base: u32) -> Bystanders {
        let fleet = steady_fleet(serve.addr, Self::COUNT, pid_base);
        let pids = u64::from(pid_base)..u64::from(pid_base) + Self::COUNT as u64;
        let bystanders = Bystanders { fleet, pids };
        serve.wait_for_clients("the bystanders fully joined", |clients| {
            bystanders.alive(clients) == Self::COUNT
        });
        bystanders
    }

    /// How many of them `clients` shows `alive` and heard at least twice.
    fn alive(&self, clients: &[Value]) -> usize {
        clients
            .iter()
            .filter(|c| c["pid"].as_u64().is_some_and(|p| self.pids.contains(&p)))
            .filter(|c| c["status"] == "alive" && c["heartbeats"].as_u64() >= Some(2))
            .count()
    }

    /// Checks that all are still `alive` and that no status change or close
    /// was ever reported for one of them; then stops them.
    pub fn assert_undisturbed(mut self, serve: &mut Serve) {
        let clients = serve.list();
        assert_eq!(
            self.alive(&clients),
            Self::COUNT,
            "bystanders not all alive"
        );
        let troubled: Vec<&Value> = serve
            .seen
            .iter()
            .filter(|l| matches!(l["event"].as_str(), Some("status" | "closed")))
            .filter(|l| l["pid"].as_u64().is_some_and(|p| self.pids.contains(&p)))
            .collect();
        assert!(
            troubled.is_empty(),
            "bystanders were disturbed: {troubled:#?}"
        );
        let _ = self.fleet.kill();
        let _ = self.fleet.wait();
    }
}

impl Drop for Bystanders {
    fn drop(&mut self) {
        let _ = self.fleet.kill();
        let _ = self.fleet.wait();
    }
}
