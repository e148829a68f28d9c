//! The liveness engine: how a client's heartbeats over ticks decide whether it
//! is `alive`, `leave` or `close`.
//!
//! Pure logic: no I/O, no tokio, no clock of its own. The caller passes in
//! "did at least one heartbeat arrive this tick" and the current instant, so
//! every rule is tested exactly with made-up instants.
//!
//! Per tick: a heard tick lowers `miss` by one (not below 0) and extends the
//! `streak`; a silent tick raises `miss` and breaks the streak. `threshold`
//! misses make a strike; `cursor` strikes turn `alive` into `leave`; a streak
//! of `recover` heard ticks brings `leave` back to `alive`; `leave` lasting
//! `leave_timeout` becomes `close`, which is final.
//!
//! [`phi`] holds the other detector, phi accrual, which suspects a client
//! from how late its heartbeat is against the gaps it has shown so far.

pub mod phi;

use std::time::{Duration, Instant};

use crate::protocol::Status;

/// The rules' parameters (the `--threshold`, `--cursor`, `--recover` and
/// `--leave-timeout` flags; the tick period belongs to whoever drives ticks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub threshold: u32,
    pub cursor: u32,
    pub recover: u32,
    pub leave_timeout: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            threshold: 5,
            cursor: 3,
            recover: 5,
            leave_timeout: Duration::from_secs(30),
        }
    }
}

/// Which failure detector judges the clients (`--detector`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Detector {
    /// Missed ticks make strikes, strikes make `leave` (the default).
    #[default]
    Counter,
    /// Phi accrual over each client's recent gaps ([`phi`]), granting
    /// every client a `pause` on top of its usual gap (Akka's
    /// acceptable heartbeat pause).
    Phi {
        threshold: f64,
        window: usize,
        pause: Duration,
    },
}

/// One client's liveness state. `Copy`, so a step is a pure function from
/// the old state to the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    pub status: Status,
    pub miss: u32,
    pub strikes: u32,
    /// Consecutive ticks in which a heartbeat arrived.
    pub streak: u32,
    /// When the client entered `leave`, while it is there.
    pub leave_since: Option<Instant>,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            status: Status::Alive,
            miss: 0,
            strikes: 0,
            streak: 0,
            leave_since: None,
        }
    }
}

/// What happens to a client next if nothing changes, for an operator who
/// wants to see the state machine working rather than guess.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outlook {
    /// Alive, heard last tick, no strikes against it.
    Steady,
    /// Alive, but if it stays silent it goes `leave` after this many ticks.
    LeaveAfterTicks(u32),
    /// In `leave` and heard: back to `alive` after this many more heard ticks.
    AliveAfterBeats(u32),
    /// In `leave` and silent: closed after this long.
    CloseIn(Duration),
    Closed,
}

impl Liveness {
    /// Advances one tick and returns the new state.
    #[must_use]
    pub fn step(self, heard: bool, now: Instant, rules: &Rules) -> Liveness {
        let mut next = self;
        if next.status == Status::Close {
            return next;
        }
        if heard {
            next.miss = next.miss.saturating_sub(1);
            next.streak = next.streak.saturating_add(1);
        } else {
            next.miss = next.miss.saturating_add(1);
            next.streak = 0;
        }
        if next.miss >= rules.threshold {
            // Capped: past `cursor` a strike changes nothing, and "5/3"
            // strikes would only puzzle an operator.
            next.strikes = next.strikes.saturating_add(1).min(rules.cursor);
            next.miss = 0;
        }
        let suspect = next.strikes >= rules.cursor;
        next.settle(suspect, now, rules)
    }

    /// One tick under the phi-accrual detector ([`phi`]): the client is
    /// suspected, and goes `leave`, when its `phi` reaches `threshold`;
    /// recovery and the leave timeout work as with the counter.
    #[must_use]
    pub fn step_phi(
        self,
        heard: bool,
        phi: f64,
        threshold: f64,
        now: Instant,
        rules: &Rules,
    ) -> Liveness {
        let mut next = self;
        if next.status == Status::Close {
            return next;
        }
        next.streak = if heard {
            next.streak.saturating_add(1)
        } else {
            0
        };
        next.settle(phi >= threshold, now, rules)
    }

