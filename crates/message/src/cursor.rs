//! A read position in a structured header value, with RFC 5322 CFWS skipping.
//!
//! Shared by the address parser and the MIME field parsers. Values are raw (folding
//! kept): inside a field value every CR or LF is part of a fold, so it counts as
//! whitespace. `next` returns `None` at the end, which the parsers treat as a token.

pub(crate) struct Cursor<'a> {
    pub s: &'a [u8],
    pub pos: usize,
}

pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Cursor<'a> {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    pub(crate) fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        if b.is_some() {
            self.pos += 1;
        }
        b
    }

    pub(crate) fn back(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Skips whitespace and (nested, backslash-escaped) comments.
    pub(crate) fn skip_cfws(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'(' {
                self.pos += 1;
                self.comment();
            } else if is_space(b) {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Reads a comment whose `(` is already consumed; returns its text, nested
    /// parentheses kept and backslash-escapes resolved. An unclosed comment runs to
    /// the end of the value.
    pub(crate) fn comment(&mut self) -> Vec<u8> {
        let mut depth = 1;
        let mut text = Vec::new();
        while let Some(mut b) = self.next() {
            match b {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b'\\' => b = self.next().unwrap_or(b),
                _ => {}
            }
            if depth == 0 {
                break;
            }
            text.push(b);
        }
        text
    }
}
