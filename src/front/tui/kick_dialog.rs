//! The kick confirmation: what it asks, and exactly whom it names. (`render`
//! draws it.)
//!
//! Kicking disconnects real clients, so every kick goes through this
//! question: y or Enter confirms, n or Esc cancels. The clients are captured
//! when the question is asked: confirming kicks those, and only those still
//! connected, even if others have gone `leave` or come back meanwhile.

use std::net::SocketAddr;
use std::time::Duration;

use crate::feed::control::Kicked;
use crate::feed::event::Pid;

/// How many of the named clients the dialog lists one by one.
pub const LISTED: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KickDialog {
    /// Kick one client, the selected one.
    One { peer: SocketAddr, pid: Option<u32> },
    /// Kick the marked clients; `hidden` of them are not shown by the
    /// current filter.
    Marked {
        peers: Vec<SocketAddr>,
        hidden: usize,
    },
    /// Kick the clients that were in `leave` when the operator asked.
    Leave { peers: Vec<SocketAddr> },
}

impl KickDialog {
    /// The clients a confirmation kicks.
    pub fn peers(&self) -> Vec<SocketAddr> {
        match self {
            KickDialog::One { peer, .. } => vec![*peer],
            KickDialog::Marked { peers, .. } | KickDialog::Leave { peers } => peers.clone(),
        }
    }

    pub fn question(&self) -> String {
        match self {
            KickDialog::One { peer, pid } => format!("Kick {peer} ({})?", Pid(*pid)),
            KickDialog::Marked { peers, .. } if peers.len() == 1 => {
                format!("Kick the marked client {}?", peers[0])
            }
            KickDialog::Marked { peers, .. } => format!("Kick {} marked clients?", peers.len()),
            KickDialog::Leave { peers } if peers.len() == 1 => {
                "Kick the 1 client in leave?".to_owned()
            }
            KickDialog::Leave { peers } => format!("Kick all {} clients in leave?", peers.len()),
        }
    }

    /// Lines under the question: the clients named (the first few), and a
    /// warning when the filter hides some of them.
    pub fn details(&self) -> Vec<String> {
        let peers = match self {
            KickDialog::One { .. } => return Vec::new(),
            KickDialog::Marked { peers, .. } | KickDialog::Leave { peers } => peers,
        };
        let mut lines: Vec<String> = peers.iter().take(LISTED).map(|p| p.to_string()).collect();
        if peers.len() > LISTED {
            lines.push(format!("and {} more", peers.len() - LISTED));
        }
        match self {
            KickDialog::Marked { hidden: 0, .. } => {}
            KickDialog::Marked { peers, .. } if peers.len() == 1 => {
                lines.push("it is hidden by the filter or the view".to_owned());
            }
            KickDialog::Marked { hidden, .. } => {
                lines.push(format!("{hidden} of them hidden by the filter or the view"));
            }
            _ => {}
        }
        lines
    }

    /// The hold-off line: none yet, and `h` would refuse the client (or the
    /// clients) for a while; or how long they will be refused.
    pub fn hold_line(&self, hold: Option<Duration>) -> String {
        let whom = if self.peers().len() == 1 {
            "it"
        } else {
            "them"
        };
        match hold {
            None => format!("hold-off: none (h: refuse {whom} for a while)"),
            Some(hold) => format!(
                "hold-off: refused for {} (h: change)",
                humantime::format_duration(hold)
            ),
        }
    }
}

/// What the footer says once a confirmed kick is done: how many were
/// kicked, and how many had gone before the confirmation.
pub fn outcome(answer: &Kicked) -> String {
    let (kicked, gone) = (answer.kicked.len(), answer.gone.len());
    let asked = kicked + gone;
    match (kicked, gone) {
        (0, 0) => "kicked nobody".to_owned(),
        (1, 0) => format!("kicked {}", answer.kicked[0]),
        (_, 0) => format!("kicked {kicked} clients"),
        (0, 1) => format!("kicked nobody: {} had already gone", answer.gone[0]),
        (0, _) => format!("kicked nobody: all {asked} had already gone"),
        _ => format!("kicked {kicked} of {asked}; {gone} had already gone"),
    }
}
