//! The liveness flags the end-to-end tests run `serve` with, and the
//! status changes they wait for.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use super::Serve;

/// The liveness flags for a timeline.
pub fn timeline(
    tick: &str,
    threshold: u32,
    cursor: u32,
    recover: u32,
    leave_timeout: &str,
) -> Vec<String> {
    let n = |v: u32| v.to_string();
    vec![
        "--tick".into(),
        tick.into(),
        "--threshold".into(),
        n(threshold),
        "--cursor".into(),
        n(cursor),
        "--recover".into(),
        n(recover),
        "--leave-timeout".into(),
        leave_timeout.into(),
    ]
}

/// A fast timeline: leave after 2 strikes of 2 missed 100 ms ticks (about
/// 0.4 s of silence), close 0.6 s after that, recover after 2 heard ticks.
pub fn fast() -> Vec<String> {
    timeline("100ms", 2, 2, 2, "600ms")
}

/// Healthy clients beat several times per tick so that scheduling delays on a
/// busy machine never make them miss one.
pub const HEALTHY_EVERY: Duration = Duration::from_millis(25);

pub fn status_change(serve: &mut Serve, peer: SocketAddr, from: &str, to: &str) -> Value {
    let peer = peer.to_string();
    serve.wait_for("status", |l| {
        l["peer"] == peer.as_str() && l["from"] == from && l["to"] == to
    })
}
