//! The built-in heartbeat traces: arrival times of made-up clients, drawn
//! from a fixed seed so that every run replays the same heartbeats.
//!
//! Each client beats once a [`GAP`] from a random phase; its gaps have the
//! trace's [`Shape`]. What each trace is for:
//!
//! - `regular-1%`, `regular-10%`, `jittery-30%`: gaps spread that much (a
//!   normal spread, as a sender's timer and the network add up); a tenth of
//!   the clients stop for good a quarter to half way through.
//! - `bursty`: the live bench's jittery clients: 30% spread, and a pause of
//!   2.5 gaps one time in twenty; a tenth stop.
//! - `gc-pause`: regular (1%) clients that each pause once for 3 gaps (a
//!   garbage collection) and then go on; none stop.
//! - `stopped`: regular (1%) clients that all stop for good.
//! - `blink`: a regular (10%) fleet whose server's link is down for 2.5 s
//!   half way through: what was sent meanwhile arrives when it is back (TCP
//!   sends it again), as one burst; none stop.

use fastrand::Rng;

/// The seed every built-in trace is drawn from ("hbmon").
pub const SEED: u64 = 0x68_62_6d_6f_6e;
/// The clients' heartbeat interval, in milliseconds.
pub const GAP: u64 = 1000;
/// How long the server's link is down in `blink`, in milliseconds.
const BLINK: u64 = 2500;

/// How a client's gaps vary around [`GAP`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// The standard deviation, as a fraction of the gap.
    pub spread: f64,
    /// One gap in twenty is a pause of 2.5 gaps.
    pub bursts: bool,
}

impl Shape {
    pub const REGULAR: Shape = Shape::spread(0.01);
    pub const JITTERY: Shape = Shape::spread(0.3);
    pub const BURSTY: Shape = Shape {
        spread: 0.3,
        bursts: true,
    };

    const fn spread(spread: f64) -> Shape {
        Shape {
            spread,
            bursts: false,
        }
    }

    /// The next gap, as a multiple of the interval (at least a twentieth).
    pub fn factor(self, rng: &mut Rng) -> f64 {
        if self.bursts && rng.u8(0..20) == 0 {
            return 2.5;
        }
        (1.0 + self.spread * normal(rng)).max(0.05)
    }
}

/// A standard normal draw (Box-Muller, from two uniforms).
fn normal(rng: &mut Rng) -> f64 {
    let (u, v) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The heartbeats of a fleet, to replay.
#[derive(Clone, Debug)]
pub struct Trace {
    pub name: String,
    /// How long the replay runs, in milliseconds.
    pub span: u64,
    pub clients: Vec<Client>,
}

/// One client's heartbeats.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Client {
    /// When each heartbeat arrived, in milliseconds, in order.
    pub arrivals: Vec<u64>,
    /// It stopped for good after its last heartbeat (else it is alive to
    /// the end of the trace).
    pub stopped: bool,
}

/// Which clients stop for good, and whether each pauses once.
#[derive(Clone, Copy)]
struct Plan {
    shape: Shape,
    /// One client in this many stops (1: all, 0: none).
    stop_every: usize,
    /// Each client pauses once for 3 gaps.
    pause: bool,
    /// The server's link is down for 2.5 s half way through.
    blink: bool,
}

/// Every built-in trace: `clients` clients each, over `span` ms.
pub fn builtin(clients: usize, span: u64) -> Vec<Trace> {
    let plan = |shape, stop_every, pause, blink| Plan {
        shape,
        stop_every,
        pause,
        blink,
    };
    let plans = [
        ("regular-1%", plan(Shape::REGULAR, 10, false, false)),
        ("regular-10%", plan(Shape::spread(0.1), 10, false, false)),
        ("jittery-30%", plan(Shape::JITTERY, 10, false, false)),
        ("bursty", plan(Shape::BURSTY, 10, false, false)),
        ("gc-pause", plan(Shape::REGULAR, 0, true, false)),
        ("stopped", plan(Shape::REGULAR, 1, false, false)),
        ("blink", plan(Shape::spread(0.1), 0, false, true)),
    ];
    plans
        .into_iter()
        .enumerate()
        .map(|(i, (name, plan))| {
            let mut rng = Rng::with_seed(SEED.wrapping_add(i as u64));
            generate(name, plan, clients, span, &mut rng)
        })
        .collect()
}

fn generate(name: &str, plan: Plan, clients: usize, span: u64, rng: &mut Rng) -> Trace {
    let clients = (0..clients)
        .map(|i| {
            let stops = plan.stop_every > 0 && i % plan.stop_every == 0;
            let stop_at = stops.then(|| rng.u64(span / 4..=span / 2));
            let pause_at = plan.pause.then(|| rng.u64(span / 4..=span * 3 / 4));
            let mut client = beats(plan.shape, span, stop_at, pause_at, rng);
            if plan.blink {
                blink(&mut client.arrivals, span / 2);
            }
            client
        })
        .collect();
    Trace {
        name: name.to_owned(),
        span,
        clients,
    }
}

