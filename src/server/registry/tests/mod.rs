//! The registry in process, with tokio's clock paused: reports are fed
//! straight in, heartbeats counted on links as a connection would, and every
//! decision is checked at the exact instant it must happen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Registry;
use crate::feed::control::{Control, Kicked};
use crate::feed::event::{Event, EventKind};
use crate::feed::snapshot::Snapshot;
use crate::liveness::Rules;
use crate::protocol::{Notice, Status};
use crate::server::config::Config;
use crate::server::failure::{Crashed, Failure};
use crate::server::link::Link;
use crate::server::report::{End, Report};
use crate::server::tally::Tallies;
use crate::stats::{PublishStats, PublishTotals};

const TICK: Duration = Duration::from_millis(100);
/// Far more than reading a CPU clock can add to a publish's CPU time (about
/// a microsecond), and far less than the thread's whole CPU time.
const CLOCK_READ_NS: u64 = 50_000;

/// Tick 100 ms, a strike every 2 silent ticks, `leave` after 3 strikes (so
/// 600 ms of silence), back to `alive` after 3 heard ticks, closed 1 s after
/// `leave`; hello and frame timeouts of 1 s.
fn config() -> Config {
    Config {
        tick: TICK,
        rules: Rules {
            threshold: 2,
            cursor: 3,
            recover: 3,
            leave_timeout: Duration::from_secs(1),
        },
        hello_timeout: Duration::from_secs(1),
        frame_timeout: Duration::from_secs(1),
        max_clients: 2,
        ..Config::default()
    }
}

struct Harness {
    started: Instant,
    tallies: Arc<Tallies>,
    publish_stats: Arc<PublishStats>,
    reports: mpsc::Sender<Report>,
    control: Control,
    events: broadcast::Receiver<Event>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), Crashed>>,
}

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Harness {
    fn start(config: Config) -> Harness {
        let (events_tx, events) = broadcast::channel(1024);
        let tallies = Tallies::new();
        let publish_stats = Arc::new(PublishStats::default());
        let (registry, snapshots) = Registry::new(
            peer(14000),
            &config,
            None,
            Arc::clone(&tallies),
            events_tx,
            Arc::clone(&publish_stats),
        );
        let (reports, reports_rx) = mpsc::channel(64);
        let (commands, commands_rx) = mpsc::channel(8);
        let stop = CancellationToken::new();
        let failure = Failure::new(stop.clone());
        let task = tokio::spawn(registry.run(reports_rx, commands_rx, failure));
        Harness {
            started: Instant::now(),
            tallies,
            publish_stats,
            reports,
            control: Control::new(commands),
            events,
            snapshots,
            stop,
            task,
        }
    }

    /// A connection on `port` as the accept loop reports it.
    async fn open(&self, id: u64, port: u16) -> Arc<Link> {
        let link = Arc::new(Link::new(self.tallies.take()));
        let opened = Report::Opened {
            id,
            peer: peer(port),
            link: Arc::clone(&link),
        };
        self.reports.send(opened).await.unwrap();
        link
    }

    /// A heartbeat as a connection reports it: counted on the link, and the
    /// identity reported the first time.
    async fn beat(&self, id: u64, link: &Link, pid: u32) {
        let first = link.tally().read().0 == 0;
        link.tally().record(1, SystemTime::now());
        if first {
            let hello = Report::Hello {
                id,
                ip: "10.0.0.7".into(),
                pid,
                status: Status::Alive,
            };
            self.reports.send(hello).await.unwrap();
        }
    }

    async fn end(&self, id: u64, end: End) {
        self.reports.send(Report::Ended { id, end }).await.unwrap();
    }

    /// The next event (after the server's own `started`), and when (since
    /// the start) it was made.
    async fn next(&mut self) -> (Duration, EventKind) {
        loop {
            let event = self.events.recv().await.unwrap();
            if !matches!(*event.kind, EventKind::Started { .. }) {
                return (self.started.elapsed(), Arc::unwrap_or_clone(event.kind));
            }
        }
    }

    /// Waits for the event `want` describes.
    async fn until(&mut self, want: impl Fn(&EventKind) -> bool) -> Duration {
        loop {
            let (at, kind) = self.next().await;
            if want(&kind) {
                return at;
            }
        }
    }

    /// The next event that is not `connected`.
    async fn decision(&mut self) -> (Duration, EventKind) {
        loop {
            let (at, kind) = self.next().await;
            if !matches!(kind, EventKind::Connected { .. }) {
                return (at, kind);
            }
        }
    }

    /// Stops the registry; the events it made since the last one read.
    async fn stopped(self) -> Vec<EventKind> {
        let (ended, rest) = self.ended().await;
        assert_eq!(ended, Ok(()));
        rest
    }

    /// Waits for the end of the run (stopping it, if nothing else has):
    /// how it ended, and the events since the last one read.
    async fn ended(self) -> (Result<(), Crashed>, Vec<EventKind>) {
        self.stop.cancel();
        drop(self.reports);
        let ended = self.task.await.unwrap();
        let mut events = self.events;
        let mut rest = Vec::new();
        while let Ok(event) = events.try_recv() {
            rest.push(Arc::unwrap_or_clone(event.kind));
        }
        (ended, rest)
    }
}

