//! The wire protocol: frames, the messages they carry, and what can go wrong
//! decoding them.
//!
//! A frame is a 4-byte big-endian *signed* length followed by that many bytes
//! of UTF-8 JSON, exactly what Python's `struct.pack("!i", n)` writes. Clients
//! send [`Heartbeat`]s; the server answers with [`Notice`]s when it changes a
//! client's status or closes it on purpose.
//!
//! This module owns framing and parsing only. It performs no I/O and holds no
//! policy about what to do with a bad peer: it says precisely what was wrong
//! ([`FrameError`]) and the caller decides.

use std::fmt;
use std::io;
use std::marker::PhantomData;

use bytes::{Buf, BufMut, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Decoder, Encoder};

/// Size of the length prefix.
const HEADER_LEN: usize = 4;

/// Default `--max-frame`: the largest body a peer may announce.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// A client's status, as reported on the wire and as decided by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Alive,
    Leave,
    Close,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Alive => "alive",
            Status::Leave => "leave",
            Status::Close => "close",
        }
    }
}

/// By hand because the derived form reports a status of the wrong JSON type
/// only as "expected value"; this one names what was found and what is allowed.
impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusName;
        impl serde::de::Visitor<'_> for StatusName {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one of \"alive\", \"leave\", \"close\"")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Status, E> {
                match name {
                    "alive" => Ok(Status::Alive),
                    "leave" => Ok(Status::Leave),
                    "close" => Ok(Status::Close),
                    other => Err(E::unknown_variant(other, &["alive", "leave", "close"])),
                }
            }
        }
        deserializer.deserialize_str(StatusName)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Client to server: "I am still here". Unknown extra fields are ignored so
/// that newer clients keep working with this server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The address the client believes it has (shown as reported).
    pub ip: String,
    /// The status the client reports. Only `close` (a polite goodbye) has an
    /// effect on the server; the others are displayed as reported.
    pub status: Status,
    pub pid: u32,
    /// The shared secret, required in a connection's first heartbeat when
    /// the server has one (`--token-file`, `HBMON_TOKEN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
}

/// A shared secret. Its `Debug` does not show it, so it cannot reach a log
/// by accident; it is never put in snapshots or events.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// A token from text; surrounding white space (a file's newline) is not
    /// part of it. `None` when nothing is left.
    pub fn new(text: &str) -> Option<Token> {
        let text = text.trim();
        (!text.is_empty()).then(|| Token(text.to_owned()))
    }

    /// The `Authorization` header value that carries it.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Compares in constant time (for tokens of the same length), so the
    /// time taken does not tell a guesser how much of a guess was right.
    pub fn matches(&self, other: &Token) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), other.0.as_bytes()).into()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The reason in the close frame every client gets when the server shuts
/// down: a clean end, which clients tell apart from a kick or a timeout.
pub const SHUTDOWN_REASON: &str = "server shutting down";

/// Server to client: the server changed this client's status, or is about to
/// close the connection, and says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub status: Status,
    pub reason: String,
    /// On a close: seconds the client should wait before it connects again
    /// (the server is full, or an operator kicked it). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Notice {
    pub fn new(status: Status, reason: impl Into<String>) -> Self {
        Notice {
            status,
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn close(reason: impl Into<String>) -> Self {
        Notice::new(Status::Close, reason)
    }

    /// The same notice, asking the client to wait this long before it
    /// connects again (rounded up to whole seconds).
    #[must_use]
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        self
    }
}

/// Why a byte stream could not be decoded. Every variant but `Io` is the
/// peer's fault and its `Display` is the reason sent back in the close frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("negative frame length {0}")]
    NegativeLength(i32),
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
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

impl<In: DeserializeOwned, Out> Decoder for JsonFrames<In, Out> {
    type Item = In;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        let Some(len) = self.body_len(src)? else {
            return Ok(None);
        };
        let frame_len = HEADER_LEN + len;
        if src.len() < frame_len {
            // Safe to reserve: `len` was checked against `max_frame`.
            src.reserve(frame_len - src.len());
            return Ok(None);
        }
        let message = parse_body(&src[HEADER_LEN..frame_len]);
        src.advance(frame_len);
        message.map(Some)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        match self.decode(src)? {
            Some(message) => Ok(Some(message)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::Truncated(src.len())),
        }
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
