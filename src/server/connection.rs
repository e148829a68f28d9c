//! One task per TCP connection: reads and decodes heartbeats, counts them
//! on the client's [`Link`], and writes the notices the registry leaves there.
//!
//! It owns its socket and read buffer and nothing else: every decision about
//! the client is the registry's. It decides only what the protocol forces:
//! a bad frame or a goodbye ends the connection.
//!
//! Every client holds this task's future for as long as it is connected, and
//! a future is as large as its largest state, so it is kept small on
//! purpose: the rare waits (writing a notice, telling the registry who the
//! client is, the goodbye and the linger with its drain buffer) are boxed
//! and cost their bytes only while they happen, and the one common wait is
//! polled by hand. Measure with `-Zprint-type-sizes` on a release build
//! after any change to what lives across an `.await` in [`Connection::run`].

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::feed::snapshot::Transport;
use crate::protocol::{FrameError, Notice, Run, ServerCodec, Status, Token, encode_frame};
use crate::server::link::Link;
use crate::server::pacer::Pacer;
use crate::server::report::{End, Failure, Report};
use crate::tls::{Cause, ServerStream, TlsStats};

/// First read size. A busy connection grows its reads up to `MAX_READ` so a
/// flood costs few system calls.
const MIN_READ: usize = 256;
const MAX_READ: usize = 32 * 1024;
/// How long a notice may take to reach the socket before the peer is
/// considered stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// After the final notice, how long to drain what the peer still sends, so
/// that closing with unread bytes does not reset the connection and destroy
/// the close frame before the peer reads it.
const LINGER: Duration = Duration::from_millis(500);

pub(crate) struct Connection {
    pub(crate) id: u64,
    pub(crate) stream: ServerStream,
    pub(crate) reports: mpsc::Sender<Report>,
    pub(crate) link: Arc<Link>,
    pub(crate) pacer: Option<Arc<Pacer>>,
    pub(crate) max_frame: usize,
    /// The secret the first heartbeat must carry; `None` once it has (or
    /// when the server has none).
    pub(crate) token: Option<Arc<Token>>,
    /// What a TLS connection knows of its peer; boxed, so that a
    /// plaintext connection pays one word for it.
    pub(crate) tls: Option<Box<PeerTls>>,
}

/// A TLS connection's peer, as its handshake established it.
pub(crate) struct PeerTls {
    /// Who its verified certificate says it is (mutual TLS).
    pub(crate) identity: Option<Arc<str>>,
    /// Where a record that does not decrypt is counted.
    pub(crate) stats: Arc<TlsStats>,
}

/// Who the client says it is, as last reported to the registry.
struct Identity {
    /// Shared with the registry, which keeps the same string.
    ip: Arc<str>,
    pid: u32,
    status: Status,
}

