//! Every connection's heartbeat counts, side by side.
//!
//! A connection counts its heartbeats with atomics that the registry reads
//! on every tick and every publish, for every client, so what a publish
//! costs is mostly fetching them from memory. Kept inside each connection's
//! own [`Link`](super::link::Link), they would be a cache line apiece,
//! scattered over the heap and each just written by the connections'
//! thread. Here they sit in blocks, two clients to a cache line, and a
//! fleet that connected together is read in order.
//!
//! Times are kept as milliseconds after the pool's epoch, on tokio's
//! monotonic clock (so tests can pause it and a wall-clock step cannot fire
//! a timeout); `last_seen` is wall time, for people.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::server::clock;

/// Clients a block holds: 16 KiB of counts.
const BLOCK: usize = 512;

/// One connection's counts. Aligned so that none straddles two lines.
#[derive(Default)]
#[repr(align(32))]
struct Counts {
    /// Valid heartbeats received so far.
    heartbeats: AtomicU64,
    /// When the last one arrived, in milliseconds since the Unix epoch.
    last_seen_ms: AtomicU64,
    /// The same, after the epoch: for the phi detector's gaps and
    /// silences, which a wall-clock step must not distort.
    last_beat_ms: AtomicU64,
    /// Since when part of a frame has been waiting for the rest, plus one;
    /// 0 when none is.
    partial_since_ms: AtomicU64,
}

struct Block {
    epoch: Instant,
    /// The pool's running total, counted with each connection's own.
    total: Arc<AtomicU64>,
    counts: Box<[Counts]>,
    /// Where a released slot goes back to, while the pool lasts.
    pool: Weak<Tallies>,
}

/// The blocks a server's connections count in, and the slots free in them.
pub(crate) struct Tallies {
    epoch: Instant,
    /// Heartbeats counted by every connection since the pool was made.
    /// Kept where they are counted, so no reader sums differences of its
    /// own and none can miss some.
    total: Arc<AtomicU64>,
    spare: Mutex<Spare>,
}

#[derive(Default)]
struct Spare {
    /// Slots given back by connections that ended.
    released: Vec<Tally>,
    /// The block being filled, and how far.
    filling: Option<(Arc<Block>, usize)>,
}

/// One connection's slot. The connection's `Link` owns it and gives it back
/// when it is dropped; the registry keeps a copy to read without going
/// through the link, for no longer than it holds the link.
#[derive(Clone)]
pub(crate) struct Tally {
    block: Arc<Block>,
    index: u16,
}

impl Tallies {
    /// Heartbeats counted by every connection so far, ended ones included.
    pub(crate) fn heartbeats(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn new() -> Arc<Tallies> {
        Arc::new(Tallies {
            epoch: Instant::now(),
            total: Arc::default(),
            spare: Mutex::default(),
        })
    }

    /// A slot for a new connection, counting from zero.
    pub(crate) fn take(self: &Arc<Self>) -> Tally {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tally) = spare.released.pop() {
            let counts = tally.counts();
            for count in [
                &counts.heartbeats,
                &counts.last_seen_ms,
                &counts.last_beat_ms,
                &counts.partial_since_ms,
            ] {
                count.store(0, Ordering::Relaxed);
            }
            return tally;
        }
        let (block, used) = match spare.filling.take() {
            Some((block, used)) if used < BLOCK => (block, used),
            _ => {
                let block = Block {
                    epoch: self.epoch,
                    total: Arc::clone(&self.total),
                    counts: (0..BLOCK).map(|_| Counts::default()).collect(),
                    pool: Arc::downgrade(self),
                };
                (Arc::new(block), 0)
            }
        };
        let tally = Tally {
            block: Arc::clone(&block),
            index: used as u16,
        };
        spare.filling = Some((block, used + 1));
        tally
    }
}

impl Tally {
    fn counts(&self) -> &Counts {
        &self.block.counts[usize::from(self.index)]
    }

