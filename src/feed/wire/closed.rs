//! A closed client as it crosses the wire, in the history the viewer
//! keeps: the few fields the dashboard's history screen shows.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{WireError, from_ms, ms, status, status_code};
use crate::feed::snapshot::ClosedClient;

#[derive(Serialize, Deserialize)]
pub(super) struct Closed {
    peer: SocketAddr,
    pid: Option<u32>,
    ip: Option<String>,
    status: u8,
    reason: String,
    heartbeats: u64,
    connected_ms: u64,
    closed_ms: u64,
}

impl Closed {
    pub(super) fn new(c: &ClosedClient) -> Closed {
        Closed {
            peer: c.peer,
            pid: c.pid,
            ip: c.ip.as_deref().map(str::to_owned),
            status: status_code(c.status),
            reason: c.reason.clone(),
            heartbeats: c.heartbeats,
            connected_ms: ms(c.connected_at),
            closed_ms: ms(c.closed_at),
        }
    }

    pub(super) fn closed(self) -> Result<ClosedClient, WireError> {
        Ok(ClosedClient {
            peer: self.peer,
            pid: self.pid,
            ip: self.ip.map(Arc::from),
            status: status(self.status),
            reason: self.reason,
            heartbeats: self.heartbeats,
            connected_at: from_ms(self.connected_ms)?,
            closed_at: from_ms(self.closed_ms)?,
        })
    }
}
