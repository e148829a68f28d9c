//! What connections and the accept loop report to the decider, one kind of
//! report at a time: a connection opened or refused, who a client says it
//! is, and how a connection ended.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::client::Client;
use super::decider::Decider;
use crate::feed::event::EventKind;
use crate::feed::snapshot::{CloseCause, Transport};
use crate::protocol::{Notice, SHUTDOWN_REASON, Status};
use crate::server::link::Link;
use crate::server::report::{End, Report};

impl Decider {
    pub(super) fn report(&mut self, report: Report) {
        match report {
            Report::Opened {
                id,
                peer,
                link,
                accepted,
                identity,
            } => self.opened(id, peer, link, accepted, identity),
            Report::Rejected { peer, reason } => self.rejected(peer, reason),
            Report::Tls {
                cause,
                peer,
                reason,
            } => self.tls(cause, peer, reason),
            Report::Hello {
                id,
                ip,
                pid,
                status,
                transport,
            } => self.hello(id, ip, pid, status, transport),
            #[cfg(test)]
            Report::Panic(message) => panic!("{message}"),
            Report::Ended { id, end } => self.ended(id, end),
        }
    }

    /// A connection was accepted: a new row, unless the server is stopping.
    fn opened(
        &mut self,
        id: u64,
        peer: SocketAddr,
        link: Arc<Link>,
        accepted: Instant,
        identity: Option<Arc<str>>,
    ) {
        if self.shutting_down {
            link.send(Notice::close(SHUTDOWN_REASON));
            return;
        }
        self.clients
            .insert(id, Client::opened(id, peer, link, accepted));
        self.emit(EventKind::Connected { peer, identity });
    }

    /// The accept loop turned a connection away.
    fn rejected(&mut self, peer: SocketAddr, reason: String) {
        self.record.counters.rejected += 1;
        if let Some(event) = self.refusals.refused(peer.ip(), (peer, reason)) {
            self.emit(event);
        }
    }

    /// A TLS handshake was refused, or the certificate files were reloaded.
    fn tls(&mut self, cause: &'static str, peer: Option<SocketAddr>, reason: String) {
        if let Some(event) = self.tls.refused(cause, (cause, peer, reason)) {
            self.emit(event);
        }
    }

    /// A client said who it is (first heartbeat, or a change): refused if a
    /// kick's hold-off still covers it, else its row and story follow.
    fn hello(&mut self, id: u64, ip: Arc<str>, pid: u32, status: Status, transport: Transport) {
        if let Some(left) = self.hold_offs.remaining(&ip, pid, Instant::now()) {
            let wait = Duration::from_secs(left.as_secs_f64().ceil() as u64);
            let reason = format!("kicked; retry after {}", humantime::format_duration(wait));
            self.close(
                id,
                Notice::close(reason).retry_after(wait),
                CloseCause::HeldOff,
            );
            return;
        }
        let Some(client) = self.clients.get_mut(id) else {
            return;
        };
        let view = &mut client.view;
        if let (Some(was), Some(was_pid)) = (&view.ip, view.pid)
            && (&**was, was_pid) != (&*ip, pid)
        {
            self.stories.release(id, was, was_pid);
        }
        view.pid = Some(pid);
        view.reported = Some(status);
        if view.transport != transport {
            view.transport = transport;
        }
        if view.ip.as_deref() != Some(&*ip) {
            view.ip = Some(ip);
        }
        if let Some(ip) = &view.ip {
            let story = self.stories.hello(id, ip, pid);
            (view.reconnects, view.flaps) = (story.reconnects, story.flaps);
        }
        self.rejoin(id);
        self.changed = true;
    }

    /// A connection ended on its own: the client leaves the table with the
    /// status it had, or `close` if it said goodbye or broke the protocol.
    fn ended(&mut self, id: u64, end: End) {
        let Some(client) = self.clients.get(id) else {
            return;
        };
        let current = client.view.status();
        let closed = |cause| (Status::Close, end.close_reason().unwrap_or_default(), cause);
        let (status, reason, cause) = match &end {
            End::ByServer => return,
            End::Disconnected => (
                current,
                "client disconnected".to_owned(),
                CloseCause::Disconnected,
            ),
            End::Failed(error) => (
                current,
                format!("connection error: {error}"),
                CloseCause::ConnectionError,
            ),
            End::Goodbye => closed(CloseCause::Goodbye),
            End::BadFrame(_) => closed(CloseCause::BadFrame),
            End::Unauthorized => closed(CloseCause::Unauthorized),
        };
        if let End::BadFrame(reason) = end {
            self.record.counters.bad_frames += 1;
            let peer = client.view.peer;
            self.emit(EventKind::BadFrame { peer, reason });
        }
        self.remove(id, status, reason, cause);
    }
}
