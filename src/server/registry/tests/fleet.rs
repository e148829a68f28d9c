//! The fleet guard in the registry: a fleet silent together is not closed,
//! partial silence is, and automatic closes keep to the close rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{Harness, TICK, config, peer};
use crate::feed::event::EventKind;
use crate::feed::snapshot::Held;
use crate::liveness::Detector;
use crate::protocol::Status;
use crate::server::config::{Config, GuardConfig};
use crate::server::link::Link;

/// `n` clients from port `base` on, heartbeating twice a tick while `quiet`
/// is false.
pub(super) async fn fleet(
    h: &Harness,
    base: u16,
    n: u16,
    quiet: &Arc<AtomicBool>,
) -> Vec<Arc<Link>> {
    let mut links = Vec::new();
    for i in 0..n {
        let id = u64::from(base + i);
        let link = h.open(id, base + i).await;
        h.beat(id, &link, u32::from(base + i)).await;
        let (beating, quiet) = (Arc::clone(&link), Arc::clone(quiet));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK / 2).await;
                if !quiet.load(Ordering::Relaxed) {
                    beating.tally().record(1, SystemTime::now());
                }
            }
        });
        links.push(link);
    }
    links
}

/// Makes `quiet` true from `from` (since now) until `to`, if ever.
pub(super) fn quiet_between(quiet: &Arc<AtomicBool>, from: Duration, to: Option<Duration>) {
    let (quiet, start) = (Arc::clone(quiet), Instant::now());
    tokio::spawn(async move {
        tokio::time::sleep_until(start + from).await;
        quiet.store(true, Ordering::Relaxed);
        if let Some(to) = to {
            tokio::time::sleep_until(start + to).await;
            quiet.store(false, Ordering::Relaxed);
        }
    });
}

/// Every event up to `until` since the start, but `connected`.
pub(super) async fn events_until(h: &mut Harness, until: Duration) -> Vec<(Duration, EventKind)> {
    let mut seen = Vec::new();
    let end = h.started + until;
    loop {
        tokio::select! {
            (at, kind) = h.next() => {
                if !matches!(kind, EventKind::Connected { .. }) {
                    seen.push((at, kind));
                }
            }
            _ = tokio::time::sleep_until(end) => return seen,
        }
    }
}

fn closes(events: &[(Duration, EventKind)]) -> Vec<Duration> {
    let closed = events
        .iter()
        .filter(|(_, k)| matches!(k, EventKind::Closed { .. }));
    closed.map(|&(at, _)| at).collect()
}

