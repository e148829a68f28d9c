//! Frames round trip: a replica fed the frames of a run of snapshots holds
//! those snapshots.

use super::*;
use crate::feed::event::EventKind;
use crate::feed::snapshot::{ClosedClient, Settings, Silence};
use crate::liveness::Rules;

fn at(ms: u64) -> SystemTime {
    from_ms(1_796_000_000_000 + ms).unwrap()
}

fn client(id: u64, beats: u64) -> ClientView {
    ClientView {
        id,
        peer: SocketAddr::from(([10, 0, 0, id as u8], 5000 + id as u16)),
        ip: Some(Arc::from("10.9.9.9")),
        pid: Some(100 + id as u32),
        reported: Some(Status::Alive),
        liveness: Liveness {
            streak: 7,
            ..Liveness::default()
        },
        heartbeats: beats,
        connected_at: at(0),
        last_seen: Some(at(900)),
        held: None,
        phi: None,
        reconnects: 1,
        flaps: 2,
        maintenance: None,
        transport: Default::default(),
    }
}

fn snapshot(clients: Vec<ClientView>) -> Snapshot {
    let settings = Settings {
        tick: Duration::from_millis(250),
        rules: Rules::default(),
    };
    let mut s = Snapshot::empty(SocketAddr::from(([127, 0, 0, 1], 14000)), settings);
    s.admin = Some(Arc::from("127.0.0.1:14001"));
    s.started = at(0);
    s.taken = at(1000);
    s.clients = clients;
    s
}

/// Everything but the monotonic instants, which each side has its own.
fn same(a: &Snapshot, b: &Snapshot) {
    assert_eq!(a.clients.len(), b.clients.len());
    for (x, y) in a.clients.iter().zip(&b.clients) {
        let strip = |c: &ClientView| ClientView {
            liveness: Liveness {
                leave_since: None,
                ..c.liveness
            },
            ..c.clone()
        };
        assert_eq!(strip(x), strip(y));
        assert_eq!(
            x.liveness.leave_since.is_some(),
            y.liveness.leave_since.is_some()
        );
    }
    assert_eq!(a.history, b.history);
    assert_eq!(a.recent, b.recent);
    assert_eq!(a.counters, b.counters);
    assert_eq!(
        (
            a.listen,
            &a.admin,
            a.settings,
            a.started,
            a.taken,
            a.fleet_silent
        ),
        (
            b.listen,
            &b.admin,
            b.settings,
            b.started,
            b.taken,
            b.fleet_silent
        )
    );
}

fn event(ms: u64, kind: EventKind) -> Event {
    Event {
        at: at(ms),
        kind: Arc::new(kind),
    }
}

#[test]
fn a_replica_follows_whole_snapshots_then_changes() {
    let mut first = snapshot((1..=5).map(|id| client(id, 10)).collect());
    first.counters.events = 1;
    Arc::make_mut(&mut first.recent).push_back(event(
        5,
        EventKind::Connected {
            peer: first.clients[0].peer,
            identity: None,
        },
    ));
    let mut replica = Replica::default();
    let (got, events) = replica.apply(&encode(None, &first)).unwrap();
    same(&got, &first);
    assert!(
        events.is_empty(),
        "a whole snapshot brings history, not news"
    );

    // Client 2 goes, 3 beats, 4 goes leave, 6 and 7 arrive; one closed
    // client and two events.
    let mut second = first.clone();
    second.taken = at(2000);
    let gone = second.clients.remove(1);
    second.clients[1].heartbeats = 11;
    second.clients[1].last_seen = Some(at(1990));
    second.clients[1].liveness.streak = 8;
    second.clients[2].liveness.status = Status::Leave;
    second.clients[2].liveness.leave_since = Some(second.taken_mono);
    second.clients[2].held = Some(Held::CloseRate { ahead: 3 });
    second.clients.extend([client(6, 0), client(7, 1)]);
    second.counters.closed = 1;
    second.counters.events = 3;
    Arc::make_mut(&mut second.history).push_back(ClosedClient {
        peer: gone.peer,
        pid: gone.pid,
        ip: gone.ip.clone(),
        status: Status::Alive,
        reason: "client disconnected".into(),
        heartbeats: 10,
        connected_at: at(0),
        closed_at: at(1500),
    });
    let news = [
        event(
            1500,
            EventKind::Closed {
                peer: gone.peer,
                pid: gone.pid,
                ip: gone.ip.clone(),
                identity: None,
                status: Status::Alive,
                reason: "client disconnected".into(),
            },
        ),
        event(
            1600,
            EventKind::Connected {
                peer: client(6, 0).peer,
                identity: None,
            },
        ),
    ];
    Arc::make_mut(&mut second.recent).extend(news.iter().cloned());
    second.fleet_silent = Some(Silence {
        since: at(1700),
        silent: 3,
        clients: 6,
    });
    let frame = encode(Some(&first), &second);
    let (got, events) = replica.apply(&frame).unwrap();
    same(&got, &second);
    assert_eq!(events, news);
}

