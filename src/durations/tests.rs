//! Every bound, against humantime as the reference: the parser never
//! panics, agrees with humantime within the bound, and names the limit past
//! it.

use proptest::prelude::*;

use super::*;

const BOUNDS: [Bound; 7] = [PERIOD, TIMEOUT, HOLD, RUN, LOOKBACK, WINDOW, MAINTENANCE];

/// Units humantime knows, in several spellings, and a few it does not.
const UNITS: [&str; 22] = [
    "", "ns", "us", "µs", "ms", "s", "sec", "secs", "m", "min", "mins", "h", "hr", "hours", "d",
    "days", "w", "weeks", "M", "months", "y", "years",
];

/// A number as an operator (or an attacker) might write it: small, large,
/// or past any limit, with a fraction now and then.
fn number() -> impl Strategy<Value = String> {
    let whole = prop_oneof![0..100u64, 0..1_000_000u64, any::<u64>()];
    let fraction = proptest::option::weighted(0.2, 0..1_000_000u32);
    (whole, fraction).prop_map(|(whole, fraction)| match fraction {
        Some(f) => format!("{whole}.{f}"),
        None => whole.to_string(),
    })
}

/// Texts that are mostly durations (one to three parts, `1h 30m`), and
/// arbitrary strings besides.
pub(crate) fn text() -> impl Strategy<Value = String> {
    let part = (number(), proptest::sample::select(UNITS.to_vec()))
        .prop_map(|(n, unit)| format!("{n}{unit}"));
    let written = proptest::collection::vec(part, 1..4).prop_map(|parts| parts.join(" "));
    prop_oneof![3 => written, 1 => any::<String>()]
}

/// Checks one answer of a parser against humantime: within `bound` the
/// same duration; past it, or too large for humantime, an error naming the
/// limit; an unreadable text, an error.
pub(crate) fn check(text: &str, bound: &Bound, got: Result<Duration, String>) {
    let limit = format!("at most {}", humantime::format_duration(bound.max));
    match humantime::parse_duration(text) {
        Ok(d) if d <= bound.max && (bound.zero || !d.is_zero()) => assert_eq!(got, Ok(d), "{text}"),
        Ok(d) if d > bound.max => {
            let error = got.expect_err(text);
            assert!(
                error.contains(&limit) && error.contains(bound.name),
                "{text}: {error}"
            );
        }
        Err(humantime::DurationError::NumberOverflow) => {
            let error = got.expect_err(text);
            assert!(error.contains(&limit), "{text}: {error}");
        }
        _ => assert!(got.is_err(), "{text}: {got:?}"),
    }
}

proptest! {
    /// No text panics the parser, and every answer agrees with humantime.
    #[test]
    fn every_bound_agrees_with_humantime_and_names_its_limit(
        text in text(),
        bound in proptest::sample::select(BOUNDS.to_vec()),
    ) {
        check(&text, &bound, parse(&text, &bound).map_err(|e| e.to_string()));
    }

    /// Anything over a bound, however far, is refused with the limit.
    #[test]
    fn past_the_limit_is_too_long(
        over in 1..u64::MAX,
        bound in proptest::sample::select(BOUNDS.to_vec()),
    ) {
        let secs = bound.max.as_secs().saturating_add(over);
        let text = format!("{secs}s");
        let error = parse(&text, &bound).unwrap_err();
        let too_long = matches!(error, DurationError::TooLong { .. });
        prop_assert!(too_long, "{:?}", error);
        let limit = format!("at most {}", humantime::format_duration(bound.max));
        prop_assert!(error.to_string().contains(&limit), "{}", error);
    }
}

#[test]
fn errors_say_what_was_written_what_for_and_the_limit() {
    let tick = Bound {
        name: "--tick",
        ..PERIOD
    };
    assert_eq!(
        parse("300000000000years", &tick).unwrap_err().to_string(),
        "'300000000000years' is too long for --tick: at most 1h"
    );
    assert_eq!(
        parse("99999999999999999999999s", &tick)
            .unwrap_err()
            .to_string(),
        "'99999999999999999999999s' is too long for --tick: at most 1h"
    );
    assert_eq!(
        parse("0s", &tick).unwrap_err().to_string(),
        "'0s' is too short for --tick: it must be greater than zero"
    );
    assert_eq!(
        parse("soon", &tick).unwrap_err().to_string(),
        "'soon' is not a duration for --tick: expected number at 0 (write durations like 1s, 250ms, 2m, at most 1h)"
    );
    assert_eq!(parse("1h", &tick), Ok(Duration::from_secs(3600)));
    assert_eq!(parse("0s", &WINDOW), Ok(Duration::ZERO));
    assert_eq!(parse("1year", &HOLD), Ok(Duration::from_secs(YEAR)));
    assert_eq!(
        parse("31d", &MAINTENANCE).unwrap_err().to_string(),
        "'31d' is too long for a maintenance window: at most 30days"
    );
}

proptest! {
    /// `history --since`: a duration back from now within a century, else
    /// a time, else an error; never a panic.
    #[test]
    fn since_is_a_bounded_duration_back_or_a_time(text in text()) {
        let before = std::time::SystemTime::now();
        let got = crate::history::parse_since(&text);
        let after = std::time::SystemTime::now();
        match humantime::parse_duration(&text) {
            Ok(ago) if ago <= LOOKBACK.max => {
                let since = got.unwrap();
                prop_assert!(before.checked_sub(ago) <= Some(since), "{}", text);
                prop_assert!(Some(since) <= after.checked_sub(ago), "{}", text);
            }
            Ok(_) => prop_assert_eq!(got, Err(too_long(&text))),
            Err(humantime::DurationError::NumberOverflow) if !text.contains('.') => {
                prop_assert_eq!(got, Err(too_long(&text)));
            }
            _ => prop_assert_eq!(got.ok(), humantime::parse_rfc3339_weak(&text).ok()),
        }
    }
}

fn too_long(text: &str) -> String {
    format!("'{text}' is too long for --since: at most 100years")
}
