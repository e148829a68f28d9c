//! How clients leave the table: on their own (goodbye, disconnect), kicked
//! by an operator (with or without a hold-off), refused, or closed as the
//! server stops.

use super::*;

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
            identity: None,
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
            identity: None,
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
        Notice::close("kicked by operator")
            .retry_after(crate::server::registry::commands::KICK_RETRY_AFTER),
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
    h.until(|k| {
        *k == EventKind::Connected {
            peer: peer(5003),
            identity: None,
        }
    })
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
