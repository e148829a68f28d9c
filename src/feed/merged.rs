//! Several servers' snapshots as one table: what `hbmon top a b c` shows,
//! and what the dashboard of one server shows too (a fleet of one), so
//! there is one way rows are chosen, ordered, kept selected and kicked.
//!
//! Each [`Part`] is one server's last snapshot with how its feed reaches
//! it; a row is an [`At`] (a server and a client of its snapshot), never a
//! copy of the client, so a new snapshot from one server costs a pass over
//! indices, not over the rows. A row is known across snapshots by its
//! [`Key`] (server and `ip:port`): selection and marks follow it, and a
//! kick goes to the server it names. This module must not know where the
//! snapshots come from (in process or across a socket).

use std::collections::HashSet;
use std::fmt::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::feed::link::Connection;
use crate::feed::query::{Filter, Query, client_text, on_server};
use crate::feed::snapshot::{ClientView, Snapshot};
use crate::protocol::Status;

/// One server's last snapshot, and whether it still comes.
#[derive(Clone, Debug)]
pub struct Part {
    /// How the operator named it (its address unless named); empty for the
    /// dashboard's own server.
    pub name: Arc<str>,
    /// Where its feed comes from, as the operator gave it.
    pub address: Arc<str>,
    pub snapshot: Arc<Snapshot>,
    pub connection: Connection,
    /// Since when it has not been connected (wall time), while it is not.
    pub lost_since: Option<SystemTime>,
    /// Watched only: its clients are not kicked from here.
    pub read_only: bool,
    /// Which hbmon it runs, once it has said.
    pub version: Option<Arc<str>>,
}

impl Part {
    /// A server whose feed is connected, as the dashboard of `serve` has.
    pub fn local(snapshot: Arc<Snapshot>) -> Part {
        Part {
            name: Arc::from(""),
            address: Arc::from(""),
            snapshot,
            connection: Connection::Connected,
            lost_since: None,
            read_only: false,
            version: None,
        }
    }

    /// Why its clients cannot be kicked from here, if they cannot: a
    /// lost server's rows are its last picture, not its clients now.
    pub fn unkickable(&self) -> Option<String> {
        let name = if self.name.is_empty() {
            "the server"
        } else {
            &self.name
        };
        if self.connection.lost().is_some() {
            return Some(format!(
                "{name} is disconnected: its rows are its last picture, not kicked"
            ));
        }
        self.read_only
            .then(|| format!("{name} is read-only: its clients are not kicked from here"))
    }

    /// Sets how its feed reaches it, remembering when it was lost.
    pub fn connect(&mut self, connection: Connection, now: SystemTime) {
        self.lost_since = match (&connection, self.lost_since) {
            (Connection::Connected, _) => None,
            (_, Some(since)) => Some(since),
            (_, None) => Some(now),
        };
        self.connection = connection;
    }
}

/// A row of the merged table: the `index`-th client (or closed client, or
/// event) of the `part`-th server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct At {
    pub part: u32,
    pub index: u32,
}

/// A client as the operator knows it across snapshots: which server holds
/// it, and its `ip:port` there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub server: Arc<str>,
    pub peer: SocketAddr,
}

