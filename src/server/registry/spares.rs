//! The snapshots a publish writes into, and the copies made for it off the
//! registry's thread.
//!
//! A publish rewrites the latest snapshot where it is when no front end
//! holds it (a headless server): one copy of every row, none to allocate or
//! free. One a front end holds is kept as a spare, to be rewritten in turn
//! once its holder has moved on to a newer one: the dashboard holds the one
//! on screen, and each viewer of the operator API the one it sent last, to
//! send the next as changes to it.
//!
//! When no spare is free (a front end has just attached, or more hold one
//! than there are spares), a new one is copied from the held one on the
//! blocking pool, and the publish waits for it. Made on the registry's
//! thread, a new one would cost its every page and every ip's count, grows
//! with the fleet, and the registry's reports and commands would wait
//! through it. Copied from the latest, its rows are the ones the publish is
//! about to write, so rewriting it costs what a rewrite costs. What the
//! front ends see is the change a copy's time later, once.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::feed::snapshot::Snapshot;

/// Spares kept at most: as many as viewers of the operator API commonly
/// hold at once, each its own.
const KEPT: usize = 3;

pub(super) struct Spares {
    /// Snapshots before the latest, that front ends held when they were
    /// replaced, oldest first.
    kept: Vec<Arc<Snapshot>>,
    /// Where a copy goes once made, for [`Spares::take`].
    copies: mpsc::Sender<Snapshot>,
    /// Whether a copy is being made: one at a time.
    copying: bool,
}

impl Spares {
    /// No spares, and the receiving end of the copies to come: the
    /// registry waits on it beside its reports, and hands each to `take`.
    pub(super) fn new() -> (Spares, mpsc::Receiver<Snapshot>) {
        let (copies, made) = mpsc::channel(1);
        let spares = Spares {
            kept: Vec::new(),
            copies,
            copying: false,
        };
        (spares, made)
    }

    /// Makes `current` a snapshot no front end holds, for the publish to
    /// write: itself, or a spare swapped in for it. `false` when there is
    /// none, and the publish must wait for a copy (one is on its way).
    /// `template` gives a copy everything a publish does not rewrite.
    pub(super) fn make_writable(
        &mut self,
        current: &mut Arc<Snapshot>,
        template: &Arc<Snapshot>,
    ) -> bool {
        if Arc::get_mut(current).is_some() {
            // Nobody watches the latest: a server nobody watches any more
            // keeps no spares.
            self.kept.retain(|old| Arc::strong_count(old) > 1);
            return true;
        }
        if let Some(at) = self.kept.iter().position(|old| Arc::strong_count(old) == 1) {
            let free = self.kept.remove(at);
            self.keep(std::mem::replace(current, free));
            return true;
        }
        if !self.copying {
            self.copying = true;
            let (held, template) = (Arc::clone(current), Arc::clone(template));
            let copies = self.copies.clone();
            tokio::task::spawn_blocking(move || {
                let copy = Snapshot {
                    clients: held.clients.clone(),
                    ..(*template).clone()
                };
                // Let go before the registry has the copy, so that its
                // count says only whether a front end still holds it.
                drop(held);
                // The registry is gone if this fails: nothing to publish.
                let _ = copies.blocking_send(copy);
            });
        }
        false
    }

    /// Takes in a copy made for a publish, free to be written.
    pub(super) fn take(&mut self, copy: Snapshot) {
        self.copying = false;
        self.keep(Arc::new(copy));
    }

    fn keep(&mut self, spare: Arc<Snapshot>) {
        self.kept.push(spare);
        if self.kept.len() > KEPT {
            self.kept.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot with three clients, numbered 0, 1 and 2.
    fn three_clients() -> Snapshot {
        use crate::feed::snapshot::{ClientView, Settings};
        let settings = Settings {
            tick: std::time::Duration::from_secs(1),
            rules: Default::default(),
        };
        let mut snapshot = Snapshot::empty(([127, 0, 0, 1], 14000).into(), settings);
        snapshot.clients = (0..3)
            .map(|id| {
                let peer = ([127, 0, 0, 1], 50000 + id as u16).into();
                ClientView::opened(id, peer, snapshot.started)
            })
            .collect();
        snapshot
    }

    fn ids(snapshot: &Snapshot) -> Vec<u64> {
        snapshot.clients.iter().map(|row| row.id).collect()
    }

    #[tokio::test]
    async fn a_held_snapshot_is_copied_off_the_thread_then_spares_take_turns() {
        let mut current = Arc::new(three_clients());
        let template = Arc::new(Snapshot {
            clients: Vec::new(),
            ..(*current).clone()
        });
        let (mut spares, mut copies) = Spares::new();

        // Nobody else holds it: written where it is.
        let at = Arc::as_ptr(&current);
        assert!(spares.make_writable(&mut current, &template));
        assert_eq!(Arc::as_ptr(&current), at);

        // A front end holds it: the publish waits for a copy of its rows.
        let held = Arc::clone(&current);
        assert!(!spares.make_writable(&mut current, &template));
        assert!(Arc::ptr_eq(&current, &held), "nothing swapped in yet");
        let copy = copies.recv().await.expect("a copy");
        assert_eq!(ids(&copy), [0, 1, 2]);
        spares.take(copy);
        assert!(spares.make_writable(&mut current, &template));
        assert!(!Arc::ptr_eq(&current, &held));
        assert_eq!(ids(&current), [0, 1, 2]);

        // The holder moves on to the latest and lets go of the one it had,
        // which is swapped in next: no copy.
        let old = Arc::as_ptr(&held);
        drop(held);
        let held = Arc::clone(&current);
        assert!(spares.make_writable(&mut current, &template));
        assert_eq!(Arc::as_ptr(&current), old);

        // Nobody holds the latest any more: the spares are let go.
        drop(held);
        assert!(spares.make_writable(&mut current, &template));
        assert!(spares.kept.is_empty());
        assert!(copies.try_recv().is_err(), "one copy was made, no more");
    }
}