#[tokio::test(start_paused = true)]
async fn a_fleet_silent_together_goes_leave_but_is_not_closed_and_recovers() {
    let mut h = Harness::start(config());
    let quiet = Arc::new(AtomicBool::new(false));
    let _links = fleet(&h, 6000, 20, &quiet).await;
    // The server's network drops for 2.5 s: everyone is silent at once.
    quiet_between(
        &quiet,
        Duration::from_secs(1),
        Some(Duration::from_millis(3500)),
    );
    let events = events_until(&mut h, Duration::from_secs(6)).await;
    assert!(closes(&events).is_empty(), "{events:#?}");
    let silent: Vec<_> = events
        .iter()
        .filter(|(_, k)| matches!(k, EventKind::FleetSilent { .. }))
        .collect();
    let recovered: Vec<_> = events
        .iter()
        .filter(|(_, k)| matches!(k, EventKind::FleetRecovered { .. }))
        .collect();
    assert_eq!((silent.len(), recovered.len()), (1, 1), "{events:#?}");
    assert!(
        matches!(
            silent[0].1,
            EventKind::FleetSilent {
                silent: 20,
                clients: 20,
                ..
            }
        ),
        "{silent:?}"
    );
    let leaves = events
        .iter()
        .filter(|(_, k)| {
            matches!(
                k,
                EventKind::Status {
                    to: Status::Leave,
                    ..
                }
            )
        })
        .count();
    assert_eq!(leaves, 20, "leave marks still happen");
    // Heard again, they are alive at the very tick the fleet recovers.
    let recovered_at = recovered[0].0;
    let back = events
        .iter()
        .filter(|(at, k)| {
            *at == recovered_at
                && matches!(
                    k,
                    EventKind::Status {
                        to: Status::Alive,
                        ..
                    }
                )
        })
        .count();
    assert_eq!(back, 20, "{events:#?}");
    let snapshot = h.control.list().await.unwrap();
    assert_eq!(snapshot.clients.len(), 20);
    assert!(snapshot.clients.iter().all(|c| c.status() == Status::Alive));
    assert_eq!(snapshot.fleet_silent, None);
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn with_the_guard_off_a_fleet_silent_together_is_closed_on_its_own_timeline() {
    let mut h = Harness::start(Config {
        guard: GuardConfig {
            silence: None,
            ..GuardConfig::default()
        },
        ..config()
    });
    let quiet = Arc::new(AtomicBool::new(false));
    let _links = fleet(&h, 6000, 20, &quiet).await;
    quiet_between(&quiet, Duration::from_secs(1), None);
    let events = events_until(&mut h, Duration::from_secs(4)).await;
    assert_eq!(closes(&events).len(), 20, "{events:#?}");
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn under_the_guard_fraction_the_silent_clients_close_as_configured() {
    let mut h = Harness::start(config());
    let (steady, dying) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let _steady = fleet(&h, 6000, 17, &steady).await;
    let _dying = fleet(&h, 7000, 3, &dying).await;
    quiet_between(&dying, Duration::from_secs(1), None);
    let events = events_until(&mut h, Duration::from_secs(4)).await;
    let closed = closes(&events);
    assert_eq!(closed.len(), 3, "{events:#?}");
    // Heard up to the tick at 1 s: leave six ticks later, closed 1 s after.
    assert!(
        closed.iter().all(|&at| at == Duration::from_millis(2600)),
        "{closed:?}"
    );
    assert!(
        !events
            .iter()
            .any(|(_, k)| matches!(k, EventKind::FleetSilent { .. }))
    );
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn automatic_closes_are_spaced_at_the_close_rate_and_the_waiting_say_so() {
    let mut h = Harness::start(Config {
        guard: GuardConfig {
            silence: None,
            min_clients: 10,
            close_rate: Some(2.0),
        },
        ..config()
    });
    let quiet = Arc::new(AtomicBool::new(false));
    let _links = fleet(&h, 6000, 6, &quiet).await;
    quiet_between(&quiet, Duration::from_secs(1), None);
    // All six are due at 2.6 s; two go at once, then one every 500 ms.
    let mut snapshots = h.snapshots.clone();
    let watch = tokio::spawn(async move {
        let queued = snapshots
            .wait_for(|s| s.clients.iter().any(|c| c.held.is_some()))
            .await
            .unwrap()
            .clone();
        let mut held: Vec<_> = queued.clients.iter().filter_map(|c| c.held).collect();
        held.sort_by_key(|h| format!("{h:?}"));
        held
    });
    let events = events_until(&mut h, Duration::from_secs(6)).await;
    let closed = closes(&events);
    let ms: Vec<u128> = closed.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [2600, 2600, 3100, 3600, 4100, 4600], "{events:#?}");
    assert_eq!(
        watch.await.unwrap(),
        (0..4)
            .map(|ahead| Held::CloseRate { ahead })
            .collect::<Vec<_>>()
    );
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn the_phi_detector_learns_the_gaps_and_suspects_a_silence_far_beyond_them() {
    let mut h = Harness::start(Config {
        detector: Detector::Phi {
            threshold: 8.0,
            window: 100,
            pause: Duration::ZERO,
        },
        ..config()
    });
    let quiet = Arc::new(AtomicBool::new(false));
    let _links = fleet(&h, 6000, 1, &quiet).await;
    quiet_between(&quiet, Duration::from_secs(3), None);
    let events = events_until(&mut h, Duration::from_secs(4)).await;
    let leave = events
        .iter()
        .find(|(_, k)| {
            matches!(
                k,
                EventKind::Status {
                    to: Status::Leave,
                    ..
                }
            )
        })
        .map(|&(at, _)| at);
    // Gaps of 50 ms, spread floored at 100 ms: φ reaches 8 about 530 ms
    // after the mean gap, so at the first tick past 3.58 s.
    assert_eq!(leave, Some(Duration::from_millis(3600)), "{events:#?}");
    let snapshot = h.control.list().await.unwrap();
    assert!(snapshot.clients[0].phi.is_some_and(|phi| phi >= 8.0));
    h.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_that_reconnects_keeps_its_story_and_flaps_are_counted() {
    let mut h = Harness::start(config());
    let first = h.open(1, 5001).await;
    h.beat(1, &first, 42).await;
    h.until(|k| matches!(k, EventKind::Connected { .. })).await;
    h.end(1, crate::server::report::End::Disconnected).await;
    h.until(|k| matches!(k, EventKind::Closed { .. })).await;
    // The same ip and pid on a new connection: the same client.
    let quiet = Arc::new(AtomicBool::new(false));
    let _links = fleet(&h, 5002, 1, &quiet).await;
    // Silent long enough to go leave (600 ms), then back.
    quiet_between(
        &quiet,
        Duration::from_secs(1),
        Some(Duration::from_millis(2000)),
    );
    h.until(|k| {
        matches!(
            k,
            EventKind::Status {
                to: Status::Alive,
                ..
            }
        )
    })
    .await;
    let details = h.control.show(peer(5002)).await.unwrap();
    assert_eq!(
        (details.reconnects, details.flaps),
        (0, 1),
        "another pid: {details:?}"
    );
    h.stopped().await;

    // Now with the pid of the first connection.
    let mut h = Harness::start(config());
    let first = h.open(1, 5001).await;
    h.beat(1, &first, 42).await;
    h.end(1, crate::server::report::End::Disconnected).await;
    h.until(|k| matches!(k, EventKind::Closed { .. })).await;
    let again = h.open(2, 5003).await;
    h.beat(2, &again, 42).await;
    tokio::time::sleep(TICK * 3).await;
    again.tally().record(1, SystemTime::now());
    tokio::time::sleep(TICK).await;
    let details = h.control.show(peer(5003)).await.unwrap();
    assert_eq!(details.reconnects, 1, "{details:?}");
    assert_eq!(details.earlier.len(), 1);
    assert_eq!(details.earlier[0].peer, peer(5001));
    assert_eq!(details.earlier[0].reason, "client disconnected");
    assert_eq!(
        details.gaps_ms,
        [300],
        "one gap, learned on the monotonic clock"
    );
    let snapshot = h.control.list().await.unwrap();
    assert_eq!(snapshot.clients[0].reconnects, 1);
    // The same client reporting another status is no new connection.
    let hello = crate::server::report::Report::Hello {
        id: 2,
        ip: "10.0.0.7".into(),
        pid: 42,
        status: Status::Leave,
        transport: Default::default(),
    };
    h.reports.send(hello).await.unwrap();
    tokio::time::sleep(TICK).await;
    let snapshot = h.control.list().await.unwrap();
    assert_eq!(snapshot.clients[0].reported, Some(Status::Leave));
    assert_eq!(snapshot.clients[0].reconnects, 1);
    assert_eq!(
        h.control.show(peer(5999)).await,
        Err(crate::feed::CommandError::NoSuchClient(peer(5999)))
    );
    h.stopped().await;
}
