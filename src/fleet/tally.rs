//! What a simulated fleet counts as it runs: totals that the progress line
//! reads many times a second (atomics), and how each client ended, by
//! behaviour, for the summary (written once per client, under a lock).
//!
//! Reasons come from the server (a close frame's reason) or the system (a
//! connect error): they are counted as they are, a few distinct ones per
//! behaviour, and made printable only where they are printed.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::fleet::mix::Behaviour;
use crate::printable;

/// Distinct reasons kept for each outcome of each behaviour; any more are
/// counted together, so a server that words every close differently
/// cannot grow the summary without bound.
const REASONS: usize = 8;
/// Where the reasons past [`REASONS`] are counted.
const OTHER: &str = "(other reasons)";

/// How one simulated client ended.
#[derive(Debug)]
pub(crate) enum Ending {
    /// It could not connect: the error.
    Refused(String),
    /// The server closed it: the close frame's reason, or `None` when the
    /// connection ended without one.
    ClosedByServer(Option<String>),
    /// The connection failed (a write, a frame the server sent).
    Failed(String),
    /// It hung up on purpose (a dying client).
    HungUp,
    /// The fleet was stopped while it was connected.
    Stopped,
}

/// The fleet's counters, updated by its clients as they go.
#[derive(Debug, Default)]
pub struct Tally {
    joined: AtomicU64,
    connected: AtomicU64,
    closed_by_server: AtomicU64,
    errors: AtomicU64,
    heartbeats: AtomicU64,
    moved: AtomicU64,
    outcomes: Mutex<Vec<(Behaviour, Outcome)>>,
}

/// A reading of the [`Tally`]'s totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Clients started.
    pub joined: u64,
    /// Connected right now.
    pub connected: u64,
    /// Closed by the server (with or without a close frame).
    pub closed_by_server: u64,
    /// Could not connect, or the connection failed.
    pub errors: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Times a client left a server for another (failing over).
    pub moved: u64,
}

/// How the clients of one behaviour ended.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    /// Clients started with this behaviour.
    pub joined: u64,
    /// Of those, how many connected.
    pub connected: u64,
    /// Connect errors, and how many clients each stopped.
    pub could_not_connect: Reasons,
    /// Close reasons the server gave, and how many clients each closed.
    pub closed_by_server: Reasons,
    /// Connections that failed after connecting, and why.
    pub failed: Reasons,
    /// Dropped their connection on purpose (dying clients).
    pub hung_up: u64,
    /// Still connected when the fleet stopped.
    pub stopped: u64,
}

/// Reasons and how many times each was given, in the order first seen.
#[derive(Clone, Debug, Default)]
pub struct Reasons(Vec<(String, u64)>);

/// The end-of-run summary: the totals and each behaviour's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub counts: Counts,
    pub behaviours: Behaviours,
}

/// Outcomes in the order the behaviours first joined; a JSON object keyed
/// by the behaviour's name.
#[derive(Clone, Debug, Default)]
pub struct Behaviours(pub Vec<(Behaviour, Outcome)>);

impl Tally {
    pub fn counts(&self) -> Counts {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        Counts {
            joined: load(&self.joined),
            connected: load(&self.connected),
            closed_by_server: load(&self.closed_by_server),
            errors: load(&self.errors),
            heartbeats: load(&self.heartbeats),
            moved: load(&self.moved),
        }
    }

    pub fn summary(&self) -> Summary {
        Summary {
            counts: self.counts(),
            behaviours: Behaviours(self.lock().clone()),
        }
    }

    /// The first connect error, when no client has connected at all: the
    /// server is not there, and this is why.
    pub fn unreachable(&self) -> Option<String> {
        let outcomes = self.lock();
        let connected: u64 = outcomes.iter().map(|(_, o)| o.connected).sum();
        let first = outcomes
            .iter()
            .find_map(|(_, o)| o.could_not_connect.0.first());
        first.filter(|_| connected == 0).map(|(r, _)| r.clone())
    }

    pub(crate) fn sent(&self, heartbeats: u64) {
        self.heartbeats.fetch_add(heartbeats, Ordering::Relaxed);
    }

    pub(crate) fn joined(&self, behaviour: Behaviour) {
        self.joined.fetch_add(1, Ordering::Relaxed);
        self.outcome(behaviour, |o| o.joined += 1);
    }

    pub(crate) fn connected(&self, behaviour: Behaviour) {
        self.connected.fetch_add(1, Ordering::Relaxed);
        self.outcome(behaviour, |o| o.connected += 1);
    }

