//! Property tests of the frame decoder: byte streams cut at arbitrary points
//! decode exactly as if they had arrived whole; every invalid frame is an
//! error, never a panic; nothing is reserved beyond `--max-frame`.

use bytes::{BufMut, BytesMut};
use hbmon::protocol::{FrameError, Heartbeat, ServerCodec, Status, encode_frame};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

const MAX_FRAME: usize = 1024;

/// One frame a peer might send.
#[derive(Clone, Debug)]
enum Frame {
    Valid(Heartbeat),
    /// A body that is not UTF-8.
    NotUtf8(Vec<u8>),
    /// A body that is not JSON.
    NotJson(String),
    Negative(i32),
    TooLarge(u32),
}

fn heartbeat() -> impl Strategy<Value = Heartbeat> {
    let status = prop_oneof![
        Just(Status::Alive),
        Just(Status::Leave),
        Just(Status::Close)
    ];
    ("[ -~]{0,40}", status, any::<u32>()).prop_map(|(ip, status, pid)| Heartbeat {
        token: None,
        ip,
        status,
        pid,
    })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        8 => heartbeat().prop_map(Frame::Valid),
        1 => prop::collection::vec(any::<u8>(), 0..50).prop_map(|mut body| {
            body.insert(0, 0xff);
            Frame::NotUtf8(body)
        }),
        1 => "[a-z ]{1,30}".prop_map(|text| Frame::NotJson(format!("{{{text}"))),
        1 => (i32::MIN..0).prop_map(Frame::Negative),
        1 => ((MAX_FRAME as u32 + 1)..=i32::MAX as u32).prop_map(Frame::TooLarge),
    ]
}

fn bytes_of(frame: &Frame) -> Vec<u8> {
    let body = |body: &[u8]| {
        let mut v = (body.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    };
    match frame {
        Frame::Valid(heartbeat) => encode_frame(heartbeat).to_vec(),
        Frame::NotUtf8(bytes) => body(bytes),
        Frame::NotJson(text) => body(text.as_bytes()),
        Frame::Negative(len) => len.to_be_bytes().to_vec(),
        Frame::TooLarge(len) => len.to_be_bytes().to_vec(),
    }
}

/// Feeds `stream` to a decoder in chunks cut at `cuts`, as reads would,
/// stopping at the first error as a connection does.
fn decode_in_chunks(stream: &[u8], cuts: &[usize]) -> (Vec<Heartbeat>, Option<FrameError>) {
    let mut codec = ServerCodec::new(MAX_FRAME);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.push(stream.len());
    points.sort_unstable();
    let mut from = 0;
    for to in points {
        buf.put_slice(&stream[from..to]);
        from = to;
        let eof = from == stream.len();
        loop {
            let decoded = if eof {
                codec.decode_eof(&mut buf)
            } else {
                codec.decode(&mut buf)
            };
            match decoded {
                Ok(Some(heartbeat)) => got.push(heartbeat),
                Ok(None) => break,
                Err(error) => return (got, Some(error)),
            }
        }
    }
    (got, None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_cut_of_any_stream_recovers_every_valid_frame_and_fails_at_the_first_invalid(
        frames in prop::collection::vec(frame(), 0..30),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let stream: Vec<u8> = frames.iter().flat_map(bytes_of).collect();
        let (got, error) = decode_in_chunks(&stream, &cuts);
        let valid: Vec<Heartbeat> = frames
            .iter()
            .map_while(|f| match f { Frame::Valid(h) => Some(h.clone()), _ => None })
            .collect();
        prop_assert_eq!(&got, &valid);
        match (frames.get(valid.len()), error) {
            (None, None) => {}
            (Some(Frame::NotUtf8(_)), Some(FrameError::NotUtf8(_))) => {}
            (Some(Frame::NotJson(_)), Some(FrameError::InvalidJson(_))) => {}
            (Some(Frame::Negative(len)), Some(FrameError::NegativeLength(got))) => prop_assert_eq!(*len, got),
            (Some(Frame::TooLarge(_)), Some(FrameError::TooLarge { max, .. })) => prop_assert_eq!(max, MAX_FRAME),
            // A length whose bytes spell an HTTP method ("GET ") is told as one.
            (Some(Frame::TooLarge(len)), Some(FrameError::HttpRequest(method))) => {
                prop_assert_eq!(&len.to_be_bytes()[..], method.as_bytes())
            }
            (expected, got) => prop_assert!(false, "expected {:?}, got {:?}", expected, got),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stop_at_an_error_or_the_end(
        stream in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let (_, error) = decode_in_chunks(&stream, &cuts);
        if let Some(error) = error {
            prop_assert!(error.is_protocol_violation());
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn a_lying_header_reserves_nothing_beyond_the_limit(len in any::<i32>()) {
        let mut codec = ServerCodec::new(MAX_FRAME);
        let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
        let result = codec.decode(&mut buf);
        prop_assert!(buf.capacity() <= 4 + MAX_FRAME, "reserved {} for a header saying {}", buf.capacity(), len);
        if len < 0 || len as usize > MAX_FRAME {
            prop_assert!(result.is_err());
        } else {
            prop_assert!(matches!(result, Ok(None)));
        }
    }
}

/// The reason an otherwise empty stream of `bytes` is closed with.
fn reason(bytes: &[u8]) -> String {
    let mut buf = BytesMut::from(bytes);
    let mut codec = ServerCodec::new(MAX_FRAME);
    codec.decode_eof(&mut buf).unwrap_err().to_string()
}

#[test]
fn an_http_request_is_told_as_one_and_other_lengths_as_before() {
    let said = reason(b"GET /v1/feed HTTP/1.1\r\nHost: hbmon\r\n\r\n");
    assert_eq!(
        said,
        "an HTTP request (\"GET ...\") on the heartbeat port, not the operator API (--admin)"
    );
    assert!(reason(b"POST /v1/kick HTTP/1.1\r\n").contains("(\"POST...\")"));
    // Bytes that spell no method are a length, as they always were.
    assert_eq!(
        reason(b"GETX"),
        "frame length 1195725912 exceeds the limit of 1024 bytes"
    );
}