    /// The status change a tick brings, once the detector has said whether
    /// the client is `suspect`.
    fn settle(mut self, suspect: bool, now: Instant, rules: &Rules) -> Liveness {
        let next = &mut self;
        match next.status {
            Status::Alive if suspect => {
                next.status = Status::Leave;
                next.leave_since = Some(now);
            }
            Status::Leave if next.streak >= rules.recover => {
                next.status = Status::Alive;
                next.miss = 0;
                next.strikes = 0;
                next.leave_since = None;
            }
            Status::Leave => {
                let since = *next.leave_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= rules.leave_timeout {
                    next.status = Status::Close;
                }
            }
            _ => {}
        }
        self
    }

    /// The fleet fell silent together at `silence_began` and is heard
    /// again: the silence was the server's, and counts against no client.
    /// A client that went `leave` during it and is `heard` now is `alive`
    /// again at once (`true`); one in `leave` and still silent gets a whole
    /// leave timeout from `now` to show it is back.
    pub fn forgive(&mut self, silence_began: Instant, heard: bool, now: Instant) -> bool {
        if self.status != Status::Leave {
            return false;
        }
        let went_quiet = self.leave_since.is_some_and(|left| left >= silence_began);
        if went_quiet && heard {
            *self = Liveness {
                streak: self.streak,
                ..Liveness::default()
            };
            return true;
        }
        self.leave_since = Some(now);
        false
    }

