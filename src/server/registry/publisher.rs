//! The publisher: sole owner of the watch channel that front ends read
//! snapshots from, of the spares and copies a publish writes into (see
//! [`Spares`]), and of the `list` commands waiting for the next publish.
//!
//! It reads the decider's table and record and changes nothing the decider
//! decides: it builds the rows at publish time, bringing each client's view
//! up to date with its tally in the same pass that copies it, so the hot
//! path walks the table once.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::decider::Decider;
use super::spares::Spares;
use crate::feed::control::Reply;
use crate::feed::snapshot::Snapshot;
use crate::process;
use crate::server::tally::Tallies;
use crate::stats::PublishStats;

pub(super) struct Publisher {
    snapshots: watch::Sender<Arc<Snapshot>>,
    /// What every snapshot shares: the address, settings and start time.
    pub(super) base: Arc<Snapshot>,
    pub(super) spares: Spares,
    /// Copies made for a publish off this thread: see [`Spares`].
    pub(super) copies: mpsc::Receiver<Snapshot>,
    /// `list` commands waiting for the next publish.
    listing: Vec<Reply<Arc<Snapshot>>>,
    /// Where connections count heartbeats: the heartbeat total is theirs,
    /// read at each publish.
    tallies: Arc<Tallies>,
    /// What publishing costs, for `/metrics` and the bench (not the feed).
    publish_stats: Arc<PublishStats>,
}

impl Publisher {
    /// A publisher whose every snapshot starts from `base`, and the
    /// receiving end of its snapshots (`base` already there).
    pub(super) fn new(
        base: Snapshot,
        tallies: Arc<Tallies>,
        publish_stats: Arc<PublishStats>,
    ) -> (Publisher, watch::Receiver<Arc<Snapshot>>) {
        let (snapshots, receiver) = watch::channel(Arc::new(base.clone()));
        let (spares, copies) = Spares::new();
        let publisher = Publisher {
            snapshots,
            base: Arc::new(base),
            spares,
            copies,
            listing: Vec::new(),
            tallies,
            publish_stats,
        };
        (publisher, receiver)
    }

    /// Queues a `list` reply for the next publish.
    pub(super) fn list(&mut self, reply: Reply<Arc<Snapshot>>) {
        self.listing.push(reply);
    }

    /// Whether a `list` command waits for a publish.
    pub(super) fn listing(&self) -> bool {
        !self.listing.is_empty()
    }

    /// Publishes a snapshot of the decider's table, and answers the `list`
    /// commands waiting for one. `false` when it must wait for a copy to
    /// write into (see [`Spares`]): `copied` publishes once it is made.
    pub(super) fn publish(&mut self, decider: &mut Decider) -> bool {
        // The CPU clock is read outside the wall clock's span. Reading it
        // is a system call, on whose return the kernel may hand this core
        // to a thread the tick woke: read inside, it moved that wait into
        // the publish's wall time.
        let began_cpu = process::thread_cpu_time();
        let began = std::time::Instant::now();
        let Decider {
            clients,
            record,
            guard,
            ..
        } = decider;
        if let Some(journal) = &record.journal {
            record.counters.journal_lost = journal.lost();
        }
        let Publisher {
            snapshots,
            base,
            spares,
            tallies,
            ..
        } = self;
        let published = snapshots.send_if_modified(|current| {
            if !spares.make_writable(current, base) {
                return false;
            }
            let snapshot = Arc::make_mut(current);
            // One pass that brings each client up to date and copies it: the
            // time goes in fetching each client's entry and counts from
            // memory, so it is done once. Rows are rewritten where they are,
            // in order: both sides are in connection order, and a client
            // missing from the rows opened after them, so it comes last.
            // A row whose client has gone is dropped; should the order ever
            // disagree, every row from there is dropped and written anew.
            let mut live = clients.values_mut().peekable();
            snapshot.clients.retain_mut(|row| {
                let Some(client) = live.next_if(|client| client.view.id == row.id) else {
                    return false;
                };
                client.sync();
                row.clone_from(&client.view);
                true
            });
            snapshot.clients.extend(live.map(|client| {
                client.sync();
                client.view.clone()
            }));
            record.counters.frames = tallies.heartbeats();
            snapshot.clients.shrink_to(2 * clients.len());
            snapshot.taken = SystemTime::now();
            snapshot.taken_mono = Instant::now().into_std();
            snapshot.history = Arc::clone(&record.history);
            snapshot.recent = Arc::clone(&record.recent);
            snapshot.counters = record.counters;
            snapshot.fleet_silent = guard.silence();
            true
        });
        if !published {
            return false;
        }
        let wall = began.elapsed();
        let cpu = (began_cpu.zip(process::thread_cpu_time())).map(|(b, now)| now.saturating_sub(b));
        self.publish_stats.record(wall, cpu);
        if !self.listing.is_empty() {
            let snapshot = Arc::clone(&self.snapshots.borrow());
            for reply in self.listing.drain(..) {
                let _ = reply.send(Ok(Arc::clone(&snapshot)));
            }
        }
        true
    }
}