impl Connection {
    /// Serves the connection to its end and tells the registry how it ended.
    ///
    /// An `async` block rather than an `async fn`: a function's argument is
    /// moved from its capture into a local, and its future held both.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` holds its argument twice"
    )]
    pub(crate) fn run(mut self) -> impl Future<Output = ()> {
        async move {
            let end = self.serve().await;
            let say_goodbye = match end.close_reason() {
                // The connection ended things: tell the peer why (best
                // effort, it may already be gone).
                Some(reason) => Box::pin(send(&mut self.stream, Notice::close(reason)))
                    .await
                    .is_ok(),
                // The registry's close frame has been sent.
                None => matches!(end, End::ByServer),
            };
            // Report before lingering, so the event stream is not held up by
            // a peer that is slow to hang up.
            let ended = self.reports.send(Report::Ended { id: self.id, end });
            let _ = Box::pin(ended).await;
            if say_goodbye {
                Box::pin(linger(&mut self.stream)).await;
            }
        }
    }

    async fn serve(&mut self) -> End {
        let mut codec = ServerCodec::new(self.max_frame);
        // Allocated only while bytes wait to be decoded: an idle client,
        // most clients most of the time, holds no buffer at all.
        let mut buf = BytesMut::new();
        let mut read_size = MIN_READ;
        let mut identity = None;
        let mut partial = false;
        loop {
            let woken = self.woken().await;
            // Only what must lives across the waits below, and nothing
            // that is rare is held inline: each of those bytes is held by
            // every client.
            match woken {
                Err(error) => return End::Failed(error.into()),
                Ok(Woken::Notice) => {
                    match Box::pin(write_notice(&mut self.stream, &self.link)).await {
                        Err(error) => return End::Failed(error),
                        Ok(Some(Status::Close)) => return End::ByServer,
                        Ok(_) => continue,
                    }
                }
                Ok(Woken::Readable) => {}
            }
            let eof = match self.read(&mut buf, &mut read_size) {
                Ok(Some(eof)) => eof,
                Ok(None) => continue, // the readiness was stale
                Err(end) => return end,
            };
            let (frames, end, hello) = {
                let decoded = self.decode(&mut codec, &mut buf, eof, &mut identity);
                let hello = decoded
                    .hello
                    .map(|hello| Box::pin(self.reports.send(hello)));
                (decoded.frames, decoded.end, hello)
            };
            if let Some(hello) = hello
                && hello.await.is_err()
            {
                return End::ByServer;
            }
            if let Some(end) = end {
                return end;
            }
            if eof {
                return End::Disconnected;
            }
            self.track_partial(&buf, &mut partial, frames);
            if buf.is_empty() {
                buf = BytesMut::new();
            }
        }
    }

    /// One wait for both a notice and the socket, polled by hand: a
    /// `select!` over `next_notice()` and `readable()` keeps both futures
    /// (and their waiter nodes) in every client's task, several times the
    /// bytes of the wakers registered here.
    fn woken(&mut self) -> impl Future<Output = std::io::Result<Woken>> + '_ {
        std::future::poll_fn(|cx| {
            if self.link.poll_notice(cx).is_ready() {
                return Poll::Ready(Ok(Woken::Notice));
            }
            // This charges tokio's cooperative budget (and yields when
            // it is spent), so a peer that always has bytes ready gets
            // its fair share and no more.
            self.stream.poll_read_ready(cx).map_ok(|()| Woken::Readable)
        })
    }

    /// Reads what the socket has into `buf`, growing the next read for a
    /// busy peer: whether the peer closed, `None` when the readiness was
    /// stale, or how the connection ends.
    fn read(&mut self, buf: &mut BytesMut, read_size: &mut usize) -> Result<Option<bool>, End> {
        buf.reserve(*read_size);
        // One poll of the `AsyncRead` path: unlike `try_read_buf`, a
        // short read there clears readiness, which saves a second `read`
        // per heartbeat that would only say WouldBlock.
        match self.stream.read_buf(buf).now_or_never() {
            None => Ok(None),
            Some(Ok(0)) => Ok(Some(true)),
            // A TLS peer that hangs up without its close_notify has
            // disconnected all the same.
            Some(Err(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Some(true)),
            Some(Ok(n)) => {
                if let Some(pacer) = &self.pacer {
                    pacer.read();
                }
                if n >= *read_size {
                    *read_size = (*read_size * 2).min(MAX_READ);
                }
                Ok(Some(false))
            }
            Some(Err(error)) => {
                if let Some(tls) = &self.tls
                    && crate::tls::rustls_error(&error).is_some()
                {
                    tls.stats.failed(Cause::BadRecord);
                }
                Err(End::Failed(error.into()))
            }
        }
    }

    /// Tells the registry since when the frame now waiting for its rest
    /// has waited, for the frame timeout. A read that completed frames
    /// starts the wait anew: a flood is always mid-frame between reads,
    /// and is not a stall.
    fn track_partial(&self, buf: &BytesMut, partial: &mut bool, frames: u64) {
        match (buf.is_empty(), *partial) {
            (true, true) => {
                *partial = false;
                self.link.tally().partial_frame(None);
            }
            (false, false) => {
                *partial = true;
                self.link.tally().partial_frame(Some(Instant::now()));
            }
            (false, true) if frames > 0 => self.link.tally().partial_frame(Some(Instant::now())),
            _ => {}
        }
    }

    /// Decodes every complete frame in `buf` and counts them on the link.
    fn decode(
        &mut self,
        codec: &mut ServerCodec,
        buf: &mut BytesMut,
        eof: bool,
        identity: &mut Option<Identity>,
    ) -> Decoded {
        let mut frames = 0;
        let mut last = None;
        let end = loop {
            match codec.decode_run(buf, eof) {
                Ok(Some(Run {
                    message: heartbeat,
                    frames: run,
                })) => {
                    // The first heartbeat must carry the secret, if there is one.
                    let expected = self.token.take();
                    let given = heartbeat.token.as_ref();
                    if expected
                        .is_some_and(|token| !given.is_some_and(|given| token.matches(given)))
                    {
                        break Some(End::Unauthorized);
                    }
                    let goodbye = heartbeat.status == Status::Close;
                    // Nothing after a goodbye counts, its copies neither.
                    frames += if goodbye { 1 } else { run };
                    last = Some(heartbeat);
                    if goodbye {
                        break Some(End::Goodbye);
                    }
                }
                Ok(None) => break None,
                Err(FrameError::Io(error)) => break Some(End::Failed(error.into())),
                Err(error) => break Some(End::BadFrame(error.to_string())),
            }
        };
        let mut hello = None;
        if let Some(heartbeat) = last {
            self.link.tally().record(frames, SystemTime::now());
            let known = identity.as_ref().is_some_and(|known: &Identity| {
                known.pid == heartbeat.pid
                    && known.status == heartbeat.status
                    && *known.ip == *heartbeat.ip
            });
            if !known {
                let ip: Arc<str> = heartbeat.ip.into();
                hello = Some(Report::Hello {
                    id: self.id,
                    ip: Arc::clone(&ip),
                    pid: heartbeat.pid,
                    status: heartbeat.status,
                    transport: match &self.tls {
                        Some(tls) => Transport::Tls {
                            identity: tls.identity.clone(),
                        },
                        None => Transport::Plain,
                    },
                });
                *identity = Some(Identity {
                    ip,
                    pid: heartbeat.pid,
                    status: heartbeat.status,
                });
            }
        }
        Decoded { frames, hello, end }
    }
}