    /// A client left its server for another.
    pub(crate) fn moved(&self) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
        self.moved.fetch_add(1, Ordering::Relaxed);
    }

    /// A client that moved connected to another server.
    pub(crate) fn reconnected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// The fleet stopped while a client was between servers.
    pub(crate) fn stopped_away(&self, behaviour: Behaviour) {
        self.outcome(behaviour, |o| o.stopped += 1);
    }

    /// Counts how a client ended (after [`Tally::connected`], unless it
    /// was refused).
    pub(crate) fn ended(&self, behaviour: Behaviour, ending: Ending) {
        if !matches!(ending, Ending::Refused(_)) {
            self.connected.fetch_sub(1, Ordering::Relaxed);
        }
        let total = match &ending {
            Ending::ClosedByServer(_) => Some(&self.closed_by_server),
            Ending::Refused(_) | Ending::Failed(_) => Some(&self.errors),
            Ending::HungUp | Ending::Stopped => None,
        };
        if let Some(total) = total {
            total.fetch_add(1, Ordering::Relaxed);
        }
        self.outcome(behaviour, |o| match ending {
            Ending::Refused(error) => o.could_not_connect.add(error),
            Ending::ClosedByServer(reason) => o
                .closed_by_server
                .add(reason.unwrap_or_else(|| "no close frame".to_owned())),
            Ending::Failed(error) => o.failed.add(error),
            Ending::HungUp => o.hung_up += 1,
            Ending::Stopped => o.stopped += 1,
        });
    }

    fn outcome(&self, behaviour: Behaviour, update: impl FnOnce(&mut Outcome)) {
        let mut outcomes = self.lock();
        let at = match outcomes.iter().position(|(b, _)| *b == behaviour) {
            Some(at) => at,
            None => {
                outcomes.push((behaviour, Outcome::default()));
                outcomes.len() - 1
            }
        };
        update(&mut outcomes[at].1);
    }

    /// The outcomes; a client that panicked while holding them left them
    /// whole (each update is one field), so a poisoned lock is still read.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Behaviour, Outcome)>> {
        self.outcomes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Reasons {
    fn add(&mut self, reason: String) {
        let reason = if self.0.len() < REASONS || self.0.iter().any(|(r, _)| *r == reason) {
            reason
        } else {
            OTHER.to_owned()
        };
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.0.push((reason, 1)),
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

impl Serialize for Reasons {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (reason, n) in &self.0 {
            map.serialize_entry(reason, n)?;
        }
        map.end()
    }
}

impl Serialize for Behaviours {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (behaviour, outcome) in &self.0 {
            map.serialize_entry(&behaviour.to_string(), outcome)?;
        }
        map.end()
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "joined {}  connected {}  closed by server {}  errors {}  heartbeats {}",
            self.joined, self.connected, self.closed_by_server, self.errors, self.heartbeats
        )?;
        // Only a fleet over several servers moves.
        if self.moved > 0 {
            write!(f, "  moved {}", self.moved)?;
        }
        Ok(())
    }
}

/// The totals, then a line per behaviour:
/// `steady: 20 joined, 20 connected; closed by the server 20 (19 "server shutting down", 1 "kicked by operator")`.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.counts)?;
        for (behaviour, o) in &self.behaviours.0 {
            write!(
                f,
                "\n{behaviour}: {} joined, {} connected",
                o.joined, o.connected
            )?;
            let reasons = [
                ("could not connect", &o.could_not_connect),
                ("closed by the server", &o.closed_by_server),
                ("failed", &o.failed),
            ];
            for (what, reasons) in reasons.iter().filter(|(_, r)| r.total() > 0) {
                write!(f, "; {what} {} ({reasons})", reasons.total())?;
            }
            for (what, n) in [("hung up on purpose", o.hung_up), ("stopped", o.stopped)] {
                if n > 0 {
                    write!(f, "; {what} {n}")?;
                }
            }
        }
        Ok(())
    }
}

/// `19 "server shutting down", 1 "kicked by operator"`, each reason made
/// printable: it is the server's, or the system's, text.
impl fmt::Display for Reasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (reason, n)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{n} \"{}\"", printable::text(reason))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_behaviour_says_how_its_clients_ended() {
        let tally = Tally::default();
        for _ in 0..3 {
            tally.joined(Behaviour::Steady);
            tally.connected(Behaviour::Steady);
        }
        tally.ended(
            Behaviour::Steady,
            Ending::ClosedByServer(Some("kicked".into())),
        );
        tally.ended(Behaviour::Steady, Ending::ClosedByServer(None));
        tally.ended(Behaviour::Steady, Ending::Stopped);
        tally.joined(Behaviour::Dying);
        tally.ended(Behaviour::Dying, Ending::Refused("refused".into()));
        let summary = tally.summary();
        assert_eq!(
            summary.to_string(),
            "joined 4  connected 0  closed by server 2  errors 1  heartbeats 0\n\
             steady: 3 joined, 3 connected; closed by the server 2 (1 \"kicked\", 1 \"no close frame\"); stopped 1\n\
             dying: 1 joined, 0 connected; could not connect 1 (1 \"refused\")"
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["joined"], 4);
        assert_eq!(
            json["behaviours"]["steady"]["closed_by_server"]["kicked"],
            1
        );
        assert_eq!(
            json["behaviours"]["dying"]["could_not_connect"]["refused"],
            1
        );
        assert_eq!(tally.unreachable(), None, "steady clients connected");
    }

    #[test]
    fn reasons_past_the_limit_are_counted_together() {
        let mut reasons = Reasons::default();
        for i in 0..20 {
            reasons.add(format!("reason {i}"));
        }
        reasons.add("reason 0".into());
        assert_eq!(reasons.0.len(), REASONS + 1);
        assert_eq!(reasons.0[0], ("reason 0".to_owned(), 2));
        assert_eq!(reasons.0[REASONS], (OTHER.to_owned(), 12));
        assert_eq!(reasons.total(), 21);
    }
}
