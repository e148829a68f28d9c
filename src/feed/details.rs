//! One client's story, as `show` and the dashboard's details pane tell it:
//! its recent heartbeat gaps, its state changes, and its earlier
//! connections (a client that reconnects with the same reported ip and pid
//! is the same client). Asked for one client at a time
//! ([`Control::show`](crate::feed::Control::show)), so snapshots stay small.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::protocol::Status;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Details {
    pub peer: SocketAddr,
    pub ip: Option<Arc<str>>,
    /// The identity in its TLS certificate, under mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Arc<str>>,
    pub pid: Option<u32>,
    pub status: Status,
    /// The last heartbeat gaps, oldest first, in milliseconds.
    pub gaps_ms: Vec<u32>,
    /// Under the phi detector, the suspicion at the last tick.
    pub phi: Option<f32>,
    /// Connections before this one from the same ip and pid.
    pub reconnects: u32,
    /// Times it went `leave` and came back to `alive`.
    pub flaps: u32,
    /// Its latest status changes, oldest first.
    pub changes: Vec<Change>,
    /// Its earlier connections, oldest first.
    pub earlier: Vec<PastConnection>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(serialize_with = "rfc3339", deserialize_with = "from_rfc3339")]
    pub at: SystemTime,
    pub from: Status,
    pub to: Status,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastConnection {
    pub peer: SocketAddr,
    #[serde(serialize_with = "rfc3339", deserialize_with = "from_rfc3339")]
    pub connected_at: SystemTime,
    #[serde(serialize_with = "rfc3339", deserialize_with = "from_rfc3339")]
    pub closed_at: SystemTime,
    pub reason: String,
}

impl PastConnection {
    pub fn lasted(&self) -> Duration {
        self.closed_at
            .duration_since(self.connected_at)
            .unwrap_or_default()
    }
}

/// Mean, p99 and largest of the gaps, in milliseconds (zeros without any).
pub fn gap_figures(gaps: &[u32]) -> (u32, u32, u32) {
    if gaps.is_empty() {
        return (0, 0, 0);
    }
    let mut sorted = gaps.to_vec();
    sorted.sort_unstable();
    let mean = sorted.iter().map(|&g| u64::from(g)).sum::<u64>() / sorted.len() as u64;
    let p99 = sorted[(sorted.len() * 99).div_ceil(100) - 1];
    (mean as u32, p99, sorted[sorted.len() - 1])
}

fn rfc3339<S: serde::Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::feed::event::rfc3339(*at))
}

fn from_rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
}
