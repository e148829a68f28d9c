//! Maintenance windows in the registry: while one is open the rules never
//! move its client to `leave` or close it, so no `status` or `closed` event
//! is made and no hook can run; when it ends the client is judged afresh;
//! an operator's kick still closes it; a client that reconnects with the
//! same ip and pid within the window is still in it; and clients silent in
//! a window never set off the fleet's silence guard.

use std::sync::atomic::AtomicBool;

use super::fleet::{events_until, fleet, quiet_between};
use super::*;
use crate::feed::control::{Maintained, Target};

/// Puts the client at `port` into maintenance for `length` (or ends its
/// window), once the registry has taken in every report sent so far.
async fn maintain(h: &Harness, port: u16, length: Option<Duration>) -> Maintained {
    // The clock is paused: a sleep returns once every task is idle, the
    // registry's reports all read.
    tokio::time::sleep(Duration::from_millis(1)).await;
    let target = Target::Peers(vec![peer(port)]);
    h.control.maintenance(target, length, "test").await.unwrap()
}

fn started(port: u16) -> impl Fn(&EventKind) -> bool {
    move |kind| matches!(kind, EventKind::MaintenanceStarted { peer: p, .. } if *p == peer(port))
}

fn ended(port: u16, by: Option<&'static str>) -> impl Fn(&EventKind) -> bool {
    move |kind| {
        matches!(kind, EventKind::MaintenanceEnded { peer: p, by: b, .. }
            if *p == peer(port) && b.as_deref() == by)
    }
}

