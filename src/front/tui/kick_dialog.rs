//! The kick confirmation: what it asks. (`render` draws it.)
//!
//! Kicking disconnects real clients, so every kick goes through this
//! question: y or Enter confirms, n or Esc cancels.

use std::net::SocketAddr;

use crate::feed::event::Pid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KickDialog {
    /// Kick one client, the selected one.
    One { peer: SocketAddr, pid: Option<u32> },
    /// Kick the marked clients.
    Marked(Vec<SocketAddr>),
    /// Kick every client in `leave` (counted when asked).
    AllLeave { count: usize },
}

impl KickDialog {
    pub fn question(&self) -> String {
        match self {
            KickDialog::One { peer, pid } => format!("Kick {peer} ({})?", Pid(*pid)),
            KickDialog::Marked(peers) if peers.len() == 1 => {
                format!("Kick the marked client {}?", peers[0])
            }
            KickDialog::Marked(peers) => format!("Kick {} marked clients?", peers.len()),
            KickDialog::AllLeave { count: 1 } => "Kick the 1 client in leave?".to_owned(),
            KickDialog::AllLeave { count } => format!("Kick all {count} clients in leave?"),
        }
    }
}
