//! One trace through one detector, tick by tick, as the registry runs it:
//! no sockets, no sleeping, time passed in.
//!
//! What is replayed as the registry does it (`server/registry/tick.rs`):
//! at each tick a client is heard if a heartbeat arrived since the last;
//! the phi detector learns the gap from the latest heartbeat counted at the
//! tick before to the latest counted now ([`Gaps::learn`]), and judges the
//! silence since it, with a first estimate of `threshold` ticks until it has
//! gaps; the counter steps its rules; a client due to close for the leave
//! timeout asks the same fleet guard ([`Guard`], the server's defaults),
//! which counts a client silent after a strike's worth of ticks, declares
//! the fleet silent from half of ten or more, holds closes meanwhile and
//! forgives the clients it silenced. What is not: hello and frame timeouts
//! (every replayed client says hello and sends whole frames), kicks, and the
//! close rate's effect on timing (a hundred closes a second; the traces'
//! stops are spread out).

use std::time::{Duration, Instant};

use super::traces::{Client, Trace};
use crate::feed::event::EventKind;
use crate::liveness::phi::Gaps;
use crate::liveness::{Detector, Liveness, Rules};
use crate::protocol::Status;
use crate::server::{Guard, GuardConfig};

/// What one replay came to, before it is summed up.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// Hours the clients were alive and beating, all together.
    pub client_hours: f64,
    /// Times a client that was still beating was sent to `leave`.
    pub false_leaves: usize,
    /// Clients closed while still beating.
    pub false_closes: usize,
    /// Clients that stopped for good.
    pub stopped: usize,
    /// From each stopped client's last heartbeat to its `leave`, for those
    /// sent there before the trace ended.
    pub to_leave: Vec<Duration>,
    /// The same, to its close.
    pub to_close: Vec<Duration>,
}

/// One client as the registry keeps it between ticks.
#[derive(Default)]
struct Follow {
    liveness: Liveness,
    gaps: Gaps,
    /// When the latest heartbeat counted at a tick arrived (ms).
    since: u64,
    /// Heartbeats counted so far (the index of the next to arrive).
    counted: usize,
    silent_ticks: u32,
    closed: bool,
    /// When it was first in `leave` after its last heartbeat.
    caught: Option<u64>,
}

/// Replays `trace` through `detector`, ticking every `tick`.
pub fn replay(trace: &Trace, detector: Detector, tick: Duration) -> Outcome {
    let rules = Rules::default();
    let mut clients: Vec<Follow> = trace.clients.iter().map(|_| Follow::default()).collect();
    let mut outcome = Outcome::default();
    let mut guard = Guard::new(GuardConfig::default());
    let mut silent_since = None;
    let base = Instant::now();
    let step = (tick.as_millis() as u64).max(1);
    let first_gap = tick.saturating_mul(rules.threshold);
    for (ticks, now) in (step..=trace.span).step_by(step as usize).enumerate() {
        let at = base + Duration::from_millis(now);
        let (mut said_hello, mut silent, mut due) = (0, 0, Vec::new());
        for (id, (follow, client)) in clients.iter_mut().zip(&trace.clients).enumerate() {
            if follow.closed {
                continue;
            }
            let before = follow.liveness.status;
            let close = follow.judge(&client.arrivals, now, at, (detector, first_gap));
            outcome.count_leave(follow, client, before, now);
            if close {
                let since = follow.liveness.leave_since.unwrap_or(at);
                due.push((id as u64, tokio::time::Instant::from_std(since)));
            }
            if follow.counted > 0 {
                said_hello += 1;
                silent += usize::from(follow.silent_ticks >= rules.threshold);
            }
        }
        let event = guard.tick(tick, said_hello, silent, ticks as u64);
        match event {
            Some(EventKind::FleetSilent { .. }) => silent_since = Some(at),
            Some(EventKind::FleetRecovered { .. }) => {
                let began = silent_since.take().unwrap_or(at);
                for follow in clients.iter_mut().filter(|f| !f.closed) {
                    let heard = follow.silent_ticks == 0;
                    follow.liveness.forgive(began, heard, at);
                }
                due.clear();
            }
            _ => {}
        }
        for id in guard.admit(due).0 {
            let (follow, client) = (&mut clients[id as usize], &trace.clients[id as usize]);
            outcome.count_close(follow, client, now);
        }
    }
    outcome.client_hours = trace
        .clients
        .iter()
        .map(|c| live_ms(&c.arrivals, c.stopped, trace.span) as f64 / 3_600_000.0)
        .sum();
    outcome.stopped = trace.clients.iter().filter(|c| c.stopped).count();
    outcome
}

/// How long a client was alive and beating, in ms.
fn live_ms(arrivals: &[u64], stopped: bool, span: u64) -> u64 {
    let first = arrivals.first().copied().unwrap_or(span);
    let last = if stopped {
        arrivals.last().copied().unwrap_or(span)
    } else {
        span
    };
    last.saturating_sub(first)
}

