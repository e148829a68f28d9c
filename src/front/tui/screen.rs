//! Which screen is on show, and which dashboard this is: the two things
//! that decide what a key does ([`Scope`](super::keymap::Scope)).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The live clients.
    Live,
    /// Closed clients, newest first.
    History,
    /// The recent events, full screen, oldest first.
    Events,
}

impl Screen {
    const ALL: [Screen; 3] = [Screen::Live, Screen::History, Screen::Events];

    /// The next screen (Tab), or the previous one (Shift-Tab).
    pub fn cycle(self, forward: bool) -> Screen {
        let i = Self::ALL.iter().position(|&s| s == self).unwrap_or(0);
        let step = if forward { 1 } else { Self::ALL.len() - 1 };
        Self::ALL[(i + step) % Self::ALL.len()]
    }

    /// What one of its rows is, as a message names it.
    pub fn row_name(self) -> &'static str {
        match self {
            Screen::Live => "client",
            Screen::History => "closed client",
            Screen::Events => "event",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Screen::Live => "clients",
            Screen::History => "history",
            Screen::Events => "events",
        }
    }
}

/// What the dashboard is attached to: what quitting does, and whether it
/// may kick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// Quitting stops the server too (`serve`'s own dashboard), so with
    /// clients connected `q` asks first.
    pub quit_stops_server: bool,
    /// No kick keys, and no command is sent (`top --read-only`).
    pub read_only: bool,
}
