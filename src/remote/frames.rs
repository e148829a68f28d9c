//! Cutting `/v1/feed`'s bytes into frames: a 4-byte big-endian length, then
//! that many bytes (what tokio-util's `LengthDelimitedCodec` writes on the
//! server's side).
//!
//! Read by hand rather than with `LengthDelimitedCodec`, which reserves a
//! frame's announced length as soon as it reads it: whatever answers at the
//! address `top` was given could then make it hold the largest frame taken
//! for a few bytes. Here a length is only checked against the limit, and the
//! buffer grows as the frame's bytes arrive.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

/// Size of the length prefix.
const HEADER_LEN: usize = 4;

/// Why the feed's bytes could not be cut into frames.
#[derive(Debug, thiserror::Error)]
pub enum FeedFrameError {
    #[error("it announced a frame of {len} bytes, over the limit of {max} bytes")]
    TooLarge { len: u64, max: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The feed's frames, each at most `max` bytes.
#[derive(Clone, Copy, Debug)]
pub struct FeedFrames {
    max: usize,
}

impl FeedFrames {
    pub fn new(max: usize) -> Self {
        FeedFrames { max }
    }
}

impl Decoder for FeedFrames {
    type Item = Bytes;
    type Error = FeedFrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FeedFrameError> {
        let Some(header) = src.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let announced = u32::from_be_bytes(*header);
        let len = usize::try_from(announced)
            .ok()
            .filter(|&len| len <= self.max)
            .ok_or(FeedFrameError::TooLarge {
                len: u64::from(announced),
                max: self.max,
            })?;
        // Nothing reserved: the reader grows the buffer as bytes come.
        if src.len() - HEADER_LEN < len {
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        Ok(Some(src.split_to(len).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn frames_come_whole_however_the_bytes_are_cut() {
        let mut stream = framed(b"one");
        stream.extend(framed(b""));
        stream.extend(framed(&[7; 300]));
        let mut codec = FeedFrames::new(1024);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for byte in stream {
            buf.extend_from_slice(&[byte]);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames, [&b"one"[..], b"", &[7; 300]]);
        assert!(buf.is_empty());
    }

    #[test]
    fn an_announced_length_is_never_reserved_and_one_over_the_limit_is_refused() {
        let mut codec = FeedFrames::new(256 << 20);
        let mut buf = BytesMut::from(&((256u32 << 20).to_be_bytes())[..]);
        buf.extend_from_slice(b"a few bytes");
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() < 4096, "reserved {}", buf.capacity());

        let mut buf = BytesMut::from(&((256u32 << 20) + 1).to_be_bytes()[..]);
        let error = codec.decode(&mut buf).unwrap_err().to_string();
        assert_eq!(
            error,
            "it announced a frame of 268435457 bytes, over the limit of 268435456 bytes"
        );
    }
}
