//! What answered when the answer was not HTTP: `hbmon top` pointed at the
//! heartbeat port (`serve --listen`) instead of the operator API gets a
//! close frame back, and the operator should hear that, not hyper's
//! complaint about the bytes.

use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::observed::{Observed, Observer};
use crate::protocol::ClientCodec;

/// Bytes kept from the start of an answer: enough for a close frame.
const KEPT: usize = 4096;

/// A stream that keeps a copy of the first [`KEPT`] bytes read from it.
pub type Tap<S> = Observed<S, First>;

/// Where a [`Tap`] keeps the first bytes read.
#[derive(Clone, Default)]
pub struct First(Arc<Mutex<Vec<u8>>>);

impl First {
    /// A copy of the bytes kept so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().map(|first| first.clone()).unwrap_or_default()
    }
}

impl Observer for First {
    fn read(&mut self, bytes: &[u8]) {
        if let Ok(mut first) = self.0.lock() {
            let room = KEPT.saturating_sub(first.len());
            first.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

/// `stream`, and where the first bytes read from it will be.
pub fn tap<S>(stream: S) -> (Tap<S>, First) {
    let first = First::default();
    (Observed::new(stream, first.clone()), first)
}

/// True when `first` begins with a frame of hbmon's heartbeat protocol (a
/// notice, such as the close frame a server sends a peer whose first bytes
/// are not a heartbeat).
pub fn is_heartbeat_port(first: &[u8]) -> bool {
    let mut bytes = BytesMut::from(first);
    matches!(ClientCodec::new(KEPT).decode(&mut bytes), Ok(Some(_)))
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
