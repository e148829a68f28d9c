//! Time arithmetic that cannot panic. A duration reaching the server has
//! been bounded where it was parsed, but the library takes a [`Config`]
//! and commands from any caller: adding to an instant here is checked, so
//! that no value, however it got in, can stop the server.
//!
//! [`Config`]: crate::server::Config

use std::time::Duration;

use tokio::time::Instant;

/// `at + by`, or, should that overflow the clock, an instant so far off it
/// never comes.
pub(crate) fn later(at: Instant, by: Duration) -> Instant {
    const FAR: [Duration; 3] = [
        Duration::from_secs(30 * 365 * 86_400),
        Duration::from_secs(365 * 86_400),
        Duration::from_secs(86_400),
    ];
    at.checked_add(by)
        .or_else(|| FAR.iter().find_map(|&far| at.checked_add(far)))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_any_duration_never_panics_and_never_goes_back() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(later(now, Duration::MAX) > now + Duration::from_secs(86_400));
    }
}
