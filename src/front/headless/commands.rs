//! The commands stdin takes, parsed apart from running them so that every
//! bad line gets an exact answer.

use std::net::SocketAddr;
use std::time::Duration;

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
    List,
    /// One client's story.
    Show {
        peer: SocketAddr,
    },
    Quit,
}

pub(super) const USAGE: &str = "commands: kick IP:PORT [HOLD], kick-leave [HOLD], list, quit (HOLD: refuse the client that long, e.g. 5m)";

/// Parses one line; `Ok(None)` for a blank one. Command words are not case
/// sensitive.
pub(super) fn parse(line: &str) -> Result<Option<Request>, String> {
    let mut words = line.split_whitespace();
    let Some(word) = words.next() else {
        return Ok(None);
    };
    let args: Vec<&str> = words.collect();
    let request = match (word.to_ascii_lowercase().as_str(), args.as_slice()) {
        ("kick", [peer, rest @ ..]) if rest.len() <= 1 => Request::Kick {
            peer: peer
                .parse()
                .map_err(|_| format!("kick: '{peer}' is not an ip:port address"))?,
            hold: hold(rest.first().copied())?,
        },
        ("kick", _) => return Err("usage: kick IP:PORT [HOLD]".to_owned()),
        ("kick-leave", rest) if rest.len() <= 1 => Request::KickLeave {
            hold: hold(rest.first().copied())?,
        },
        ("kick-leave", _) => return Err("usage: kick-leave [HOLD]".to_owned()),
        ("list", []) => Request::List,
        ("show", [peer]) => Request::Show {
            peer: peer
                .parse()
                .map_err(|_| format!("show: '{peer}' is not an ip:port address"))?,
        },
        ("show", _) => return Err("usage: show IP:PORT".to_owned()),
        ("quit", []) => Request::Quit,
        ("list" | "quit", _) => return Err(format!("{word} takes no arguments")),
        _ => return Err(format!("unknown command '{}' ({USAGE})", line.trim())),
    };
    Ok(Some(request))
}

fn hold(text: Option<&str>) -> Result<Option<Duration>, String> {
    text.map(|text| match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "'{text}' is not a hold-off time (write 30s, 5m, 1h)"
        )),
    })
    .transpose()
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
            Err("'soon' is not a hold-off time (write 30s, 5m, 1h)".into())
        );
        assert_eq!(parse("list now"), Err("list takes no arguments".into()));
        assert!(
            parse("dance")
                .unwrap_err()
                .starts_with("unknown command 'dance' (commands: kick")
        );
    }
}
