//! A hook's process group: the hook leads it (it starts with
//! `process_group(0)`), and whatever it starts joins it, so that ending
//! the group ends all of them. Killing the shell alone would leave its
//! children running, adopted by init.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::time::Instant;

/// Between TERM and KILL: time for a program that handles TERM to finish
/// cleanly, short enough to fit in the grace of a stop.
const KILL_GRACE: Duration = Duration::from_secs(1);

/// How often to look whether the group has gone, while it has its grace.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// The group a hook leads, named by the hook's pid.
pub struct Group(Option<Pid>);

impl Group {
    /// The group `child` leads; taken at once, while its pid is known.
    pub fn of(child: &Child) -> Group {
        Group(
            child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .map(Pid::from_raw),
        )
    }

    /// TERM to every process in the group, [`KILL_GRACE`] for all of them
    /// to go, KILL to whatever is left; the hook itself is reaped.
    pub async fn kill(&self, child: &mut Child) {
        let Some(group) = self.0 else {
            let _ = child.kill().await;
            return;
        };
        let deadline = Instant::now() + KILL_GRACE;
        if killpg(group, Signal::SIGTERM).is_ok() {
            // The hook stays a member until reaped, so reap it first.
            let _ = tokio::time::timeout_at(deadline, child.wait()).await;
            while Instant::now() < deadline && killpg(group, None).is_ok() {
                tokio::time::sleep(LOOK_EVERY).await;
            }
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
    }
}
