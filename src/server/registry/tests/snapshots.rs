//! What the published snapshots show: who said hello and their heartbeats,
//! totals that one owner counts, and rows rewritten in place without ever
//! changing a snapshot a front end holds.

use super::*;

#[tokio::test(start_paused = true)]
async fn snapshots_show_who_said_hello_and_count_heartbeats() {
    let h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    link.tally().record(4, SystemTime::now());
    let mut snapshots = h.snapshots.clone();
    let shown = snapshots
        .wait_for(|s| {
            s.clients
                .first()
                .is_some_and(|c| c.heartbeats == 5 && c.pid.is_some())
        })
        .await
        .unwrap()
        .clone();
    let client = &shown.clients[0];
    assert_eq!(
        (client.pid, client.ip.as_deref()),
        (Some(42), Some("10.0.0.7"))
    );
    assert_eq!(shown.counters.frames, 5);
    assert_eq!(shown.settings.rules, config().rules);
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn heartbeats_seen_while_a_viewer_reads_details_are_still_counted_in_the_totals() {
    let h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    // Commands go before reports: let the registry take them in first.
    tokio::time::sleep(TICK / 10).await;
    // As the dashboard's details pane does: ask for the client's story
    // while its heartbeats keep arriving.
    for _ in 0..20 {
        link.tally().record(3, SystemTime::now());
        let details = h.control.show(peer(5001)).await.unwrap();
        assert_eq!(details.pid, Some(42));
    }
    let shown = h.control.list().await.unwrap();
    assert_eq!(shown.clients[0].heartbeats, 61);
    assert_eq!(shown.counters.frames, 61, "the totals agree with the row");
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_a_front_end_holds_never_changes_under_it() {
    let h = Harness::start(config());
    let first = h.open(1, 5001).await;
    h.beat(1, &first, 41).await;
    // Commands go before reports: let the registry take them in first.
    let settle = || tokio::time::sleep(TICK / 10);
    settle().await;
    // Each `list` publishes: one held, one released, one held, in turn, so
    // publishes rewrite in place, swap in the spare and wait for a copy.
    let one = h.control.list().await.unwrap();
    let second = h.open(2, 5002).await;
    h.beat(2, &second, 42).await;
    settle().await;
    drop(h.control.list().await.unwrap());
    first.tally().record(3, SystemTime::now());
    settle().await;
    let two = h.control.list().await.unwrap();
    h.end(1, End::Disconnected).await;
    settle().await;
    let three = h.control.list().await.unwrap();
    let four = h.control.list().await.unwrap();
    let published_by_four = h.publish_stats.totals().publishes;
    // The spare (`three`) is let go: the next publish rewrites it.
    drop(three);
    second.tally().record(2, SystemTime::now());
    settle().await;
    let five = h.control.list().await.unwrap();
    let rows = |s: &Snapshot| -> Vec<(u64, u64)> {
        s.clients.iter().map(|c| (c.id, c.heartbeats)).collect()
    };
    assert_eq!(rows(&one), [(1, 1)]);
    assert_eq!(rows(&two), [(1, 4), (2, 1)]);
    assert_eq!(rows(&four), [(2, 1)]);
    assert_eq!(rows(&five), [(2, 3)]);
    assert_eq!(four.counters.closed, 1);
    assert_eq!(one.counters.closed, 0);
    let totals = h.publish_stats.totals();
    assert!(totals.publishes > published_by_four);
    assert!(five.counters.frames > four.counters.frames);
    // Publishes took time, and the thread ran for about as long: its CPU
    // clock, read just outside each, adds the tail of a clock read.
    let PublishTotals {
        publishes,
        publish_ns,
        publish_cpu_ns,
    } = totals;
    assert!(
        0 < publish_cpu_ns && publish_cpu_ns <= publish_ns + publishes * CLOCK_READ_NS,
        "{publish_cpu_ns} of {publish_ns}"
    );
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn rows_rewritten_in_place_follow_a_close_in_the_middle_a_newcomer_and_a_new_ip() {
    let h = Harness::start(config());
    let settle = || tokio::time::sleep(TICK / 10);
    let mut links = Vec::new();
    for id in 1..=3 {
        let link = h.open(id, 5000 + id as u16).await;
        h.beat(id, &link, 40 + id as u32).await;
        links.push(link);
    }
    settle().await;
    // Let go at once: nobody holds it, so the next publish rewrites it.
    drop(h.control.list().await.unwrap());
    h.end(2, End::Disconnected).await;
    let fourth = h.open(4, 5004).await;
    h.beat(4, &fourth, 44).await;
    let hello = Report::Hello {
        id: 3,
        ip: "10.0.0.9".into(),
        pid: 43,
        status: Status::Alive,
        transport: Default::default(),
    };
    h.reports.send(hello).await.unwrap();
    links[0].tally().record(1, SystemTime::now());
    settle().await;
    let now = h.control.list().await.unwrap();
    let rows: Vec<(u64, Option<&str>, u64)> = (now.clients.iter())
        .map(|c| (c.id, c.ip.as_deref(), c.heartbeats))
        .collect();
    assert_eq!(
        rows,
        [
            (1, Some("10.0.0.7"), 2),
            (3, Some("10.0.0.9"), 1),
            (4, Some("10.0.0.7"), 1)
        ]
    );
    drop(now);
    h.stopped().await;
}
