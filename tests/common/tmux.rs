//! A tmux server of our own, to drive the real dashboard (`serve`, `top`)
//! in a pseudo-terminal: start a command in a pane of a given size, send
//! keys, wait for what the screen shows.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::PATIENCE;

/// A tmux server of our own (its own socket), killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(command: &str, width: u16, height: u16) -> Tmux {
        // A socket per session: the tests of this file run side by side.
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
        let tmux = Tmux {
            socket: format!("hbmon-test-{}-{n}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        // Keep the pane after the program exits, to read its exit status.
        tmux.run(&["set-option", "-t", "main", "remain-on-exit", "on"]);
        tmux
    }

    pub fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is needed for the terminal test (apt-get install tmux)");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    /// The screen and the lines that scrolled off it.
    pub fn history(&self) -> String {
        self.run(&["capture-pane", "-p", "-S", "-", "-t", "main"])
    }

    pub fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "main", keys]);
    }

    /// Waits until the screen satisfies `pred`; returns that screen.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                let state = self
                    .pane("dead=#{pane_dead} status=#{pane_dead_status} alternate=#{alternate_on}");
                let history = self.run(&["capture-pane", "-p", "-S", "-100", "-t", "main"]);
                panic!("screen never showed {what} ({state}):\n{screen}\nwith history:\n{history}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the pane's history shows `marker` (the shell's line after
    /// the program exits); returns the history.
    pub fn wait_for_exit(&self, marker: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let history = self.history();
            if history.contains(marker) {
                return history;
            }
            assert!(Instant::now() < deadline, "no exit:\n{history}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pane(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "main", format])
            .trim()
            .to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
