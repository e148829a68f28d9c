//! The wire protocol: frames, the messages they carry, and what can go wrong
//! decoding them.
//!
//! A frame is a 4-byte big-endian *signed* length followed by that many bytes
//! of UTF-8 JSON, exactly what Python's `struct.pack("!i", n)` writes. Clients
//! send [`Heartbeat`]s; the server answers with [`Notice`]s when it changes a
//! client's status or closes it on purpose.
//!
//! The messages are here; `frames` turns bytes into them and back.
//!
//! This module owns framing and parsing only. It performs no I/O and holds no
//! policy about what to do with a bad peer: it says precisely what was wrong
//! ([`FrameError`]) and the caller decides.

mod frames;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use frames::{ClientCodec, FrameError, JsonFrames, Run, ServerCodec, encode_frame};

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

    /// Whether `guess` is this secret, in time that depends on the guess's
    /// length alone: neither how much of a guess was right nor how long the
    /// secret is shows in the time taken (a plain constant-time compare
    /// returns at once on a length mismatch, which tells a guesser the
    /// length). The secret is read cyclically, one byte per byte guessed,
    /// its position wrapping without a branch.
    pub fn matches(&self, guess: &Token) -> bool {
        use subtle::{ConditionallySelectable, ConstantTimeEq};
        let (secret, guess) = (self.0.as_bytes(), guess.0.as_bytes());
        let length = secret.len() as u64;
        let mut same = length.ct_eq(&(guess.len() as u64));
        let mut at = 0u64;
        for byte in guess {
            let expected = usize::try_from(at)
                .ok()
                .and_then(|at| secret.get(at))
                .copied()
                .unwrap_or(0);
            same &= byte.ct_eq(&expected);
            let next = at.saturating_add(1);
            at = u64::conditional_select(&next, &0, next.ct_eq(&length));
        }
        same.into()
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
        self.retry_after = Some(
            wait.as_secs()
                .saturating_add(u64::from(wait.subsec_nanos() > 0)),
        );
        self
    }
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use super::Token;

    /// The fastest of several compares of `guess` against `secret`.
    fn fastest(secret: &Token, guess: &Token) -> Duration {
        (0..9)
            .map(|_| {
                let started = Instant::now();
                black_box(black_box(secret).matches(black_box(guess)));
                started.elapsed()
            })
            .min()
            .unwrap()
    }

    #[test]
    fn the_compare_takes_as_long_whatever_the_secret_s_length() {
        let guess = Token("a".repeat(1 << 18));
        let as_long = Token("b".repeat(1 << 18));
        let longer = Token("b".repeat((1 << 18) + 1));
        let shorter = Token("b".repeat(3));
        let base = fastest(&as_long, &guess);
        for secret in [&longer, &shorter] {
            let time = fastest(secret, &guess);
            assert!(
                time * 4 > base && base * 4 > time,
                "a secret of {} bytes took {time:?}, one as long as the guess {base:?}",
                secret.0.len()
            );
        }
    }

    #[test]
    fn only_the_secret_itself_matches() {
        let secret = Token::new("s3cret").unwrap();
        assert!(secret.matches(&Token::new("s3cret").unwrap()));
        for guess in ["s3creT", "s3cre", "s3crets3cret", "s3cret-longer", "x"] {
            assert!(!secret.matches(&Token::new(guess).unwrap()), "{guess}");
        }
        assert!(!secret.matches(&Token(String::new())));
        assert!(!Token(String::new()).matches(&secret));
        assert!(Token(String::new()).matches(&Token(String::new())));
    }
}