#[test]
fn a_heartbeat_costs_a_few_bytes_a_client() {
    let first = snapshot((1..=1000).map(|id| client(id, 10)).collect());
    let mut second = first.clone();
    second.taken = at(2000);
    for c in &mut second.clients {
        c.heartbeats += 1;
        c.liveness.streak += 4;
        c.last_seen = Some(at(1800));
    }
    let frame = encode(Some(&first), &second);
    // Eight bytes each: the change, its gap, two increments, the time, φ.
    assert!(
        frame.len() < 9 * 1000,
        "{} bytes for 1000 beats",
        frame.len()
    );
    let mut replica = Replica::default();
    replica.apply(&encode(None, &first)).unwrap();
    let (got, _) = replica.apply(&frame).unwrap();
    same(&got, &second);
}

#[test]
fn another_run_of_the_server_is_sent_whole_and_a_change_needs_a_base() {
    let first = snapshot(vec![client(1, 1)]);
    let mut restarted = snapshot(vec![client(1, 5)]);
    restarted.started = at(500);
    let frame = encode(Some(&first), &restarted);
    assert!(matches!(
        postcard::from_bytes::<Frame>(&frame),
        Ok(Frame::Full(_))
    ));
    let delta = encode(Some(&first), &first);
    assert!(matches!(
        Replica::default().apply(&delta),
        Err(WireError::NoBase)
    ));
    assert!(matches!(
        Replica::default().apply(b"\xff\xff"),
        Err(WireError::Decode(_))
    ));
}

#[test]
fn a_change_to_a_client_the_viewer_does_not_have_is_refused() {
    let two = snapshot(vec![client(1, 1), client(2, 1)]);
    let moved = snapshot(vec![client(1, 1), client(2, 9)]);
    let mut replica = Replica::default();
    replica
        .apply(&encode(None, &snapshot(vec![client(1, 1)])))
        .unwrap();
    assert!(matches!(
        replica.apply(&encode(Some(&two), &moved)),
        Err(WireError::NoSuchRow(1))
    ));
}

#[test]
fn a_time_past_the_year_9999_is_refused_naming_the_limit() {
    let mut late = snapshot(vec![client(1, 1)]);
    late.taken = SystemTime::UNIX_EPOCH + Duration::from_millis(LATEST_MS + 1);
    let error = Replica::default()
        .apply(&encode(None, &late))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "a time past the year 9999 (253402300800000 ms since 1970; the latest taken is 253402300799999)"
    );
    late.taken = SystemTime::UNIX_EPOCH + Duration::from_millis(LATEST_MS);
    assert!(Replica::default().apply(&encode(None, &late)).is_ok());
}

