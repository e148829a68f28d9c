//! What the registry remembers of each client across its connections, by
//! the identity it reports (ip and pid): how often it reconnected, how
//! often it flapped (`leave` and back), its latest status changes and its
//! earlier connections. Bounded per client ([`CHANGES`], [`EARLIER`]), and
//! the stories of clients no connection speaks for are bounded in total
//! ([`STORIES`], the longest gone forgotten first), so a churning fleet cannot
//! grow it without end; a live client's story lasts as long as it does.

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
/// Clients remembered after their last connection ended.
pub(crate) const STORIES: usize = 10_000;

type Identity = (Arc<str>, u32);

#[derive(Default)]
pub(crate) struct Story {
    pub(crate) reconnects: u32,
    pub(crate) flaps: u32,
    /// The connection that speaks for this client now; 0 when none does
    /// (connections are numbered from 1).
    live: u64,
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
    /// Identities whose connection went, longest gone first, to forget
    /// past [`STORIES`]. Live clients are not here: a steady fleet costs
    /// nothing in it.
    gone: VecDeque<Identity>,
}

impl Stories {
    /// Connection `id` said hello as `ip` and `pid`: the client's story,
    /// counting a reconnect if an earlier connection told it before.
    pub(crate) fn hello(&mut self, id: u64, ip: &Arc<str>, pid: u32) -> &Story {
        let story = self.map.entry((Arc::clone(ip), pid)).or_default();
        if story.live != id {
            if story.live != 0 || story.earlier().next().is_some() {
                story.reconnects += 1;
            }
            story.live = id;
        }
        story
    }

    /// Connection `id` no longer speaks as `ip` and `pid` (it ended, or
    /// said it is someone else): the story waits among the gone, to be
    /// forgotten past [`STORIES`].
    pub(crate) fn release(&mut self, id: u64, ip: &Arc<str>, pid: u32) {
        let key = (Arc::clone(ip), pid);
        let Some(story) = self.map.get_mut(&key) else {
            return;
        };
        if story.live != id {
            return;
        }
        story.live = 0;
        self.gone.push_back(key);
        while self.gone.len() > STORIES {
            let Some(oldest) = self.gone.pop_front() else {
                break;
            };
            // Back again since (it will be queued anew when it goes).
            if self.map.get(&oldest).is_some_and(|story| story.live == 0) {
                self.map.remove(&oldest);
            }
        }
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

    /// Connection `id` of the client ended.
    pub(crate) fn closed(&mut self, id: u64, ip: &Arc<str>, pid: u32, past: PastConnection) {
        if let Some(story) = self.map.get_mut(&(Arc::clone(ip), pid)) {
            push_bounded(&mut story.past().earlier, past, EARLIER);
        }
        self.release(id, ip, pid);
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
        stories.closed(1, &ip, 42, past(1));
        assert_eq!(stories.hello(2, &ip, 42).reconnects, 1);
        assert_eq!(
            stories.hello(4, &ip, 42).reconnects,
            2,
            "while connection 2 still speaks for it (a half-open socket)"
        );
        assert_eq!(stories.hello(3, &ip, 43).reconnects, 0, "another pid");
        let at = SystemTime::UNIX_EPOCH;
        let change = |from, to| Change { at, from, to };
        stories.change(&ip, 42, change(Status::Alive, Status::Leave));
        assert_eq!(
            stories.change(&ip, 42, change(Status::Leave, Status::Alive)),
            1
        );
        for _ in 0..20 {
            stories.closed(4, &ip, 42, past(2));
        }
        let story = stories.get(&ip, 42).unwrap();
        assert_eq!(
            (story.changes().count(), story.earlier().count()),
            (2, EARLIER)
        );
    }

    #[test]
    fn the_gone_are_bounded_in_total_forgetting_the_longest_gone() {
        let mut stories = Stories::default();
        let ip: Arc<str> = Arc::from("10.0.0.7");
        let total = STORIES as u32 + 5;
        for pid in 1..=total {
            stories.hello(u64::from(pid), &ip, pid);
        }
        assert_eq!(
            stories.map.len(),
            total as usize,
            "live clients keep theirs"
        );
        // The first comes back on a new connection before the rest go.
        stories.closed(1, &ip, 1, past(1));
        stories.hello(u64::from(total) + 1, &ip, 1);
        for pid in 2..=total {
            stories.closed(u64::from(pid), &ip, pid, past(2));
        }
        assert_eq!(stories.map.len(), STORIES + 1);
        assert!(
            stories.get(&ip, 2).is_none(),
            "the longest gone is forgotten"
        );
        assert!(stories.get(&ip, total).is_some());
        assert_eq!(
            stories.get(&ip, 1).map(|s| s.reconnects),
            Some(1),
            "live again: kept"
        );
    }

    #[test]
    fn a_connection_that_changes_identity_lets_the_old_story_go() {
        let mut stories = Stories::default();
        let ip: Arc<str> = Arc::from("10.0.0.7");
        for pid in 1..=STORIES as u32 + 3 {
            stories.hello(1, &ip, pid);
            stories.release(1, &ip, pid);
        }
        assert_eq!(stories.map.len(), STORIES);
    }
}
