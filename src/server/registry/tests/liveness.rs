//! Liveness in the registry: a silent client goes `leave` then closes at the
//! leave timeout, a heard one recovers, and the hello and frame timeouts hold
//! even when the server itself stalls.

use super::*;

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
            identity: None,
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
            identity: None,
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