/// The next decision, which must be the one `want` describes: nothing else
/// (no `status`, no `closed`) came before it.
async fn next_is(h: &mut Harness, want: impl Fn(&EventKind) -> bool) -> Duration {
    let (at, kind) = h.decision().await;
    assert!(want(&kind), "{kind:?} at {at:?}");
    at
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_in_maintenance_is_never_sent_to_leave_and_is_judged_afresh_after() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    let answer = maintain(&h, 5001, Some(Duration::from_secs(3))).await;
    assert_eq!(answer.clients, vec![peer(5001)]);
    assert!(answer.until.is_some());
    next_is(&mut h, started(5001)).await;
    let snapshot = h.control.list().await.unwrap();
    assert_eq!(snapshot.clients[0].maintenance, answer.until);
    assert_eq!(snapshot.in_maintenance(), 1);
    // Heartbeats in the window are counted.
    link.tally().record(1, SystemTime::now());
    tokio::time::sleep(TICK).await;
    assert_eq!(h.control.list().await.unwrap().clients[0].heartbeats, 2);
    // Silent for far longer than `leave` (600 ms) plus the leave timeout
    // (1 s) takes: the next decision is the window's end, at the first tick
    // after it (opened at 1 ms, for 3 s).
    let end = next_is(&mut h, ended(5001, None)).await;
    assert_eq!(end, Duration::from_millis(3100));
    assert_eq!(h.control.list().await.unwrap().clients[0].maintenance, None);
    // Afresh: six silent ticks to `leave`, the one that ended the window
    // the first, then a whole leave timeout to close.
    let leave = next_is(&mut h, status(Status::Alive, Status::Leave, 0, 3)).await;
    assert_eq!(leave, end + 5 * TICK);
    let close = next_is(&mut h, status(Status::Leave, Status::Close, 0, 3)).await;
    assert_eq!(close, leave + Duration::from_secs(1));
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_in_leave_is_not_closed_in_maintenance_and_gets_a_whole_leave_timeout_after() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    let leave = next_is(&mut h, status(Status::Alive, Status::Leave, 0, 3)).await;
    assert_eq!(leave, Duration::from_millis(700));
    // Its leave timeout would close it at 1.7 s.
    maintain(&h, 5001, Some(Duration::from_secs(2))).await;
    next_is(&mut h, started(5001)).await;
    let end = next_is(&mut h, ended(5001, None)).await;
    assert_eq!(end, Duration::from_millis(2800));
    let close = next_is(&mut h, |k| {
        matches!(
            k,
            EventKind::Status {
                from: Status::Leave,
                to: Status::Close,
                ..
            }
        )
    })
    .await;
    assert_eq!(close, end + Duration::from_secs(1));
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn an_operator_can_end_a_window_early_and_the_client_is_judged_from_then() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    maintain(&h, 5001, Some(Duration::from_secs(60))).await;
    next_is(&mut h, started(5001)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answer = maintain(&h, 5001, None).await;
    assert_eq!(answer.clients, vec![peer(5001)]);
    assert_eq!(answer.until, None);
    let end = next_is(&mut h, ended(5001, Some("test"))).await;
    // Ending it again covers nobody: it is no longer in one.
    assert!(maintain(&h, 5001, None).await.clients.is_empty());
    let leave = next_is(&mut h, status(Status::Alive, Status::Leave, 0, 3)).await;
    assert!(leave > end && leave <= end + 7 * TICK, "{end:?} {leave:?}");
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_kick_still_closes_a_client_in_maintenance() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    maintain(&h, 5001, Some(Duration::from_secs(60))).await;
    next_is(&mut h, started(5001)).await;
    // `kick-leave` is for failures: a client in maintenance is not one.
    assert!(h.control.kick_leave("test", None).await.unwrap().is_empty());
    h.control.kick(peer(5001), "test", None).await.unwrap();
    next_is(&mut h, |k| matches!(k, EventKind::Kick { .. })).await;
    next_is(&mut h, |k| matches!(k, EventKind::Closed { .. })).await;
    assert_eq!(link.next_notice().await.status, Status::Close);
    assert!(h.control.list().await.unwrap().clients.is_empty());
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_that_reconnects_within_the_window_stays_in_it() {
    let mut h = Harness::start(config());
    let first = h.open(1, 5001).await;
    h.beat(1, &first, 42).await;
    let answer = maintain(&h, 5001, Some(Duration::from_secs(3))).await;
    next_is(&mut h, started(5001)).await;
    // A restart: the connection ends, and the same ip and pid come back on
    // another; a different pid from the same ip is not covered.
    h.end(1, End::Disconnected).await;
    next_is(&mut h, |k| matches!(k, EventKind::Closed { .. })).await;
    let again = h.open(2, 5002).await;
    h.beat(2, &again, 42).await;
    let other = h.open(3, 5003).await;
    h.beat(3, &other, 43).await;
    tokio::time::sleep(TICK).await;
    let snapshot = h.control.list().await.unwrap();
    let windows: Vec<_> = snapshot.clients.iter().map(|c| c.maintenance).collect();
    assert_eq!(windows, vec![answer.until, None]);
    // Both fall silent: only the other goes `leave` within the window, and
    // the window ends naming the new connection.
    let (at, kind) = h.decision().await;
    assert!(
        matches!(kind, EventKind::Status { peer: p, to: Status::Leave, .. } if p == peer(5003)),
        "{kind:?} at {at:?}"
    );
    // (5003 then closes for its leave timeout, at about 1.8 s.)
    let end = h.until(ended(5002, None)).await;
    assert_eq!(end, Duration::from_millis(3100));
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_window_whose_client_is_away_ends_on_time_naming_its_last_connection() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    maintain(&h, 5001, Some(Duration::from_secs(1))).await;
    next_is(&mut h, started(5001)).await;
    h.end(1, End::Disconnected).await;
    next_is(&mut h, |k| matches!(k, EventKind::Closed { .. })).await;
    let end = next_is(&mut h, ended(5001, None)).await;
    assert_eq!(end, Duration::from_millis(1100));
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn clients_silent_in_a_window_do_not_make_the_fleet_look_silent() {
    let mut h = Harness::start(config());
    let (planned, never) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let _planned = fleet(&h, 6000, 12, &planned).await;
    let _others = fleet(&h, 6100, 8, &never).await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    let peers = (6000..6012).map(peer).collect();
    let length = Some(Duration::from_secs(10));
    let answer = h.control.maintenance(Target::Peers(peers), length, "test");
    assert_eq!(answer.await.unwrap().clients.len(), 12);
    // Twelve of twenty go quiet for a deploy: more than the guard's half,
    // and none of it the server's doing.
    quiet_between(&planned, Duration::from_millis(500), None);
    let events = events_until(&mut h, Duration::from_secs(5)).await;
    let starts = events.iter().filter(|(_, k)| started_any(k)).count();
    assert_eq!(starts, 12);
    assert!(
        events.iter().all(|(_, k)| started_any(k)),
        "nothing but the windows' starts: {events:#?}"
    );
}

fn started_any(kind: &EventKind) -> bool {
    matches!(kind, EventKind::MaintenanceStarted { .. })
}
