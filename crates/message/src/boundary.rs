//! Splitting a multipart body at its boundary delimiters (RFC 2046 5.1.1).
//!
//! One pass over the lines of the body. A delimiter is a line `--boundary`,
//! optionally followed by `--` (the close delimiter) or by whitespace and anything
//! (Cyrus accepts that junk; a boundary that is only a prefix of the line's word is
//! no match). The line break before a delimiter belongs to it, not to the part.
//! Preamble and epilogue are not parts. A missing close delimiter ends the last part
//! at the end of the body. `close_at_end` tells that the close delimiter is the last
//! text of the body with no line break after it (the enclosing split took that break
//! for its own delimiter): Cyrus then counts the break into this multipart after all. At most `max` parts are returned: the text from the
//! start of the one past `max` is merged into the last part, which is then marked
//! `capped` so the caller treats it as opaque.

use std::ops::Range;

use crate::lines::{before_break, lines};

pub(crate) struct Split {
    pub parts: Vec<Range<usize>>,
    pub capped: bool,
    pub close_at_end: bool,
}

/// The parts of `raw[body]`, or `None` if no delimiter line opens one.
pub(crate) fn split(raw: &[u8], body: Range<usize>, boundary: &[u8], max: usize) -> Option<Split> {
    let end = body.end.min(raw.len());
    let mut parts: Vec<Range<usize>> = Vec::new();
    let mut start: Option<usize> = None;
    for line in lines(raw, body) {
        let Some(close) = delimiter(&raw[line.start..line.content_end], boundary) else { continue };
        if let Some(s) = start {
            parts.push(s..before_break(raw, line.start, s));
        }
        if close {
            let close_at_end = line.content_end == end && !parts.is_empty();
            return Some(Split { parts, capped: false, close_at_end }).filter(|s| !s.parts.is_empty());
        }
        if parts.len() >= max.max(1) {
            if let Some(last) = parts.last_mut() {
                last.end = end;
            }
            return Some(Split { parts, capped: true, close_at_end: false });
        }
        start = Some(line.end);
    }
    if let Some(s) = start {
        parts.push(s..end);
    }
    (!parts.is_empty()).then_some(Split { parts, capped: false, close_at_end: false })
}

/// `Some(close?)` if the line is a delimiter for `boundary`.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    if rest.starts_with(b"--") {
        return Some(true);
    }
    matches!(rest.first(), None | Some(b' ' | b'\t')).then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(raw: &[u8], max: usize) -> Option<(Vec<&[u8]>, bool)> {
        split(raw, 0..raw.len(), b"b", max).map(|s| (s.parts.into_iter().map(|r| &raw[r]).collect(), s.capped))
    }

    #[test]
    fn delimiters() {
        let raw = b"pre\r\n--b\r\none\r\n--b \r\ntwo\r\n--b--\r\nepi\r\n";
        assert_eq!(parts(raw, 10), Some((vec![&b"one"[..], b"two"], false)));
        assert_eq!(parts(b"--bb\r\nx\r\n", 10), None);
        assert_eq!(parts(b"--b\nx\n--b\n\n--b--", 10), Some((vec![&b"x"[..], b""], false)));
        assert_eq!(parts(b"--b\r\nunclosed\r\n", 10), Some((vec![&b"unclosed\r\n"[..]], false)));
        assert_eq!(parts(b"--b\r\n--b\r\n", 10), Some((vec![&b""[..], b""], false)));
    }

    #[test]
    fn capped() {
        let raw = b"--b\r\n1\r\n--b\r\n2\r\n--b\r\n3\r\n--b--\r\n";
        assert_eq!(parts(raw, 2), Some((vec![&b"1"[..], b"2\r\n--b\r\n3\r\n--b--\r\n"], true)));
        assert_eq!(parts(raw, 3), Some((vec![&b"1"[..], b"2", b"3"], false)));
    }
}
