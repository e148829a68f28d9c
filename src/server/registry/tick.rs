//! The decider's tick: each client judged on its own (the liveness engine,
//! the hello and frame timeouts) to a [`Verdict`], then the verdicts applied
//! in one place, with the closes for the leave timeout that the fleet guard
//! lets through. A client in a maintenance window is counted but not judged.

use std::time::Duration;

use tokio::time::Instant;

use super::client::Client;
use super::decider::{Decider, Policy};
use crate::feed::event::EventKind;
use crate::feed::snapshot::{CloseCause, Held};
use crate::liveness::Detector;
use crate::protocol::{Notice, Status};
use crate::server::gaps::GapLog;

/// What a tick decided for one client.
enum Verdict {
    /// Nothing to say or do.
    Nothing,
    /// Its status changed (to `leave`, or back to `alive`): tell it.
    Changed { from: Status, to: Status },
    /// Closed for a timeout: the hello timeout or the frame timeout.
    TimedOut(CloseCause),
    /// Due to close for the leave timeout, in `leave` since then: the
    /// fleet guard says whether it may.
    Due(Instant),
    /// Due, and the guard holds it back, for this reason.
    Held(Held),
    /// Due, and the guard lets it close.
    LeaveTimeout,
}

/// The clients that said hello at a tick, and how many of them are silent:
/// what the fleet guard judges the fleet's silence by.
#[derive(Default)]
struct Census {
    said_hello: usize,
    silent: usize,
}

impl Client {
    /// Judges this client as of `at`: brings it up to date with its tally,
    /// steps its liveness, and says what is to be done about it.
    fn judge(
        &mut self,
        at: Instant,
        policy: &Policy,
        first_gap: Duration,
        gaps: Option<&GapLog>,
    ) -> Verdict {
        let waited = |since: Instant| at.saturating_duration_since(since);
        self.sync();
        self.view.held = None;
        if self.view.heartbeats == 0 && waited(self.since) >= policy.hello_timeout {
            return Verdict::TimedOut(CloseCause::HelloTimeout);
        }
        let partial = self.tally.partial_since();
        if partial.is_some_and(|since| waited(since) >= policy.frame_timeout) {
            return Verdict::TimedOut(CloseCause::FrameTimeout);
        }
        let new = self.view.heartbeats.saturating_sub(self.at_last_tick);
        let heard = new > 0;
        let gap = self.learn(new, policy.gap_window);
        if let (Some(log), Some(gap), Some(ip), Some(pid)) =
            (gaps, gap, &self.view.ip, self.view.pid)
        {
            // As many as were learned: the gap of each heartbeat.
            let beats = new.min(policy.gap_window as u64) as u32;
            log.record(self.view.peer, (ip, pid), gap, beats);
        }
        self.at_last_tick = self.view.heartbeats;
        self.silent_ticks = if heard {
            0
        } else {
            self.silent_ticks.saturating_add(1)
        };
        if self.maintenance.is_some() {
            // Counted, never judged: the window's end judges it afresh.
            let streak = &mut self.view.liveness.streak;
            *streak = if heard { streak.saturating_add(1) } else { 0 };
            return Verdict::Nothing;
        }
        let (rules, before) = (&policy.rules, self.view.liveness);
        let mut after = match policy.detector {
            Detector::Counter => before.step(heard, at.into_std(), rules),
            Detector::Phi {
                threshold, pause, ..
            } => {
                let phi = self.phi(at, first_gap, pause);
                self.view.phi = Some(phi as f32);
                before.step_phi(heard, phi, threshold, at.into_std(), rules)
            }
        };
        if after.status == Status::Close {
            // Stays in `leave` until the guard lets it go.
            after.status = Status::Leave;
            self.view.liveness = after;
            return Verdict::Due(after.leave_since.map_or(at, Instant::from_std));
        }
        self.view.liveness = after;
        if after.status == before.status {
            return Verdict::Nothing;
        }
        Verdict::Changed {
            from: before.status,
            to: after.status,
        }
    }
}

