//! A stream that shows each read to an observer, and writes straight
//! through: how the operator API learns that a connection has spoken (for
//! its timeouts) and how `hbmon top` keeps the first bytes of an answer
//! (to say what answered when it was not HTTP).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Told of the bytes each read brought (never of an empty read).
pub trait Observer {
    fn read(&mut self, bytes: &[u8]);
}

/// `stream`, with `observer` told of every read from it.
pub struct Observed<S, O> {
    stream: S,
    observer: O,
}

impl<S, O> Observed<S, O> {
    pub fn new(stream: S, observer: O) -> Self {
        Observed { stream, observer }
    }
}

impl<S: AsyncRead + Unpin, O: Observer + Unpin> AsyncRead for Observed<S, O> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            this.observer.read(new);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin, O: Unpin> AsyncWrite for Observed<S, O> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    struct Seen(Vec<Vec<u8>>);

    impl Observer for Seen {
        fn read(&mut self, bytes: &[u8]) {
            self.0.push(bytes.to_vec());
        }
    }

    #[tokio::test]
    async fn every_read_is_shown_and_writes_go_straight_through() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut observed = Observed::new(near, Seen(Vec::new()));
        far.write_all(b"hello").await.unwrap();
        let mut got = [0; 5];
        observed.read_exact(&mut got).await.unwrap();
        observed.write_all(b"back").await.unwrap();
        let mut back = [0; 4];
        far.read_exact(&mut back).await.unwrap();
        assert_eq!((&got, &back), (b"hello", b"back"));
        assert_eq!(observed.observer.0.concat(), b"hello");
    }
}
