//! Speakers of the protocol from outside the server: a single [`client`], a
//! [`simulate`]d fleet of behaviours, and the [`demo`] that runs one against
//! an in-process server.

pub mod client;
pub mod demo;
pub mod progress;
pub mod simulate;
pub mod tally;
