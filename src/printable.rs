//! Text from outside made safe to print on a terminal.
//!
//! A peer's ip or status, a reason that quotes what a peer sent, a journal
//! line, a config value, an answer from a server: any of them may hold
//! control characters, and a terminal obeys those (an `ESC ]0;…BEL` retitles
//! the window, a CSI moves the cursor or rewrites what is already on screen,
//! a bidi override makes a line read differently from its bytes). So every
//! piece of text bound for a terminal passes through here once, at the edge
//! where it is written: [`text`] for lines meant for people, [`json`] for
//! JSON lines. Nothing else in the crate needs to know which characters
//! are dangerous.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether a terminal may act on `c` rather than show it: the C0 controls
/// (newline and tab included: a peer's newline would forge a line of its
/// own), DEL, the C1 controls (a UTF-8 encoded CSI is still a CSI to some
/// terminals), and the bidi marks, embeddings, overrides and isolates.
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with each unsafe character written visibly, as Rust writes it
/// (`\u{1b}`), so an operator sees what was sent and the terminal acts on
/// none of it. Borrowed when there is nothing to escape, which is nearly
/// always.
pub fn text(text: &str) -> Cow<'_, str> {
    escape(text, is_unsafe, |c, out| {
        let _ = write!(out, "{}", c.escape_unicode());
    })
}

/// JSON (a document, or lines or events of it) with each unsafe character
/// that serde leaves raw (DEL, C1, bidi) written as a `\uXXXX` escape. In
/// valid JSON such a character can only be inside a string, where the
/// escape means the same character: a program reading the line sees the
/// same values, a terminal showing it sees no controls. C0 is left alone:
/// serde escapes it inside strings, so what remains is the whitespace
/// between values and lines.
pub fn json(json: &str) -> Cow<'_, str> {
    escape(
        json,
        |c| is_unsafe(c) && c >= ' ',
        |c, out| {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        },
    )
}

fn escape(
    text: &str,
    unsafe_here: impl Fn(char) -> bool,
    write: impl Fn(char, &mut String),
) -> Cow<'_, str> {
    if !text.chars().any(&unsafe_here) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_here(c) {
            write(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_not_obeyed() {
        assert_eq!(
            text("a\u{1b}]0;PWNED\u{7}b"),
            "a\\u{1b}]0;PWNED\\u{7}b",
            "an OSC that would retitle the window"
        );
        assert_eq!(text("x\ny\tz\r"), "x\\u{a}y\\u{9}z\\u{d}");
        assert_eq!(text("\u{7f}\u{9b}2J"), "\\u{7f}\\u{9b}2J");
        assert_eq!(text("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(text("\u{2067}x\u{2069}"), "\\u{2067}x\\u{2069}");
    }

    #[test]
    fn ordinary_text_is_untouched_and_not_copied() {
        for s in [
            "10.0.0.7:5000 alive",
            "café ünïcode ✓ 日本",
            "a\\u{1b}b",
            "",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(t) if t == s), "{s}");
            assert!(matches!(json(s), Cow::Borrowed(t) if t == s), "{s}");
        }
    }

    #[test]
    fn json_keeps_its_values_and_loses_its_controls() {
        let value = serde_json::json!({
            "reason": "\u{1b}[2J \u{7f} \u{9b}31m \u{202e}evil \u{85}",
        });
        let raw = serde_json::to_string(&value).unwrap();
        assert!(raw.chars().any(is_unsafe), "serde leaves DEL and C1 raw");
        let safe = json(&raw);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }
}
