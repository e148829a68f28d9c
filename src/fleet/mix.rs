//! What simulated clients do, and in what proportions: each client's
//! [`Behaviour`], and the [`Mix`] (`steady=70,flaky=20`) that deals them
//! out. Both the fleet that acts them and the tally that counts by them
//! read this; it depends on neither.

use std::fmt;
use std::str::FromStr;

/// What a simulated client does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Heartbeats every interval.
    Steady,
    /// Alternates sending for `flaky_gap` and staying silent for as long:
    /// long enough to reach `leave`, then it recovers.
    Flaky,
    /// Sends one heartbeat, then nothing.
    Silent,
    /// Heartbeats for `dying_after`, then drops the connection abruptly.
    Dying,
    /// Sends a few heartbeats, then a frame that is not JSON.
    Bad,
    /// Writes heartbeats as fast as the socket takes them (for benchmarks).
    Flood,
    /// Writes as fast as `Flood`, each heartbeat numbered by an extra
    /// `seq` field (which the server ignores), so that no two in a row are
    /// the same bytes: each must be parsed.
    FloodSeq,
}

impl Behaviour {
    const NAMES: [(&'static str, Behaviour); 7] = [
        ("steady", Behaviour::Steady),
        ("flaky", Behaviour::Flaky),
        ("silent", Behaviour::Silent),
        ("dying", Behaviour::Dying),
        ("bad", Behaviour::Bad),
        ("flood", Behaviour::Flood),
        ("flood-seq", Behaviour::FloodSeq),
    ];
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Self::NAMES
            .iter()
            .find(|(_, b)| b == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

/// Behaviours and their weights: `steady=70,flaky=20,silent=5,dying=5`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix(Vec<(Behaviour, u32)>);

impl FromStr for Mix {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' should be NAME=WEIGHT, like steady=70"))?;
            let behaviour = Behaviour::NAMES
                .iter()
                .find(|(n, _)| *n == name.trim())
                .map(|(_, b)| *b)
                .ok_or_else(|| {
                    let known: Vec<&str> = Behaviour::NAMES.iter().map(|(n, _)| *n).collect();
                    format!("unknown behaviour '{name}' (known: {})", known.join(", "))
                })?;
            let weight: u32 = weight.trim().parse().map_err(|_| {
                format!("weight of '{name}' must be a whole number, not '{weight}'")
            })?;
            parts.push((behaviour, weight));
        }
        if parts.iter().map(|(_, w)| u64::from(*w)).sum::<u64>() == 0 {
            return Err("the mix needs at least one behaviour with a weight above 0".to_owned());
        }
        Ok(Mix(parts))
    }
}

impl Mix {
    /// A mix from behaviours and weights (at least one weight above 0).
    pub fn new(parts: &[(Behaviour, u32)]) -> Mix {
        Mix(parts.to_vec())
    }

    /// The behaviour of each of `n` clients, interleaved in proportion to the
    /// weights (smooth weighted round-robin), so even the first few clients
    /// show the whole mix.
    pub fn assign(&self, n: usize) -> Vec<Behaviour> {
        let total: i64 = self.0.iter().map(|(_, w)| i64::from(*w)).sum();
        let mut current = vec![0i64; self.0.len()];
        (0..n)
            .map(|_| {
                for (c, (_, w)) in current.iter_mut().zip(&self.0) {
                    *c += i64::from(*w);
                }
                let (best, _) = current
                    .iter()
                    .enumerate()
                    .max_by_key(|&(i, c)| (*c, std::cmp::Reverse(i)))
                    .unwrap_or((0, &0));
                current[best] -= total;
                self.0[best].0
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_rejects_with_reasons() {
        let mix: Mix = "steady=70, flaky=20,silent=5,dying=5".parse().unwrap();
        assert_eq!(mix.0.len(), 4);
        let err = |text: &str| text.parse::<Mix>().unwrap_err();
        assert_eq!(
            err("steady"),
            "'steady' should be NAME=WEIGHT, like steady=70"
        );
        assert_eq!(
            err("sleepy=3"),
            "unknown behaviour 'sleepy' (known: steady, flaky, silent, dying, bad, flood, flood-seq)"
        );
        assert_eq!(
            err("steady=x"),
            "weight of 'steady' must be a whole number, not 'x'"
        );
        assert_eq!(
            err("steady=0"),
            "the mix needs at least one behaviour with a weight above 0"
        );
    }

    #[test]
    fn assignment_follows_the_weights_and_interleaves() {
        let mix: Mix = "steady=70,flaky=20,silent=5,dying=5".parse().unwrap();
        let all = mix.assign(1000);
        let count = |b| all.iter().filter(|&&x| x == b).count();
        assert_eq!(
            [
                count(Behaviour::Steady),
                count(Behaviour::Flaky),
                count(Behaviour::Silent),
                count(Behaviour::Dying)
            ],
            [700, 200, 50, 50]
        );
        let first_20 = &all[..20];
        for b in [
            Behaviour::Steady,
            Behaviour::Flaky,
            Behaviour::Silent,
            Behaviour::Dying,
        ] {
            assert!(
                first_20.contains(&b),
                "{b} among the first 20: {first_20:?}"
            );
        }
    }
}