fn status(from: Status, to: Status, miss: u32, strikes: u32) -> impl Fn(&EventKind) -> bool {
    move |kind| {
        matches!(kind, EventKind::Status { from: f, to: t, miss: m, strikes: s, .. }
            if (*f, *t, *m, *s) == (from, to, miss, strikes))
    }
}

#[tokio::test(start_paused = true)]
async fn silent_client_goes_leave_after_threshold_times_cursor_ticks_then_closes_after_the_leave_timeout()
 {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    // Heard at the first tick (100 ms), silent from then on: six silent
    // ticks make three strikes, so `leave` at 700 ms.
    let (at, kind) = h.decision().await;
    assert!(
        status(Status::Alive, Status::Leave, 0, 3)(&kind),
        "{kind:?}"
    );
    assert_eq!(at, Duration::from_millis(700));
    assert_eq!(link.next_notice().await.status, Status::Leave);
    // One leave timeout later, to the tick.
    let (at, kind) = h.decision().await;
    assert_eq!(at, Duration::from_millis(1700));
    assert!(
        status(Status::Leave, Status::Close, 0, 3)(&kind),
        "{kind:?}"
    );
    let (_, closed) = h.decision().await;
    assert_eq!(
        closed,
        EventKind::Closed {
            peer: peer(5001),
            pid: Some(42),
            ip: Some("10.0.0.7".into()),
            status: Status::Close,
            reason: "no recovery within the leave timeout (1s)".into(),
        }
    );
    assert_eq!(
        link.next_notice().await,
        Notice::close("no recovery within the leave timeout (1s)")
    );
    let snapshot = h.control.list().await.unwrap();
    assert!(snapshot.clients.is_empty());
    assert_eq!(
        snapshot.history[0].reason,
        "no recovery within the leave timeout (1s)"
    );
    assert_eq!(snapshot.counters.closed, 1);
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_leave_client_that_beats_for_recover_ticks_is_alive_again() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    let (_, kind) = h.decision().await;
    assert!(
        status(Status::Alive, Status::Leave, 0, 3)(&kind),
        "{kind:?}"
    );
    // Beat once between each of the next ticks.
    let beats = {
        let link = Arc::clone(&link);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK / 2).await;
                link.tally().record(1, SystemTime::now());
                tokio::time::sleep(TICK / 2).await;
            }
        })
    };
    let (at, kind) = h.decision().await;
    assert!(
        status(Status::Leave, Status::Alive, 0, 0)(&kind),
        "{kind:?}"
    );
    assert_eq!(
        at,
        Duration::from_millis(1000),
        "three heard ticks after 700 ms"
    );
    assert_eq!(link.next_notice().await.status, Status::Alive);
    beats.abort();
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn goodbye_and_disconnect_are_recorded_with_the_status_the_client_had() {
    let mut h = Harness::start(config());
    let polite = h.open(1, 5001).await;
    let abrupt = h.open(2, 5002).await;
    h.beat(1, &polite, 1).await;
    h.beat(2, &abrupt, 2).await;
    h.end(1, End::Goodbye).await;
    h.end(2, End::Disconnected).await;
    let (at, first) = h.decision().await;
    let (_, second) = h.decision().await;
    assert_eq!(at, Duration::ZERO, "at once, not at a tick");
    assert_eq!(
        first,
        EventKind::Closed {
            peer: peer(5001),
            pid: Some(1),
            ip: Some("10.0.0.7".into()),
            status: Status::Close,
            reason: "client said goodbye".into()
        }
    );
    assert_eq!(
        second,
        EventKind::Closed {
            peer: peer(5002),
            pid: Some(2),
            ip: Some("10.0.0.7".into()),
            status: Status::Alive,
            reason: "client disconnected".into()
        }
    );
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_kick_closes_exactly_the_clients_named_and_says_who_had_gone() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    h.next().await; // connected
    let answer = h
        .control
        .kick_each(vec![peer(5001), peer(5999)], "dashboard", None)
        .await
        .unwrap();
    assert_eq!(
        answer,
        Kicked {
            kicked: vec![peer(5001)],
            gone: vec![peer(5999)]
        }
    );
    assert_eq!(
        h.decision().await.1,
        EventKind::Kick {
            peer: peer(5001),
            pid: Some(42),
            by: "dashboard".into()
        }
    );
    assert!(matches!(h.decision().await.1,
        EventKind::Closed { reason, status: Status::Close, .. } if reason == "kicked by operator"));
    assert_eq!(
        link.next_notice().await,
        Notice::close("kicked by operator").retry_after(super::commands::KICK_RETRY_AFTER),
        "a kicked client is asked to wait before it comes back"
    );
    assert_eq!(
        h.control.kick(peer(5001), "stdin", None).await,
        Err(crate::feed::CommandError::NoSuchClient(peer(5001)))
    );
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn refusals_are_reported_at_once_then_at_most_once_a_second_with_a_count() {
    let mut h = Harness::start(config());
    for port in 6000..6005 {
        let refused = Report::Rejected {
            peer: peer(port),
            reason: "server full".into(),
        };
        h.reports.send(refused).await.unwrap();
    }
    let (at, first) = h.next().await;
    assert_eq!(at, Duration::ZERO);
    assert!(
        matches!(first, EventKind::Rejected { count: 1, .. }),
        "{first:?}"
    );
    let (at, held) = h.next().await;
    assert_eq!(at, Duration::from_secs(1));
    assert_eq!(
        held,
        EventKind::Rejected {
            peer: peer(6004),
            reason: "server full".into(),
            count: 4
        }
    );
    assert_eq!(h.control.list().await.unwrap().counters.rejected, 5);
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_says_hello_is_closed_at_the_first_tick_past_the_hello_timeout() {
    let mut h = Harness::start(Config {
        hello_timeout: Duration::from_millis(250),
        ..config()
    });
    let _mute = h.open(1, 5001).await;
    let (at, closed) = h.decision().await;
    assert_eq!(at, Duration::from_millis(300));
    assert_eq!(
        closed,
        EventKind::Closed {
            peer: peer(5001),
            pid: None,
            ip: None,
            status: Status::Close,
            reason: "no heartbeat within the hello timeout (250ms)".into()
        }
    );
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_stalled_server_reads_what_arrived_before_judging_hello_and_frame_timeouts() {
    let h = Harness::start(config());
    let hello_in_the_stall = h.open(1, 5001).await;
    let frame_done_in_the_stall = h.open(2, 5002).await;
    h.beat(2, &frame_done_in_the_stall, 2).await;
    frame_done_in_the_stall
        .tally()
        .partial_frame(Some(Instant::now()));
    tokio::time::sleep(TICK / 2).await;
    // The server stops for 12 s: the tick comes 12 s late, before the
    // connections have read what arrived meanwhile.
    tokio::time::advance(Duration::from_secs(12)).await;
    tokio::task::yield_now().await;
    // Now the connections read it.
    h.beat(1, &hello_in_the_stall, 1).await;
    frame_done_in_the_stall.tally().partial_frame(None);
    tokio::time::sleep(TICK * 3).await;
    let snapshot = h.control.list().await.unwrap();
    assert_eq!(snapshot.clients.len(), 2, "{:?}", snapshot.history);
    let rest = h.stopped().await;
    assert!(
        rest.iter().all(
            |e| !matches!(e, EventKind::Closed { reason, .. } if reason != "server shutting down")
        ),
        "{rest:?}"
    );
}

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

#[tokio::test(start_paused = true)]
async fn stopping_closes_every_client_with_a_reason() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    h.next().await;
    let mut snapshots = h.snapshots.clone();
    h.stop.cancel();
    assert_eq!(
        link.next_notice().await,
        Notice::close("server shutting down")
    );
    assert!(matches!(h.decision().await.1,
        EventKind::Closed { reason, .. } if reason == "server shutting down"));
    // A front end holds the latest picture as the run ends, and no spare
    // is free: the last publish waits for a copy to write into.
    let held = h.control.list().await.unwrap();
    let rest = h.stopped().await;
    assert_eq!(
        rest.last(),
        Some(&EventKind::Stopped {
            listen: peer(14000),
            error: None,
        }),
        "the run ends with its marker: {rest:?}"
    );
    let last_event = |s: &Snapshot| s.recent.back().map(|event| Arc::clone(&event.kind));
    let last = snapshots.borrow_and_update().clone();
    assert!(matches!(
        last_event(&last).as_deref(),
        Some(EventKind::Stopped { .. })
    ));
    assert!(matches!(
        last_event(&held).as_deref(),
        Some(EventKind::Closed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_kick_with_a_hold_off_refuses_the_same_ip_and_pid_until_it_ends() {
    let mut h = Harness::start(config());
    let first = h.open(1, 5001).await;
    h.beat(1, &first, 42).await;
    h.next().await; // connected
    let hold = Some(Duration::from_secs(60));
    h.control.kick(peer(5001), "stdin", hold).await.unwrap();
    let notice = first.next_notice().await;
    assert_eq!(notice.retry_after, Some(60));
    // It comes back 10 s later, from another port: refused with the time left.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let again = h.open(2, 5002).await;
    h.beat(2, &again, 42).await;
    assert_eq!(
        again.next_notice().await,
        Notice::close("kicked; retry after 50s").retry_after(Duration::from_secs(50))
    );
    // Another pid from the same address is welcome.
    let other = h.open(3, 5003).await;
    h.beat(3, &other, 43).await;
    h.until(|k| *k == EventKind::Connected { peer: peer(5003) })
        .await;
    let live = |snapshot: &Snapshot| -> Vec<u16> {
        snapshot.clients.iter().map(|c| c.peer.port()).collect()
    };
    assert_eq!(live(&h.control.list().await.unwrap()), [5003]);
    // After the hold-off, the first is welcome again.
    tokio::time::sleep(Duration::from_secs(51)).await;
    let back = h.open(4, 5004).await;
    h.beat(4, &back, 42).await;
    // A tick later its hello has long been judged.
    tokio::time::sleep(TICK).await;
    assert!(live(&h.control.list().await.unwrap()).contains(&5004));
    h.stopped().await;
}

mod crash;
mod fleet;
mod overflow;