/// What woke a connection task.
enum Woken {
    /// The registry left a notice on the link.
    Notice,
    /// The socket may have bytes.
    Readable,
}

/// What one read's frames came to.
struct Decoded {
    /// Frames completed.
    frames: u64,
    /// The client's identity, when it is new or changed: for the registry.
    hello: Option<Report>,
    /// How the connection ends, if a frame ended it.
    end: Option<End>,
}

/// Writes one notice, giving up on a peer that does not read. (The flush
/// sends what TLS holds back; on plain TCP it does nothing.)
async fn send<S>(stream: &mut S, notice: Notice) -> Result<(), Failure>
where
    S: AsyncWrite + Unpin,
{
    let frame = encode_frame(&notice);
    drop(notice);
    let written = async {
        stream.write_all(&frame).await?;
        stream.flush().await
    };
    match tokio::time::timeout(WRITE_TIMEOUT, written).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(Failure::WriteTimeout(WRITE_TIMEOUT)),
    }
}

/// Writes the notice the registry left on the link, if it is still there;
/// returns its status.
async fn write_notice(stream: &mut ServerStream, link: &Link) -> Result<Option<Status>, Failure> {
    let Some(notice) = link.take_notice() else {
        return Ok(None);
    };
    let status = notice.status;
    send(stream, notice).await?;
    Ok(Some(status))
}

/// Half-closes (the peer sees EOF at once) and drains until the peer closes
/// too, for at most `LINGER`.
async fn linger<S>(stream: &mut S)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 1024];
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Refuses a connection the server has no room for (or that speaks
/// plaintext to a port that requires TLS): says why, then closes.
pub(crate) async fn refuse(mut stream: TcpStream, notice: Notice) {
    if send(&mut stream, notice).await.is_ok() {
        linger(&mut stream).await;
    }
}

/// Refuses a connection without waiting for anything: the close frame goes
/// out if the socket takes it at once. For when too many refusals are
/// already under way to give each one time.
pub(crate) fn refuse_now(stream: TcpStream, notice: &Notice) {
    let _ = stream.try_write(&encode_frame(notice));
}
