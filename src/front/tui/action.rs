//! What the dashboard asks of the rest of the program: the one way keys
//! and overlays reach past the view (to the server, or the terminal).

use std::net::SocketAddr;
use std::time::Duration;

/// What the dashboard asks of the rest of the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Clear the terminal and draw everything again (Ctrl-L).
    Redraw,
    /// Fetch this client's story for the details pane.
    Show(SocketAddr),
    /// Kick exactly these clients (those of them still connected), and
    /// refuse them for the hold-off, if there is one.
    Kick(Vec<SocketAddr>, Option<Duration>),
    /// Put exactly these clients into maintenance for this long, or end
    /// their windows (`None`).
    Maintenance(Vec<SocketAddr>, Option<Duration>),
}