/// One client's heartbeats from a random phase until `span`, or until its
/// first heartbeat at or past `stop_at`; the first gap past `pause_at`
/// lasts 3 gaps.
fn beats(
    shape: Shape,
    span: u64,
    stop_at: Option<u64>,
    mut pause_at: Option<u64>,
    rng: &mut Rng,
) -> Client {
    let mut arrivals = Vec::with_capacity((span / GAP) as usize + 1);
    let mut at = rng.u64(0..GAP);
    while at < span {
        arrivals.push(at);
        if stop_at.is_some_and(|stop| at >= stop) {
            break;
        }
        let mut factor = shape.factor(rng);
        if pause_at.is_some_and(|p| at >= p) {
            pause_at = None;
            factor += 2.0;
        }
        at += (GAP as f64 * factor).round() as u64;
    }
    Client {
        arrivals,
        stopped: stop_at.is_some(),
    }
}

/// What was sent while the link was down (from `from`, for [`BLINK`])
/// arrives when it is back.
fn blink(arrivals: &mut [u64], from: u64) {
    let back = from + BLINK;
    for at in arrivals.iter_mut().filter(|at| (from..back).contains(*at)) {
        *at = back;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;

    fn gaps(client: &Client) -> Vec<u64> {
        client.arrivals.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn trace(name: &str) -> Trace {
        let traces = builtin(20, HOUR);
        traces.into_iter().find(|t| t.name == name).unwrap()
    }

    /// Mean and standard deviation of the gaps of every client, in ms.
    fn fit(trace: &Trace) -> (f64, f64) {
        let all: Vec<f64> = trace
            .clients
            .iter()
            .flat_map(gaps)
            .map(|g| g as f64)
            .collect();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let var = all.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / all.len() as f64;
        (mean, var.sqrt())
    }

    #[test]
    fn the_traces_are_the_same_every_run_and_named_as_documented() {
        let (a, b) = (builtin(5, 60_000), builtin(5, 60_000));
        let names: Vec<&str> = a.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "regular-1%",
                "regular-10%",
                "jittery-30%",
                "bursty",
                "gc-pause",
                "stopped",
                "blink"
            ]
        );
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a.clients, b.clients, "{}", a.name);
        }
    }

    #[test]
    fn regular_and_jittery_gaps_have_their_spread_and_a_tenth_stop_early() {
        for (name, spread) in [("regular-1%", 10.0), ("jittery-30%", 300.0)] {
            let trace = trace(name);
            let (mean, std) = fit(&trace);
            assert!((mean - 1000.0).abs() < 0.02 * 1000.0, "{name}: mean {mean}");
            assert!((std - spread).abs() < 0.1 * spread, "{name}: std {std}");
            let stopped: Vec<&Client> = trace.clients.iter().filter(|c| c.stopped).collect();
            assert_eq!(stopped.len(), 2, "{name}");
            for client in stopped {
                let last = *client.arrivals.last().unwrap();
                assert!((HOUR / 4..HOUR / 2 + 2 * GAP).contains(&last), "{last}");
            }
            let live = trace.clients.iter().find(|c| !c.stopped).unwrap();
            assert!(*live.arrivals.last().unwrap() > HOUR - 5 * GAP);
        }
    }

    #[test]
    fn bursty_clients_pause_for_two_and_a_half_gaps_one_time_in_twenty() {
        let trace = trace("bursty");
        let all: Vec<u64> = trace.clients.iter().flat_map(gaps).collect();
        let pauses = all.iter().filter(|&&g| g == 2500).count() as f64;
        let share = pauses / all.len() as f64;
        assert!((0.04..0.06).contains(&share), "{share}");
    }

    #[test]
    fn each_gc_client_pauses_exactly_once_for_three_gaps() {
        let trace = trace("gc-pause");
        for client in &trace.clients {
            let long: Vec<u64> = gaps(client).into_iter().filter(|&g| g > 1500).collect();
            assert_eq!(long.len(), 1, "{long:?}");
            assert!((2900..3100).contains(&long[0]), "{long:?}");
            assert!(!client.stopped);
        }
    }

    #[test]
    fn every_stopped_client_stops_and_the_blink_delivers_late_beats_together() {
        assert!(trace("stopped").clients.iter().all(|c| c.stopped));
        let blink = trace("blink");
        let (from, back) = (HOUR / 2, HOUR / 2 + BLINK);
        for client in &blink.clients {
            assert!(
                client
                    .arrivals
                    .iter()
                    .all(|&at| !(from..back).contains(&at))
            );
            let burst = client.arrivals.iter().filter(|&&at| at == back).count();
            assert!(
                (2..=4).contains(&burst),
                "{burst} beats at the end of the blink"
            );
        }
    }
}
