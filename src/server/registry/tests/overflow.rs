//! Values past every bound, as a library caller could hand them in: the
//! registry's arithmetic holds, and nothing panics.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_hold_past_any_bound_kicks_and_holds_off_without_a_panic() {
    let mut h = Harness::start(config());
    let link = h.open(1, 5001).await;
    h.beat(1, &link, 42).await;
    h.next().await; // connected
    // The request, with nobody in `leave`.
    let none = h.control.kick_leave("api", Some(Duration::MAX)).await;
    assert_eq!(none, Ok(vec![]));
    let kicked = h.control.kick(peer(5001), "api", Some(Duration::MAX)).await;
    assert!(kicked.is_ok(), "{kicked:?}");
    assert_eq!(link.next_notice().await.retry_after, Some(u64::MAX));
    // It comes back: still held off, for as long as the clock can say.
    let again = h.open(2, 5002).await;
    h.beat(2, &again, 42).await;
    let notice = again.next_notice().await;
    assert_eq!(notice.status, Status::Close);
    assert!(
        notice.reason.starts_with("kicked; retry after"),
        "{notice:?}"
    );
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_tick_of_zero_or_past_any_bound_still_runs_the_registry() {
    for tick in [Duration::ZERO, Duration::MAX] {
        let rules = Rules {
            threshold: u32::MAX,
            cursor: u32::MAX,
            ..config().rules
        };
        let mut h = Harness::start(Config {
            tick,
            rules,
            ..config()
        });
        let link = h.open(1, 5001).await;
        h.beat(1, &link, 42).await;
        h.next().await; // connected
        tokio::time::sleep(Duration::from_secs(2)).await;
        let listed = h.control.list().await.unwrap();
        assert_eq!(listed.clients.len(), 1, "tick {tick:?}");
        h.stopped().await;
    }
}
