//! How flag values are read: durations, fractions, rates, each refused
//! with a reason that says how to write it.

use std::time::Duration;

/// A duration written `250ms`, `1s`, `2m` (zero allowed).
pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| {
        format!("'{text}' is not a duration: {e} (write durations like 1s, 250ms, 2m)")
    })
}

/// A number, or `off` (`None`). (A plain `Option` field would tell clap the
/// flag itself is optional.)
#[derive(Clone, Copy, Debug)]
pub struct OrOff(pub Option<f64>);

/// `--silence-guard`: a fraction above 0 and at most 1, or `off`.
pub fn fraction_or_off(text: &str) -> Result<OrOff, String> {
    if text == "off" {
        return Ok(OrOff(None));
    }
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(OrOff(Some(f))),
        _ => Err(format!(
            "'{text}' is not a fraction of the clients (write 0.5 for half, or off)"
        )),
    }
}

/// `--close-rate`: `N/s` with N above 0, or `off`.
pub fn rate_or_off(text: &str) -> Result<OrOff, String> {
    if text == "off" {
        return Ok(OrOff(None));
    }
    match text.strip_suffix("/s").map(str::parse::<f64>) {
        Some(Ok(rate)) if rate > 0.0 && rate.is_finite() => Ok(OrOff(Some(rate))),
        _ => Err(format!(
            "'{text}' is not a rate (write closes per second, like 100/s or 0.5/s, or off)"
        )),
    }
}

/// A number above zero.
pub fn positive_number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(n),
        _ => Err(format!("'{text}' is not a number above 0")),
    }
}

/// A duration greater than zero.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        d if d.is_zero() => Err("must be greater than zero".to_owned()),
        d => Ok(d),
    }
}
