//! Front ends: the dashboard ([`tui`]), the headless stream ([`headless`]),
//! the operator API ([`api`]) and the event [`hooks`]. Siblings over the
//! [`Feed`](crate::feed::Feed): they read snapshots and events and send
//! commands, and know nothing of the server's insides.

pub mod api;
pub mod headless;
pub mod hooks;
pub mod tui;

/// A single-threaded runtime for a front end's own thread. Front ends block
/// on their output (a terminal, a pipe), and that must never stall the
/// server's thread.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
