//! Durations from outside (flags, the config file, `HBMON_*` variables,
//! stdin commands, the operator API), each read against the limit of what
//! it is for.
//!
//! One parser for all of them, so that every duration an operator writes is
//! read the same way and refused with the same words: what was written,
//! what it was for, and the limit. A bound is checked where the text is
//! parsed; past that point a duration is known to be small enough that
//! adding it to an instant cannot overflow.

use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// humantime's year (365.25 days), so that the limit prints as `1year`.
const YEAR: u64 = 31_557_600;

/// What a duration is for: how errors name it, and the range it must fall in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The flag or field, as the operator wrote it: `--tick`, `hold`.
    pub name: &'static str,
    /// Whether zero is allowed (it usually means "off" or "at once").
    pub zero: bool,
    pub max: Duration,
}

impl Bound {
    /// The same limit, with zero allowed.
    pub const fn or_zero(self) -> Bound {
        Bound { zero: true, ..self }
    }
}

/// How often something recurs (the liveness tick, a heartbeat, a stats
/// line): at most an hour. A heartbeat monitor that looks less often than
/// hourly notices nothing in time to act on, and a longer period is a slip
/// of the unit.
pub const PERIOD: Bound = Bound {
    name: "a period",
    zero: false,
    max: Duration::from_secs(HOUR),
};

/// How long to wait for something before giving up on it (a hello, a
/// frame, a hook, a client in `leave`): at most a day. Any of these still
/// pending after a day has failed, and the server's table should say so.
pub const TIMEOUT: Bound = Bound {
    name: "a timeout",
    zero: false,
    max: Duration::from_secs(DAY),
};

/// How long socket events may wait to be handled together
/// (`--batch-window`): at most a second. It delays every heartbeat by up to
/// this much, and a second is already ten times what saves wake-ups.
pub const WINDOW: Bound = Bound {
    name: "--batch-window",
    zero: true,
    max: Duration::from_secs(1),
};

/// How long a kicked client is refused: at most a year. Hold-offs live in
/// the server's memory and end with it, and no server runs a year without a
/// restart, so a longer hold-off would promise what it cannot keep.
pub const HOLD: Bound = Bound {
    name: "a hold-off",
    zero: false,
    max: Duration::from_secs(YEAR),
};

/// How long a maintenance window lasts: at most 30 days. A window keeps a
/// client out of the rules' reach, and one left open longer than a month is
/// a client nobody watches any more: kick it, or let it be judged again.
pub const MAINTENANCE: Bound = Bound {
    name: "a maintenance window",
    zero: false,
    max: Duration::from_secs(30 * DAY),
};

/// How long a run lasts (`simulate --duration`, `bench --duration`): at
/// most a year, as long as a soak test could be asked to run.
pub const RUN: Bound = Bound {
    name: "a run",
    zero: false,
    max: Duration::from_secs(YEAR),
};

/// How far back `history --since` looks: at most a century, which reaches
/// before any journal was written.
pub const LOOKBACK: Bound = Bound {
    name: "--since",
    zero: true,
    max: Duration::from_secs(100 * YEAR),
};

/// Why a duration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error(
        "'{text}' is not a duration for {}: {reason} (write durations like 1s, 250ms, 2m, at most {})",
        .bound.name, humantime::format_duration(.bound.max)
    )]
    Unreadable {
        text: String,
        reason: String,
        bound: Bound,
    },
    #[error("'{text}' is too long for {}: at most {}", .bound.name, humantime::format_duration(.bound.max))]
    TooLong { text: String, bound: Bound },
    #[error("'{text}' is too short for {}: it must be greater than zero", .bound.name)]
    Zero { text: String, bound: Bound },
}

/// Reads `text` (`250ms`, `5m`, `1h 30m`) as a duration within `bound`.
pub fn parse(text: &str, bound: &Bound) -> Result<Duration, DurationError> {
    let too_long = || DurationError::TooLong {
        text: text.to_owned(),
        bound: *bound,
    };
    match humantime::parse_duration(text) {
        Ok(d) if d > bound.max => Err(too_long()),
        Ok(d) if d.is_zero() && !bound.zero => Err(DurationError::Zero {
            text: text.to_owned(),
            bound: *bound,
        }),
        Ok(d) => Ok(d),
        // Past what humantime can hold, or finer than a nanosecond: with no
        // fraction written, only the first.
        Err(humantime::DurationError::NumberOverflow) if !text.contains('.') => Err(too_long()),
        Err(e) => Err(DurationError::Unreadable {
            text: text.to_owned(),
            reason: e.to_string(),
            bound: *bound,
        }),
    }
}

/// What ends a maintenance window where its length would go.
pub const OFF: &str = "off";

/// A maintenance window's length as an operator writes it on any front
/// end: a duration within [`MAINTENANCE`] (named `name` in errors), or
/// `off` (`None`), which ends the window.
pub fn window(text: &str, name: &'static str) -> Result<Option<Duration>, DurationError> {
    if text.trim().eq_ignore_ascii_case(OFF) {
        return Ok(None);
    }
    let bound = Bound {
        name,
        ..MAINTENANCE
    };
    parse(text, &bound).map(Some)
}

#[cfg(test)]
pub(crate) mod tests;
