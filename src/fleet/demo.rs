//! `hbmon demo`: the server with fast liveness rules and an in-process fleet
//! that shows every behaviour within a minute.
//!
//! With a 500 ms tick, 2 misses a strike and 3 strikes to `leave`, a silent
//! client goes `leave` after 3 s and is closed 10 s later; flaky clients
//! drop out for 4 s (long enough to go `leave`) and recover; dying clients
//! reset their connection after 12 s; one client sends a bad frame; and a new
//! client joins every 3 s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::fleet::simulate::{self, Behaviour, Mix, Plan, Tally};
use crate::liveness::Rules;
use crate::server::Config;

pub fn config() -> Config {
    Config {
        tick: Duration::from_millis(500),
        rules: Rules {
            threshold: 2,
            cursor: 3,
            recover: 4,
            leave_timeout: Duration::from_secs(10),
        },
        ..Config::default()
    }
}

/// Starts the demo's clients against `server`; they stop with `stop`.
pub fn spawn_fleets(server: SocketAddr, config: &Config, stop: CancellationToken) {
    let tally = Arc::new(Tally::default());
    let silence_to_leave = config.tick * config.rules.threshold * config.rules.cursor;
    let plan = |clients, every, mix, pid_base| Plan {
        servers: vec![server],
        clients,
        every,
        interval: config.tick / 2,
        mix,
        pid_base,
        // Silent long enough to go leave, back before the leave timeout.
        flaky_gap: silence_to_leave + config.tick * 2,
        dying_after: Duration::from_secs(12),
        token: None,
        tls: None,
    };
    use Behaviour::{Bad, Dying, Flaky, Silent, Steady};
    let crowd = Mix::new(&[(Steady, 4), (Flaky, 2), (Silent, 1), (Dying, 1)]);
    let crowd = plan(8, Duration::ZERO, crowd, 1000);
    let bad = plan(1, Duration::ZERO, Mix::new(&[(Bad, 1)]), 2000);
    let joiners = Mix::new(&[(Steady, 3), (Flaky, 1), (Silent, 1)]);
    let joiners = plan(200, Duration::from_secs(3), joiners, 3000);
    tokio::spawn(simulate::run(crowd, Arc::clone(&tally), stop.clone()));
    let (bad_tally, bad_stop) = (Arc::clone(&tally), stop.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => simulate::run(bad, bad_tally, bad_stop).await,
            _ = bad_stop.cancelled() => {}
        }
    });
    tokio::spawn(simulate::run(joiners, tally, stop));
}
