//! Sieve lexing exactly as RFC 5228 §2.2–2.4 and §8.1 write it: `#` and `/* */`
//! comments, identifiers, `:tags`, numbers with the K/M/G quantifiers, quoted strings
//! (only `\\` and `\"` mean anything after a backslash; any other escaped character
//! stands for itself) and multi-line `text:` strings with dot-stuffing. Line ends may
//! be CRLF or a bare LF. Every token carries its line and column (1-based, columns
//! counted in characters) so that errors can say where they are.

use crate::CompileError;

/// Longest string literal accepted; the script size limit normally comes first.
pub const MAX_STRING: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    Tag(String),
    Number(u64),
    Str(String),
    LBracket,
    RBracket,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Semi,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub fn error(self, message: impl Into<String>) -> CompileError {
        CompileError { line: self.line, column: self.column, message: message.into() }
    }
}

pub struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    line: u32,
    line_start: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer over `src`, which must be UTF-8 (RFC 5228 §2.2: scripts are UTF-8).
    pub fn new(src: &'a [u8]) -> Result<Lexer<'a>, CompileError> {
        if let Err(e) = std::str::from_utf8(src) {
            let at = e.valid_up_to();
            let line = 1 + src[..at].iter().filter(|&&b| b == b'\n').count() as u32;
            let start = src[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let column = 1 + String::from_utf8_lossy(&src[start..at]).chars().count() as u32;
            return Err(CompileError { line, column, message: "script is not valid UTF-8".into() });
        }
        Ok(Lexer { s: src, i: 0, line: 1, line_start: 0 })
    }

    pub fn pos(&self) -> Pos {
        let col = std::str::from_utf8(&self.s[self.line_start..self.i]).map_or(self.i - self.line_start, |t| t.chars().count());
        Pos { line: self.line, column: col as u32 + 1 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn newline(&mut self) {
        self.line += 1;
        self.line_start = self.i;
    }

    /// Skips white space and comments.
    fn skip_space(&mut self) -> Result<(), CompileError> {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' => {
                    self.i += 1;
                    self.newline();
                }
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                b'/' if self.s.get(self.i + 1) == Some(&b'*') => {
                    let start = self.pos();
                    self.i += 2;
                    loop {
                        match self.peek() {
                            None => return Err(start.error("unterminated comment")),
                            Some(b'*') if self.s.get(self.i + 1) == Some(&b'/') => {
                                self.i += 2;
                                break;
                            }
                            Some(b'\n') => {
                                self.i += 1;
                                self.newline();
                            }
                            Some(_) => self.i += 1,
                        }
                    }
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// The next token and where it starts, or `None` at the end of the script.
    pub fn next(&mut self) -> Result<Option<(Pos, Tok)>, CompileError> {
        self.skip_space()?;
        let pos = self.pos();
        let Some(c) = self.peek() else { return Ok(None) };
        let single = match c {
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'{' => Some(Tok::LBrace),
            b'}' => Some(Tok::RBrace),
            b',' => Some(Tok::Comma),
            b';' => Some(Tok::Semi),
            _ => None,
        };
        if let Some(t) = single {
            self.i += 1;
            return Ok(Some((pos, t)));
        }
        let tok = match c {
            b'"' => Tok::Str(self.quoted(pos)?),
            b':' => {
                self.i += 1;
                let w = self.word();
                if w.is_empty() {
                    return Err(pos.error("':' must be followed by a tag name"));
                }
                Tok::Tag(w.to_ascii_lowercase())
            }
            b'0'..=b'9' => Tok::Number(self.number(pos)?),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let w = self.word();
                if w.eq_ignore_ascii_case("text") && self.peek() == Some(b':') {
                    self.i += 1;
                    Tok::Str(self.multiline(pos)?)
                } else {
                    Tok::Ident(w.to_ascii_lowercase())
                }
            }
            _ => {
                let ch = std::str::from_utf8(&self.s[self.i..]).ok().and_then(|t| t.chars().next()).unwrap_or('?');
                return Err(pos.error(format!("unexpected character {ch:?}")));
            }
        };
        Ok(Some((pos, tok)))
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn number(&mut self, pos: Pos) -> Result<u64, CompileError> {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
        let n: u64 = digits.parse().map_err(|_| pos.error("number too large"))?;
        let shift = match self.peek().map(|c| c.to_ascii_uppercase()) {
            Some(b'K') => 10,
            Some(b'M') => 20,
            Some(b'G') => 30,
            _ => 0,
        };
        if shift > 0 {
            self.i += 1;
        }
        if matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            return Err(pos.error("bad number: a quantifier is K, M or G"));
        }
        n.checked_mul(1 << shift).ok_or_else(|| pos.error("number too large"))
    }

    fn quoted(&mut self, pos: Pos) -> Result<String, CompileError> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else { return Err(pos.error("unterminated string")) };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(n) = self.peek() else { return Err(pos.error("unterminated string")) };
                    self.i += 1;
                    if n == b'\n' {
                        self.newline();
                    }
                    out.push(n);
                }
                b'\n' => {
                    self.newline();
                    out.push(c);
                }
                _ => out.push(c),
            }
            if out.len() > MAX_STRING {
                return Err(pos.error(format!("string longer than {MAX_STRING} bytes")));
            }
        }
        Ok(String::from_utf8(out).unwrap_or_default())
    }

    /// After `text:`: optional blanks, then a comment or a line end, then lines up to
    /// a line holding only `.`; a line starting with `..` loses one dot.
    fn multiline(&mut self, pos: Pos) -> Result<String, CompileError> {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        match self.peek() {
            Some(b'#') => {
                while !matches!(self.peek(), Some(b'\n') | None) {
                    self.i += 1;
                }
            }
            Some(b'\r') if self.s.get(self.i + 1) == Some(&b'\n') => self.i += 1,
            Some(b'\n') => {}
            _ => return Err(pos.error("'text:' must be followed by the end of the line")),
        }
        if self.peek() != Some(b'\n') {
            return Err(pos.error("unterminated multi-line string"));
        }
        self.i += 1;
        self.newline();
        let mut out = String::new();
        loop {
            if self.i >= self.s.len() {
                return Err(pos.error("unterminated multi-line string (no line with a single '.')"));
            }
            let end = self.s[self.i..].iter().position(|&b| b == b'\n').map(|p| self.i + p);
            let line_end = end.unwrap_or(self.s.len());
            let mut line = &self.s[self.i..line_end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            self.i = end.map_or(self.s.len(), |e| e + 1);
            if end.is_some() {
                self.newline();
            }
            if line == b"." {
                return Ok(out);
            }
            if line.starts_with(b"..") {
                line = &line[1..];
            }
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push_str("\r\n");
            if out.len() > MAX_STRING {
                return Err(pos.error(format!("string longer than {MAX_STRING} bytes")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let mut l = Lexer::new(s.as_bytes()).unwrap();
        let mut v = Vec::new();
        while let Some((_, t)) = l.next().unwrap() {
            v.push(t);
        }
        v
    }

    #[test]
    fn basics() {
        assert_eq!(
            toks("if size :over 100K { discard; } # c\n/* x\n y */ [\"a\\\"b\\q\",\"\"]"),
            vec![
                Tok::Ident("if".into()),
                Tok::Ident("size".into()),
                Tok::Tag("over".into()),
                Tok::Number(102400),
                Tok::LBrace,
                Tok::Ident("discard".into()),
                Tok::Semi,
                Tok::RBrace,
                Tok::LBracket,
                Tok::Str("a\"bq".into()),
                Tok::Comma,
                Tok::Str(String::new()),
                Tok::RBracket,
            ]
        );
        assert_eq!(toks("1G 2m"), vec![Tok::Number(1 << 30), Tok::Number(2 << 20)]);
    }

    #[test]
    fn multiline_dot_stuffing() {
        let t = toks("text: # comment\r\nline one\r\n..dot\r\n.\r\n;");
        assert_eq!(t, vec![Tok::Str("line one\r\n.dot\r\n".into()), Tok::Semi]);
        let t = toks("TEXT:\nbare lf\n.\n");
        assert_eq!(t, vec![Tok::Str("bare lf\r\n".into())]);
    }

    #[test]
    fn errors_have_positions() {
        let mut l = Lexer::new(b"keep;\n  \"open").unwrap();
        l.next().unwrap();
        l.next().unwrap();
        let e = l.next().unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
        let e = Lexer::new(b"keep;\n\xff").err().unwrap();
        assert_eq!((e.line, e.column), (2, 1));
        let mut l = Lexer::new(b"text:\nno end\n").unwrap();
        assert!(l.next().is_err());
        let mut l = Lexer::new(b"99999999999999999999999").unwrap();
        assert!(l.next().is_err());
        let mut l = Lexer::new(b"5X").unwrap();
        assert!(l.next().is_err());
    }
}