impl Decider {
    /// Judges every client, and applies the verdicts. Everything is judged
    /// as of `at`, the tick's scheduled instant, not the moment it ran:
    ///
    /// - jitter in waking up must not make ten 100 ms ticks add up to
    ///   999.9 ms and cost a timeout a tick;
    /// - when this server itself stalls (stopped, swapped out, starved), the
    ///   bytes that arrived meanwhile still wait unread in the sockets. The
    ///   late tick judges as of before the stall, and the next one comes a
    ///   whole tick after it ends, by which time the connections have read
    ///   them: a stall never closes a client whose bytes arrived in time.
    pub(super) fn tick(&mut self, at: Instant) {
        let policy = self.policy;
        // What the phi detector expects of a client it has not learned yet:
        // a heartbeat within the counter's miss threshold.
        let first_gap = policy.tick.saturating_mul(policy.rules.threshold);
        self.expire_windows(at);
        let mut verdicts = Vec::new();
        // Due to close for the leave timeout: judged by the guard below.
        let mut due = Vec::new();
        let mut census = Census::default();
        for (id, client) in self.clients.iter_mut() {
            let verdict = client.judge(at, &policy, first_gap, self.gaps.as_ref());
            // A client in maintenance is silent by plan, not the server's doing.
            let judged = client.view.pid.is_some() && client.maintenance.is_none();
            if !matches!(verdict, Verdict::TimedOut(_)) && judged {
                census.said_hello += 1;
                census.silent += usize::from(client.silent_ticks >= policy.rules.threshold);
            }
            match verdict {
                Verdict::Nothing => {}
                Verdict::Due(since) => due.push((id, since)),
                verdict => verdicts.push((id, verdict)),
            }
        }
        for (id, verdict) in verdicts {
            self.apply(id, verdict);
        }
        self.ticks += 1;
        if self.guard_fleet(census, at) {
            due.clear();
        }
        let (closing, held) = self.guard.admit(due);
        for (id, why) in held {
            self.apply(id, Verdict::Held(why));
        }
        for id in closing {
            self.apply(id, Verdict::LeaveTimeout);
        }
        self.hold_offs.expire(at);
        self.changed = true;
    }

    /// The one place a verdict is carried out.
    fn apply(&mut self, id: u64, verdict: Verdict) {
        let rules = self.policy.rules;
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        match verdict {
            Verdict::Nothing | Verdict::Due(_) => {}
            Verdict::Changed { from, to } => {
                let event = status_event(client, from, to);
                client.view.flaps = self.stories.record(&client.view, from, to);
                let reason = match to {
                    Status::Leave => format!(
                        "inactive: {} strikes of {} missed ticks",
                        rules.cursor, rules.threshold
                    ),
                    _ => format!("recovered: heartbeats in {} ticks in a row", rules.recover),
                };
                client.link.send(Notice::new(to, reason));
                self.emit(event);
            }
            Verdict::TimedOut(cause) => {
                let reason = self.timeout_reason(cause);
                self.close(id, Notice::close(reason), cause);
            }
            Verdict::Held(why) => client.view.held = Some(why),
            Verdict::LeaveTimeout => {
                let event = status_event(client, Status::Leave, Status::Close);
                self.stories
                    .record(&client.view, Status::Leave, Status::Close);
                self.emit(event);
                let reason = format!(
                    "no recovery within the leave timeout ({})",
                    humantime::format_duration(rules.leave_timeout)
                );
                self.close(id, Notice::close(reason), CloseCause::LeaveTimeout);
            }
        }
    }

    /// Why a client is closed for a timeout, written only for those that
    /// expire.
    fn timeout_reason(&self, cause: CloseCause) -> String {
        let policy = &self.policy;
        match cause {
            CloseCause::FrameTimeout => format!(
                "part of a frame unfinished for the frame timeout ({})",
                humantime::format_duration(policy.frame_timeout)
            ),
            _ => format!(
                "no heartbeat within the hello timeout ({})",
                humantime::format_duration(policy.hello_timeout)
            ),
        }
    }

    /// Tells the fleet guard how many are silent; records it if the fleet
    /// has just gone silent or been heard again. `true` when it has been
    /// heard again: the silence was the server's, and no client closes for
    /// it at this tick.
    fn guard_fleet(&mut self, census: Census, at: Instant) -> bool {
        let (every, ticks) = (self.policy.tick, self.ticks);
        let Some(event) = (self.guard).tick(every, census.said_hello, census.silent, ticks) else {
            return false;
        };
        let recovered = matches!(event, EventKind::FleetRecovered { .. });
        match event {
            EventKind::FleetSilent { .. } => self.silent_since = Some(at),
            EventKind::FleetRecovered { .. } => self.forgive(at),
            _ => {}
        }
        self.emit(event);
        recovered
    }

    /// The fleet was silent and is heard again: the silence was the
    /// server's, not the clients', and counts against none of them. Those
    /// that went `leave` during it and are heard now are `alive` again at
    /// once; the rest get a whole leave timeout from now to show they are
    /// back.
    fn forgive(&mut self, at: Instant) {
        let since = self.silent_since.take().unwrap_or(at).into_std();
        let mut back = Vec::new();
        for client in self.clients.values_mut() {
            let heard = client.silent_ticks == 0;
            if client.view.liveness.forgive(since, heard, at.into_std()) {
                back.push(status_event(client, Status::Leave, Status::Alive));
                let reason = "recovered: the fleet was silent together, not this client";
                client.link.send(Notice::new(Status::Alive, reason));
                client.view.flaps =
                    (self.stories).record(&client.view, Status::Leave, Status::Alive);
            }
        }
        for event in back {
            self.emit(event);
        }
    }
}

/// The event for a client's change of status, with its counts as they are.
fn status_event(client: &Client, from: Status, to: Status) -> EventKind {
    let liveness = client.view.liveness;
    EventKind::Status {
        peer: client.view.peer,
        pid: client.view.pid,
        from,
        to,
        miss: liveness.miss,
        strikes: liveness.strikes,
    }
}
