//! The commands stdin takes, parsed apart from running them so that every
//! bad line gets an exact answer.

use std::net::SocketAddr;
use std::time::Duration;

use crate::durations;

/// One parsed command.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Request {
    /// Close one client; `hold` refuses it (same ip and pid) for that long.
    Kick {
        peer: SocketAddr,
        hold: Option<Duration>,
    },
    /// Close every client in `leave`.
    KickLeave {
        hold: Option<Duration>,
    },
    /// Put one client into maintenance for `length`, or end its window
    /// (`None`).
    Maintenance {
        peer: SocketAddr,
        length: Option<Duration>,
    },
    List,
    /// One client's story.
    Show {
        peer: SocketAddr,
    },
    Quit,
}

/// Every command and how it is written: the one list that both the parser
/// and the `unknown command` answer read, so the answer cannot leave one out.
const COMMANDS: [(&str, &str); 6] = [
    ("kick", "kick IP:PORT [HOLD]"),
    ("kick-leave", "kick-leave [HOLD]"),
    ("maintenance", "maintenance IP:PORT DURATION|off"),
    ("list", "list"),
    ("show", "show IP:PORT"),
    ("quit", "quit"),
];

/// The answer to a line that is no command: every command, and what HOLD is.
fn usage() -> String {
    let all: Vec<&str> = COMMANDS.iter().map(|(_, usage)| *usage).collect();
    format!(
        "commands: {} (HOLD: refuse the client that long, e.g. 5m)",
        all.join(", ")
    )
}

/// How `name` is written, for its `usage:` answer.
fn usage_of(name: &str) -> String {
    let usage = COMMANDS.iter().find(|(n, _)| *n == name).map(|(_, u)| *u);
    format!("usage: {}", usage.unwrap_or(name))
}

/// Parses one line; `Ok(None)` for a blank one. Command words are not case
/// sensitive.
pub(super) fn parse(line: &str) -> Result<Option<Request>, String> {
    let mut words = line.split_whitespace();
    let Some(word) = words.next() else {
        return Ok(None);
    };
    let name = word.to_ascii_lowercase();
    let Some((name, _)) = COMMANDS.iter().find(|(n, _)| *n == name) else {
        return Err(format!("unknown command '{}' ({})", line.trim(), usage()));
    };
    let args: Vec<&str> = words.collect();
    let request = match (*name, args.as_slice()) {
        ("kick", [peer, rest @ ..]) if rest.len() <= 1 => Request::Kick {
            peer: peer
                .parse()
                .map_err(|_| format!("kick: '{peer}' is not an ip:port address"))?,
            hold: hold(rest.first().copied())?,
        },
        ("kick-leave", rest) if rest.len() <= 1 => Request::KickLeave {
            hold: hold(rest.first().copied())?,
        },
        ("maintenance", [peer, length]) => Request::Maintenance {
            peer: peer
                .parse()
                .map_err(|_| format!("maintenance: '{peer}' is not an ip:port address"))?,
            length: maintenance_length(length)?,
        },
        ("list", []) => Request::List,
        ("show", [peer]) => Request::Show {
            peer: peer
                .parse()
                .map_err(|_| format!("show: '{peer}' is not an ip:port address"))?,
        },
        ("quit", []) => Request::Quit,
        ("list" | "quit", _) => return Err(format!("{word} takes no arguments")),
        (name, _) => return Err(usage_of(name)),
    };
    Ok(Some(request))
}

/// A kick's HOLD, within [`durations::HOLD`].
fn hold(text: Option<&str>) -> Result<Option<Duration>, String> {
    text.map(|text| durations::parse(text, &durations::HOLD).map_err(|e| e.to_string()))
        .transpose()
}

