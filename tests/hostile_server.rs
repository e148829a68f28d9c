//! `hbmon top` against whatever answers at the address it was given: a fake
//! operator API (a plain `TcpListener` here) that sends crafted frames, and
//! the real heartbeat port. `top` never panics, never holds what a server
//! only announces, shows a server that sent nonsense as lost with the
//! reason, and says so when it was pointed at the heartbeat port.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant, SystemTime};

use common::tmux::Tmux;
use common::{Bystanders, PATIENCE, RawClient, Serve, frame, hbmon};
use hbmon::feed::event::{Event, EventKind};
use hbmon::feed::snapshot::{ClientView, ClosedClient, Settings, Silence, Snapshot};
use hbmon::feed::wire;
use hbmon::liveness::{Liveness, Rules};
use hbmon::protocol::Status;

/// 2026-09-21, and the first second of the year 10000.
const NOW: Duration = Duration::from_secs(1_790_000_000);
const YEAR_10000: Duration = Duration::from_secs(253_402_300_800);
/// The largest frame `top` takes.
const MAX_FRAME: u32 = 256 << 20;

/// A fake operator API: each connection's request is read, `/v1/feed`'s
/// head sent, and then `feed` writes what it likes, given the connection's
/// number (0 first).
fn fake_api(feed: impl Fn(usize, &mut TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let feed = Arc::new(feed);
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let (Ok(mut stream), feed) = (stream, Arc::clone(&feed)) else {
                return;
            };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-hbmon-feed\r\n\
                              connection: close\r\n\r\n";
                if stream.write_all(answer.as_bytes()).is_ok() {
                    feed(n, &mut stream);
                }
                // Held open until the viewer lets go.
                let _ = stream.read(&mut byte);
            });
        }
    });
    addr
}

/// A server's picture at `at`: a client that missed a tick (so its row
/// counts down to `leave`) and one under the phi detector, one closed, one
/// event, the fleet silent.
fn picture(at: SystemTime, tick: Duration) -> Snapshot {
    let rules = Rules::default();
    let mut s = Snapshot::empty("127.0.0.1:14000".parse().unwrap(), Settings { tick, rules });
    (s.started, s.taken) = (at, at);
    let peer: SocketAddr = "10.0.0.7:5007".parse().unwrap();
    s.clients = vec![ClientView {
        id: 1,
        peer,
        ip: Some(Arc::from("10.0.0.7")),
        pid: Some(7007),
        reported: Some(Status::Alive),
        liveness: Liveness {
            miss: 1,
            ..Liveness::default()
        },
        heartbeats: u64::MAX,
        connected_at: at,
        last_seen: Some(at),
        held: None,
        phi: None,
        reconnects: u32::MAX,
        flaps: 3,
        maintenance: None,
        transport: Default::default(),
    }];
    // Under the phi detector: a suspicion that is not a number.
    let mut phi = s.clients[0].clone();
    (phi.id, phi.peer, phi.phi) = (2, "10.0.0.9:5009".parse().unwrap(), Some(f32::NAN));
    s.clients.push(phi);
    s.history = Arc::new(
        [ClosedClient {
            peer: "10.0.0.8:5008".parse().unwrap(),
            pid: Some(7008),
            ip: None,
            status: Status::Close,
            reason: "leave timeout".to_owned(),
            heartbeats: 9,
            connected_at: at,
            closed_at: at,
        }]
        .into(),
    );
    let event = Event {
        at,
        kind: Arc::new(EventKind::Connected {
            peer,
            identity: None,
        }),
    };
    s.recent = Arc::new([event].into());
    s.counters.events = 1;
    s.fleet_silent = Some(Silence {
        since: at,
        silent: 1,
        clients: 1,
    });
    s
}

fn sane() -> Vec<u8> {
    let at = SystemTime::UNIX_EPOCH + NOW;
    frame(&wire::encode(None, &picture(at, Duration::from_secs(1))))
}

/// `hbmon top --connect addr` in a terminal of `width` columns.
fn top(addr: SocketAddr, width: u16) -> Tmux {
    let binary = env!("CARGO_BIN_EXE_hbmon");
    Tmux::start(&format!("{binary} top --connect {addr}"), width, 30)
}

fn assert_running(tmux: &Tmux) {
    let state = tmux.pane("#{pane_dead} #{pane_dead_status}");
    assert_eq!(state, "0", "top exited:\n{}", tmux.history());
}

