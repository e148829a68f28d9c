//! How flag values are read: durations, fractions, rates, each refused
//! with a reason that says how to write it.

use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use hbmon::durations::{self, Bound, DurationError};
use hbmon::feed::event::Format;

/// The value parser of the duration flag `name`: a duration written `250ms`,
/// `1s`, `2m`, within `bound` (see [`durations`] for why each limit).
pub fn within(
    name: &'static str,
    bound: Bound,
) -> impl Fn(&str) -> Result<Duration, DurationError> + Clone + Send + Sync + 'static {
    let bound = Bound { name, ..bound };
    move |text| durations::parse(text, &bound)
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

/// `--format`: how a front end writes what it reads. The choices are named
/// here rather than derived on [`Format`], so that the feed, which every
/// front end shares, does not depend on the command line's parser.
pub fn format() -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new([
        PossibleValue::new("text").help("Human-readable lines"),
        PossibleValue::new("json").help("One JSON object per line"),
    ])
    .map(|name| match name.as_str() {
        "json" => Format::Json,
        _ => Format::Text,
    })
}

#[cfg(test)]
mod tests {
    use std::any::TypeId;

    use super::*;

    /// Every flag of every subcommand that takes a duration is read within
    /// a bound, and says so naming itself.
    #[test]
    fn every_duration_flag_refuses_300000000000_years_naming_its_limit() {
        let command = crate::settings::command();
        let mut checked = Vec::new();
        for sub in command.get_subcommands() {
            for arg in sub.get_arguments() {
                let (Some(long), true) = (
                    arg.get_long(),
                    arg.get_value_parser().type_id() == TypeId::of::<Duration>(),
                ) else {
                    continue;
                };
                let flag = format!("--{long}");
                let args = ["hbmon", sub.get_name(), &flag, "300000000000years"];
                let error = crate::settings::command()
                    .try_get_matches_from(args)
                    .err()
                    .unwrap_or_else(|| panic!("{args:?} was accepted"))
                    .to_string();
                let expected = format!("'300000000000years' is too long for {flag}: at most ");
                assert!(error.contains(&expected), "{args:?}: {error}");
                checked.push(format!("{} {flag}", sub.get_name()));
            }
        }
        assert!(checked.len() >= 15, "{checked:?}");
    }
}
