//! hbmon: a heartbeat monitor. Clients hold a TCP connection and send
//! heartbeat frames; the server decides, client by client, whether each is
//! `alive`, `leave` or `close`, and front ends show it and act on it.
//!
//! Data flows one way: connection tasks report to the registry (the one
//! owner of the client table), which publishes snapshots and events to the
//! front ends; front ends send commands back over a channel.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod bench;
pub mod client;
mod connection;
pub mod demo;
pub mod event;
pub mod headless;
pub mod history;
mod journal;
pub mod limits;
mod link;
pub mod liveness;
pub mod pacer;
pub mod protocol;
pub mod registry;
pub mod server;
pub mod signals;
pub mod simulate;
pub mod snapshot;
pub mod tui;
