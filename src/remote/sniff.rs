//! What answered when the answer was not HTTP: `hbmon top` pointed at the
//! heartbeat port (`serve --listen`) instead of the operator API gets a
//! close frame back, and the operator should hear that, not hyper's
//! complaint about the bytes.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::codec::Decoder;

use crate::protocol::ClientCodec;

/// Bytes kept from the start of an answer: enough for a close frame.
const KEPT: usize = 4096;

/// A stream that keeps a copy of the first [`KEPT`] bytes read from it.
pub struct Tap<S> {
    inner: S,
    first: Arc<Mutex<Vec<u8>>>,
}

impl<S> Tap<S> {
    /// The stream, and where the first bytes read from it will be.
    pub fn new(inner: S) -> (Tap<S>, Arc<Mutex<Vec<u8>>>) {
        let first = Arc::default();
        let tap = Tap {
            inner,
            first: Arc::clone(&first),
        };
        (tap, first)
    }
}

/// True when `first` begins with a frame of hbmon's heartbeat protocol (a
/// notice, such as the close frame a server sends a peer whose first bytes
/// are not a heartbeat).
pub fn is_heartbeat_port(first: &[u8]) -> bool {
    let mut bytes = BytesMut::from(first);
    matches!(ClientCodec::new(KEPT).decode(&mut bytes), Ok(Some(_)))
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Ok(mut first) = self.first.lock() {
            let room = KEPT.saturating_sub(first.len());
            let new = &buf.filled()[before..];
            first.extend_from_slice(&new[..new.len().min(room)]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Notice, encode_frame};

    #[test]
    fn a_close_frame_is_a_heartbeat_port_and_http_or_noise_is_not() {
        let close = encode_frame(&Notice::close("frame length 1195725856 exceeds the limit"));
        assert!(is_heartbeat_port(&close));
        assert!(!is_heartbeat_port(b"HTTP/1.1 200 OK\r\n\r\n"));
        assert!(!is_heartbeat_port(b"\0\0\0\x02{}"));
        assert!(!is_heartbeat_port(b""));
    }
}
