//! Folding styled text onto lines of a given width, so that a long close
//! reason, event or disconnect reason is read whole on a narrow terminal
//! instead of being cut off at its edge.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Lays `spans` out on lines of at most `width` columns, breaking at spaces
/// and inside a word only when the word alone is wider than a line. Lines
/// after the first start `indent` columns in, so a continuation sits under
/// the text rather than under a leading label (an event's time, say).
pub fn wrap(spans: &[Span<'_>], width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut folder = Folder {
        lines: Vec::new(),
        line: Vec::new(),
        used: 0,
        width,
        indent: indent.min(width - 1),
        fresh: false,
    };
    for span in spans {
        for piece in span.content.split_inclusive(' ') {
            folder.piece(piece, span.style);
        }
    }
    folder.finish()
}

struct Folder {
    lines: Vec<Line<'static>>,
    line: Vec<Span<'static>>,
    /// Columns used on the current line.
    used: usize,
    width: usize,
    indent: usize,
    /// The current line is a continuation with nothing on it yet.
    fresh: bool,
}

impl Folder {
    /// Places a word and the spaces after it.
    fn piece(&mut self, piece: &str, style: Style) {
        let word = piece.trim_end_matches(' ');
        if word.is_empty() && self.fresh {
            // A continuation does not start with the space it broke at.
            return;
        }
        if self.used + word.width() > self.width && !self.fresh && self.used > 0 {
            self.newline();
        }
        let mut rest = word;
        while rest.width() > self.width - self.used {
            let empty = self.fresh || self.line.is_empty();
            let (head, tail) = split_at_width(rest, self.width - self.used, empty);
            self.push(head, style);
            self.newline();
            rest = tail;
        }
        self.push(rest, style);
        let spaces = &piece[word.len()..];
        if !spaces.is_empty() && self.used < self.width {
            self.push(spaces, style);
        }
    }

    fn push(&mut self, text: &str, style: Style) {
        if text.is_empty() {
            return;
        }
        self.used = (self.used + text.width()).min(self.width);
        self.fresh = false;
        self.line.push(Span::styled(text.to_owned(), style));
    }

    /// Ends the current line (without its trailing spaces) and starts a
    /// continuation.
    fn newline(&mut self) {
        if let Some(last) = self.line.last_mut() {
            let trimmed = last.content.trim_end_matches(' ').to_owned();
            last.content = trimmed.into();
        }
        let line = std::mem::take(&mut self.line);
        self.lines.push(Line::from(line));
        self.used = self.indent;
        self.fresh = true;
        if self.indent > 0 {
            self.line.push(Span::raw(" ".repeat(self.indent)));
        }
    }

    fn finish(mut self) -> Vec<Line<'static>> {
        if !self.line.is_empty() || self.lines.is_empty() {
            self.lines.push(Line::from(self.line));
        }
        self.lines
    }
}

/// The longest head of `text` that fits in `room` columns, and the rest. On
/// an empty line the head takes at least one character, so a character
/// wider than the whole line cannot stall the folding.
fn split_at_width(text: &str, room: usize, empty_line: bool) -> (&str, &str) {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        used += c.width().unwrap_or(0);
        if used > room {
            let at = if at == 0 && empty_line {
                c.len_utf8()
            } else {
                at
            };
            return text.split_at(at);
        }
    }
    (text, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn words_fold_at_spaces_and_continuations_are_indented() {
        let spans = [Span::raw("12:00:01 "), Span::raw("one two three four")];
        let lines = wrap(&spans, 16, 9);
        assert_eq!(
            texts(&lines),
            ["12:00:01 one two", "         three", "         four"]
        );
        assert!(lines.iter().all(|l| l.width() <= 16));
    }

    #[test]
    fn a_word_wider_than_a_line_is_split_and_nothing_is_lost() {
        let text = "reason: aaaaaaaaaaaaaaaaaaaaaaaa end";
        let lines = wrap(&[Span::raw(text)], 10, 0);
        assert!(lines.iter().all(|l| l.width() <= 10), "{lines:?}");
        let joined: String = texts(&lines).concat();
        assert_eq!(joined.replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn wide_characters_on_a_one_column_line_still_make_progress() {
        let lines = wrap(&[Span::raw("日本語")], 1, 4);
        assert_eq!(texts(&lines), ["日", "本", "語"]);
        assert_eq!(texts(&wrap(&[], 10, 0)), [""]);
    }
}
