//! hbmon: a heartbeat monitor. Clients hold a TCP connection and send
//! heartbeat frames; the server decides, client by client, whether each is
//! `alive`, `leave` or `close`, and front ends show it and act on it.
//!
//! # Layout
//!
//! Data flows one way, and the folders read in its order:
//!
//! ```text
//!  TCP peers ─> server/ ──────────────────────> feed/ ──────────> front/
//!               accept, connection (decode),     snapshot, event,   tui (dashboard),
//!               registry (sole owner of the      control: the one   headless (JSON lines,
//!               client table: tick, decide,      contract front     stdin commands)
//!               publish), link, pacer, journal   ends depend on
//! ```
//!
//! - [`protocol`]: the wire format (frames, heartbeats, notices), shared by
//!   the server and the fleet tools.
//! - [`liveness`]: the pure engine that turns ticks into `alive`, `leave`,
//!   `close`; no I/O, no clock of its own.
//! - [`server`]: accepting, one task per connection, and the registry. Its
//!   insides are private; it hands out a [`feed::Feed`].
//! - [`feed`]: what a front end may know (snapshots, events) and say
//!   (commands). Nothing in it knows about the server's insides or ratatui.
//! - [`front`]: the dashboard and the headless stream, siblings over the feed.
//! - [`fleet`]: speakers of the protocol from outside: `client`, `simulate`,
//!   `demo`.
//! - [`bench`]: scenarios that measure the real server, fleet and dashboard.
//! - [`history`]: reads back a journal the server wrote.
//! - [`process`]: signals and open-file limits.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod bench;
pub mod endpoint;
pub mod feed;
pub mod fleet;
pub mod front;
pub mod history;
pub mod liveness;
pub mod process;
pub mod protocol;
pub mod remote;
pub mod server;
