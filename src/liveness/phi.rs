//! The phi-accrual failure detector (Hayashibara et al.; Akka, Cassandra):
//! instead of counting silent ticks, it learns each client's heartbeat gaps
//! and says how unlikely the present silence is: φ = −log10(1 − F(Δt)),
//! with F the normal distribution fitted to the recent gaps. φ = 8 means a
//! one-in-10⁸ chance that a client this regular would still be heard.
//!
//! Against a fixed count it detects a regular sender that stops sooner, and
//! raises fewer false alarms for a jittery one. Pure: the caller feeds gaps
//! and asks about an elapsed time.

use std::collections::VecDeque;
use std::time::Duration;

/// The default `--phi-threshold` (Akka's).
pub const DEFAULT_THRESHOLD: f64 = 8.0;
/// The default `--phi-window`: gaps remembered per client. Fewer than
/// Akka's default: a server keeps a window for every client it holds, and
/// this many gaps already fit the mean and spread the detector needs.
pub const DEFAULT_WINDOW: usize = 100;
/// The default `--phi-pause`: none, so that `--detector phi` alone judges
/// as it always has; the README's replay table says what to choose.
pub const DEFAULT_PAUSE: Duration = Duration::ZERO;
/// A floor on the spread, so that a metronome-regular client is not
/// suspected a few milliseconds late (Akka's `min-std-deviation`).
pub const MIN_STD: Duration = Duration::from_millis(100);
/// Gaps needed before the fit is trusted; until then a first estimate
/// stands in.
const MIN_SAMPLES: usize = 3;

/// The recent heartbeat gaps of one client, in milliseconds (two bytes
/// each: a gap past 65.5 s is kept as 65.5 s, long since a `leave`).
///
/// The window (how many it keeps) is the caller's, passed with each gap:
/// a server has one for all its clients, and need not store it in each.
#[derive(Clone, Debug, Default)]
pub struct Gaps {
    ms: VecDeque<u16>,
    /// The sum of the gaps kept, and of their squares: a fit is asked for
    /// at every tick, and is then a few operations, not a pass over the
    /// window. Integers, so forgetting a gap leaves no rounding behind.
    sum: u64,
    sum_sq: u64,
}

impl Gaps {
    /// Remembers one gap, forgetting the oldest past the latest `window`
    /// (at least the few a fit needs). Room for the window is allocated
    /// with the first gap.
    pub fn push(&mut self, gap: Duration, window: usize) {
        let window = window.max(MIN_SAMPLES);
        while self.ms.len() >= window {
            if let Some(old) = self.ms.pop_front() {
                self.sum -= u64::from(old);
                self.sum_sq -= u64::from(old).pow(2);
            }
        }
        if self.ms.capacity() == 0 {
            self.ms.reserve_exact(window);
        }
        let ms = u16::try_from(gap.as_millis()).unwrap_or(u16::MAX);
        self.ms.push_back(ms);
        self.sum += u64::from(ms);
        self.sum_sq += u64::from(ms).pow(2);
    }

    /// Learns the gaps of `new` heartbeats that arrived over `span` since
    /// the latest one learned before, shared evenly among them: a tick
    /// sees how many arrived and when the last did, not each one. Returns
    /// the gap learned.
    pub fn learn(&mut self, span: Duration, new: u64, window: usize) -> Duration {
        let gap = span / u32::try_from(new.max(1)).unwrap_or(u32::MAX);
        for _ in 0..new.min(window as u64) {
            self.push(gap, window);
        }
        gap
    }

    pub fn len(&self) -> usize {
        self.ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ms.is_empty()
    }

    /// The gaps, oldest first, in milliseconds.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.ms.iter().map(|&g| u32::from(g))
    }

    /// Mean and standard deviation, in milliseconds; `first` stands in
    /// (with a quarter of it as spread) until there are enough gaps.
    pub fn fit(&self, first: Duration) -> (f64, f64) {
        let min_std = MIN_STD.as_secs_f64() * 1000.0;
        if self.ms.len() < MIN_SAMPLES {
            let mean = first.as_secs_f64() * 1000.0;
            return (mean, (mean / 4.0).max(min_std));
        }
        let n = self.ms.len() as u128;
        let mean = self.sum as f64 / n as f64;
        // n·Σx² − (Σx)² is n² times the variance, exact in integers.
        let spread = n * u128::from(self.sum_sq) - u128::from(self.sum).pow(2);
        let var = spread as f64 / (n * n) as f64;
        (mean, var.sqrt().max(min_std))
    }

    /// φ for a silence of `elapsed` since the last heartbeat, once `pause`
    /// (a silence any client may take, on top of its usual gap) is
    /// granted.
    pub fn phi(&self, elapsed: Duration, first: Duration, pause: Duration) -> f64 {
        let (mean, std) = self.fit(first);
        phi(
            elapsed.as_secs_f64() * 1000.0,
            mean + pause.as_secs_f64() * 1000.0,
            std,
        )
    }
}

