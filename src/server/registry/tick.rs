//! The registry's tick: the liveness engine for every client, the hello and
//! frame timeouts, and the closes the fleet guard lets through.

use tokio::time::Instant;

use super::Registry;
use crate::feed::event::EventKind;
use crate::feed::snapshot::CloseCause;
use crate::liveness::{Detector, Liveness};
use crate::protocol::{Notice, Status};

impl Registry {
    /// Applies the liveness engine to every client, and the hello and frame
    /// timeouts. Everything is judged as of `at`, the tick's scheduled
    /// instant, not the moment it ran:
    ///
    /// - jitter in waking up must not make ten 100 ms ticks add up to
    ///   999.9 ms and cost a timeout a tick;
    /// - when this server itself stalls (stopped, swapped out, starved), the
    ///   bytes that arrived meanwhile still wait unread in the sockets. The
    ///   late tick judges as of before the stall, and the next one comes a
    ///   whole tick after it ends, by which time the connections have read
    ///   them: a stall never closes a client whose bytes arrived in time.
    pub(super) fn tick(&mut self, at: Instant) {
        let (rules, detector) = (self.rules, self.detector);
        // What the phi detector expects of a client it has not learned yet:
        // a heartbeat within the counter's miss threshold.
        let first_gap = self.tick.saturating_mul(rules.threshold);
        let waited = |since: Instant| at.saturating_duration_since(since);
        // Reasons are written only for the clients that expire.
        let (hello_timeout, frame_timeout) = (self.hello_timeout, self.frame_timeout);
        let hello = || {
            format!(
                "no heartbeat within the hello timeout ({})",
                humantime::format_duration(hello_timeout)
            )
        };
        let frame = || {
            format!(
                "part of a frame unfinished for the frame timeout ({})",
                humantime::format_duration(frame_timeout)
            )
        };
        let mut expired = Vec::new();
        let mut changes = Vec::new();
        // Due to close for the leave timeout: judged by the guard below.
        let mut due = Vec::new();
        let (mut hello_clients, mut silent) = (0, 0);
        for (id, client) in self.clients.iter_mut() {
            client.sync();
            client.view.held = None;
            if client.view.heartbeats == 0 && waited(client.since) >= hello_timeout {
                expired.push((id, hello(), CloseCause::HelloTimeout));
                continue;
            }
            if (client.tally.partial_since()).is_some_and(|since| waited(since) >= frame_timeout) {
                expired.push((id, frame(), CloseCause::FrameTimeout));
                continue;
            }
            let new = client.view.heartbeats.saturating_sub(client.at_last_tick);
            let heard = new > 0;
            client.learn(new, self.gap_window);
            client.at_last_tick = client.view.heartbeats;
            client.silent_ticks = if heard {
                0
            } else {
                client.silent_ticks.saturating_add(1)
            };
            if client.view.pid.is_some() {
                hello_clients += 1;
                silent += usize::from(client.silent_ticks >= rules.threshold);
            }
            let before = client.view.liveness;
            let mut after = match detector {
                Detector::Counter => before.step(heard, at.into_std(), &rules),
                Detector::Phi { threshold, .. } => {
                    let phi = client.phi(at, first_gap);
                    client.view.phi = Some(phi as f32);
                    before.step_phi(heard, phi, threshold, at.into_std(), &rules)
                }
            };
            if after.status == Status::Close {
                // Stays in `leave` until the guard lets it go.
                after.status = Status::Leave;
                client.view.liveness = after;
                due.push((id, after.leave_since.map_or(at, Instant::from_std)));
                continue;
            }
            client.view.liveness = after;
            if after.status == before.status {
                continue;
            }
            changes.push(EventKind::Status {
                peer: client.view.peer,
                pid: client.view.pid,
                from: before.status,
                to: after.status,
                miss: after.miss,
                strikes: after.strikes,
            });
            client.view.flaps = (self.stories).record(&client.view, before.status, after.status);
            let reason = match after.status {
                Status::Leave => format!(
                    "inactive: {} strikes of {} missed ticks",
                    rules.cursor, rules.threshold
                ),
                _ => format!("recovered: heartbeats in {} ticks in a row", rules.recover),
            };
            client.link.send(Notice::new(after.status, reason));
        }
        for change in changes {
            self.emit(change);
        }
        for (id, reason, cause) in expired {
            self.close(id, Notice::close(reason), cause);
        }
        self.ticks += 1;
        if let Some(event) = self
            .guard
            .tick(self.tick, hello_clients, silent, self.ticks)
        {
            match event {
                EventKind::FleetSilent { .. } => self.silent_since = Some(at),
                EventKind::FleetRecovered { .. } => {
                    self.forgive(at);
                    due.clear();
                }
                _ => {}
            }
            self.emit(event);
        }
        let (closing, held) = self.guard.admit(due);
        for (id, why) in held {
            if let Some(client) = self.clients.get_mut(id) {
                client.view.held = Some(why);
            }
        }
        let reason = format!(
            "no recovery within the leave timeout ({})",
            humantime::format_duration(rules.leave_timeout)
        );
        for id in closing {
            let Some(client) = self.clients.get(id) else {
                continue;
            };
            let liveness = client.view.liveness;
            (self.stories).record(&client.view, Status::Leave, Status::Close);
            self.emit(EventKind::Status {
                peer: client.view.peer,
                pid: client.view.pid,
                from: Status::Leave,
                to: Status::Close,
                miss: liveness.miss,
                strikes: liveness.strikes,
            });
            self.close(id, Notice::close(reason.clone()), CloseCause::LeaveTimeout);
        }
        self.hold_offs.expire(at);
        self.dirty = true;
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
            let liveness = &mut client.view.liveness;
            if liveness.status != Status::Leave {
                continue;
            }
            let went_quiet = liveness.leave_since.is_some_and(|left| left >= since);
            if went_quiet && client.silent_ticks == 0 {
                let before = *liveness;
                *liveness = Liveness {
                    streak: before.streak,
                    ..Liveness::default()
                };
                back.push(EventKind::Status {
                    peer: client.view.peer,
                    pid: client.view.pid,
                    from: Status::Leave,
                    to: Status::Alive,
                    miss: 0,
                    strikes: 0,
                });
                let reason = "recovered: the fleet was silent together, not this client";
                client.link.send(Notice::new(Status::Alive, reason));
                client.view.flaps =
                    (self.stories).record(&client.view, Status::Leave, Status::Alive);
            } else {
                liveness.leave_since = Some(at.into_std());
            }
        }
        for event in back {
            self.emit(event);
        }
    }
}
