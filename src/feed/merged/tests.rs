use std::time::{Duration, Instant};

use super::*;
use crate::feed::link::Refusal;
use crate::feed::query::Sort;
use crate::feed::snapshot::Settings;
use crate::liveness::Rules;

fn client(port: u16, ip: &str, pid: u32, beats: u64) -> ClientView {
    let mut c = ClientView::opened(
        u64::from(port),
        SocketAddr::from(([10, 0, 0, 9], port)),
        SystemTime::UNIX_EPOCH,
    );
    c.ip = Some(Arc::from(ip));
    c.pid = Some(pid);
    c.heartbeats = beats;
    c
}

fn snapshot(clients: Vec<ClientView>) -> Arc<Snapshot> {
    let settings = Settings {
        tick: Duration::from_secs(1),
        rules: Rules::default(),
    };
    let mut s = Snapshot::empty(([127, 0, 0, 1], 1).into(), settings);
    s.taken_mono = Instant::now();
    s.clients = clients;
    Arc::new(s)
}

fn part(name: &str, clients: Vec<ClientView>) -> Part {
    Part {
        name: Arc::from(name),
        address: Arc::from(format!("127.0.0.1:1{name}")),
        ..Part::local(snapshot(clients))
    }
}

/// What the rows show: server and port, in order.
fn shown(merged: &Merged, rows: &[At]) -> Vec<(String, u16)> {
    (rows.iter())
        .map(|&at| {
            (
                merged.part(at).name.to_string(),
                merged.client(at).peer.port(),
            )
        })
        .collect()
}

fn two() -> Merged {
    Merged::new(vec![
        part(
            "eu-1",
            vec![
                client(1, "10.1.0.1", 100, 30),
                client(2, "10.1.0.2", 200, 10),
            ],
        ),
        part(
            "us-2",
            vec![
                client(3, "10.2.0.3", 300, 20),
                client(1, "10.2.0.1", 400, 40),
            ],
        ),
    ])
}

#[test]
fn several_servers_are_one_table_one_filter_and_one_sort() {
    let merged = two();
    assert!(merged.several());
    let all = merged.rows(&Query::default(), None);
    let order = [("eu-1", 1), ("eu-1", 2), ("us-2", 3), ("us-2", 1)];
    let expected: Vec<(String, u16)> = order.iter().map(|&(s, p)| (s.to_owned(), p)).collect();
    assert_eq!(
        shown(&merged, &all),
        expected,
        "each server's clients, servers in order"
    );

    let by_beats = Query {
        sort: Sort::Beats,
        reverse: true,
        ..Query::default()
    };
    let rows = merged.rows(&by_beats, None);
    let beats: Vec<u64> = rows
        .iter()
        .map(|&at| merged.client(at).heartbeats)
        .collect();
    assert_eq!(beats, [40, 30, 20, 10], "sorted across servers");

    let us = Query {
        filter: "US-2".to_owned(),
        ..Query::default()
    };
    let rows = merged.rows(&us, None);
    assert_eq!(
        shown(&merged, &rows),
        [("us-2".to_owned(), 3), ("us-2".to_owned(), 1)]
    );
    let pid = Query {
        filter: "200".to_owned(),
        ..Query::default()
    };
    assert_eq!(
        merged.rows(&pid, None).len(),
        1,
        "the filter still matches a pid"
    );
    let only = merged.rows(&Query::default(), Some(1));
    assert_eq!(only.len(), 2, "narrowed to the second server");
}

#[test]
fn one_server_is_not_matched_by_its_own_name() {
    let merged = Merged::new(vec![part("box", vec![client(1, "10.0.0.1", 1, 0)])]);
    let by_name = Query {
        filter: "box".to_owned(),
        ..Query::default()
    };
    assert!(merged.rows(&by_name, None).is_empty());
}

