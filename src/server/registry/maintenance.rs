//! Maintenance windows: an operator says a client's silence is planned (a
//! deploy, a reboot), and until the window ends the rules leave it alone.
//!
//! A window belongs to what the client reported (ip and pid), not to its
//! connection, so a client that restarts its connection within the window
//! is still in it. The decider holds the windows here; each client in one
//! carries its end, which is all the tick reads. When a window ends, early
//! or on time, the client is judged afresh: nothing it missed during the
//! window counts against it, and a client in `leave` gets a whole leave
//! timeout from then to show it is back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::decider::Decider;
use super::windows::Window;
use crate::feed::control::{Maintained, Target};
use crate::feed::event::{EventKind, rfc3339};
use crate::liveness::Liveness;
use crate::protocol::Status;
use crate::server::clock;

impl Decider {
    /// Puts the live clients `target` names into maintenance for `length`,
    /// or ends their windows; only clients that said who they are can be
    /// named, since a window is kept by their ip and pid.
    pub(super) fn maintenance(
        &mut self,
        target: &Target,
        length: Option<Duration>,
        by: &str,
    ) -> Maintained {
        let mut pick = target.picker();
        let ids: Vec<u64> = (self.clients.iter())
            .filter(|(_, c)| c.view.pid.is_some() && c.view.ip.is_some() && pick(&c.view))
            .map(|(id, _)| id)
            .collect();
        let now = Instant::now();
        let mut clients = Vec::with_capacity(ids.len());
        let until = length.map(|length| {
            let wall = SystemTime::now().checked_add(length);
            (clock::later(now, length), wall.unwrap_or(SystemTime::now()))
        });
        for id in ids {
            let covered = match until {
                Some((until, wall)) => self.start_window(id, until, wall, by),
                None => self.end_window(id, Some(by), now),
            };
            clients.extend(covered);
        }
        Maintained {
            clients,
            until: until.map(|(_, wall)| wall),
        }
    }

    /// Starts (or moves the end of) the window of client `id`.
    fn start_window(
        &mut self,
        id: u64,
        until: Instant,
        wall: SystemTime,
        by: &str,
    ) -> Option<SocketAddr> {
        let client = self.clients.get_mut(id)?;
        let (ip, pid, peer) = (client.view.ip.clone()?, client.view.pid?, client.view.peer);
        client.maintenance = Some(until);
        client.view.maintenance = Some(wall);
        let window = Window { until, wall, peer };
        self.windows.open(Arc::clone(&ip), pid, window);
        self.emit(EventKind::MaintenanceStarted {
            peer,
            ip,
            pid,
            until: rfc3339(wall),
            by: by.to_owned(),
        });
        Some(peer)
    }

    /// Ends the window of client `id`, if it is in one (`by` names the
    /// operator's front end when it ends early), and judges it afresh.
    fn end_window(&mut self, id: u64, by: Option<&str>, at: Instant) -> Option<SocketAddr> {
        let client = self.clients.get_mut(id)?;
        let until = client.maintenance.take()?;
        client.view.maintenance = None;
        let (ip, pid, peer) = (client.view.ip.clone()?, client.view.pid?, client.view.peer);
        let was = client.view.liveness;
        // Afresh: nothing missed in the window counts; `leave` starts its
        // whole timeout now, and recovers on the heartbeats it has.
        client.view.liveness = match was.status {
            Status::Leave => Liveness {
                leave_since: Some(at.into_std()),
                ..was
            },
            _ => Liveness {
                status: was.status,
                streak: was.streak,
                ..Liveness::default()
            },
        };
        self.windows.close(&ip, pid, until);
        let by = by.map(str::to_owned);
        self.emit(EventKind::MaintenanceEnded { peer, ip, pid, by });
        Some(peer)
    }

    /// A client said who it is: it is in maintenance if a window covers its
    /// ip and pid (it reconnected within one), and out of it otherwise.
    pub(super) fn rejoin(&mut self, id: u64) {
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        let key = client.view.ip.clone().zip(client.view.pid);
        let window = key.and_then(|(ip, pid)| self.windows.get_mut(ip, pid));
        match window {
            Some(window) => {
                window.peer = client.view.peer;
                client.maintenance = Some(window.until);
                client.view.maintenance = Some(window.wall);
            }
            None => {
                client.maintenance = None;
                client.view.maintenance = None;
            }
        }
    }

    /// Ends the windows that have run out by `at`: the live clients in them
    /// are judged afresh at this tick; those away are only recorded.
    pub(super) fn expire_windows(&mut self, at: Instant) {
        if !self.windows.any_ended(at) {
            return;
        }
        let due: Vec<u64> = (self.clients.iter())
            .filter(|(_, c)| c.maintenance.is_some_and(|until| until <= at))
            .map(|(id, _)| id)
            .collect();
        for id in due {
            self.end_window(id, None, at);
        }
        for (peer, ip, pid) in self.windows.take_ended(at) {
            self.emit(EventKind::MaintenanceEnded {
                peer,
                ip,
                pid,
                by: None,
            });
        }
    }
}
