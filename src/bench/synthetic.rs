//! Made-up snapshots for the benches that measure the front ends: as
//! many alive clients as asked, shaped as the registry would publish them.
//! They live here, not on [`Snapshot`], because the feed's types are a
//! contract between the server and its front ends, not a test kit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::feed::snapshot::{ClientView, Settings, Snapshot};
use crate::liveness::{Liveness, Rules};
use crate::protocol::Status;

/// A snapshot of `n` alive clients, as the registry would publish it.
pub(crate) fn snapshot(n: usize) -> Snapshot {
    let settings = Settings {
        tick: Duration::from_secs(1),
        rules: Rules::default(),
    };
    let mut snapshot = Snapshot::empty(SocketAddr::from(([127, 0, 0, 1], 14000)), settings);
    let ip: Arc<str> = Arc::from("127.0.0.1");
    snapshot.clients = (0..n)
        .map(|i| {
            let peer = SocketAddr::from((
                [127, 0, (i >> 16) as u8, (i >> 8) as u8],
                (i & 0xffff) as u16,
            ));
            ClientView {
                ip: Some(Arc::clone(&ip)),
                pid: Some(i as u32),
                reported: Some(Status::Alive),
                liveness: Liveness {
                    streak: 3,
                    ..Liveness::default()
                },
                heartbeats: i as u64,
                last_seen: Some(snapshot.taken),
                ..ClientView::opened(i as u64, peer, snapshot.started)
            }
        })
        .collect();
    snapshot
}