/// A maintenance window's DURATION, or `off`: see [`durations::window`].
fn maintenance_length(text: &str) -> Result<Option<Duration>, String> {
    durations::window(text, durations::MAINTENANCE.name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_case_insensitively_with_an_optional_hold_off() {
        let peer: SocketAddr = "10.0.0.7:5000".parse().unwrap();
        assert_eq!(parse("LIST"), Ok(Some(Request::List)));
        assert_eq!(
            parse("show 10.0.0.7:5000"),
            Ok(Some(Request::Show { peer }))
        );
        assert_eq!(parse("  "), Ok(None));
        assert_eq!(
            parse("Kick 10.0.0.7:5000"),
            Ok(Some(Request::Kick { peer, hold: None }))
        );
        assert_eq!(
            parse("kick 10.0.0.7:5000 5m"),
            Ok(Some(Request::Kick {
                peer,
                hold: Some(Duration::from_secs(300))
            }))
        );
        assert_eq!(
            parse("kick-leave 1h"),
            Ok(Some(Request::KickLeave {
                hold: Some(Duration::from_secs(3600))
            }))
        );
    }

    #[test]
    fn bad_commands_say_exactly_what_was_wrong() {
        assert_eq!(parse("kick"), Err("usage: kick IP:PORT [HOLD]".into()));
        assert_eq!(
            parse("kick host:1"),
            Err("kick: 'host:1' is not an ip:port address".into())
        );
        assert_eq!(
            parse("kick 1.2.3.4:5 soon"),
            Err("'soon' is not a duration for a hold-off: expected number at 0 (write durations like 1s, 250ms, 2m, at most 1year)".into())
        );
        assert_eq!(parse("list now"), Err("list takes no arguments".into()));
        assert!(
            parse("dance")
                .unwrap_err()
                .starts_with("unknown command 'dance' (commands: kick")
        );
        assert_eq!(parse("show"), Err("usage: show IP:PORT".into()));
    }

    #[test]
    fn the_unknown_command_answer_names_every_command_there_is() {
        let answer = parse("dance").unwrap_err();
        let commands = [
            ("kick 10.0.0.7:5000 5m", "kick IP:PORT [HOLD]"),
            ("kick-leave 1h", "kick-leave [HOLD]"),
            ("list", "list"),
            ("show 10.0.0.7:5000", "show IP:PORT"),
            ("quit", "quit"),
        ];
        for (line, written) in commands {
            assert!(matches!(parse(line), Ok(Some(_))), "{line} is a command");
            assert!(answer.contains(written), "{written} missing from: {answer}");
        }
    }

    #[test]
    fn maintenance_takes_a_peer_and_a_bounded_duration_or_off() {
        let peer: SocketAddr = "10.0.0.7:5000".parse().unwrap();
        assert_eq!(
            parse("maintenance 10.0.0.7:5000 10m"),
            Ok(Some(Request::Maintenance {
                peer,
                length: Some(Duration::from_secs(600))
            }))
        );
        assert_eq!(
            parse("Maintenance 10.0.0.7:5000 OFF"),
            Ok(Some(Request::Maintenance { peer, length: None }))
        );
        assert_eq!(
            parse("maintenance 10.0.0.7:5000"),
            Err("usage: maintenance IP:PORT DURATION|off".into())
        );
        assert_eq!(
            parse("maintenance web1 10m"),
            Err("maintenance: 'web1' is not an ip:port address".into())
        );
        assert_eq!(
            parse("maintenance 10.0.0.7:5000 31d"),
            Err("'31d' is too long for a maintenance window: at most 30days".into())
        );
        assert!(
            parse("dance")
                .unwrap_err()
                .contains("maintenance IP:PORT DURATION|off")
        );
    }

    proptest::proptest! {
        /// A kick's HOLD is any duration up to a year: never a panic, and
        /// past a year an error naming the limit.
        #[test]
        fn a_kick_hold_is_a_duration_of_at_most_a_year(text in crate::durations::tests::text()) {
            let got = parse(&format!("kick 10.0.0.7:5000 {text}"));
            if let [word] = text.split_whitespace().collect::<Vec<_>>()[..] {
                let hold = got.map(|request| match request {
                    Some(Request::Kick { hold: Some(hold), .. }) => hold,
                    other => panic!("{other:?}"),
                });
                crate::durations::tests::check(word, &durations::HOLD, hold);
            }
        }
    }
}
