//! The dashboard end to end in a real pseudo-terminal (tmux): real clients
//! connect, the operator presses keys, and exactly the chosen client is
//! kicked with a close frame.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Beater, PATIENCE};

/// A tmux server of our own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            socket: format!("hbmon-test-{}", std::process::id()),
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

    fn run(&self, args: &[&str]) -> String {
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

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    /// The screen and the lines that scrolled off it.
    fn history(&self) -> String {
        self.run(&["capture-pane", "-p", "-S", "-", "-t", "main"])
    }

    fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "main", keys]);
    }

    /// Waits until the screen satisfies `pred`; returns that screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
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

    fn pane(&self, format: &str) -> String {
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

#[test]
fn dashboard_kick_key_closes_exactly_the_selected_client() {
    let binary = env!("CARGO_BIN_EXE_hbmon");
    // The shell prints hbmon's exit status on the normal screen afterwards.
    let command = format!(
        "sh -c '{binary} serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --tick 100ms; echo hbmon exited with $?'"
    );
    let tmux = Tmux::start(&command, 120, 30);
    let screen = tmux.wait_for("the listen address", |s| s.contains("listening 127.0.0.1:"));
    let addr: SocketAddr = screen
        .split("listening ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address on screen:\n{screen}"));

    let keep = Beater::start(addr, 501, Duration::from_millis(25));
    let kick = Beater::start(addr, 502, Duration::from_millis(25));
    tmux.wait_for("both clients", |s| {
        s.contains(&keep.local.to_string()) && s.contains(&kick.local.to_string())
    });

    // Enter opens the selected client's story, with its gaps and pid.
    tmux.keys("Enter");
    tmux.wait_for("the details pane", |s| {
        s.contains("heartbeat gaps") && s.contains("pid 501") && s.contains("mean")
    });
    tmux.keys("Escape");
    tmux.wait_for("the details pane closed", |s| !s.contains("heartbeat gaps"));

    // Rows are in connection order and the first is selected: move down one.
    tmux.keys("j");
    tmux.keys("d");
    let question = format!("Kick {} (pid 502)?", kick.local);
    tmux.wait_for("the confirmation", |s| s.contains(&question));
    tmux.keys("y");

    let mut kicked = kick.stop();
    assert_eq!(kicked.expect_closed(), "kicked by operator");
    tmux.wait_for("the kicked client gone", |s| {
        !s.contains(&format!("{}  ", kicked.local)) && s.contains("closed 1")
    });
    let screen = tmux.screen();
    assert!(
        screen.contains(&keep.local.to_string()),
        "the other client is still listed:\n{screen}"
    );

    // The other client was never told anything; it still gets its close
    // frame only when the operator quits.
    let mut kept = keep.stop();
    tmux.keys("q");
    assert_eq!(kept.expect_closed(), "server shutting down");
    let deadline = Instant::now() + PATIENCE;
    while !tmux.history().contains("hbmon exited with") {
        assert!(
            Instant::now() < deadline,
            "hbmon did not exit after q:\n{}",
            tmux.history()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let history = tmux.history();
    assert!(history.contains("hbmon exited with 0"), "{history}");
    // The dashboard drew on the alternate screen, which is gone.
    assert!(!history.contains("listening"), "{history}");
    assert_eq!(
        tmux.pane("#{alternate_on}"),
        "0",
        "back from the alternate screen"
    );
}
