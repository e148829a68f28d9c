//! The start of a connection on a TLS port, on the connection's own task
//! (never the accept loop, so a slow or hostile handshake holds up no one
//! else): the first byte tells a TLS client (0x16, a handshake record) from
//! a plaintext one (0x00, the top of a frame's length), then rustls shakes
//! hands. All of it must be done within the hello timeout, counted from
//! the accept.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::protocol::{Notice, Token};
use crate::server::connection::{self, Connection, PeerTls};
use crate::server::link::Link;
use crate::server::pacer::Pacer;
use crate::server::report::Report;
use crate::tls::identity::identity;
use crate::tls::{Cause, Mode, ServerStream, ServerTls, Stream};
use tokio::sync::mpsc;

/// A connection on a TLS port until it is established: what its
/// [`Connection`] will hold, and what the handshake needs. The registry hears of it only
/// once it is established, so a refused handshake is no client of its own
/// and is reported like a refusal, at most once a second for its cause.
pub(super) struct Pending {
    pub(super) tls: Arc<ServerTls>,
    pub(super) peer: SocketAddr,
    pub(super) accepted: Instant,
    pub(super) hello_timeout: Duration,
    pub(super) id: u64,
    pub(super) reports: mpsc::Sender<Report>,
    pub(super) link: Arc<Link>,
    pub(super) pacer: Option<Arc<Pacer>>,
    pub(super) max_frame: usize,
    pub(super) token: Option<Arc<Token>>,
}

impl Pending {
    /// Establishes the connection and serves it, or refuses it with the reason.
    pub(super) async fn run(self, tcp: TcpStream) {
        let deadline = self.accepted + self.hello_timeout;
        let established = Box::pin(establish(tcp, &self.tls, deadline)).await;
        match established {
            Ok(established) => self.serve(established).await,
            Err(refused) => Box::pin(self.refuse(refused)).await,
        }
    }

    async fn serve(self, established: Established) {
        let opened = Report::Opened {
            id: self.id,
            peer: self.peer,
            link: Arc::clone(&self.link),
            accepted: self.accepted,
            identity: (established.tls.as_ref()).and_then(|tls| tls.identity.clone()),
        };
        if self.reports.send(opened).await.is_err() {
            return;
        }
        // A certificate the client CA signed stands in for the shared token.
        let verified = established.tls.is_some() && self.tls.mutual();
        let connection = Connection {
            id: self.id,
            stream: established.stream,
            reports: self.reports,
            link: self.link,
            pacer: self.pacer,
            max_frame: self.max_frame,
            token: self.token.filter(|_| !verified),
            tls: established.tls,
        };
        connection.run().await;
    }

    async fn refuse(self, refused: Refused) {
        self.tls.stats().failed(refused.cause);
        let timeout = humantime::format_duration(self.hello_timeout);
        let reason = match refused.cause {
            Cause::Timeout => format!("{} ({timeout})", refused.reason),
            _ => refused.reason,
        };
        let report = Report::Tls {
            cause: refused.cause.label(),
            peer: Some(self.peer),
            reason: reason.clone(),
        };
        let _ = self.reports.send(report).await;
        if let Some(tcp) = refused.plaintext {
            connection::refuse(tcp, Notice::close(reason)).await;
        }
    }
}

/// The first byte of every TLS handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

/// A connection ready to speak the protocol: plain, or TLS with what the
/// handshake learned of the peer.
pub(super) struct Established {
    pub(super) stream: ServerStream,
    pub(super) tls: Option<Box<PeerTls>>,
}

/// Why a connection was refused before it spoke the protocol.
pub(super) struct Refused {
    pub(super) cause: Cause,
    pub(super) reason: String,
    /// A plaintext client on a TLS-only port, still there to be told why
    /// in a close frame it can read.
    pub(super) plaintext: Option<TcpStream>,
}

/// Tells plaintext from TLS and shakes hands, by `deadline`.
pub(super) async fn establish(
    tcp: TcpStream,
    tls: &ServerTls,
    deadline: Instant,
) -> Result<Established, Refused> {
    let refused = |cause, reason: &str| Refused {
        cause,
        reason: reason.to_owned(),
        plaintext: None,
    };
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await {
        Err(_) => {
            return Err(refused(
                Cause::Timeout,
                "sent nothing within the hello timeout",
            ));
        }
        Ok(Ok(0)) | Ok(Err(_)) => {
            return Err(refused(Cause::Incomplete, "hung up before the handshake"));
        }
        Ok(Ok(_)) => {}
    }
    if first[0] != HANDSHAKE_RECORD {
        return match tls.mode() {
            Mode::Optional => Ok(Established {
                stream: Stream::Plain(tcp),
                tls: None,
            }),
            Mode::Required => Err(Refused {
                cause: Cause::Plaintext,
                reason: "this port requires TLS (serve --tls-mode required): connect with --tls"
                    .to_owned(),
                plaintext: Some(tcp),
            }),
        };
    }
    let accept = TlsAcceptor::from(tls.config()).accept(tcp);
    let stream = match tokio::time::timeout_at(deadline, accept).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            let reason = format!("TLS handshake failed: {error}");
            return Err(refused(Cause::of_handshake(&error), &reason));
        }
        Err(_) => {
            return Err(refused(
                Cause::Timeout,
                "TLS handshake not finished within the hello timeout",
            ));
        }
    };
    let identity = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(identity)
        .map(Arc::from);
    Ok(Established {
        stream: Stream::Tls(Box::new(stream)),
        tls: Some(Box::new(PeerTls {
            identity,
            stats: tls.stats(),
        })),
    })
}
