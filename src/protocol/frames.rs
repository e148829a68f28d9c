//! Frames: the length prefix, the JSON body, and every way they can be
//! wrong.

use std::io;
use std::marker::PhantomData;

use bytes::{Buf, BufMut, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder};

use super::{Heartbeat, Notice};

/// Size of the length prefix.
const HEADER_LEN: usize = 4;

/// How HTTP requests start (`hbmon top`, curl, a browser given the heartbeat
/// port for the operator API): read as a length, each is over a gigabyte,
/// and one over the limit is told as the request it is.
#[rustfmt::skip]
const HTTP_METHODS: [&str; 9] = ["GET ", "HEAD", "POST", "PUT ", "DELE", "PATC", "OPTI", "CONN", "TRAC"];

/// Why a byte stream could not be decoded. Every variant but `Io` is the
/// peer's fault and its `Display` is the reason sent back in the close frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("negative frame length {0}")]
    NegativeLength(i32),
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("an HTTP request (\"{0}...\") on the heartbeat port, not the operator API (--admin)")]
    HttpRequest(&'static str),
    #[error("empty frame (length 0)")]
    Empty,
    #[error("frame is not valid UTF-8 (invalid byte at offset {0})")]
    NotUtf8(usize),
    #[error("frame is not valid JSON: {0}")]
    InvalidJson(serde_json::Error),
    #[error("message must be a JSON object")]
    NotAnObject,
    #[error("invalid message: {0}")]
    InvalidMessage(serde_json::Error),
    #[error("connection closed in the middle of a frame ({0} bytes of it received)")]
    Truncated(usize),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl FrameError {
    /// True when the peer sent something it should not have (as opposed to
    /// the connection failing underneath us).
    pub fn is_protocol_violation(&self) -> bool {
        !matches!(self, FrameError::Io(_))
    }
}

/// Length-prefixed JSON frames: decodes `In`, encodes `Out`.
///
/// Written by hand rather than on top of `LengthDelimitedCodec` because the
/// prefix is signed and every way it can be wrong needs its own reason; the
/// length is checked against `max_frame` before a single byte is reserved.
/// Bodies are parsed in place and then skipped, so decoding allocates nothing
/// beyond the message itself.
pub struct JsonFrames<In, Out> {
    max_frame: usize,
    _messages: PhantomData<fn(Out) -> In>,
}

/// What the server speaks: heartbeats in, notices out.
pub type ServerCodec = JsonFrames<Heartbeat, Notice>;
/// What a client speaks: notices in, heartbeats out.
pub type ClientCodec = JsonFrames<Notice, Heartbeat>;

impl<In, Out> JsonFrames<In, Out> {
    pub fn new(max_frame: usize) -> Self {
        JsonFrames {
            max_frame,
            _messages: PhantomData,
        }
    }

    /// Reads and checks the length prefix, if all of it has arrived.
    fn body_len(&self, src: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(header) = src.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = i32::from_be_bytes(*header);
        let len = usize::try_from(len).map_err(|_| FrameError::NegativeLength(len))?;
        if len > self.max_frame {
            if let Some(method) = HTTP_METHODS.iter().find(|m| m.as_bytes() == header) {
                return Err(FrameError::HttpRequest(method));
            }
            return Err(FrameError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        Ok(Some(len))
    }
}

/// Parses one frame body, telling bad encoding, bad JSON and a well-formed
/// but wrong message apart.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    if body.is_empty() {
        return Err(FrameError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|e| FrameError::NotUtf8(e.valid_up_to()))?;
    let object = text.trim_start().starts_with('{');
    match serde_json::from_str(text) {
        // serde would also accept a struct written as an array of its
        // fields; the protocol is objects only.
        Ok(message) if object => Ok(message),
        result => {
            // Only on the error path: serde stops at the first field of the
            // wrong shape, so check the whole text is JSON before blaming
            // the message's shape.
            let syntax = serde_json::from_str::<serde::de::IgnoredAny>(text);
            Err(match (syntax, result) {
                (Err(e), _) => FrameError::InvalidJson(e),
                (Ok(_), _) if !object => FrameError::NotAnObject,
                (Ok(_), Err(e)) => FrameError::InvalidMessage(e),
                (Ok(_), Ok(_)) => unreachable!("an object that parsed is accepted above"),
            })
        }
    }
}

/// One message, and how many frames in a row carried it.
#[derive(Debug, PartialEq, Eq)]
pub struct Run<T> {
    pub message: T,
    /// At least 1.
    pub frames: u64,
}

impl<In: DeserializeOwned, Out> JsonFrames<In, Out> {
    /// The length of the frame at the start of `src`, once all of it has
    /// arrived.
    fn complete_frame(&self, src: &mut BytesMut) -> Result<Option<usize>, FrameError> {
        let Some(len) = self.body_len(src)? else {
            return Ok(None);
        };
        let frame_len = HEADER_LEN + len;
        if src.len() < frame_len {
            // Safe to reserve: `len` was checked against `max_frame`.
            src.reserve(frame_len - src.len());
            return Ok(None);
        }
        Ok(Some(frame_len))
    }

    /// Decodes the next message, and takes with it every frame right after
    /// it that is the same bytes, without parsing those again.
    ///
    /// A client sends the same heartbeat every time, so a flood's reads are
    /// many copies of one frame: comparing bytes with the first is far
    /// cheaper than parsing them. The same bytes always parse to the same
    /// message, so nothing is lost but the work. At `eof` a frame cut short is an error, as in `decode_eof`.
    pub fn decode_run(
        &mut self,
        src: &mut BytesMut,
        eof: bool,
    ) -> Result<Option<Run<In>>, FrameError> {
        let Some(frame_len) = self.complete_frame(src)? else {
            return at_eof(None, src, eof);
        };
        let message = parse_body(&src[HEADER_LEN..frame_len])?;
        let (frame, rest) = src.split_at(frame_len);
        let whole = rest.len() / frame_len * frame_len;
        // Copies back to back are bytes that repeat one frame on: when all
        // that arrived are copies (a flood's usual read), one comparison of
        // the buffer with itself says so, where one per frame costs a call
        // each. Otherwise they are counted up to the first that differs.
        let repeats = if src[frame_len..frame_len + whole] == src[..whole] {
            whole / frame_len
        } else {
            rest.chunks_exact(frame_len)
                .take_while(|next| *next == frame)
                .count()
        };
        src.advance(frame_len * (1 + repeats));
        Ok(Some(Run {
            message,
            frames: 1 + repeats as u64,
        }))
    }
}

/// What is left of a stream that ended: nothing, or a frame cut short.
fn at_eof<T>(decoded: Option<T>, src: &BytesMut, eof: bool) -> Result<Option<T>, FrameError> {
    match decoded {
        None if eof && !src.is_empty() => Err(FrameError::Truncated(src.len())),
        decoded => Ok(decoded),
    }
}

impl<In: DeserializeOwned, Out> Decoder for JsonFrames<In, Out> {
    type Item = In;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        let Some(frame_len) = self.complete_frame(src)? else {
            return Ok(None);
        };
        let message = parse_body(&src[HEADER_LEN..frame_len]);
        src.advance(frame_len);
        message.map(Some)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        let decoded = self.decode(src)?;
        at_eof(decoded, src, true)
    }
}

impl<In, Out: Serialize> Encoder<&Out> for JsonFrames<In, Out> {
    type Error = io::Error;

    fn encode(&mut self, message: &Out, dst: &mut BytesMut) -> io::Result<()> {
        let start = dst.len();
        dst.put_i32(0);
        serde_json::to_writer(dst.writer(), message)?;
        let body_len = dst.len() - start - HEADER_LEN;
        let len = i32::try_from(body_len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too large"))?;
        dst[start..start + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

/// Encodes one frame into a fresh buffer: for tests, tools and one-off sends.
pub fn encode_frame<T: Serialize>(message: &T) -> BytesMut {
    let mut dst = BytesMut::new();
    JsonFrames::<(), T>::new(usize::MAX)
        .encode(message, &mut dst)
        .expect("serializing a message to memory cannot fail");
    dst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{DEFAULT_MAX_FRAME, Status, Token};

    fn heartbeat(pid: u32) -> Heartbeat {
        Heartbeat {
            ip: "10.0.0.7".into(),
            status: Status::Alive,
            pid,
            token: None,
        }
    }

    #[test]
    fn token_is_read_trimmed_compared_and_never_shown() {
        let token = Token::new("s3cret\n").unwrap();
        assert!(token.matches(&Token::new("s3cret").unwrap()));
        assert!(!token.matches(&Token::new("s3creT").unwrap()));
        assert!(!token.matches(&Token::new("s3cret-longer").unwrap()));
        assert_eq!(Token::new(" \n"), None);
        let body = br#"{"ip":"a","status":"alive","pid":1,"token":"s3cret"}"#;
        let hb = &decode_all(&raw_frame(body)).unwrap()[0];
        assert!(hb.token.as_ref().unwrap().matches(&token));
        assert!(!format!("{hb:?}").contains("s3cret"));
    }

    fn raw_frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    fn decode_all(bytes: &[u8]) -> Result<Vec<Heartbeat>, FrameError> {
        let mut codec = ServerCodec::new(DEFAULT_MAX_FRAME);
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(hb) = codec.decode_eof(&mut buf)? {
            out.push(hb);
        }
        Ok(out)
    }

    fn reason(bytes: &[u8]) -> String {
        decode_all(bytes).unwrap_err().to_string()
    }

    #[test]
    fn encoded_frame_matches_python_struct_pack() {
        let frame = encode_frame(&heartbeat(42));
        let body = br#"{"ip":"10.0.0.7","status":"alive","pid":42}"#;
        assert_eq!(&frame[..], &raw_frame(body)[..]);
    }

    #[test]
    fn byte_at_a_time_stream_decodes_every_frame() {
        let stream: Vec<u8> = (0..20)
            .flat_map(|pid| encode_frame(&heartbeat(pid)))
            .collect();
        let mut codec = ServerCodec::new(DEFAULT_MAX_FRAME);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in stream {
            buf.put_u8(byte);
            while let Some(hb) = codec.decode(&mut buf).unwrap() {
                got.push(hb.pid);
            }
        }
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        assert!(buf.is_empty());
    }

    #[test]
    fn thousand_coalesced_frames_decode_from_one_buffer() {
        let stream: Vec<u8> = (0..1000)
            .flat_map(|pid| encode_frame(&heartbeat(pid)))
            .collect();
        let pids: Vec<u32> = decode_all(&stream).unwrap().iter().map(|h| h.pid).collect();
        assert_eq!(pids, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn runs_of_the_same_frame_are_taken_whole_and_any_other_bytes_start_a_new_one() {
        // pid 1 and pid 2 frames have the same length: only the bytes differ.
        let (one, two) = (encode_frame(&heartbeat(1)), encode_frame(&heartbeat(2)));
        let mut stream: Vec<u8> = [&one, &one, &one, &two, &one, &one]
            .iter()
            .flat_map(|f| f.iter().copied())
            .collect();
        stream.extend_from_slice(&one[..one.len() - 1]);
        let mut codec = ServerCodec::new(DEFAULT_MAX_FRAME);
        let mut buf = BytesMut::from(&stream[..]);
        let mut runs = Vec::new();
        while let Some(run) = codec.decode_run(&mut buf, false).unwrap() {
            runs.push((run.message.pid, run.frames));
        }
        assert_eq!(runs, [(1, 3), (2, 1), (1, 2)]);
        // The copy cut short waits for its last byte, and is taken alone.
        assert_eq!(buf.len(), one.len() - 1);
        buf.put_u8(*one.last().unwrap());
        let run = codec.decode_run(&mut buf, false).unwrap().unwrap();
        assert_eq!((run.message, run.frames), (heartbeat(1), 1));
        assert!(buf.is_empty());
    }

    proptest::proptest! {
        /// Whatever the frames and wherever the stream is cut, runs are
        /// the frame-by-frame decode with its repeats counted together.
        #[test]
        fn runs_are_the_frame_by_frame_decode_run_length_encoded(
            pids in proptest::collection::vec(proptest::sample::select(vec![1u32, 2, 300]), 0..60),
            cut in 0usize..100,
        ) {
            let stream: Vec<u8> = pids.iter().flat_map(|&pid| encode_frame(&heartbeat(pid))).collect();
            let stream = &stream[..stream.len().saturating_sub(cut)];
            let mut one_by_one: Vec<(u32, u64)> = Vec::new();
            let (mut codec, mut buf) = (ServerCodec::new(DEFAULT_MAX_FRAME), BytesMut::from(stream));
            while let Some(hb) = codec.decode(&mut buf).unwrap() {
                match one_by_one.last_mut() {
                    Some((pid, n)) if *pid == hb.pid => *n += 1,
                    _ => one_by_one.push((hb.pid, 1)),
                }
            }
            let mut runs = Vec::new();
            let mut whole = BytesMut::from(stream);
            while let Some(run) = codec.decode_run(&mut whole, false).unwrap() {
                runs.push((run.message.pid, run.frames));
            }
            proptest::prop_assert_eq!(runs, one_by_one);
            proptest::prop_assert_eq!(whole, buf);
        }
    }

    #[test]
    fn a_run_ends_at_a_bad_frame_and_a_cut_one_at_eof() {
        let one = encode_frame(&heartbeat(1));
        let mut stream = [&one[..], &one[..]].concat();
        stream.extend_from_slice(&raw_frame(b"nope"));
        stream.extend_from_slice(&one[..3]);
        let mut codec = ServerCodec::new(DEFAULT_MAX_FRAME);
        let mut buf = BytesMut::from(&stream[..]);
        let run = codec.decode_run(&mut buf, true).unwrap().unwrap();
        assert_eq!(run.frames, 2);
        let err = codec.decode_run(&mut buf, true).unwrap_err();
        assert!(matches!(err, FrameError::InvalidJson(_)), "{err}");
        let mut cut = BytesMut::from(&one[..3]);
        assert!(codec.decode_run(&mut cut, false).unwrap().is_none());
        let err = codec.decode_run(&mut cut, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "connection closed in the middle of a frame (3 bytes of it received)"
        );
        assert_eq!(codec.decode_run(&mut BytesMut::new(), true).unwrap(), None);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let body = br#"{"ip":"1.2.3.4","status":"leave","pid":7,"host":"db1","extra":[1,2]}"#;
        let hb = &decode_all(&raw_frame(body)).unwrap()[0];
        assert_eq!(
            (hb.ip.as_str(), hb.status, hb.pid),
            ("1.2.3.4", Status::Leave, 7)
        );
    }

    #[test]
    fn negative_length_is_rejected_before_the_body_arrives() {
        assert_eq!(reason(&(-5i32).to_be_bytes()), "negative frame length -5");
    }

    #[test]
    fn oversized_length_is_rejected_without_reserving_it() {
        let mut codec = ServerCodec::new(1024);
        let mut buf = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        let err = codec.decode(&mut buf).unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame length 2147483647 exceeds the limit of 1024 bytes"
        );
        assert!(buf.capacity() < 1024, "reserved {} bytes", buf.capacity());
    }

    #[test]
    fn each_bad_body_names_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty frame (length 0)"),
            (
                b"{\"ip\":\"\xff\"}",
                "frame is not valid UTF-8 (invalid byte at offset 7)",
            ),
            (
                b"{not json",
                "frame is not valid JSON: key must be a string",
            ),
            (
                br#"{"ip":"a","status":"alive"}"#,
                "invalid message: missing field `pid`",
            ),
            (
                br#"{"ip":1,"status":"alive","pid":1}"#,
                "invalid message: invalid type: integer `1`, expected a string",
            ),
            (
                br#"{"ip":"a","status":"alive","pid":"1"}"#,
                "invalid message: invalid type: string \"1\", expected u32",
            ),
            (
                br#"{"ip":"a","status":"alive","pid":-1}"#,
                "invalid message: invalid value: integer `-1`, expected u32",
            ),
            (
                br#"{"ip":"a","status":"dead","pid":1}"#,
                "invalid message: unknown variant `dead`, expected one of `alive`, `leave`, `close`",
            ),
            (br#"["a","alive",1]"#, "message must be a JSON object"),
            (b"42", "message must be a JSON object"),
            (b"nope", "frame is not valid JSON: expected ident"),
            (
                br#"{"ip": 127.0.0.1, "status": "alive", "pid": 1}"#,
                "frame is not valid JSON: expected `,` or `}`",
            ),
            (
                br#"{"ip":"a","status":1,"pid":1}"#,
                "invalid message: invalid type: integer `1`, expected one of \"alive\", \"leave\", \"close\"",
            ),
        ];
        for (body, expected) in cases {
            let got = reason(&raw_frame(body));
            assert!(
                got.starts_with(expected),
                "body {body:?}: got {got:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn eof_inside_a_frame_is_truncation_not_a_clean_close() {
        let frame = encode_frame(&heartbeat(1));
        assert_eq!(
            reason(&frame[..2]),
            "connection closed in the middle of a frame (2 bytes of it received)"
        );
        let cut = frame.len() - 3;
        assert_eq!(
            reason(&frame[..cut]),
            format!("connection closed in the middle of a frame ({cut} bytes of it received)")
        );
        assert!(decode_all(&[]).unwrap().is_empty());
    }

    #[test]
    fn client_codec_reads_notices() {
        let mut codec = ClientCodec::new(DEFAULT_MAX_FRAME);
        let mut buf = encode_frame(&Notice::close("kicked by operator"));
        let notice = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(notice, Notice::close("kicked by operator"));
    }
}
