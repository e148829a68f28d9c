//! Every key the dashboard knows, in one table: the help overlay, the
//! footer and the manual page's KEYS section all read [`KEYS`], so none of
//! them can leave a key out or describe one differently.

use crate::front::tui::screen::{Mode, Screen};

/// Where a key does something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    /// Only on the live clients screen.
    Live,
    /// On the live clients screen, and only where the dashboard may kick
    /// (not `top --read-only`).
    Kicks,
}

impl Scope {
    /// Whether a key of this scope does something on `screen` in `mode`.
    pub fn applies(self, screen: Screen, mode: Mode) -> bool {
        match self {
            Scope::Everywhere => true,
            Scope::Live => screen == Screen::Live,
            Scope::Kicks => screen == Screen::Live && !mode.read_only,
        }
    }
}

/// One line of the key reference.
pub struct KeyHelp {
    pub keys: &'static str,
    pub does: &'static str,
    pub scope: Scope,
    /// What the footer says for it, if it offers it (when it fits, in this
    /// list's order).
    pub footer: Option<&'static str>,
}

const fn key(
    keys: &'static str,
    does: &'static str,
    scope: Scope,
    footer: Option<&'static str>,
) -> KeyHelp {
    KeyHelp {
        keys,
        does,
        scope,
        footer,
    }
}

/// Every key, for the help overlay and the footer: the one list, so the two
/// cannot disagree. The footer offers those with a footer text, most useful
/// first, as many as fit, and always ends with [`HELP`] and [`QUIT`].
pub const KEYS: &[KeyHelp] = &[
    key(
        "d / Delete / F9",
        "kick selected or marked",
        Scope::Kicks,
        Some("d kick"),
    ),
    key(
        "Space",
        "mark / unmark, then move down",
        Scope::Kicks,
        Some("Space mark"),
    ),
    key("K", "kick all in leave", Scope::Kicks, Some("K kick leave")),
    key(
        "m",
        "maintenance window for selected or marked",
        Scope::Kicks,
        None,
    ),
    key(
        "Enter",
        "open: a client's story, a whole reason or event",
        Scope::Everywhere,
        None,
    ),
    key(
        "/",
        "filter (Enter keep, Esc clear)",
        Scope::Everywhere,
        Some("/ filter"),
    ),
    key("f", "only not alive", Scope::Live, Some("f not alive")),
    key(
        "Tab / Shift-Tab",
        "next / previous: clients, history, events",
        Scope::Everywhere,
        Some("Tab screens"),
    ),
    key(
        "s / S",
        "sort column / reverse",
        Scope::Live,
        Some("s sort"),
    ),
    PAUSE,
    key("↑/↓ j/k", "move", Scope::Everywhere, Some("↑↓ move")),
    key("PgUp/PgDn", "page", Scope::Everywhere, None),
    key("Home/End g/G", "first / last", Scope::Everywhere, None),
    key("h / l", "previous / next screen", Scope::Everywhere, None),
    key(
        "mouse",
        "wheel scrolls, click selects",
        Scope::Everywhere,
        None,
    ),
    key("Ctrl-L", "redraw the screen", Scope::Everywhere, None),
    key(
        "h (kick dialog)",
        "hold-off: refuse them 1m / 10m / 1h",
        Scope::Kicks,
        None,
    ),
    HELP,
    QUIT,
];

pub const PAUSE: KeyHelp = key(
    "p",
    "pause / resume the view",
    Scope::Everywhere,
    Some("p pause"),
);
pub const HELP: KeyHelp = key("? / F1", "help", Scope::Everywhere, Some("? help"));
/// What quitting does depends on the dashboard: the help says it for the
/// one it is in ([`quit_does`]), the manual page for both.
pub const QUIT: KeyHelp = key(
    "q / F10 / Ctrl-C",
    "quit: in serve and demo this stops the server (asking first while clients are connected); in top the server keeps running",
    Scope::Everywhere,
    Some("q quit"),
);

/// What the footer offers for `k`: while paused, `p` resumes.
pub fn footer_text(k: &KeyHelp, paused: bool) -> Option<&'static str> {
    match k.footer {
        Some(_) if paused && k.keys == PAUSE.keys => Some("p resume"),
        footer => footer,
    }
}

/// What quitting does, as the help says it.
pub fn quit_does(mode: Mode) -> &'static str {
    if mode.quit_stops_server {
        "quit: stops the server (asks first)"
    } else {
        "quit: the server keeps running"
    }
}
