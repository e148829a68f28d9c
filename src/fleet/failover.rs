//! Which server a client tries next, and when: the list it was given in
//! order of preference, the servers that refused it as full (barred until
//! their `retry_after`), and a back-off with jitter between attempts.
//!
//! Shared by `hbmon client` and the simulated fleet, so both fail over the
//! same way. Time is passed in, so the choice is tested without waiting.

use std::time::Duration;

use tokio::time::Instant;

use crate::protocol::Notice;

/// The first wait before connecting again, and the longest.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(500);
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The most servers a client is given.
pub const MAX_SERVERS: usize = 64;

/// Exponential back-off with jitter: each wait is drawn between half and
/// all of the current step, so clients dropped together spread out.
pub(crate) struct Backoff {
    pub(crate) step: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff { step: BACKOFF_MIN }
    }

    /// The next wait: at least `floor` (a server's `retry_after`).
    pub(crate) fn next(&mut self, floor: Duration) -> Duration {
        let half = self.step / 2;
        let wait = half + half.mul_f64(fastrand::f64());
        self.step = (self.step * 2).min(BACKOFF_MAX);
        wait.max(floor)
    }
}

/// Why a client left a server, as far as the next attempt goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Departure {
    /// It could not connect, or the server went away (shut down, lost):
    /// the next server, after a back-off.
    Gone,
    /// Refused as full: the next server at once, and this one not again
    /// before the refusal's `retry_after`.
    Full(Duration),
    /// Told to stay away (a kick's hold-off): no server before then.
    HeldOff(Duration),
}

impl Departure {
    /// How a close frame sends a client on: a refusal at the door (full,
    /// too many from one address) bars only that server; any other close
    /// asks it to keep away from all of them for its `retry_after`.
    pub(crate) fn after_close(notice: &Notice) -> Departure {
        let wait = Duration::from_secs(notice.retry_after.unwrap_or(0));
        if is_refusal(&notice.reason) {
            Departure::Full(wait)
        } else {
            Departure::HeldOff(wait)
        }
    }
}

/// Whether a close reason is the accept loop's refusal, which says nothing
/// about the client and everything about that one server's room.
fn is_refusal(reason: &str) -> bool {
    reason.starts_with("server full") || reason.starts_with("too many connections from")
}

/// The servers, the one being tried or used, and which are barred.
#[derive(Debug)]
pub(crate) struct Rotation<A> {
    servers: Vec<A>,
    /// When each server may be tried again, if it refused as full.
    barred: Vec<Option<Instant>>,
    at: usize,
    /// Whether it goes round again after the last server, or stops there.
    wraps: bool,
    /// Servers left since one last took the client.
    failed_in_a_row: usize,
}

impl<A> Rotation<A> {
    /// The rotation over `servers` (at least one), starting at `start`.
    pub(crate) fn new(servers: Vec<A>, start: usize, wraps: bool) -> Self {
        let at = start % servers.len().max(1);
        Rotation {
            barred: vec![None; servers.len()],
            servers,
            at,
            wraps,
            failed_in_a_row: 0,
        }
    }

    pub(crate) fn current(&self) -> &A {
        &self.servers[self.at]
    }

