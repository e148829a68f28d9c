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
//!               registry: a decider (sole        control, query,    headless (JSON lines,
//!               owner of the client table,       wire: the one      stdin commands),
//!               the rules, the tick) and a       contract front     api (HTTP for operators),
//!               publisher (snapshots); link,     ends depend on     hooks
//!               pacer, journal
//!                                                     ▲
//!                                  remote/ ───────────┘  the same feed, from a running
//!                                                        server's API (`hbmon top`)
//! ```
//!
//! - [`protocol`]: the wire format (frames, heartbeats, notices), shared by
//!   the server and the fleet tools.
//! - [`liveness`]: the pure engine that turns ticks into `alive`, `leave`,
//!   `close`; no I/O, no clock of its own.
//! - [`durations`]: durations from outside, each read against the limit of
//!   its use.
//! - [`endpoint`]: where an operator API is (TCP or a unix socket).
//! - [`server`]: accepting, one task per connection, and the registry: a
//!   decider that owns the client table and the rules, a publisher that
//!   owns the snapshots. Its insides are private; it hands out a
//!   [`feed::Feed`].
//! - [`feed`]: what a front end may know (snapshots, events) and say
//!   (commands), and how snapshots cross a socket. Nothing in it knows about
//!   the server's insides or ratatui.
//! - [`front`]: the dashboard, the headless stream, the operator API and the
//!   event hooks, siblings over the feed.
//! - [`remote`]: a feed from a running server's operator API, its
//!   connection state (connected, lost and why) beside the snapshots, never
//!   in them, so the dashboard runs unchanged in `hbmon top`.
//! - [`fleet`]: speakers of the protocol from outside: `client`, `simulate`
//!   (the `mix` of behaviours it deals, the `tally` it counts in), `demo`.
//! - [`bench`](mod@bench): scenarios that measure the real server, fleet, dashboard and
//!   viewers.
//! - [`stats`]: figures about the server's own work (publish timings), for
//!   `/metrics` and the bench, beside the feed rather than in it.
//! - [`history`]: reads back a journal the server wrote.
//! - [`process`]: signals and open-file limits.
//! - [`printable`]: text from outside made safe to print on a terminal.
//! - [`observed`]: a stream that shows each read to an observer (the API's
//!   timeouts, `top`'s look at what answered).

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod bench;
pub mod durations;
pub mod endpoint;
pub mod feed;
pub mod fleet;
pub mod front;
pub mod history;
pub mod liveness;
pub mod observed;
pub mod printable;
pub mod process;
pub mod protocol;
pub mod remote;
pub mod server;
pub mod stats;
pub mod tls;
