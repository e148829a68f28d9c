//! The kick confirmation: what it asks, exactly whom it names, its keys
//! and its drawing.
//!
//! Kicking disconnects real clients, so every kick goes through this
//! question: y or Enter confirms, n or Esc cancels. The clients are captured
//! when the question is asked: confirming kicks those, and only those still
//! connected, even if others have gone `leave` or come back meanwhile.
//! Each is kicked on the server that holds it; a set on several servers
//! says how many.

use std::collections::HashSet;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Stylize};
use ratatui::text::Line;

use crate::feed::control::Kicked;
use crate::feed::event::Pid;
use crate::feed::merged::Key;
use crate::front::tui::action::Action;
use crate::front::tui::overlay::{Beneath, Step, question};

/// How many of the named clients the dialog lists one by one.
pub const LISTED: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KickDialog {
    /// Kick one client, the selected one.
    One { peer: Key, pid: Option<u32> },
    /// Kick the marked clients; `hidden` of them are not shown by the
    /// current filter.
    Marked { peers: Vec<Key>, hidden: usize },
    /// Kick the clients that were in `leave` when the operator asked.
    Leave { peers: Vec<Key> },
}

impl KickDialog {
    /// The clients a confirmation kicks.
    pub fn peers(&self) -> Vec<Key> {
        match self {
            KickDialog::One { peer, .. } => vec![peer.clone()],
            KickDialog::Marked { peers, .. } | KickDialog::Leave { peers } => peers.clone(),
        }
    }

    /// How many servers the clients are on.
    pub fn servers(&self) -> usize {
        let peers = self.peers();
        let servers: HashSet<&str> = peers.iter().map(|k| &*k.server).collect();
        servers.len()
    }

    pub fn question(&self) -> String {
        let servers = self.servers();
        match self {
            KickDialog::One { peer, pid } => format!("Kick {} ({})?", peer.peer, Pid(*pid)),
            KickDialog::Marked { peers, .. } | KickDialog::Leave { peers } if servers > 1 => {
                format!("Kick {} clients on {servers} servers?", peers.len())
            }
            KickDialog::Marked { peers, .. } if peers.len() == 1 => {
                format!("Kick the marked client {}?", peers[0].peer)
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
        // Across servers, each says which it is on.
        let several = self.servers() > 1;
        let name = |k: &Key| {
            if several {
                k.to_string()
            } else {
                k.peer.to_string()
            }
        };
        let mut lines: Vec<String> = peers.iter().take(LISTED).map(name).collect();
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

/// The hold-offs `h` cycles through in the kick dialog.
const HOLDS: [Duration; 3] = [
    Duration::from_secs(60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(60 * 60),
];

/// The hold-off after `hold`: none, then each of [`HOLDS`], then none again.
fn next_hold(hold: Option<Duration>) -> Option<Duration> {
    match hold {
        None => Some(HOLDS[0]),
        Some(hold) => HOLDS.iter().copied().find(|&h| h > hold),
    }
}

/// The open kick question: whom it names, and the hold-off chosen so far
/// (`h`): how long the kicked clients are refused if they come back. A new
/// question starts with none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KickQuestion {
    pub dialog: KickDialog,
    pub hold: Option<Duration>,
}

impl KickQuestion {
    /// The question, with no hold-off chosen yet.
    pub fn new(dialog: KickDialog) -> Self {
        KickQuestion { dialog, hold: None }
    }

    /// y or Enter kick (and clear the marks they came from), n or Esc
    /// cancel, `h` changes the hold-off; any other key leaves the question
    /// open.
    pub fn key(&mut self, key: KeyEvent, view: &mut dyn Beneath) -> Step {
        match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                if matches!(self.dialog, KickDialog::Marked { .. }) {
                    view.clear_marks();
                }
                Step::Close(Some(Action::Kick(self.dialog.peers(), self.hold)))
            }
            KeyCode::Char('h') => {
                self.hold = next_hold(self.hold);
                Step::Stay(None)
            }
            KeyCode::Char('n' | 'N') | KeyCode::Esc => Step::Close(None),
            _ => Step::Stay(None),
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let dialog = &self.dialog;
        let mut lines = vec![Line::from(dialog.question()).bold()];
        lines.extend(
            dialog
                .details()
                .into_iter()
                .map(|line| Line::from(line).dim()),
        );
        lines.push(Line::from(dialog.hold_line(self.hold)).fg(Color::Yellow));
        question(frame, area, ("Confirm kick", 54), lines, ("kick", "cancel"));
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