impl Follow {
    /// One tick at `now` ms (`at` on the clock): counts what arrived,
    /// learns, steps the detector. `true` when it is due to close for the
    /// leave timeout (it then stays in `leave` until the guard lets it).
    fn judge(
        &mut self,
        arrivals: &[u64],
        now: u64,
        at: Instant,
        (detector, first_gap): (Detector, Duration),
    ) -> bool {
        let rules = Rules::default();
        let heard_before = self.counted > 0;
        let arrived = arrivals[self.counted..].partition_point(|&a| a <= now);
        let heard = arrived > 0;
        if heard {
            self.counted += arrived;
            let beat = arrivals[self.counted - 1];
            // Only phi needs the gaps (the registry keeps them for the
            // details pane too).
            if let (true, Detector::Phi { window, .. }) = (heard_before, detector) {
                let span = Duration::from_millis(beat - self.since);
                self.gaps.learn(span, arrived as u64, window);
            }
            self.since = beat;
            self.silent_ticks = 0;
        } else {
            self.silent_ticks = self.silent_ticks.saturating_add(1);
        }
        let before = self.liveness;
        let mut after = match detector {
            Detector::Counter => before.step(heard, at, &rules),
            Detector::Phi {
                threshold, pause, ..
            } => {
                let phi = if self.counted > 0 {
                    let silence = Duration::from_millis(now - self.since);
                    self.gaps.phi(silence, first_gap, pause)
                } else {
                    0.0
                };
                before.step_phi(heard, phi, threshold, at, &rules)
            }
        };
        let due = after.status == Status::Close;
        if due {
            after.status = Status::Leave;
        }
        self.liveness = after;
        due
    }
}

impl Outcome {
    /// Counts a tick's `leave`: false while the client still beats, its
    /// detection once it has stopped.
    fn count_leave(&mut self, follow: &mut Follow, client: &Client, before: Status, now: u64) {
        let status = follow.liveness.status;
        let last = client.arrivals.last().copied().unwrap_or(0);
        let stopped = client.stopped && now > last;
        if stopped && status == Status::Leave && follow.caught.is_none() {
            follow.caught = Some(now);
            self.to_leave.push(Duration::from_millis(now - last));
        } else if !stopped && before == Status::Alive && status == Status::Leave {
            self.false_leaves += 1;
        }
    }

    fn count_close(&mut self, follow: &mut Follow, client: &Client, now: u64) {
        follow.closed = true;
        let last = client.arrivals.last().copied().unwrap_or(0);
        if client.stopped && now > last {
            self.to_close.push(Duration::from_millis(now - last));
        } else {
            self.false_closes += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_secs(1);

    /// Beats every second from 0.5 s, with a silence between `quiet` ms.
    fn client(until: u64, quiet: (u64, u64), stopped: bool) -> Client {
        let arrivals = (0..)
            .map(|i| 500 + i * 1000)
            .take_while(|&at| at <= until)
            .filter(|at| !(quiet.0..quiet.1).contains(at))
            .collect();
        Client { arrivals, stopped }
    }

    fn trace(span: u64, clients: Vec<Client>) -> Trace {
        Trace {
            name: "t".into(),
            span,
            clients,
        }
    }

    fn phi(pause_ms: u64) -> Detector {
        Detector::Phi {
            threshold: 8.0,
            window: 100,
            pause: Duration::from_millis(pause_ms),
        }
    }

    #[test]
    fn a_stopped_client_is_timed_from_its_last_heartbeat_to_leave_and_close() {
        // Last heartbeat at 10.5 s, counted at the 11 s tick.
        let stopped = trace(120_000, vec![client(10_500, (0, 0), true)]);
        let counter = replay(&stopped, Detector::Counter, TICK);
        // 15 silent ticks (12 s to 26 s) to leave, 30 s more to close.
        assert_eq!(counter.to_leave, [Duration::from_millis(15_500)]);
        assert_eq!(counter.to_close, [Duration::from_millis(45_500)]);
        assert_eq!((counter.false_leaves, counter.stopped), (0, 1));
        // Gaps of 1 s floored at 100 ms of spread, 2 s granted: φ reaches 8
        // about 3.52 s after the last heartbeat, so at the 4.5 s tick.
        let phi = replay(&stopped, phi(2000), TICK);
        assert_eq!(phi.to_leave, [Duration::from_millis(4500)]);
        assert!((phi.client_hours - 10.0 / 3600.0).abs() < 1e-9);
    }

    #[test]
    fn a_pause_of_three_gaps_is_a_false_leave_for_phi_alone_and_the_pause_absorbs_it() {
        // Silent from 20.5 s to 23.5 s: the gap after 19.5 s is 3 s long.
        let paused = trace(60_000, vec![client(60_000, (20_000, 22_000), false)]);
        let counter = replay(&paused, Detector::Counter, TICK);
        assert_eq!((counter.false_leaves, counter.false_closes), (0, 0));
        let bare = replay(&paused, phi(0), TICK);
        assert_eq!((bare.false_leaves, bare.false_closes), (1, 0));
        assert!(bare.to_leave.is_empty());
        let granted = replay(&paused, phi(1500), TICK);
        assert_eq!(granted.false_leaves, 0);
    }

    #[test]
    fn the_fleet_guard_holds_the_closes_of_a_fleet_silent_together() {
        // Twenty clients silent together from 10 s to 60 s, then back.
        let fleet = (0..20).map(|_| client(120_000, (10_000, 60_000), false));
        let silent = trace(120_000, fleet.collect());
        let outcome = replay(&silent, Detector::Counter, TICK);
        assert_eq!(outcome.false_leaves, 20, "the silence sends them to leave");
        assert_eq!(outcome.false_closes, 0, "the guard holds their closes");
        // Alone, the same client is closed 30 s after it went leave.
        let alone = trace(120_000, vec![client(120_000, (10_000, 60_000), false)]);
        assert_eq!(replay(&alone, Detector::Counter, TICK).false_closes, 1);
    }
}