    fn after_epoch(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.block.epoch).as_millis() as u64
    }

    /// Connection side: `count` heartbeats arrived at `at`.
    pub(crate) fn record(&self, count: u64, at: SystemTime) {
        let counts = self.counts();
        counts.last_seen_ms.store(unix_ms(at), Ordering::Relaxed);
        let beat = self.after_epoch(Instant::now());
        counts.last_beat_ms.store(beat, Ordering::Relaxed);
        counts.heartbeats.fetch_add(count, Ordering::Release);
        self.block.total.fetch_add(count, Ordering::Relaxed);
    }

    /// Connection side: part of a frame is waiting (since `at`), or none is.
    pub(crate) fn partial_frame(&self, since: Option<Instant>) {
        let ms = since.map_or(0, |at| self.after_epoch(at).saturating_add(1));
        self.counts().partial_since_ms.store(ms, Ordering::Relaxed);
    }

    /// Registry side: heartbeats so far, and when the last arrived.
    pub(crate) fn read(&self) -> (u64, Option<SystemTime>) {
        let counts = self.counts();
        let heartbeats = counts.heartbeats.load(Ordering::Acquire);
        let ms = counts.last_seen_ms.load(Ordering::Relaxed);
        let last_seen = (heartbeats > 0)
            .then(|| SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
            .flatten();
        (heartbeats, last_seen)
    }

    /// Registry side: when the last heartbeat arrived, on the monotonic
    /// clock (meaningful once there has been one).
    pub(crate) fn last_beat(&self) -> Instant {
        let ms = self.counts().last_beat_ms.load(Ordering::Relaxed);
        clock::later(self.block.epoch, Duration::from_millis(ms))
    }

    /// Registry side: since when part of a frame has been waiting, if it is.
    pub(crate) fn partial_since(&self) -> Option<Instant> {
        match self.counts().partial_since_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(clock::later(
                self.block.epoch,
                Duration::from_millis(ms - 1),
            )),
        }
    }

    /// Gives the slot back for another connection: for its owner, the
    /// link, to call when it is dropped.
    pub(crate) fn release(&self) {
        if let Some(pool) = self.block.pool.upgrade() {
            let mut spare = pool.spare.lock().unwrap_or_else(|p| p.into_inner());
            spare.released.push(self.clone());
        }
    }
}

impl fmt::Debug for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (heartbeats, last_seen) = self.read();
        (f.debug_struct("Tally").field("index", &self.index))
            .field("heartbeats", &heartbeats)
            .field("last_seen", &last_seen)
            .finish()
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_last_seen_and_partial_frames_round_trip() {
        let tallies = Tallies::new();
        tokio::time::advance(Duration::from_secs(5)).await;
        let tally = tallies.take();
        assert_eq!(tally.read(), (0, None));
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_790_000_000_123);
        tally.record(3, at);
        tokio::time::advance(Duration::from_millis(250)).await;
        tally.record(2, at);
        assert_eq!(tally.read(), (5, Some(at)));
        assert_eq!(tally.last_beat(), Instant::now());
        assert_eq!(tally.partial_since(), None);
        let waiting = Instant::now() + Duration::from_millis(1500);
        tally.partial_frame(Some(waiting));
        assert_eq!(tally.partial_since(), Some(waiting));
        tally.partial_frame(Some(tallies.epoch));
        assert_eq!(tally.partial_since(), Some(tallies.epoch));
        tally.partial_frame(None);
        assert_eq!(tally.partial_since(), None);
    }

    #[tokio::test]
    async fn slots_are_side_by_side_and_a_released_one_is_taken_again_from_zero() {
        let tallies = Tallies::new();
        let fleet: Vec<Tally> = (0..BLOCK + 1).map(|_| tallies.take()).collect();
        let first = &fleet[0];
        assert!(
            fleet[1..BLOCK]
                .iter()
                .all(|t| Arc::ptr_eq(&t.block, &first.block))
        );
        assert!(!Arc::ptr_eq(&fleet[BLOCK].block, &first.block));
        let place = |t: &Tally| (t.counts() as *const Counts).addr();
        assert_eq!(place(&fleet[1]) - place(first), 32);
        fleet[7].record(4, SystemTime::now());
        fleet[7].partial_frame(Some(Instant::now()));
        fleet[7].release();
        let again = tallies.take();
        assert_eq!(place(&again), place(&fleet[7]));
        assert_eq!((again.read(), again.partial_since()), ((0, None), None));
        // A slot outliving its pool is simply not given back.
        drop(tallies);
        again.release();
    }
}