/// φ = −log10(1 − F(x)) for a normal F of `mean` and `std`, with the
/// logistic approximation of F that Akka uses (accurate to about 1e-3, and
/// free of the cancellation a literal 1 − F would suffer far out in the tail).
pub fn phi(x: f64, mean: f64, std: f64) -> f64 {
    let y = (x - mean) / std;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    if x > mean {
        -(e / (1.0 + e)).log10()
    } else {
        -(1.0 - 1.0 / (1.0 + e)).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn phi_grows_with_the_silence_and_is_low_on_time() {
        assert!(phi(1000.0, 1000.0, 100.0) < 0.5);
        let (a, b, c) = (
            phi(1200.0, 1000.0, 100.0),
            phi(1400.0, 1000.0, 100.0),
            phi(1600.0, 1000.0, 100.0),
        );
        assert!(a < b && b < c, "{a} {b} {c}");
        // Two standard deviations late: about 1.6; four: about 4.5.
        assert!((a - 1.64).abs() < 0.1, "{a}");
        assert!((b - 4.5).abs() < 0.3, "{b}");
    }

    #[test]
    fn a_regular_client_is_suspected_sooner_than_a_jittery_one() {
        let (mut regular, mut jittery) = (Gaps::default(), Gaps::default());
        for i in 0..100 {
            regular.push(ms(1000 + i % 3 * 10), 100);
            jittery.push(ms(if i % 2 == 0 { 700 } else { 1300 }), 100);
        }
        let first = ms(1000);
        let at = |gaps: &Gaps| {
            (1000..10_000)
                .step_by(10)
                .find(|&t| gaps.phi(ms(t), first, Duration::ZERO) >= DEFAULT_THRESHOLD)
                .unwrap()
        };
        let (r, j) = (at(&regular), at(&jittery));
        assert!(r < j, "regular at {r} ms, jittery at {j} ms");
        assert!((1400..1700).contains(&r), "{r}");
    }

    #[test]
    fn the_window_keeps_the_latest_gaps_and_a_first_estimate_stands_in() {
        let mut gaps = Gaps::default();
        assert_eq!(gaps.fit(ms(1000)), (1000.0, 250.0));
        for g in [100, 200, 300, 400] {
            gaps.push(ms(g), 3);
        }
        assert_eq!(gaps.iter().collect::<Vec<_>>(), [200, 300, 400]);
        let (mean, std) = gaps.fit(ms(1000));
        assert_eq!(mean, 300.0);
        assert_eq!(std, 100.0, "the floor");
    }

    #[test]
    fn a_pause_delays_suspicion_by_itself_and_the_running_fit_matches_a_fresh_one() {
        let mut gaps = Gaps::default();
        for i in 0..250u64 {
            gaps.push(ms(700 + i * 37 % 600), 100);
        }
        let kept: Vec<f64> = gaps.iter().map(f64::from).collect();
        let mean = kept.iter().sum::<f64>() / kept.len() as f64;
        let var = kept.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / kept.len() as f64;
        let (fit_mean, fit_std) = gaps.fit(ms(1000));
        assert!((fit_mean - mean).abs() < 1e-9 && (fit_std - var.sqrt()).abs() < 1e-9);
        let first = ms(1000);
        for silence in [500, 1500, 2500, 4000] {
            let granted = gaps.phi(ms(silence + 2000), first, ms(2000));
            assert!((granted - gaps.phi(ms(silence), first, Duration::ZERO)).abs() < 1e-9);
        }
        // Three gaps of silence: certain failure without a pause, nothing
        // remarkable with two gaps granted.
        assert!(gaps.phi(ms(3000), first, Duration::ZERO) > 12.0);
        assert!(gaps.phi(ms(3000), first, ms(2000)) < 1.0);
    }
}
