//! Commands on stdin, one per line, read on a plain thread: a blocking read
//! then never holds up the runtime's shutdown, and a closed or absent stdin
//! simply ends the stream.
//!
//! Whatever arrives, the reader goes on: a line that is not UTF-8 or is
//! longer than [`MAX_LINE`] is reported (it becomes an `error` line) and
//! skipped, and a long line is discarded as it streams, never buffered whole.

use std::io::BufRead;

use tokio::sync::mpsc;

/// The longest command line kept; commands are a few dozen bytes.
pub(super) const MAX_LINE: usize = 4096;

/// One line of stdin: a command to parse, or why it was skipped.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Input {
    Line(String),
    Bad(String),
}

/// Reads stdin on a thread of its own until it ends.
pub(super) fn spawn() -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        read_lines(std::io::stdin().lock(), |input| {
            tx.blocking_send(input).is_ok()
        });
    });
    rx
}

/// Splits `input` into lines and hands each to `send` until the input ends
/// or `send` returns false.
pub(super) fn read_lines(mut input: impl BufRead, mut send: impl FnMut(Input) -> bool) {
    let mut line = Vec::new();
    // The line's whole length, including what was discarded past MAX_LINE.
    let mut length = 0usize;
    loop {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if chunk.is_empty() {
            if length > 0 {
                send(finish(&line, length));
            }
            break;
        }
        let newline = chunk.iter().position(|&b| b == b'\n');
        let part = &chunk[..newline.unwrap_or(chunk.len())];
        length += part.len();
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        let consumed = newline.map_or(chunk.len(), |i| i + 1);
        input.consume(consumed);
        if newline.is_some() {
            if !send(finish(&line, length)) {
                break;
            }
            line.clear();
            length = 0;
        }
    }
}

fn finish(line: &[u8], length: usize) -> Input {
    if length > MAX_LINE {
        return Input::Bad(format!(
            "a line of {length} bytes is longer than the limit of {MAX_LINE}; ignored"
        ));
    }
    match std::str::from_utf8(line) {
        Ok(text) => Input::Line(text.trim_end_matches('\r').to_owned()),
        Err(error) => Input::Bad(format!(
            "a line that is not UTF-8 (invalid byte at offset {}); ignored",
            error.valid_up_to()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<Input> {
        let mut seen = Vec::new();
        // A small buffer, so lines arrive in many chunks.
        let reader = std::io::BufReader::with_capacity(7, bytes);
        read_lines(reader, |input| {
            seen.push(input);
            true
        });
        seen
    }

    #[test]
    fn bad_bytes_and_long_lines_are_reported_and_reading_goes_on() {
        let mut input = b"list\n\xff\xfe\nkick 1.2.3.4:5\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend(b"\nquit");
        assert_eq!(
            lines(&input),
            [
                Input::Line("list".into()),
                Input::Bad("a line that is not UTF-8 (invalid byte at offset 0); ignored".into()),
                Input::Line("kick 1.2.3.4:5".into()),
                Input::Bad(
                    "a line of 10000 bytes is longer than the limit of 4096; ignored".into()
                ),
                Input::Line("quit".into()),
            ]
        );
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        let mut input = vec![b'a'; MAX_LINE];
        input.push(b'\n');
        assert_eq!(lines(&input), [Input::Line("a".repeat(MAX_LINE))]);
    }
}
