//! One task per TCP connection: reads and decodes heartbeats, reports them to
//! the registry in batches, and writes the notices the registry sends.
//!
//! It owns its socket and read buffer and nothing else: every decision about
//! the client is the registry's. It decides only what the protocol forces:
//! a bad frame or a goodbye ends the connection.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Decoder;

use crate::protocol::{FrameError, Heartbeat, Notice, ServerCodec, Status, encode_frame};
use crate::registry::{End, Report};

/// First read size. Idle clients keep a buffer this small; a busy one grows
/// its reads up to `MAX_READ` so a flood costs few system calls.
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
    pub(crate) stream: TcpStream,
    pub(crate) reports: mpsc::Sender<Report>,
    pub(crate) notices: mpsc::UnboundedReceiver<Notice>,
    pub(crate) max_frame: usize,
}

/// Heartbeats decoded from one read.
struct Batch {
    count: u32,
    last: Option<Heartbeat>,
}

impl Connection {
    /// Serves the connection to its end and tells the registry how it ended.
    pub(crate) async fn run(mut self) {
        let end = self.serve().await;
        let say_goodbye = match end.close_reason() {
            // The connection ended things: tell the peer why (best effort,
            // it may already be gone).
            Some(reason) => send(&mut self.stream, &Notice::close(reason)).await.is_ok(),
            // The registry's close frame has been sent.
            None => matches!(end, End::ByServer),
        };
        // Report before lingering, so the event stream is not held up by a
        // peer that is slow to hang up.
        let _ = self.reports.send(Report::Ended { id: self.id, end }).await;
        if say_goodbye {
            linger(&mut self.stream).await;
        }
    }

    async fn serve(&mut self) -> End {
        let mut codec = ServerCodec::new(self.max_frame);
        let mut buf = BytesMut::new();
        let mut read_size = MIN_READ;
        loop {
            buf.reserve(read_size);
            tokio::select! {
                notice = self.notices.recv() => {
                    let Some(notice) = notice else {
                        // The registry is gone: nothing is listening any more.
                        return End::ByServer;
                    };
                    let last = notice.status == Status::Close;
                    if let Err(error) = send(&mut self.stream, &notice).await {
                        return End::Failed(error);
                    }
                    if last {
                        return End::ByServer;
                    }
                }
                read = self.stream.read_buf(&mut buf) => {
                    let eof = match read {
                        Ok(0) => true,
                        Ok(n) => {
                            if n >= read_size {
                                read_size = (read_size * 2).min(MAX_READ);
                            }
                            false
                        }
                        Err(error) => return End::Failed(error.to_string()),
                    };
                    if let Some(end) = self.decode(&mut codec, &mut buf, eof).await {
                        return end;
                    }
                    if eof {
                        return End::Disconnected;
                    }
                }
            }
        }
    }

    /// Decodes every complete frame in `buf` and reports them as one batch.
    /// Returns how the connection ends, if a frame ended it.
    async fn decode(
        &mut self,
        codec: &mut ServerCodec,
        buf: &mut BytesMut,
        eof: bool,
    ) -> Option<End> {
        let mut batch = Batch {
            count: 0,
            last: None,
        };
        let outcome = loop {
            let decoded = if eof {
                codec.decode_eof(buf)
            } else {
                codec.decode(buf)
            };
            match decoded {
                Ok(Some(heartbeat)) => {
                    let goodbye = heartbeat.status == Status::Close;
                    batch.count += 1;
                    batch.last = Some(heartbeat);
                    if goodbye {
                        break Some(End::Goodbye);
                    }
                }
                Ok(None) => break None,
                Err(FrameError::Io(error)) => break Some(End::Failed(error.to_string())),
                Err(error) => break Some(End::BadFrame(error.to_string())),
            }
        };
        if let Some(last) = batch.last {
            let report = Report::Beats {
                id: self.id,
                count: batch.count,
                last,
            };
            if self.reports.send(report).await.is_err() {
                return Some(End::ByServer);
            }
        }
        outcome
    }
}

/// Writes one notice, giving up on a peer that does not read.
async fn send(stream: &mut TcpStream, notice: &Notice) -> Result<(), String> {
    let frame = encode_frame(notice);
    match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "peer did not accept a notice within {}",
            humantime::format_duration(WRITE_TIMEOUT)
        )),
    }
}

/// Half-closes (the peer sees EOF at once) and drains until the peer closes
/// too, for at most `LINGER`.
async fn linger(stream: &mut TcpStream) {
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

/// Refuses a connection the server has no room for: says why, then closes.
pub(crate) async fn refuse(mut stream: TcpStream, reason: String) {
    if send(&mut stream, &Notice::close(reason)).await.is_ok() {
        linger(&mut stream).await;
    }
}