/// A row and the counters are laid out flat, field after field, as a
/// viewer or a server of any build reads them: grouping fields in nested
/// structs, and the three empty publish slots, must not move a byte.
#[test]
fn rows_and_totals_are_laid_out_flat_for_every_build() {
    let mut c = client(3, 41);
    c.liveness.miss = 2;
    c.held = Some(Held::CloseRate { ahead: 4 });
    c.phi = Some(1.5);
    let taken_mono = Instant::now();
    c.liveness.leave_since = taken_mono.checked_sub(Duration::from_millis(1500));
    let row = Row::new(&c, at(1000), taken_mono);
    let leave_since_us = row.liveness.leave_since_us;
    assert!(leave_since_us.is_some());
    // Tuples are written in place too: the row's eighteen fields in order.
    let who = (3u64, c.peer, Some("10.9.9.9"), Some(103u32), Some(0u8));
    let judged = (0u8, 2u32, 0u32, 7u32, leave_since_us);
    let rest = (
        41u64,
        ms(at(0)),
        Some(100u32),
        Some(5u64),
        Some(1.5f32),
        1u32,
        2u32,
        None::<Option<String>>,
    );
    let flat = (who, judged, rest);
    assert_eq!(bytes(&row), bytes(&flat));

    let mut counters = Counters {
        frames: 9,
        bad_frames: 1,
        events: 300,
        closed: 2,
        rejected: 4,
        journal_lost: 5,
        ..Counters::default()
    };
    counters.closed_by[1] = 2;
    let mut flat = vec![9u64, 1, 300, 2];
    flat.extend(counters.closed_by);
    flat.extend([4, 5, 0, 0, 0]);
    let flat: [u64; 9 + CloseCause::ALL.len()] = flat.try_into().unwrap();
    assert_eq!(bytes(&Totals::from(counters)), bytes(&flat));
}

/// A value's postcard bytes.
fn bytes<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).unwrap()
}

#[test]
fn a_maintenance_window_travels_in_whole_frames_and_in_changes() {
    let first = snapshot(vec![client(1, 10), client(2, 10)]);
    let mut second = first.clone();
    second.clients[1].maintenance = Some(at(600_000));
    let mut third = second.clone();
    third.clients[1].maintenance = None;
    let (whole, _) = Replica::default().apply(&encode(None, &second)).unwrap();
    same(&whole, &second);
    let mut replica = Replica::default();
    replica.apply(&encode(None, &first)).unwrap();
    let (started, _) = replica.apply(&encode(Some(&first), &second)).unwrap();
    same(&started, &second);
    assert_eq!(started.in_maintenance(), 1);
    let (ended, _) = replica.apply(&encode(Some(&second), &third)).unwrap();
    same(&ended, &third);
}

#[test]
fn a_tls_identity_crosses_whole_and_in_a_change_and_a_long_one_is_refused() {
    let tls = |identity: &str| Transport::Tls {
        identity: Some(Arc::from(identity)),
    };
    let mut old = snapshot(vec![client(1, 5), client(2, 5)]);
    old.clients[0].transport = tls("web-1.prod");
    old.clients[1].transport = Transport::Tls { identity: None };
    let mut replica = Replica::default();
    let (got, _) = replica.apply(&encode(None, &old)).unwrap();
    same(&old, &got);
    // A client that reconnects under another certificate is the same row
    // changed whole.
    let mut new = old.clone();
    new.clients[1].transport = tls("web-2.prod");
    let (got, _) = replica.apply(&encode(Some(&old), &new)).unwrap();
    same(&new, &got);
    assert_eq!(got.count_tls(), 2);

    let mut long = snapshot(vec![client(1, 5)]);
    long.clients[0].transport = tls(&"x".repeat(IDENTITY_MAX + 1));
    let error = Replica::default().apply(&encode(None, &long)).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "a client identity of {} bytes (at most {IDENTITY_MAX})",
            IDENTITY_MAX + 1
        )
    );
}