/// The screen's lines joined with spaces, the margins trimmed: text that
/// wraps reads as one.
fn joined(screen: &str) -> String {
    screen.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

#[test]
fn times_past_the_year_9999_are_refused_and_top_stays_up_on_every_screen() {
    let addr = fake_api(|_, stream| {
        let mut later = picture(SystemTime::UNIX_EPOCH + YEAR_10000, Duration::from_secs(1));
        // Events travel as RFC 3339, which has no year 10000.
        later.recent = picture(SystemTime::UNIX_EPOCH + NOW, later.settings.tick).recent;
        let mut bytes = sane();
        bytes.extend(frame(&wire::encode(None, &later)));
        let _ = stream.write_all(&bytes);
    });
    let tmux = top(addr, 160);
    let reason = "a time past the year 9999 (253402300800000 ms since 1970";
    tmux.wait_for("the lost reason", |s| {
        s.contains("disconnected, retrying") && joined(s).contains(reason)
    });
    // The last picture stays on every screen, and nothing of it panics.
    tmux.keys("Tab");
    tmux.wait_for("the history", |s| s.contains("10.0.0.8:5008"));
    tmux.keys("Tab");
    tmux.wait_for("the events", |s| !s.contains("10.0.0.8:5008"));
    tmux.keys("Tab");
    tmux.wait_for("the clients", |s| s.contains("10.0.0.7:5007"));
    assert_running(&tmux);
}

#[test]
fn a_tick_of_100000000h_huge_counts_and_a_nan_are_shown_not_a_panic() {
    let addr = fake_api(|_, stream| {
        let tick = Duration::from_secs(100_000_000 * 3600);
        let mut huge = picture(SystemTime::UNIX_EPOCH + NOW, tick);
        // Ticks to `leave`: about threshold times cursor.
        huge.settings.rules.threshold = u32::MAX;
        let _ = stream.write_all(&frame(&wire::encode(None, &huge)));
    });
    let tmux = top(addr, 200);
    let screen = tmux.wait_for("the client's row", |s| s.contains("10.0.0.7:5007"));
    assert!(screen.contains("tick 11407years"), "{screen}");
    assert!(screen.contains("leave in "), "{screen}");
    assert!(screen.contains("φ NaN"), "{screen}");
    tmux.keys("Enter");
    assert_running(&tmux);
}

/// A process's data segment: what it has allocated, touched or not (an
/// allocation's pages count in its resident memory only once written).
fn data_segment(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = (status.lines().find_map(|l| l.strip_prefix("VmData:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// The largest data segment a process has until `done`.
fn peak_data(pid: u32, done: impl Fn() -> bool) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    let mut peak = 0;
    while !done() {
        peak = peak.max(data_segment(pid));
        assert!(Instant::now() < deadline, "never done");
        std::thread::sleep(Duration::from_millis(20));
    }
    peak
}

#[test]
fn an_announced_frame_is_never_reserved_and_one_over_the_limit_is_refused_in_words() {
    let (go, announce): (_, Receiver<()>) = channel();
    let announce = std::sync::Mutex::new(announce);
    let addr = fake_api(move |n, stream| {
        let _ = stream.write_all(&sane());
        if n == 0 {
            // The largest frame taken, announced, a few bytes of it sent.
            let _ = announce.lock().unwrap().recv();
            let _ = stream.write_all(&MAX_FRAME.to_be_bytes());
            let _ = stream.write_all(&[0; 1000]);
        } else {
            let _ = stream.write_all(&(MAX_FRAME + 1).to_be_bytes());
        }
    });
    let tmux = top(addr, 80);
    tmux.wait_for("the first picture", |s| s.contains("10.0.0.7:5007"));
    let pid: u32 = tmux.pane("#{pane_pid}").parse().unwrap();
    let before = data_segment(pid);
    go.send(()).unwrap();
    // Read, then given up on after the silence a server is allowed.
    let peak = peak_data(pid, || tmux.screen().contains("disconnected, retrying"));
    let grew = peak.saturating_sub(before);
    assert!(grew < 64 << 20, "top's data grew by {grew} bytes");

    let reason = "it announced a frame of 268435457 bytes, over the limit of 268435456 bytes";
    let screen = tmux.wait_for("the refusal", |s| joined(s).contains(reason));
    assert!(screen.contains("disconnected, retrying"), "{screen}");
    assert_running(&tmux);
}

#[test]
fn garbage_after_a_good_frame_is_shown_as_not_hbmon_and_top_stays_up() {
    let addr = fake_api(|_, stream| {
        let mut bytes = sane();
        bytes.extend(frame(b"\xff\xfe not a frame at all"));
        let _ = stream.write_all(&bytes);
    });
    let tmux = top(addr, 120);
    let said =
        format!("{addr} answered, but is not hbmon's operator API (a frame that is not hbmon's");
    let screen = tmux.wait_for("the refusal", |s| joined(s).contains(&said));
    assert!(
        screen.contains("10.0.0.7:5007"),
        "the last picture stays:\n{screen}"
    );
    assert_running(&tmux);
}

#[test]
fn http_on_the_heartbeat_port_is_named_by_top_and_by_the_server() {
    let mut serve = Serve::plain();
    let bystanders = Bystanders::join(&mut serve, 30_000);

    let top = hbmon()
        .args(["top", "--connect", &serve.addr.to_string()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&top.stderr);
    assert!(!top.status.success(), "{said}");
    let expected = format!(
        "{} is not hbmon's operator API: it answered like a heartbeat port (serve --listen); \
         the API is at serve's --admin address (127.0.0.1:14001 by default)",
        serve.addr
    );
    assert!(said.contains(&expected), "{said}");
    let on_port = "an HTTP request (\"GET ...\") on the heartbeat port";
    serve.wait_for("bad_frame", |l| {
        l["reason"].as_str().is_some_and(|r| r.starts_with(on_port))
    });

    // Any method, from curl or a browser alike; a client gets the reason.
    let mut curl = RawClient::connect(serve.addr);
    curl.send(b"POST /v1/kick HTTP/1.1\r\nHost: x\r\n\r\n");
    let reason = curl.expect_closed();
    assert!(
        reason.contains("an HTTP request (\"POST...\") on the heartbeat port"),
        "{reason}"
    );
    assert!(
        reason.ends_with("not the operator API (--admin)"),
        "{reason}"
    );
    bystanders.assert_undisturbed(&mut serve);
}
