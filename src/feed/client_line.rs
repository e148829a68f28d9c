//! One live client as scripts read it: the objects of the headless
//! `snapshot` line and of `GET /v1/clients`. Kept apart from the server's
//! own [`ClientView`] because scripts depend on its shape.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::feed::event::rfc3339;
use crate::feed::snapshot::{ClientView, Transport};
use crate::protocol::Status;

/// One live client as `list` prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientLine {
    pub peer: SocketAddr,
    pub ip: Option<String>,
    pub pid: Option<u32>,
    pub status: Status,
    pub reported: Option<Status>,
    pub miss: u32,
    pub strikes: u32,
    pub heartbeats: u64,
    pub connected_at: String,
    pub last_seen: Option<String>,
    pub reconnects: u32,
    pub flaps: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phi: Option<f32>,
    /// When its maintenance window ends, while it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_until: Option<String>,
    #[serde(flatten)]
    pub transport: TransportLine,
}

/// How a client is connected, as scripts read it: `"transport": "tls"` and,
/// under mutual TLS, the certificate's `"identity"`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportLine {
    #[serde(default)]
    pub transport: TransportName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    #[default]
    Plain,
    Tls,
}

impl From<&Transport> for TransportLine {
    fn from(t: &Transport) -> Self {
        TransportLine {
            transport: match t {
                Transport::Plain => TransportName::Plain,
                Transport::Tls { .. } => TransportName::Tls,
            },
            identity: t.identity().map(str::to_owned),
        }
    }
}

impl From<&ClientView> for ClientLine {
    fn from(c: &ClientView) -> Self {
        ClientLine {
            peer: c.peer,
            ip: c.ip.as_deref().map(str::to_owned),
            pid: c.pid,
            status: c.status(),
            reported: c.reported,
            miss: c.liveness.miss,
            strikes: c.liveness.strikes,
            heartbeats: c.heartbeats,
            connected_at: rfc3339(c.connected_at),
            last_seen: c.last_seen.map(rfc3339),
            reconnects: c.reconnects,
            flaps: c.flaps,
            phi: c.phi,
            maintenance_until: c.maintenance.map(rfc3339),
            transport: TransportLine::from(&c.transport),
        }
    }
}