    /// What happens next if the client keeps doing what it did last tick.
    pub fn outlook(&self, now: Instant, rules: &Rules) -> Outlook {
        match self.status {
            Status::Close => Outlook::Closed,
            Status::Alive if self.streak > 0 && self.miss == 0 && self.strikes == 0 => {
                Outlook::Steady
            }
            Status::Alive => {
                let strikes_left = rules.cursor.saturating_sub(self.strikes).max(1);
                let ticks = (rules.threshold - self.miss.min(rules.threshold))
                    .saturating_add(rules.threshold.saturating_mul(strikes_left - 1));
                Outlook::LeaveAfterTicks(ticks)
            }
            Status::Leave if self.streak > 0 => {
                Outlook::AliveAfterBeats(rules.recover.saturating_sub(self.streak))
            }
            Status::Leave => {
                let since = self.leave_since.unwrap_or(now);
                Outlook::CloseIn(
                    rules
                        .leave_timeout
                        .saturating_sub(now.saturating_duration_since(since)),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_secs(1);

    /// Drives one client through a pattern of heard (`true`) and silent ticks
    /// with a fake clock one `TICK` apart, returning the state after each.
    fn run(rules: &Rules, start: Liveness, pattern: &[bool]) -> Vec<Liveness> {
        let t0 = Instant::now();
        let mut state = start;
        pattern
            .iter()
            .enumerate()
            .map(|(i, &heard)| {
                state = state.step(heard, t0 + TICK * (i as u32 + 1), rules);
                state
            })
            .collect()
    }

    fn first_tick_with(states: &[Liveness], status: Status) -> Option<usize> {
        states
            .iter()
            .position(|s| s.status == status)
            .map(|i| i + 1)
    }

    #[test]
    fn under_phi_a_suspect_goes_leave_at_once_and_recovers_or_closes_as_with_the_counter() {
        let rules = Rules::default();
        let t0 = Instant::now();
        let at = |i: u32| t0 + TICK * i;
        let calm = Liveness::default().step_phi(true, 0.4, 8.0, at(1), &rules);
        assert_eq!(calm.status, Status::Alive);
        let suspect = calm.step_phi(false, 8.1, 8.0, at(2), &rules);
        assert_eq!(
            (suspect.status, suspect.leave_since),
            (Status::Leave, Some(at(2)))
        );
        let mut back = suspect;
        for i in 0..rules.recover {
            back = back.step_phi(true, 0.1, 8.0, at(3 + i), &rules);
        }
        assert_eq!(back.status, Status::Alive);
        let gone = suspect.step_phi(false, 20.0, 8.0, at(2) + rules.leave_timeout, &rules);
        assert_eq!(gone.status, Status::Close);
    }

    #[test]
    fn steady_client_stays_alive_forever() {
        let states = run(&Rules::default(), Liveness::default(), &[true; 1000]);
        assert!(
            states
                .iter()
                .all(|s| s.status == Status::Alive && s.miss == 0)
        );
        assert_eq!(states.last().unwrap().streak, 1000);
    }

    #[test]
    fn silent_client_goes_leave_after_threshold_times_cursor_ticks() {
        let rules = Rules::default();
        let states = run(&rules, Liveness::default(), &[false; 100]);
        assert_eq!(first_tick_with(&states, Status::Leave), Some(15));
        let at_leave = states[14];
        assert_eq!(
            (at_leave.miss, at_leave.strikes, at_leave.streak),
            (0, 3, 0)
        );
    }

    #[test]
    fn silent_leave_client_closes_after_leave_timeout() {
        let rules = Rules::default();
        let states = run(&rules, Liveness::default(), &[false; 100]);
        // leave at tick 15, close 30 ticks (30 s) later: tick 45.
        assert_eq!(first_tick_with(&states, Status::Close), Some(45));
        assert!(
            states[44..].iter().all(|s| s.status == Status::Close),
            "close is final"
        );
    }

    #[test]
    fn strike_is_counted_when_miss_reaches_threshold_and_miss_resets() {
        let rules = Rules::default();
        let states = run(&rules, Liveness::default(), &[false; 5]);
        let misses: Vec<u32> = states.iter().map(|s| s.miss).collect();
        assert_eq!(misses, [1, 2, 3, 4, 0]);
        assert_eq!(states[4].strikes, 1);
        assert_eq!(states[3].strikes, 0);
    }

    #[test]
    fn heard_tick_lowers_miss_by_one_not_below_zero() {
        let rules = Rules::default();
        let states = run(
            &rules,
            Liveness::default(),
            &[false, false, false, true, true, true, true],
        );
        let misses: Vec<u32> = states.iter().map(|s| s.miss).collect();
        assert_eq!(misses, [1, 2, 3, 2, 1, 0, 0]);
        let streaks: Vec<u32> = states.iter().map(|s| s.streak).collect();
        assert_eq!(streaks, [0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn alternating_client_never_strikes() {
        let pattern: Vec<bool> = (0..1000).map(|i| i % 2 == 0).collect();
        let states = run(&Rules::default(), Liveness::default(), &pattern);
        assert!(
            states
                .iter()
                .all(|s| s.status == Status::Alive && s.strikes == 0)
        );
    }

    #[test]
    fn strikes_accumulate_while_alive_and_reach_leave() {
        // Each round: 5 silent ticks (a strike) then 5 heard ticks.
        let round: Vec<bool> = [false; 5].into_iter().chain([true; 5]).collect();
        let pattern: Vec<bool> = round.iter().copied().cycle().take(30).collect();
        let states = run(&Rules::default(), Liveness::default(), &pattern);
        assert_eq!(states[4].strikes, 1);
        assert_eq!(states[14].strikes, 2);
        assert_eq!(first_tick_with(&states, Status::Leave), Some(25));
    }

    #[test]
    fn strikes_stop_at_cursor_while_in_leave() {
        let rules = Rules {
            leave_timeout: Duration::from_secs(3600),
            ..Rules::default()
        };
        let states = run(&rules, Liveness::default(), &[false; 100]);
        assert!(states.iter().all(|s| s.strikes <= rules.cursor));
        assert_eq!(states[99].strikes, rules.cursor);
    }

    #[test]
    fn leave_client_recovers_after_recover_heard_ticks_with_counters_reset() {
        let rules = Rules::default();
        let mut pattern = vec![false; 15];
        pattern.extend([true; 5]);
        let states = run(&rules, Liveness::default(), &pattern);
        assert_eq!(states[14].status, Status::Leave);
        assert!(states[15..19].iter().all(|s| s.status == Status::Leave));
        let back = states[19];
        assert_eq!(back.status, Status::Alive);
        assert_eq!((back.miss, back.strikes, back.leave_since), (0, 0, None));
    }

    #[test]
    fn broken_streak_does_not_recover() {
        let rules = Rules::default();
        let mut pattern = vec![false; 15];
        pattern.extend([true, true, true, true, false, true, true, true, true]);
        let states = run(&rules, Liveness::default(), &pattern);
        assert!(states[14..].iter().all(|s| s.status == Status::Leave));
    }

    #[test]
    fn recovery_beats_timeout_on_the_same_tick() {
        let rules = Rules {
            recover: 2,
            leave_timeout: Duration::from_secs(2),
            ..Rules::default()
        };
        let mut pattern = vec![false; 15];
        pattern.extend([true, true]);
        let states = run(&rules, Liveness::default(), &pattern);
        assert_eq!(states[16].status, Status::Alive);
    }

    #[test]
    fn leave_timeout_counts_wall_time_not_ticks() {
        let rules = Rules::default();
        let t0 = Instant::now();
        let leave = Liveness {
            status: Status::Leave,
            leave_since: Some(t0),
            ..Liveness::default()
        };
        assert_eq!(
            leave
                .step(false, t0 + Duration::from_millis(29_999), &rules)
                .status,
            Status::Leave
        );
        assert_eq!(
            leave
                .step(false, t0 + Duration::from_secs(30), &rules)
                .status,
            Status::Close
        );
    }

    #[test]
    fn custom_rules_scale_the_timeline() {
        let rules = Rules {
            threshold: 2,
            cursor: 2,
            recover: 3,
            leave_timeout: Duration::from_secs(3),
        };
        let states = run(&rules, Liveness::default(), &[false; 20]);
        assert_eq!(first_tick_with(&states, Status::Leave), Some(4));
        assert_eq!(first_tick_with(&states, Status::Close), Some(7));
    }

    #[test]
    fn outlook_counts_down_to_leave_then_close() {
        let rules = Rules::default();
        let t0 = Instant::now();
        let fresh = Liveness::default();
        assert_eq!(fresh.outlook(t0, &rules), Outlook::LeaveAfterTicks(15));
        let steady = fresh.step(true, t0, &rules);
        assert_eq!(steady.outlook(t0, &rules), Outlook::Steady);

        let states = run(&rules, Liveness::default(), &[false; 20]);
        // After 6 silent ticks: one strike, miss 1: 4 + 5 more ticks to leave.
        assert_eq!(states[5].outlook(t0, &rules), Outlook::LeaveAfterTicks(9));
        // Every silent tick brings leave one tick closer.
        for i in 0..13 {
            let (Outlook::LeaveAfterTicks(a), Outlook::LeaveAfterTicks(b)) = (
                states[i].outlook(t0, &rules),
                states[i + 1].outlook(t0, &rules),
            ) else {
                panic!("tick {i} should be counting down to leave");
            };
            assert_eq!(a, b + 1, "tick {i}");
        }
        let leave = states[14];
        let since = leave.leave_since.unwrap();
        assert_eq!(
            leave.outlook(since + Duration::from_secs(12), &rules),
            Outlook::CloseIn(Duration::from_secs(18))
        );
        let recovering = leave.step(true, since + TICK, &rules);
        assert_eq!(
            recovering.outlook(since + TICK, &rules),
            Outlook::AliveAfterBeats(4)
        );
    }

    /// Rules as large as a server (or a hostile one, to `top`) can send:
    /// counts saturate, nothing overflows.
    #[test]
    fn the_largest_rules_saturate_instead_of_overflowing() {
        let rules = Rules {
            threshold: u32::MAX,
            cursor: u32::MAX,
            recover: u32::MAX,
            leave_timeout: Duration::MAX,
        };
        let now = Instant::now();
        let fresh = Liveness::default();
        assert_eq!(
            fresh.outlook(now, &rules),
            Outlook::LeaveAfterTicks(u32::MAX)
        );
        let struck = Liveness {
            miss: u32::MAX - 1,
            strikes: u32::MAX,
            ..fresh
        };
        let next = struck.step(false, now, &rules);
        assert_eq!((next.miss, next.strikes), (0, u32::MAX));
    }
}
