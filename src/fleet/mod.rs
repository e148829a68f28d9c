//! Speakers of the protocol from outside the server: a single [`client`]
//! (moved from server to server by [`failover`]), a [`simulate`]d fleet (its behaviours dealt by a [`mix`], counted in a
//! [`tally`], shown by [`progress`]), and the [`demo`] that runs one
//! against an in-process server.

pub mod client;
pub mod demo;
pub mod failover;
pub mod mix;
pub mod progress;
pub mod simulate;
pub mod tally;
