//! Lines of a byte range, CRLF or bare LF, without copying.
//!
//! Every scan in this crate (header end, boundary delimiters) walks lines with
//! [`Lines`], so each is one linear pass; a line's `end` is just past its LF (or the
//! range end for a last line without one) and `content_end` excludes the CRLF or LF.

use std::ops::Range;

/// One line: `start..content_end` is its text, `content_end..end` its line end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    pub start: usize,
    pub content_end: usize,
    pub end: usize,
}

/// Iterator over the lines of `raw[range]`; positions are offsets into `raw`.
pub(crate) struct Lines<'a> {
    raw: &'a [u8],
    pos: usize,
    end: usize,
}

/// The lines of `raw[range]`. A range reaching past `raw` is cut to it.
pub(crate) fn lines(raw: &[u8], range: Range<usize>) -> Lines<'_> {
    let end = range.end.min(raw.len());
    Lines { raw, pos: range.start.min(end), end }
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        if self.pos >= self.end {
            return None;
        }
        let start = self.pos;
        let rest = &self.raw[start..self.end];
        let (content_end, end) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let lf = start + i;
                let cr = i > 0 && rest[i - 1] == b'\r';
                (if cr { lf - 1 } else { lf }, lf + 1)
            }
            None => (self.end, self.end),
        };
        self.pos = end;
        Some(Line { start, content_end, end })
    }
}

/// Where the line break just before `pos` starts (CRLF or LF), not before `floor`.
///
/// A MIME boundary delimiter owns the line break that precedes it (RFC 2046 5.1.1),
/// so a part's body ends here.
pub(crate) fn before_break(raw: &[u8], pos: usize, floor: usize) -> usize {
    let mut end = pos;
    if end > floor && raw.get(end - 1) == Some(&b'\n') {
        end -= 1;
        if end > floor && raw.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
    }
    end
}

/// Lines as IMAP counts them for BODYSTRUCTURE: the number of LFs in `bytes`.
///
/// Cyrus counts a line only when its LF is inside the body, so a part's last line,
/// whose CRLF belongs to the next boundary, is not counted; we keep that count.
pub(crate) fn count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_lf_and_unterminated() {
        let raw = b"a\r\nbb\ncc";
        let v: Vec<_> = lines(raw, 0..raw.len()).map(|l| (l.start, l.content_end, l.end)).collect();
        assert_eq!(v, vec![(0, 1, 3), (3, 5, 6), (6, 8, 8)]);
    }

    #[test]
    fn break_before() {
        assert_eq!(before_break(b"x\r\n--b", 3, 0), 1);
        assert_eq!(before_break(b"x\n--b", 2, 0), 1);
        assert_eq!(before_break(b"\r\n--b", 2, 2), 2);
    }
}
