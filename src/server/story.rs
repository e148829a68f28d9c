//! What the registry remembers of each client across its connections, by
//! the identity it reports (ip and pid): how often it reconnected, how
//! often it flapped (`leave` and back), its latest status changes and its
//! earlier connections. Bounded per client ([`CHANGES`], [`EARLIER`]) and in
//! total ([`STORIES`], the oldest forgotten first), so a churning fleet
//! cannot grow it without end.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use std::time::SystemTime;

use crate::feed::details::{Change, PastConnection};
use crate::feed::snapshot::ClientView;
use crate::protocol::Status;

/// Status changes kept per client.
pub(crate) const CHANGES: usize = 10;
/// Earlier connections kept per client.
pub(crate) const EARLIER: usize = 5;
/// Clients remembered in all.
pub(crate) const STORIES: usize = 10_000;

type Identity = (Arc<str>, u32);

#[derive(Default)]
pub(crate) struct Story {
    pub(crate) reconnects: u32,
    pub(crate) flaps: u32,
    /// The connection that last said hello as this client.
    live: Option<u64>,
    /// Allocated with the first change or earlier connection: a steady
    /// client, most of a fleet, has neither, and every live client has a
    /// story.
    past: Option<Box<Past>>,
}

#[derive(Default)]
struct Past {
    changes: VecDeque<Change>,
    earlier: VecDeque<PastConnection>,
}

impl Story {
    /// Its latest status changes, oldest first.
    pub(crate) fn changes(&self) -> impl Iterator<Item = &Change> {
        self.past.iter().flat_map(|past| &past.changes)
    }

    /// Its earlier connections, oldest first.
    pub(crate) fn earlier(&self) -> impl Iterator<Item = &PastConnection> {
        self.past.iter().flat_map(|past| &past.earlier)
    }

    fn past(&mut self) -> &mut Past {
        self.past.get_or_insert_default()
    }
}

#[derive(Default)]
pub(crate) struct Stories {
    map: HashMap<Identity, Story>,
    /// Identities, oldest first, to forget past [`STORIES`].
    order: VecDeque<Identity>,
}

impl Stories {
    /// Connection `id` said hello as `ip` and `pid`: the client's story,
    /// counting a reconnect if an earlier connection told it before.
    pub(crate) fn hello(&mut self, id: u64, ip: &Arc<str>, pid: u32) -> &Story {
        let key = (Arc::clone(ip), pid);
        if !self.map.contains_key(&key) {
            if self.order.len() >= STORIES
                && let Some(oldest) = self.order.pop_front()
            {
                self.map.remove(&oldest);
            }
            self.order.push_back(key.clone());
        }
        let story = self.map.entry(key).or_default();
        if story.live != Some(id) {
            if story.live.is_some() || story.earlier().next().is_some() {
                story.reconnects += 1;
            }
            story.live = Some(id);
        }
        story
    }

    /// A status change of the client in `view`, now; returns its flaps so
    /// far (0 for a client that never said who it is).
    pub(crate) fn record(&mut self, view: &ClientView, from: Status, to: Status) -> u32 {
        match (&view.ip, view.pid) {
            (Some(ip), Some(pid)) => {
                let at = SystemTime::now();
                self.change(ip, pid, Change { at, from, to })
            }
            _ => 0,
        }
    }

    /// A status change of the client; returns its flaps so far.
    pub(crate) fn change(&mut self, ip: &Arc<str>, pid: u32, change: Change) -> u32 {
        let Some(story) = self.map.get_mut(&(Arc::clone(ip), pid)) else {
            return 0;
        };
        if (change.from, change.to) == (Status::Leave, Status::Alive) {
            story.flaps += 1;
        }
        push_bounded(&mut story.past().changes, change, CHANGES);
        story.flaps
    }

    /// One of the client's connections ended.
    pub(crate) fn closed(&mut self, ip: &Arc<str>, pid: u32, past: PastConnection) {
        if let Some(story) = self.map.get_mut(&(Arc::clone(ip), pid)) {
            push_bounded(&mut story.past().earlier, past, EARLIER);
        }
    }

    pub(crate) fn get(&self, ip: &Arc<str>, pid: u32) -> Option<&Story> {
        self.map.get(&(Arc::clone(ip), pid))
    }
}

fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, cap: usize) {
    if ring.len() >= cap {
        ring.pop_front();
    }
    ring.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past(port: u16) -> PastConnection {
        PastConnection {
            peer: ([127, 0, 0, 1], port).into(),
            connected_at: SystemTime::UNIX_EPOCH,
            closed_at: SystemTime::UNIX_EPOCH,
            reason: "client disconnected".into(),
        }
    }

    #[test]
    fn the_same_ip_and_pid_on_a_new_connection_is_a_reconnect() {
        let mut stories = Stories::default();
        let ip: Arc<str> = Arc::from("10.0.0.7");
        assert_eq!(stories.hello(1, &ip, 42).reconnects, 0);
        assert_eq!(
            stories.hello(1, &ip, 42).reconnects,
            0,
            "the same connection"
        );
        stories.closed(&ip, 42, past(1));
        assert_eq!(stories.hello(2, &ip, 42).reconnects, 1);
        assert_eq!(stories.hello(3, &ip, 43).reconnects, 0, "another pid");
        let at = SystemTime::UNIX_EPOCH;
        let change = |from, to| Change { at, from, to };
        stories.change(&ip, 42, change(Status::Alive, Status::Leave));
        assert_eq!(
            stories.change(&ip, 42, change(Status::Leave, Status::Alive)),
            1
        );
        for _ in 0..20 {
            stories.closed(&ip, 42, past(2));
        }
        let story = stories.get(&ip, 42).unwrap();
        assert_eq!(
            (story.changes().count(), story.earlier().count()),
            (2, EARLIER)
        );
    }

    #[test]
    fn stories_are_bounded_in_total_forgetting_the_oldest() {
        let mut stories = Stories::default();
        let ip: Arc<str> = Arc::from("10.0.0.7");
        for pid in 0..STORIES as u32 + 5 {
            stories.hello(u64::from(pid), &ip, pid);
        }
        assert_eq!(stories.map.len(), STORIES);
        assert!(stories.get(&ip, 0).is_none() && stories.get(&ip, STORIES as u32 + 4).is_some());
    }
}
