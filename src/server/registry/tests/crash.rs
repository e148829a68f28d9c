//! A panic in the registry stops the server the normal way: every client
//! is told why, the run ends with its `stopped` marker carrying the panic's
//! message, and the run reports the crash.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_panic_closes_every_client_with_the_reason_and_ends_in_a_crash() {
    let mut h = Harness::start(config());
    let (first, second) = (h.open(1, 5001).await, h.open(2, 5002).await);
    h.beat(1, &first, 42).await;
    h.beat(2, &second, 43).await;
    h.until(|k| {
        *k == EventKind::Connected {
            peer: peer(5002),
            identity: None,
        }
    })
    .await;
    h.reports.send(Report::Panic("a bug")).await.unwrap();
    let reason = "server stopped: internal error: a bug";
    for link in [&first, &second] {
        assert_eq!(link.next_notice().await, Notice::close(reason));
    }
    for port in [5001, 5002] {
        h.until(|k| matches!(k, EventKind::Closed { peer: p, reason: r, .. } if *p == peer(port) && r == reason))
            .await;
    }
    let (ended, rest) = h.ended().await;
    assert_eq!(ended, Err(Crashed("a bug".into())));
    assert_eq!(
        rest.last(),
        Some(&EventKind::Stopped {
            listen: peer(14000),
            error: Some("internal error: a bug".into()),
        }),
        "{rest:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn commands_after_a_panic_are_answered_until_the_run_ends() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    h.next().await; // connected
    h.reports.send(Report::Panic("a bug")).await.unwrap();
    link.next_notice().await;
    // The registry is stopping, not gone: a front end still gets answers.
    let listed = h.control.list().await.unwrap();
    assert!(listed.clients.is_empty(), "{:?}", listed.clients);
    let (ended, _) = h.ended().await;
    assert!(ended.is_err());
}
