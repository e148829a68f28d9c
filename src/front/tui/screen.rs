//! Which screen is on show, and which dashboard this is: the two things
//! that decide what a key does ([`Scope`](super::keymap::Scope)).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The servers followed, one row each (when there are several).
    Servers,
    /// The live clients.
    Live,
    /// Closed clients, newest first.
    History,
    /// The recent events, full screen, oldest first.
    Events,
}

impl Screen {
    const ALL: [Screen; 4] = [
        Screen::Servers,
        Screen::Live,
        Screen::History,
        Screen::Events,
    ];

    /// The next screen (Tab), or the previous one (Shift-Tab); the servers
    /// screen is in the cycle only when there are `several` servers.
    pub fn cycle(self, forward: bool, several: bool) -> Screen {
        let all = if several {
            &Self::ALL[..]
        } else {
            &Self::ALL[1..]
        };
        let i = all.iter().position(|&s| s == self).unwrap_or(0);
        let step = if forward { 1 } else { all.len() - 1 };
        all[(i + step) % all.len()]
    }

    /// What one of its rows is, as a message names it.
    pub fn row_name(self) -> &'static str {
        match self {
            Screen::Servers => "server",
            Screen::Live => "client",
            Screen::History => "closed client",
            Screen::Events => "event",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Screen::Servers => "servers",
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
