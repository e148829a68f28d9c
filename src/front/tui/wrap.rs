//! Text too long for one line, on several: reasons and messages a server
//! sends can be longer than the terminal is wide, and their end is often
//! the part that says what to do.

use ratatui::text::Span;

/// `text` on lines of at most `width` columns (at least one character a
/// line), broken at spaces, and inside a word only if it is wider than a
/// line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let cols = |text: &str| Span::raw(text).width();
    let (mut lines, mut line) = (Vec::new(), String::new());
    for word in text.split_whitespace() {
        if !line.is_empty() && cols(&line) + 1 + cols(word) > width {
            lines.push(std::mem::take(&mut line));
        } else if !line.is_empty() {
            line.push(' ');
        }
        for c in word.chars() {
            line.push(c);
            if cols(&line) > width && line.chars().nth(1).is_some() {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_at_spaces_and_inside_a_word_only_when_it_is_too_long() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij x", 4), ["abcd", "efgh", "ij x"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("ab", 0), ["a", "b"]);
        assert_eq!(wrap("φφφ ab", 3), ["φφφ", "ab"]);
    }
}