#[test]
fn a_key_names_a_client_on_its_own_server_whatever_the_rows() {
    let mut merged = two();
    let rows = merged.rows(&Query::default(), None);
    let key = merged.key(rows[3]);
    assert_eq!(key.to_string(), "10.0.0.9:1 on us-2");
    // The same port on the other server is another client.
    assert!(!merged.is(rows[0], &key));
    // eu-1 gains a client: us-2's rows move down, the key still finds it.
    let grown = vec![
        client(5, "10.1.0.5", 500, 0),
        client(1, "10.1.0.1", 100, 30),
    ];
    merged.update(0, snapshot(grown));
    let rows = merged.rows(&Query::default(), None);
    let found: Vec<usize> = (0..rows.len())
        .filter(|&i| merged.is(rows[i], &key))
        .collect();
    assert_eq!(found, [3]);
}

#[test]
fn a_client_on_two_servers_is_a_twin_on_both() {
    let mut merged = two();
    let twins = |merged: &Merged| {
        let rows = merged.rows(&Query::default(), None);
        let rows = rows.into_iter().filter(|&at| merged.twin(at));
        rows.map(|at| merged.key(at).to_string())
            .collect::<Vec<_>>()
    };
    assert!(twins(&merged).is_empty());
    merged.update(1, snapshot(vec![client(7, "10.1.0.2", 200, 1)]));
    assert_eq!(
        twins(&merged),
        ["10.0.0.9:2 on eu-1", "10.0.0.9:7 on us-2"],
        "the same ip and pid on both: marked in both rows"
    );
    // The old server closes it: no longer a twin.
    merged.update(0, snapshot(vec![client(1, "10.1.0.1", 100, 30)]));
    assert!(twins(&merged).is_empty());
    // One server alone has no twins, whatever its clients.
    let one = Merged::new(vec![part(
        "x",
        vec![client(1, "a", 1, 0), client(2, "a", 1, 0)],
    )]);
    assert!(!one.twin(At { part: 0, index: 0 }));
}

#[test]
fn a_lost_server_cannot_be_kicked_and_remembers_since_when() {
    let mut merged = two();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
    assert_eq!(merged.parts()[1].unkickable(), None);
    merged.connect(1, Connection::Lost("refused".to_owned()), t0);
    merged.connect(
        1,
        Connection::Lost("refused again".to_owned()),
        t0 + Duration::from_secs(5),
    );
    let lost = &merged.parts()[1];
    assert_eq!(lost.lost_since, Some(t0), "lost since the first loss");
    let why = lost.unkickable().expect("not kickable");
    assert!(why.contains("us-2 is disconnected"), "{why}");
    assert_eq!(merged.connected(), 1);
    let refused = Connection::Refused(Refusal::NeedsToken, "401".to_owned());
    merged.connect(0, refused, t0);
    assert!(merged.parts()[0].unkickable().is_some());
    merged.connect(1, Connection::Connected, t0);
    assert_eq!(merged.parts()[1].lost_since, None);
    let mut read_only = part("ro", Vec::new());
    read_only.read_only = true;
    let why = read_only.unkickable().expect("read-only");
    assert!(why.contains("ro is read-only"), "{why}");
}

#[test]
fn rows_of_several_servers_merge_in_time_order() {
    let merged = two();
    let mut rows = vec![at(0, 0), at(0, 1), at(1, 0)];
    let times = |a: At| [[3, 1], [2, 0]][a.part as usize][a.index as usize];
    merged.in_time(&mut rows, times);
    assert_eq!(rows, [at(0, 1), at(1, 0), at(0, 0)]);
    let one = Merged::new(vec![part("x", Vec::new())]);
    let mut rows = vec![at(0, 1), at(0, 0)];
    one.in_time(&mut rows, |a| a.index);
    assert_eq!(rows, [at(0, 1), at(0, 0)], "one server's order is kept");
}

fn at(part: u32, index: u32) -> At {
    At { part, index }
}
