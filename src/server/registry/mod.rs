//! The registry: the one task that owns the table of clients.
//!
//! Connection tasks and the accept loop report to it over a bounded channel;
//! front ends send it [`Command`](crate::feed::control::Command)s. It is two
//! owners under one loop ([`run`]):
//!
//! - the [`Decider`] owns the table and the rules: it runs the liveness
//!   tick, tells connections what to say and when to close, and records
//!   every decision as an [`Event`];
//! - the [`Publisher`] owns the `watch` channel: it builds an immutable
//!   [`Snapshot`] from the decider's table at a bounded rate, and answers
//!   `list` commands with it.
//!
//! It must never wait on a peer or a front end: connections count heartbeats
//! and take notices through each client's [`Link`](crate::server::link::Link)
//! without blocking, events go out on a broadcast ring, snapshots on a
//! `watch`.

mod client;
mod commands;
mod decider;
mod maintenance;
mod publisher;
mod record;
mod reports;
mod run;
mod spares;
mod table;
mod tick;
mod windows;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::feed::event::Event;
use crate::feed::snapshot::{Settings, Snapshot};
use crate::server::config::Config;
use crate::server::gaps::GapLog;
use crate::server::journal::Journal;
use crate::server::tally::Tallies;
use crate::stats::PublishStats;
use decider::{Decider, Policy};
use publisher::Publisher;

/// How often a changed table is published to front ends at most.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

pub(crate) struct Registry {
    decider: Decider,
    publisher: Publisher,
    /// What `serve` warned of at start, for the `started` event.
    warnings: Vec<String>,
}

impl Registry {
    /// A registry for the server listening on `listen`, and the receiving
    /// end of the snapshots it will publish (the first one already there).
    pub(crate) fn new(
        listen: SocketAddr,
        config: &Config,
        (journal, gaps): (Option<Journal>, Option<GapLog>),
        tallies: Arc<Tallies>,
        events: broadcast::Sender<Event>,
        publish_stats: Arc<PublishStats>,
    ) -> (Self, watch::Receiver<Arc<Snapshot>>) {
        let policy = Policy::new(config);
        let settings = Settings {
            tick: policy.tick,
            rules: policy.rules,
        };
        let mut base = Snapshot::empty(listen, settings);
        base.admin = config.admin.as_deref().map(Arc::from);
        let (publisher, receiver) = Publisher::new(base, tallies, publish_stats);
        let decider = Decider::new(policy, config, (journal, gaps), events);
        let warnings = config.warnings.clone();
        let registry = Registry {
            decider,
            publisher,
            warnings,
        };
        (registry, receiver)
    }

    /// Publishes what the decider has; `false` while waiting for a copy to
    /// write into.
    fn publish(&mut self) -> bool {
        let published = self.publisher.publish(&mut self.decider);
        if published {
            self.decider.changed = false;
        }
        published
    }

    /// A copy to write into has been made: publishes what waited for it.
    fn copied(&mut self, copy: Snapshot) {
        self.publisher.spares.take(copy);
        if self.decider.changed || self.publisher.listing() {
            self.publish();
        }
    }
}
