//! Every kind of hostile or broken peer at once, against one server with 200
//! healthy clients: no healthy client ever leaves `alive`, every hostile
//! peer is closed with the reason that names what it did, the server's
//! memory stays bounded, and the journal holds every decision exactly once.

mod common;

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{RawClient, Serve, decisions, frame, hbmon, heartbeat, rss};
use serde_json::Value;

/// The server's resident memory must stay under this through the run.
const RSS_BOUND: u64 = 100 * 1024 * 1024;
const HEALTHY: u64 = 200;
const HEALTHY_PID_BASE: u64 = 9000;
/// Connections the looper opens from its own address, over `--max-per-ip`.
const LOOPED: usize = 300;
const MAX_PER_IP: usize = 250;

/// A connection from 127.0.0.2, so that its address has a limit of its own.
fn connect_from_other_address(server: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
        .unwrap();
    socket.connect(&server.into()).unwrap();
    socket.into()
}

#[test]
fn hostile_mix_leaves_healthy_clients_alive_and_every_peer_gets_its_reason() {
    let journal = std::env::temp_dir().join(format!("hbmon-hostile-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&journal);
    let journal_arg = journal.to_str().unwrap();
    let mut serve = start_server(journal_arg);
    let addr = serve.addr;
    let mut fleet = start_healthy_fleet(&mut serve);
    let mut peak_rss = rss(serve.pid());

    let mut expected = broken_peers(addr);

    let hang_ups = HangUps::connect(addr);
    let (flooder_addr, flood) = spawn_flooder(addr);

    // A connection looper from another address, holding what it opens.
    let looped: Vec<TcpStream> = (0..LOOPED)
        .map(|_| connect_from_other_address(addr))
        .collect();

    // The server closes each broken peer, with the reason in the close frame.
    for (client, name, reason) in &mut expected {
        let got = client.expect_closed();
        assert!(
            got.starts_with(reason.as_str()),
            "{name}: close frame said {got:?}, expected {reason:?}"
        );
    }
    let hung_up = hang_ups.hang_up();
    peak_rss = peak_rss.max(rss(serve.pid()));
    let flooded = flood.join().unwrap();

    // The event stream says the same, once per peer.
    for (client, name, reason) in &expected {
        let closed = serve.wait_for_peer("closed", client.local);
        let said = closed["reason"].as_str().unwrap();
        assert!(
            said.starts_with(reason.as_str()),
            "{name}: closed event said {said:?}"
        );
    }
    hung_up.assert_closed_events(&mut serve);

    assert_looper_refused_in_a_few_lines(&mut serve);
    // The looped connections that were let in never said hello.
    serve.wait_for_clients("the looped connections closed", |clients| {
        !clients.iter().any(|c| {
            c["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.2:"))
        })
    });
    peak_rss = peak_rss.max(rss(serve.pid()));
    drop(looped);

    // The flooder was never cut off: it is a valid client, just a loud one.
    let flooder_state = serve.client(flooder_addr).unwrap_or_else(|| {
        panic!(
            "the flooder was closed: {:#?}",
            serve.events_about(flooder_addr)
        )
    });
    assert!(
        flooder_state["heartbeats"].as_u64().unwrap() > 1000,
        "{flooder_state}"
    );
    drop(flooded);

    assert_healthy_fleet_undisturbed(&mut serve);
    assert!(peak_rss < RSS_BOUND, "server RSS reached {peak_rss} bytes");

    serve.command("quit");
    assert!(serve.wait_exit().success());
    fleet.kill().unwrap();
    fleet.wait().unwrap();

    assert_journal_holds_what_was_seen(&journal, &serve);
    std::fs::remove_file(PathBuf::from(journal_arg)).unwrap();
}

/// The server under attack: short timeouts so that every hostile peer is
/// dealt with within seconds, and a journal to compare with its events.
fn start_server(journal: &str) -> Serve {
    Serve::start(&[
        "--tick",
        "100ms",
        "--leave-timeout",
        "2s",
        "--hello-timeout",
        "500ms",
        "--frame-timeout",
        "500ms",
        "--max-frame",
        "4096",
        "--max-per-ip",
        &MAX_PER_IP.to_string(),
        "--journal",
        journal,
    ])
}

/// Whether a listed client or an event line is one of the healthy fleet.
fn healthy(c: &Value) -> bool {
    c["pid"]
        .as_u64()
        .is_some_and(|p| (HEALTHY_PID_BASE..HEALTHY_PID_BASE + HEALTHY).contains(&p))
}

/// `hbmon simulate` with the healthy fleet, once every client has beaten twice.
fn start_healthy_fleet(serve: &mut Serve) -> Child {
    let addr = serve.addr;
    let fleet = hbmon()
        .args([
            "simulate",
            "--server",
            &addr.to_string(),
            "--clients",
            &HEALTHY.to_string(),
            "--every",
            "0",
        ])
        .args([
            "--interval",
            "50ms",
            "--mix",
            "steady=1",
            "--pid-base",
            &HEALTHY_PID_BASE.to_string(),
        ])
        .args(["--duration", "60s", "--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serve.wait_for_clients("the healthy fleet fully joined", |clients| {
        clients
            .iter()
            .filter(|c| healthy(c) && c["heartbeats"].as_u64() >= Some(2))
            .count()
            == HEALTHY as usize
    });
    fleet
}

/// Peers that break the protocol, each connected and sent its bytes, with
/// its name and the reason it must get.
fn broken_peers(addr: SocketAddr) -> Vec<(RawClient, &'static str, String)> {
    // Deep nesting where a string belongs is refused for its type (serde
    // stops at the first bracket); in an ignored field, serde_json skips it
    // without recursing, so it cannot exhaust the stack either way.
    let nested = format!("{{\"ip\":{}1{}}}", "[".repeat(1000), "]".repeat(1000));
    let mut expected: Vec<(RawClient, &str, String)> = Vec::new();
    let mut peer = |name: &'static str, bytes: &[u8], reason: String| {
        let mut client = RawClient::connect(addr);
        client.send(bytes);
        expected.push((client, name, reason));
    };
    peer(
        "oversized length",
        &i32::MAX.to_be_bytes(),
        "bad frame: frame length 2147483647 exceeds the limit of 4096 bytes".into(),
    );
    peer(
        "negative length",
        &(-7i32).to_be_bytes(),
        "bad frame: negative frame length -7".into(),
    );
    peer(
        "zero length",
        &frame(b""),
        "bad frame: empty frame (length 0)".into(),
    );
    peer(
        "not UTF-8",
        &frame(b"{\"ip\":\"\xfe\"}"),
        "bad frame: frame is not valid UTF-8".into(),
    );
    peer(
        "deeply nested",
        &frame(nested.as_bytes()),
        "bad frame: invalid message: invalid type: sequence, expected a string".into(),
    );
    peer(
        "pid out of range",
        &frame(br#"{"ip":"a","status":"alive","pid":4294967296}"#),
        "bad frame: invalid message: invalid value: integer `4294967296`, expected u32".into(),
    );
    peer(
        "wrong type",
        &frame(br#"{"ip":["a"],"status":"alive","pid":1}"#),
        "bad frame: invalid message: invalid type: sequence, expected a string".into(),
    );
    peer(
        "duplicate key",
        &frame(br#"{"ip":"a","ip":"b","status":"alive","pid":1}"#),
        "bad frame: invalid message: duplicate field `ip`".into(),
    );
    peer(
        "mute",
        b"",
        "no heartbeat within the hello timeout (500ms)".into(),
    );
    let mut stall_header = heartbeat(1);
    stall_header.extend_from_slice(&heartbeat(1)[..2]);
    peer(
        "stalls in a header",
        &stall_header,
        "part of a frame unfinished for the frame timeout (500ms)".into(),
    );
    let mut stall_body = heartbeat(1);
    stall_body.extend_from_slice(&heartbeat(1)[..10]);
    peer(
        "stalls in a body",
        &stall_body,
        "part of a frame unfinished for the frame timeout (500ms)".into(),
    );
    expected
}

/// The looper: what was over the limit was refused, in a few lines.
fn assert_looper_refused_in_a_few_lines(serve: &mut Serve) {
    let from_looper = |l: &Value| {
        l["event"] == "rejected"
            && l["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.2:"))
    };
    let refused_so_far = |seen: &[Value]| -> u64 {
        seen.iter()
            .filter(|l| from_looper(l))
            .map(|l| l["count"].as_u64().unwrap())
            .sum()
    };
    while refused_so_far(&serve.seen) < (LOOPED - MAX_PER_IP) as u64 {
        serve.wait_for("rejected", |l| from_looper(l));
    }
    let refused = refused_so_far(&serve.seen);
    for line in serve.seen.iter().filter(|l| from_looper(l)) {
        assert_eq!(
            line["reason"],
            format!("too many connections from 127.0.0.2 (--max-per-ip {MAX_PER_IP})")
        );
    }
    assert_eq!(refused, (LOOPED - MAX_PER_IP) as u64);
    let rejected_lines = serve
        .seen
        .iter()
        .filter(|l| l["event"] == "rejected")
        .count();
    assert!(
        rejected_lines <= 3,
        "{rejected_lines} rejected lines for {refused} refusals"
    );
}

/// No healthy client ever left alive, and all are still there.
fn assert_healthy_fleet_undisturbed(serve: &mut Serve) {
    let clients = serve.list();
    assert_eq!(
        clients
            .iter()
            .filter(|c| healthy(c) && c["status"] == "alive")
            .count(),
        HEALTHY as usize
    );
    let pid_of = |l: &Value| l["pid"].as_u64().unwrap_or(0);
    let troubled: Vec<&Value> = serve
        .seen
        .iter()
        .filter(|l| {
            matches!(l["event"].as_str(), Some("status" | "closed"))
                && (HEALTHY_PID_BASE..HEALTHY_PID_BASE + HEALTHY).contains(&pid_of(l))
        })
        .collect();
    assert!(
        troubled.is_empty(),
        "healthy clients were disturbed: {troubled:#?}"
    );
}

/// The journal holds every decision the event stream showed, once each.
fn assert_journal_holds_what_was_seen(journal: &Path, serve: &Serve) {
    let text = std::fs::read_to_string(journal).unwrap();
    let written: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decisions(&written), decisions(&serve.seen));
}

/// Peers that hang up badly: one mid-frame, one half-closed after a
/// heartbeat, one that will reset its connection.
struct HangUps {
    truncated: RawClient,
    half_closed: RawClient,
    reset: RawClient,
    reset_stream: TcpStream,
}

/// What is left of [`HangUps`] once they have hung up: where each was.
struct HungUp {
    truncated: SocketAddr,
    half_closed: RawClient,
    reset: SocketAddr,
}

impl HangUps {
    fn connect(addr: SocketAddr) -> HangUps {
        let mut truncated = RawClient::connect(addr);
        truncated.send(&heartbeat(1)[..12]);
        truncated.stream.shutdown(Shutdown::Write).unwrap();
        let mut half_closed = RawClient::connect(addr);
        half_closed.send(&heartbeat(2));
        half_closed.stream.shutdown(Shutdown::Write).unwrap();
        let reset = RawClient::connect(addr);
        let mut reset_stream = reset.stream.try_clone().unwrap();
        reset_stream.write_all(&heartbeat(3)).unwrap();
        HangUps {
            truncated,
            half_closed,
            reset,
            reset_stream,
        }
    }

    /// The truncated peer gets its close frame; the reset peer vanishes
    /// without reading anything.
    fn hang_up(self) -> HungUp {
        let HangUps {
            mut truncated,
            half_closed,
            reset,
            reset_stream,
        } = self;
        let got = truncated.expect_closed();
        assert!(
            got.starts_with("bad frame: connection closed in the middle of a frame"),
            "{got}"
        );
        socket2::SockRef::from(&reset.stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        let reset_addr = reset.local;
        drop(reset_stream);
        drop(reset);
        HungUp {
            truncated: truncated.local,
            half_closed,
            reset: reset_addr,
        }
    }
}

impl HungUp {
    /// The event stream closes each with the reason for how it hung up.
    fn assert_closed_events(&self, serve: &mut Serve) {
        assert!(
            serve.wait_for_peer("closed", self.truncated)["reason"]
                .as_str()
                .unwrap()
                .starts_with("bad frame: connection closed in the middle")
        );
        assert_eq!(
            serve.wait_for_peer("closed", self.half_closed.local)["reason"],
            "client disconnected"
        );
        let reset_reason = serve.wait_for_peer("closed", self.reset)["reason"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            reset_reason.starts_with("connection error: Connection reset by peer"),
            "{reset_reason}"
        );
    }
}

/// A flooder: a valid client writing as fast as it can, for a while. Its
/// address, and the thread that hands its stream back when done.
fn spawn_flooder(addr: SocketAddr) -> (SocketAddr, JoinHandle<TcpStream>) {
    let flooder = RawClient::connect(addr);
    let flooder_addr = flooder.local;
    let flood = std::thread::spawn(move || {
        let mut stream = flooder.stream;
        let batch: Vec<u8> = (0..512).flat_map(|_| heartbeat(4)).collect();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until && stream.write_all(&batch).is_ok() {}
        stream
    });
    (flooder_addr, flood)
}