impl Key {
    /// A client of the one server of a dashboard (no server name).
    pub fn local(peer: SocketAddr) -> Key {
        Key {
            server: Arc::from(""),
            peer,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.server.is_empty() {
            write!(f, "{}", self.peer)
        } else {
            write!(f, "{} on {}", self.peer, self.server)
        }
    }
}

/// The servers' parts, and who is on each (to find a client listed on two).
#[derive(Clone, Debug, Default)]
pub struct Merged {
    parts: Vec<Part>,
    /// Each part's clients by reported (ip, pid), where there are several
    /// parts: rebuilt for one part when its snapshot comes, so a snapshot
    /// costs its own clients, not every server's.
    who: Vec<HashSet<(Arc<str>, u32)>>,
    /// Each part's clients by status (indexed by `Status as usize`),
    /// counted once per snapshot rather than once per frame.
    counts: Vec<[usize; 3]>,
}

impl Merged {
    pub fn new(parts: Vec<Part>) -> Merged {
        let mut merged = Merged::default();
        merged.replace(parts);
        merged
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether this is a set of servers rather than one (several, or none
    /// found yet): the table then names each row's server, and the servers
    /// screen says which there are.
    pub fn several(&self) -> bool {
        self.parts.len() != 1
    }

    /// The `part`-th server's new snapshot.
    pub fn update(&mut self, part: usize, snapshot: Arc<Snapshot>) {
        if let Some(p) = self.parts.get_mut(part) {
            p.snapshot = snapshot;
            self.index(part);
        }
    }

    /// How the `part`-th server's feed reaches it now.
    pub fn connect(&mut self, part: usize, connection: Connection, now: SystemTime) {
        if let Some(p) = self.parts.get_mut(part) {
            p.connect(connection, now);
        }
    }

    /// Which hbmon the `part`-th server runs, as it said.
    pub fn set_version(&mut self, part: usize, version: Option<Arc<str>>) {
        if let Some(p) = self.parts.get_mut(part) {
            p.version = version;
        }
    }

    /// Replaces the set of servers (some came, some went).
    pub fn replace(&mut self, parts: Vec<Part>) {
        self.who = vec![HashSet::new(); parts.len()];
        self.counts = vec![[0; 3]; parts.len()];
        self.parts = parts;
        for part in 0..self.parts.len() {
            self.index(part);
        }
    }

    /// Counts the `part`-th server's clients by status, and notes who they
    /// are if there are other servers.
    fn index(&mut self, part: usize) {
        let several = self.several();
        let (Some(who), Some(counts), Some(p)) = (
            self.who.get_mut(part),
            self.counts.get_mut(part),
            self.parts.get(part),
        ) else {
            return;
        };
        *counts = [0; 3];
        for c in &p.snapshot.clients {
            counts[c.status() as usize] += 1;
        }
        who.clear();
        if several {
            let clients = p.snapshot.clients.iter();
            who.extend(clients.filter_map(|c| Some((Arc::clone(c.ip.as_ref()?), c.pid?))));
        }
    }

    pub fn part(&self, at: At) -> &Part {
        &self.parts[at.part as usize]
    }

    pub fn client(&self, at: At) -> &ClientView {
        &self.part(at).snapshot.clients[at.index as usize]
    }

    pub fn key(&self, at: At) -> Key {
        Key {
            server: Arc::clone(&self.part(at).name),
            peer: self.client(at).peer,
        }
    }

    /// Whether the client at `at` is the one `key` names.
    pub fn is(&self, at: At, key: &Key) -> bool {
        self.client(at).peer == key.peer && *self.part(at).name == *key.server
    }

    /// The server named `name`, as an index.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.parts.iter().position(|p| &*p.name == name)
    }

    /// Whether the client at `at` (its reported ip and pid) is listed on
    /// another server too: it failed over, and the one it left has not
    /// closed it yet.
    pub fn twin(&self, at: At) -> bool {
        let c = self.client(at);
        let (Some(ip), Some(pid)) = (&c.ip, c.pid) else {
            return false;
        };
        let this = (Arc::clone(ip), pid);
        (self.who.iter().enumerate()).any(|(i, who)| i != at.part as usize && who.contains(&this))
    }

    /// The live rows `query` picks, in its order, across every server (or
    /// only the `only`-th): one filter and one sort for all.
    pub fn rows(&self, query: &Query, only: Option<usize>) -> Vec<At> {
        let several = self.several();
        let candidates = (self.parts.iter().enumerate())
            .filter(|(i, _)| only.is_none_or(|o| o == *i))
            .flat_map(|(i, part)| {
                let name: &str = if several { &part.name } else { "" };
                (part.snapshot.clients.iter().enumerate()).map(move |(j, c)| {
                    let at = At {
                        part: i as u32,
                        index: j as u32,
                    };
                    (at, c, name)
                })
            });
        query.select(candidates, |&at| self.client(at))
    }

    /// The closed clients the filter `text` keeps, every server's, newest
    /// first.
    pub fn closed(&self, text: &str) -> Vec<At> {
        let mut rows = self.matching(
            text,
            |p| p.snapshot.history.len(),
            |s, p, j| {
                let h = &p.snapshot.history[j];
                client_text(s, h.peer, h.ip.as_deref(), h.pid, h.status);
                let _ = write!(s, " {}", h.reason);
            },
        );
        // Each server's history is oldest first.
        rows.reverse();
        self.in_time(&mut rows, |at| {
            let history = &self.part(at).snapshot.history;
            std::cmp::Reverse(history[at.index as usize].closed_at)
        });
        rows
    }

    /// The recent events the filter `text` keeps, every server's, oldest
    /// first.
    pub fn events(&self, text: &str) -> Vec<At> {
        let mut rows = self.matching(
            text,
            |p| p.snapshot.recent.len(),
            |s, p, j| {
                let _ = write!(s, "{}", p.snapshot.recent[j].kind);
            },
        );
        self.in_time(&mut rows, |at| {
            self.part(at).snapshot.recent[at.index as usize].at
        });
        rows
    }

    /// The rows of a list each server has `len` of whose text (`write`
    /// puts it, the server's name added where there are several) holds
    /// the filter `text`, server by server.
    fn matching(
        &self,
        text: &str,
        len: impl Fn(&Part) -> usize,
        write: impl Fn(&mut String, &Part, usize),
    ) -> Vec<At> {
        let filter = Filter::new(text);
        let mut scratch = String::new();
        let mut rows = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            let name = if self.several() { &*part.name } else { "" };
            rows.extend((0..len(part)).filter_map(|j| {
                let keep = filter.matches(&mut scratch, |s| {
                    write(s, part, j);
                    on_server(s, name);
                });
                keep.then_some(At {
                    part: i as u32,
                    index: j as u32,
                })
            }));
        }
        rows
    }

    /// `rows` gathered from every server in the order of `time`, ties in
    /// server order (a stable sort): history newest first, events oldest
    /// first. One server's rows are already in order and stay as they are.
    pub fn in_time<K: Ord>(&self, rows: &mut [At], time: impl Fn(At) -> K) {
        if self.several() {
            rows.sort_by_key(|&at| time(at));
        }
    }

    /// The `part`-th server's clients with `status`.
    pub fn count_of(&self, part: usize, status: Status) -> usize {
        self.counts.get(part).map_or(0, |c| c[status as usize])
    }

    /// Every server's clients with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.counts.iter().map(|c| c[status as usize]).sum()
    }

    /// Totals over every server: clients, heartbeats, closes.
    pub fn total(&self, count: impl Fn(&Snapshot) -> u64) -> u64 {
        self.parts.iter().map(|p| count(&p.snapshot)).sum()
    }

    /// How many servers are connected.
    pub fn connected(&self) -> usize {
        (self.parts.iter())
            .filter(|p| p.connection == Connection::Connected)
            .count()
    }
}

#[cfg(test)]
mod tests;
