//! A TLS client's certificate identity, from the connection's hello to
//! everything that shows it: the snapshot row, the `closed` event and the
//! journal line.

use super::*;
use crate::feed::event::Recorded;
use crate::feed::snapshot::Transport;

#[tokio::test(start_paused = true)]
async fn a_certificate_identity_reaches_the_row_the_closed_event_and_the_journal() {
    let path = std::env::temp_dir().join(format!("hbmon-identity-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut h = Harness::journaled(config(), Some(Journal::open(&path).unwrap()));
    let tls = h.open(1, 5001).await;
    let plain = h.open(2, 5002).await;
    h.beat(2, &plain, 2).await;
    tls.tally().record(1, SystemTime::now());
    let identity: Arc<str> = Arc::from("web-7.prod");
    let hello = Report::Hello {
        id: 1,
        ip: "10.0.0.7".into(),
        pid: 1,
        status: Status::Alive,
        transport: Transport::Tls {
            identity: Some(Arc::clone(&identity)),
        },
    };
    h.reports.send(hello).await.unwrap();
    tokio::time::sleep(TICK).await;

    let listed = h.control.list().await.unwrap();
    let identities: Vec<_> = (listed.clients.iter())
        .map(|c| (c.peer, c.transport.label(), c.transport.identity()))
        .collect();
    assert_eq!(
        identities,
        [
            (peer(5001), "tls", Some("web-7.prod")),
            (peer(5002), "plain", None)
        ]
    );
    assert_eq!(listed.count_tls(), 1);
    let details = h.control.show(peer(5001)).await.unwrap();
    assert_eq!(details.identity.as_deref(), Some("web-7.prod"));

    h.end(1, End::Disconnected).await;
    let (_, closed) = h.decision().await;
    assert!(
        matches!(&closed, EventKind::Closed { identity: Some(i), .. } if **i == *identity),
        "{closed:?}"
    );
    h.stopped().await;

    let journal = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let closed: Vec<Recorded> = (journal.lines())
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|r: &Recorded| matches!(r.kind, EventKind::Closed { .. }))
        .collect();
    let identities: Vec<_> = (closed.iter())
        .map(|r| match &r.kind {
            EventKind::Closed { peer, identity, .. } => (*peer, identity.as_deref()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        identities,
        [(peer(5001), Some("web-7.prod")), (peer(5002), None)],
        "{journal}"
    );
    assert!(!journal.contains("\"identity\":null"), "{journal}");
}