    /// Where the current server is in the list, from 0.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    pub(crate) fn len(&self) -> usize {
        self.servers.len()
    }

    /// The current server took the client (it is heartbeating there).
    pub(crate) fn took(&mut self) {
        self.failed_in_a_row = 0;
    }

    /// Whether the current server is the last of a round in which none
    /// has taken the client: failing here, every server has failed in turn.
    pub(crate) fn last_of_round(&self) -> bool {
        self.failed_in_a_row + 1 >= self.servers.len()
    }

    /// Leaves the current server for `departure` at `now`: the server to
    /// try next becomes current, and the wait before trying it is returned;
    /// `None` when there is no next (the list ran out and does not wrap).
    pub(crate) fn leave(
        &mut self,
        departure: Departure,
        backoff: &mut Backoff,
        now: Instant,
    ) -> Option<Duration> {
        self.failed_in_a_row += 1;
        if let Departure::Full(wait) = departure {
            self.barred[self.at] = now.checked_add(wait);
        }
        if !self.wraps && self.at + 1 >= self.servers.len() {
            return None;
        }
        let free_in = self.step(now);
        Some(match departure {
            Departure::Full(_) if free_in.is_zero() => Duration::ZERO,
            Departure::Full(_) | Departure::Gone => backoff.next(free_in),
            Departure::HeldOff(wait) => backoff.next(wait.max(free_in)),
        })
    }

    /// Moves to the next server not barred at `now`, in order after the
    /// current one; when all are barred, to the one free soonest. Returns
    /// how long until it is free.
    fn step(&mut self, now: Instant) -> Duration {
        let n = self.servers.len();
        let order = (1..=n).map(|k| (self.at + k) % n);
        let last = if self.wraps { n } else { n - self.at - 1 };
        let candidates: Vec<usize> = order.take(last).collect();
        let free_in = |i: usize| match self.barred[i] {
            Some(until) => until.saturating_duration_since(now),
            None => Duration::ZERO,
        };
        let chosen = candidates
            .iter()
            .copied()
            .find(|&i| free_in(i).is_zero())
            .or_else(|| candidates.iter().copied().min_by_key(|&i| free_in(i)))
            .unwrap_or(self.at);
        self.at = chosen;
        free_in(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() {
        let mut backoff = Backoff::new();
        let mut step = BACKOFF_MIN;
        for _ in 0..12 {
            let wait = backoff.next(Duration::ZERO);
            assert!(
                wait >= step / 2 && wait <= step,
                "{wait:?} for a step of {step:?}"
            );
            step = (step * 2).min(BACKOFF_MAX);
        }
        assert_eq!(backoff.step, BACKOFF_MAX);
        assert!(backoff.next(secs(60)) >= secs(60));
    }

    #[test]
    fn a_server_gone_sends_the_client_to_the_next_after_a_back_off_round_and_round() {
        let now = Instant::now();
        let mut servers = Rotation::new(vec!["a", "b", "c"], 0, true);
        let mut backoff = Backoff::new();
        let wait = servers.leave(Departure::Gone, &mut backoff, now).unwrap();
        assert!(wait >= BACKOFF_MIN / 2 && wait <= BACKOFF_MIN, "{wait:?}");
        assert_eq!(*servers.current(), "b");
        assert!(!servers.last_of_round());
        servers.leave(Departure::Gone, &mut backoff, now);
        assert_eq!(*servers.current(), "c");
        assert!(servers.last_of_round(), "a and b left, none took it");
        servers.leave(Departure::Gone, &mut backoff, now);
        assert_eq!(*servers.current(), "a", "round again");
        servers.took();
        assert!(!servers.last_of_round());
    }

    #[test]
    fn a_full_server_is_skipped_at_once_until_its_retry_after() {
        let now = Instant::now();
        let mut servers = Rotation::new(vec!["a", "b"], 0, true);
        let mut backoff = Backoff::new();
        let full = Departure::Full(secs(5));
        assert_eq!(servers.leave(full, &mut backoff, now), Some(Duration::ZERO));
        assert_eq!(*servers.current(), "b");
        // b goes away within a's retry_after: b again, not a.
        let later = now + secs(1);
        servers.leave(Departure::Gone, &mut backoff, later).unwrap();
        assert_eq!(*servers.current(), "b");
        // b full too: a, once its bar lifts, and not before.
        let wait = servers.leave(full, &mut backoff, later).unwrap();
        assert_eq!(*servers.current(), "a");
        assert!(wait >= secs(4), "{wait:?}");
        // Past a's bar, not b's: a again.
        let between = now + Duration::from_millis(5500);
        servers.leave(Departure::Gone, &mut backoff, between);
        assert_eq!(*servers.current(), "a", "b is still barred; a is free");
    }

    #[test]
    fn a_hold_off_keeps_the_client_away_from_every_server() {
        let now = Instant::now();
        let mut servers = Rotation::new(vec!["a", "b"], 0, true);
        let wait = servers
            .leave(Departure::HeldOff(secs(60)), &mut Backoff::new(), now)
            .unwrap();
        assert_eq!(*servers.current(), "b");
        assert!(wait >= secs(60), "{wait:?}");
    }

    #[test]
    fn without_wrapping_the_list_is_gone_down_once() {
        let now = Instant::now();
        let mut one = Rotation::new(vec!["a"], 0, false);
        assert_eq!(one.leave(Departure::Gone, &mut Backoff::new(), now), None);
        let mut two = Rotation::new(vec!["a", "b"], 0, false);
        assert!(
            two.leave(Departure::Gone, &mut Backoff::new(), now)
                .is_some()
        );
        assert_eq!(*two.current(), "b");
        assert_eq!(two.leave(Departure::Gone, &mut Backoff::new(), now), None);
        // A single server that wraps is tried again.
        let mut again = Rotation::new(vec!["a"], 0, true);
        let wait = again.leave(Departure::Full(secs(5)), &mut Backoff::new(), now);
        assert!(wait.unwrap() >= secs(5));
    }

    #[test]
    fn closes_are_told_apart_by_what_they_ask() {
        let full =
            Notice::close("server full: 3 clients connected (--max-clients)").retry_after(secs(5));
        assert_eq!(Departure::after_close(&full), Departure::Full(secs(5)));
        let crowded = Notice::close("too many connections from 10.0.0.1 (--max-per-ip 4)");
        assert_eq!(
            Departure::after_close(&crowded),
            Departure::Full(Duration::ZERO)
        );
        let kick = Notice::close("kicked by operator").retry_after(secs(30));
        assert_eq!(Departure::after_close(&kick), Departure::HeldOff(secs(30)));
    }
}
