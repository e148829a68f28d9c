//! Times as frames carry them: wall times in milliseconds since the Unix
//! epoch, and ages in milliseconds back from the frame's own moment.

use std::time::{Duration, SystemTime};

use super::{LATEST_MS, WireError};

pub(super) fn ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` after the epoch, if it is one a viewer can show.
pub(super) fn from_ms(ms: u64) -> Result<SystemTime, WireError> {
    if ms > LATEST_MS {
        return Err(WireError::TooLate(ms));
    }
    Ok(SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
}

pub(super) fn ago_ms(taken: SystemTime, at: SystemTime) -> u32 {
    taken
        .duration_since(at)
        .map_or(0, |d| d.as_millis().min(u128::from(u32::MAX)) as u32)
}

/// `ago_ms` milliseconds before `taken`.
pub(super) fn back(taken: SystemTime, ago_ms: u32) -> SystemTime {
    (taken.checked_sub(Duration::from_millis(u64::from(ago_ms)))).unwrap_or(SystemTime::UNIX_EPOCH)
}
