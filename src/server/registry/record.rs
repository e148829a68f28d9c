//! The record of what the registry decided: every [`Event`] goes to the
//! journal, the broadcast stream and the ring of recent events; every
//! closed client to the ring of history; and the counters the snapshot
//! carries.
//!
//! It is the decider's, and the publisher reads it: the rings are shared
//! with the snapshots by `Arc`, and copied only while a snapshot still
//! holds the one being written.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::broadcast;

use crate::feed::event::{Event, EventKind};
use crate::feed::snapshot::{ClosedClient, Counters};
use crate::server::journal::Journal;

/// How many recent events a snapshot carries for the dashboard's event pane.
const RECENT_EVENTS: usize = 200;

pub(super) struct Record {
    pub(super) journal: Option<Journal>,
    events: broadcast::Sender<Event>,
    pub(super) recent: Arc<VecDeque<Event>>,
    pub(super) history: Arc<VecDeque<ClosedClient>>,
    history_len: usize,
    pub(super) counters: Counters,
}

impl Record {
    pub(super) fn new(
        journal: Option<Journal>,
        events: broadcast::Sender<Event>,
        history_len: usize,
    ) -> Record {
        Record {
            journal,
            events,
            recent: Arc::default(),
            history: Arc::default(),
            history_len,
            counters: Counters::default(),
        }
    }

    /// Records a decision in the journal, the ring of recent events and
    /// the broadcast stream.
    pub(super) fn emit(&mut self, kind: EventKind) {
        let event = Event {
            at: SystemTime::now(),
            kind: Arc::new(kind),
        };
        if let Some(journal) = &self.journal {
            journal.record(&event);
        }
        push_bounded(&mut self.recent, event.clone(), RECENT_EVENTS);
        self.counters.events += 1;
        // No receiver is fine: nobody is watching the stream right now.
        let _ = self.events.send(event);
    }

    /// Keeps a closed client in the history ring.
    pub(super) fn closed(&mut self, closed: ClosedClient) {
        push_bounded(&mut self.history, closed, self.history_len);
    }
}

/// Appends to a shared ring, copying it only if a snapshot still holds it.
fn push_bounded<T: Clone>(ring: &mut Arc<VecDeque<T>>, item: T, cap: usize) {
    let ring = Arc::make_mut(ring);
    if ring.len() >= cap {
        ring.pop_front();
    }
    ring.push_back(item);
}
