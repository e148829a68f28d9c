//! What front ends ask of the registry: kicks (with their hold-offs), a
//! snapshot taken now, one client's story, and maintenance windows.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::Registry;
use super::client::Client;
use super::decider::{DETAIL_GAPS, Decider};
use crate::feed::control::{Command, CommandError, Kicked};
use crate::feed::details::Details;
use crate::feed::event::EventKind;
use crate::feed::snapshot::CloseCause;
use crate::protocol::{Notice, Status};
use crate::server::clock;

/// How long a kicked client is asked to wait before it connects again, when
/// the operator chose no hold-off.
pub(super) const KICK_RETRY_AFTER: Duration = Duration::from_secs(5);

impl Registry {
    /// A `list` waits for the next publish, which is asked for at once;
    /// every other command is the decider's.
    pub(super) fn command(&mut self, command: Command) {
        match command {
            Command::Kick {
                peers,
                by,
                hold,
                reply,
            } => {
                let _ = reply.send(Ok(self.decider.kick_peers(peers, &by, hold)));
            }
            Command::KickLeave { by, hold, reply } => {
                let _ = reply.send(Ok(self.decider.kick_leave(&by, hold)));
            }
            Command::List { reply } => {
                self.publisher.list(reply);
                self.publish();
            }
            Command::Show { peer, reply } => {
                let details = self.decider.details(peer);
                let _ = reply.send(details.ok_or(CommandError::NoSuchClient(peer)));
            }
            Command::Maintenance {
                target,
                length,
                by,
                reply,
            } => {
                let _ = reply.send(Ok(self.decider.maintenance(&target, length, &by)));
            }
        }
    }
}

impl Decider {
    /// Kicks the clients at `peers`; says which of them had already gone.
    fn kick_peers(&mut self, peers: Vec<SocketAddr>, by: &str, hold: Option<Duration>) -> Kicked {
        let wanted: HashSet<SocketAddr> = peers.iter().copied().collect();
        let found = self.targets(|c| wanted.contains(&c.view.peer));
        let kicked: HashSet<SocketAddr> = found.iter().map(|&(_, peer)| peer).collect();
        let gone = peers.into_iter().filter(|p| !kicked.contains(p)).collect();
        let kicked = self.kick(found, by, hold, "kicked by operator");
        Kicked { kicked, gone }
    }

    /// Kicks every client in `leave`, but those in maintenance: their
    /// silence is planned, and only a kick that names them closes them.
    fn kick_leave(&mut self, by: &str, hold: Option<Duration>) -> Vec<SocketAddr> {
        let leaving = self.targets(|c| c.view.status() == Status::Leave && c.maintenance.is_none());
        self.kick(leaving, by, hold, "kicked by operator (all leave clients)")
    }

    /// The story of the live client at `peer`.
    fn details(&mut self, peer: SocketAddr) -> Option<Details> {
        let client = self.clients.values_mut().find(|c| c.view.peer == peer)?;
        client.sync();
        let view = &client.view;
        let story = view
            .ip
            .as_ref()
            .zip(view.pid)
            .and_then(|(ip, pid)| self.stories.get(ip, pid));
        let skip = client.gaps.len().saturating_sub(DETAIL_GAPS);
        Some(Details {
            peer,
            ip: view.ip.clone(),
            identity: view.transport.clone().into_identity(),
            pid: view.pid,
            status: view.status(),
            gaps_ms: client.gaps.iter().skip(skip).collect(),
            phi: view.phi,
            reconnects: view.reconnects,
            flaps: view.flaps,
            changes: story
                .map(|s| s.changes().cloned().collect())
                .unwrap_or_default(),
            earlier: story
                .map(|s| s.earlier().cloned().collect())
                .unwrap_or_default(),
        })
    }

    /// The live clients that `pick` chooses: id and address.
    fn targets(&self, pick: impl Fn(&Client) -> bool) -> Vec<(u64, SocketAddr)> {
        let clients = self.clients.iter();
        clients
            .filter(|(_, c)| pick(c))
            .map(|(id, c)| (id, c.view.peer))
            .collect()
    }

    /// Closes clients at an operator's request, recording who asked. The
    /// close frame asks each to wait before it comes back: the hold-off, if
    /// there is one (and then the client is refused until it ends), or a
    /// few seconds, so that a kicked fleet does not bounce straight back.
    fn kick(
        &mut self,
        targets: Vec<(u64, SocketAddr)>,
        by: &str,
        hold: Option<Duration>,
        reason: &str,
    ) -> Vec<SocketAddr> {
        let until = hold.map(|hold| clock::later(Instant::now(), hold));
        let mut kicked = Vec::with_capacity(targets.len());
        for (id, peer) in targets {
            let Some(client) = self.clients.get(id) else {
                continue;
            };
            let pid = client.view.pid;
            if let (Some(until), Some(pid)) = (until, pid) {
                let ip = client
                    .view
                    .ip
                    .as_deref()
                    .map_or_else(|| peer.ip().to_string(), str::to_owned);
                self.hold_offs.hold(&ip, pid, until);
            }
            let by = by.to_owned();
            self.emit(EventKind::Kick { peer, pid, by });
            let wait = hold.unwrap_or(KICK_RETRY_AFTER);
            self.close(
                id,
                Notice::close(reason).retry_after(wait),
                CloseCause::Kicked,
            );
            kicked.push(peer);
        }
        kicked
    }
}
