//! The server's frame decoder on arbitrary bytes, cut into reads of an
//! arbitrary size: it must never panic, and never reserve more than one
//! frame at the limit.
#![no_main]

use bytes::BytesMut;
use hbmon::protocol::ServerCodec;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

const MAX_FRAME: usize = 1024;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the read size; the rest is the stream.
    let Some((&read, stream)) = data.split_first() else {
        return;
    };
    let mut codec = ServerCodec::new(MAX_FRAME);
    let mut buf = BytesMut::new();
    for piece in stream.chunks(usize::from(read).max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                // The connection would close here.
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= 4 * (4 + MAX_FRAME + 256), "reserved {}", buf.capacity());
    }
    let _ = codec.decode_eof(&mut buf);
});
