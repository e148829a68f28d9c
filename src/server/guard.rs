//! Fleet-safe closing: the registry decides client by client, and this
//! decides whether the closes it wants may happen now.
//!
//! - **The silence guard.** When at least a fraction (`--silence-guard`,
//!   0.5) of the clients that said hello have all gone silent for a strike's
//!   worth of ticks, the likelier story is that this server's own network
//!   went away, not that they all died at once. The fleet is declared
//!   silent (one `fleet_silent` event) and automatic closes are held until
//!   the silent fraction drops back below the guard (one `fleet_recovered`).
//!   `leave` marks still happen; an operator's kicks are never held. It
//!   applies from `--silence-guard-min` clients on, as Kubernetes' node
//!   controller stops evicting when a whole zone looks down.
//! - **The close rate.** Automatic closes happen at most `--close-rate` a
//!   second (a token bucket holding a second's worth), oldest `leave`
//!   first; the rest wait in `leave`, as Kubernetes' `--node-eviction-rate`
//!   spaces evictions.
//!
//! Only closes for the leave timeout are held or spaced: the hello and frame
//! timeouts close broken or hostile connections, which must not be able to
//! hide behind the guard.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::feed::event::EventKind;
use crate::feed::snapshot::{Held, Silence};

/// The guard's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GuardConfig {
    /// The silent fraction that declares the fleet silent; `None`: off.
    pub silence: Option<f64>,
    /// Fewer clients than this are never declared silent.
    pub min_clients: usize,
    /// Automatic closes per second at most; `None`: no cap.
    pub close_rate: Option<f64>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            silence: Some(0.5),
            min_clients: 10,
            close_rate: Some(DEFAULT_CLOSE_RATE),
        }
    }
}

/// The default `--close-rate`: a 10,000-client fleet that truly died is
/// closed within 100 s, while a misjudgement cannot disconnect more than
/// this many clients a second (and so cannot make them all reconnect at
/// once).
pub const DEFAULT_CLOSE_RATE: f64 = 100.0;

pub(crate) struct Guard {
    config: GuardConfig,
    /// Closes that may happen now (at most a second's worth).
    tokens: f64,
    /// Since when, and how badly, the fleet is silent, if it is.
    silence: Option<Silence>,
}

impl Guard {
    pub(crate) fn new(config: GuardConfig) -> Self {
        let tokens = config.close_rate.map_or(0.0, bucket);
        Guard {
            config,
            tokens,
            silence: None,
        }
    }

    pub(crate) fn silence(&self) -> Option<Silence> {
        self.silence
    }

    /// One tick: refills the close budget, and says whether the fleet has
    /// just gone silent or recovered, given how many of the `clients` that
    /// said hello are `silent`.
    pub(crate) fn tick(
        &mut self,
        every: Duration,
        clients: usize,
        silent: usize,
        tick: u64,
    ) -> Option<EventKind> {
        if let Some(rate) = self.config.close_rate {
            self.tokens = (self.tokens + rate * every.as_secs_f64()).min(bucket(rate));
        }
        let guard = self.config.silence?;
        let fraction = if clients == 0 {
            0.0
        } else {
            silent as f64 / clients as f64
        };
        let quiet = clients >= self.config.min_clients && fraction >= guard;
        match (quiet, self.silence) {
            (true, None) => {
                self.silence = Some(Silence {
                    since: SystemTime::now(),
                    silent,
                    clients,
                });
                Some(EventKind::FleetSilent {
                    fraction,
                    silent,
                    clients,
                    tick,
                })
            }
            (true, Some(ref mut silence)) => {
                (silence.silent, silence.clients) = (silent, clients);
                None
            }
            (false, Some(_)) => {
                self.silence = None;
                Some(EventKind::FleetRecovered {
                    fraction,
                    silent,
                    clients,
                    tick,
                })
            }
            (false, None) => None,
        }
    }

    /// Of the clients due to close for the leave timeout (id, and since when
    /// each has been in `leave`), the ones that may close now, oldest first;
    /// the rest, with why each waits.
    pub(crate) fn admit(&mut self, mut due: Vec<(u64, Instant)>) -> (Vec<u64>, Vec<(u64, Held)>) {
        if self.silence.is_some() {
            let held = due
                .into_iter()
                .map(|(id, _)| (id, Held::FleetSilent))
                .collect();
            return (Vec::new(), held);
        }
        if self.config.close_rate.is_none() {
            return (due.into_iter().map(|(id, _)| id).collect(), Vec::new());
        }
        due.sort_by_key(|&(_, since)| since);
        let now = ((self.tokens + 1e-9).max(0.0).floor() as usize).min(due.len());
        self.tokens -= now as f64;
        let mut due = due.into_iter().map(|(id, _)| id);
        let admitted = due.by_ref().take(now).collect();
        let queued = due
            .enumerate()
            .map(|(ahead, id)| {
                let ahead = u32::try_from(ahead).unwrap_or(u32::MAX);
                (id, Held::CloseRate { ahead })
            })
            .collect();
        (admitted, queued)
    }
}

/// A second's worth of closes, and at least one.
fn bucket(rate: f64) -> f64 {
    rate.max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(100);

    #[test]
    fn a_fleet_gone_silent_together_is_declared_once_and_recovers_once() {
        let mut guard = Guard::new(GuardConfig::default());
        assert_eq!(guard.tick(TICK, 20, 9, 1), None, "under half");
        let silent = guard.tick(TICK, 20, 10, 2);
        assert!(
            matches!(silent, Some(EventKind::FleetSilent { silent: 10, clients: 20, tick: 2, fraction }) if fraction == 0.5),
            "{silent:?}"
        );
        assert_eq!(guard.tick(TICK, 20, 20, 3), None, "declared once");
        let due = vec![(1, Instant::now())];
        assert_eq!(guard.admit(due), (vec![], vec![(1, Held::FleetSilent)]));
        assert!(matches!(
            guard.tick(TICK, 20, 2, 4),
            Some(EventKind::FleetRecovered { silent: 2, .. })
        ));
        assert_eq!(guard.silence(), None);
    }

    #[test]
    fn a_small_fleet_or_a_guard_turned_off_is_never_declared_silent() {
        let mut small = Guard::new(GuardConfig::default());
        assert_eq!(small.tick(TICK, 9, 9, 1), None);
        let mut off = Guard::new(GuardConfig {
            silence: None,
            ..GuardConfig::default()
        });
        assert_eq!(off.tick(TICK, 100, 100, 1), None);
    }

    #[test]
    fn closes_are_spaced_at_the_close_rate_oldest_first() {
        let mut guard = Guard::new(GuardConfig {
            close_rate: Some(2.0),
            ..GuardConfig::default()
        });
        let t0 = Instant::now();
        let due: Vec<(u64, Instant)> = (0..5u64)
            .map(|id| (id, t0 + Duration::from_secs(10 - id)))
            .collect();
        let (now, queued) = guard.admit(due.clone());
        assert_eq!(now, [4, 3], "a second's worth, oldest leave first");
        assert_eq!(
            queued,
            [
                (2, Held::CloseRate { ahead: 0 }),
                (1, Held::CloseRate { ahead: 1 }),
                (0, Held::CloseRate { ahead: 2 })
            ]
        );
        // Five ticks of 100 ms refill one close.
        for tick in 0..5 {
            guard.tick(TICK, 5, 0, tick);
        }
        let (now, _) = guard.admit(due[..3].to_vec());
        assert_eq!(now, [2]);
    }
}
