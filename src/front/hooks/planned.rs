//! The clients in a maintenance window, as the event stream tells them:
//! their silence, restarts and disconnections are planned, so the events
//! about them run no hook (the windows' own `maintenance_*` events do, for
//! whoever chose them). A window is known by the reported ip and pid, as
//! the server keeps it, so a client that reconnects within it stays quiet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::feed::event::EventKind;

#[derive(Debug, Default)]
pub(super) struct Planned(HashMap<(Arc<str>, u32), SystemTime>);

impl Planned {
    /// Whether `event` is about a client in a window as of `now`; follows
    /// the windows as they start and end. A window whose end this reader
    /// missed (it fell behind) still ends on time.
    pub(super) fn quiet(&mut self, kind: &EventKind, now: SystemTime) -> bool {
        match kind {
            EventKind::MaintenanceStarted { ip, pid, until, .. } => {
                self.0.retain(|_, until| *until > now);
                if let Ok(until) = humantime::parse_rfc3339(until) {
                    self.0.insert((Arc::clone(ip), *pid), until);
                }
                false
            }
            EventKind::MaintenanceEnded { ip, pid, .. } => {
                self.0.remove(&(Arc::clone(ip), *pid));
                false
            }
            EventKind::Closed {
                ip: Some(ip),
                pid: Some(pid),
                ..
            } => (self.0.get(&(Arc::clone(ip), *pid))).is_some_and(|until| *until > now),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::feed::event::rfc3339;
    use crate::protocol::Status;

    fn closed(pid: u32) -> EventKind {
        EventKind::Closed {
            peer: "10.0.0.7:5000".parse().unwrap(),
            pid: Some(pid),
            ip: Some("10.0.0.7".into()),
            identity: None,
            status: Status::Alive,
            reason: "client disconnected".into(),
        }
    }

    #[test]
    fn a_client_in_a_window_is_quiet_until_it_ends_or_runs_out() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let peer = "10.0.0.7:5000".parse().unwrap();
        let mut planned = Planned::default();
        let started = EventKind::MaintenanceStarted {
            peer,
            ip: "10.0.0.7".into(),
            pid: 42,
            until: rfc3339(now + Duration::from_secs(600)),
            by: "api".into(),
        };
        assert!(!planned.quiet(&started, now), "the start itself runs hooks");
        assert!(planned.quiet(&closed(42), now));
        assert!(
            !planned.quiet(&closed(43), now),
            "another pid is not covered"
        );
        let later = now + Duration::from_secs(601);
        assert!(!planned.quiet(&closed(42), later), "a window runs out");
        let ended = EventKind::MaintenanceEnded {
            peer,
            ip: "10.0.0.7".into(),
            pid: 42,
            by: Some("stdin".into()),
        };
        assert!(!planned.quiet(&ended, now));
        assert!(!planned.quiet(&closed(42), now), "ended early");
    }
}
