//! ManageSieve's wire format (RFC 5804 section 4): reading a command as its tokens,
//! and writing strings and responses.
//!
//! A command is atoms, numbers and strings separated by spaces, ended by CRLF. A
//! string is quoted (`"..."`, with `\"` and `\\`) or a literal: `{N+}` (RFC 5804's
//! only client literal) or `{N}` (accepted the same way; ManageSieve has no
//! continuation response to wait for), then CRLF and N octets, after which the command
//! goes on. Every input is bounded ([`Limits`]): a line, the literal octets of one
//! command, the tokens of one command. An oversized literal is read and dropped, never
//! held, and the command is answered as refused; a syntax error skips the rest of the
//! command, literals included, so that a script's text is never taken for commands.

use service::{Conn, ReadError};

/// One token of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A bare word: a command name, or `*` (a cancelled SASL exchange).
    Atom(String),
    Num(u64),
    /// A quoted string or a literal.
    Str(Vec<u8>),
}

/// Bounds on one command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest line (without CRLF); a quoted script must fit in one.
    pub max_line: usize,
    /// Most literal octets in one command.
    pub max_literal: u64,
}

/// Most tokens in one command (the longest, RENAMESCRIPT, has three).
const MAX_TOKENS: usize = 16;

/// Why no command was read.
#[derive(Debug)]
pub enum CmdError {
    /// The connection failed or timed out: the session ends.
    Conn(ReadError),
    /// Malformed; the rest of the command has been skipped.
    Syntax(&'static str),
    /// A literal (or the literals) went past [`Limits::max_literal`]; its octets were
    /// read and dropped. Holds the command's first word, upper-cased.
    TooBig(String),
    /// A line went past [`Limits::max_line`].
    TooLong,
}

/// What one line gave: its tokens, and the size of a literal announced at its end.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Line {
    pub tokens: Vec<Token>,
    pub literal: Option<u64>,
    pub error: Option<&'static str>,
}

/// Parses one line (without CRLF). After an error the line is still searched for a
/// literal at its end, which the caller must skip.
pub fn parse_line(line: &[u8]) -> Line {
    let mut out = Line::default();
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' => i += 1,
            b'"' => match quoted(&line[i + 1..]) {
                Some((s, used)) => {
                    out.tokens.push(Token::Str(s));
                    i += 1 + used;
                }
                None => {
                    out.error = Some("Invalid quoted string");
                    break;
                }
            },
            b'{' => {
                match literal_marker(&line[i..]) {
                    Some(n) => out.literal = Some(n),
                    None => out.error = Some("Invalid literal"),
                }
                return out;
            }
            c if c.is_ascii_digit() => {
                let end = line[i..].iter().position(|&b| b == b' ').map_or(line.len(), |p| i + p);
                match std::str::from_utf8(&line[i..end]).ok().and_then(|s| s.parse::<u64>().ok()) {
                    Some(n) => out.tokens.push(Token::Num(n)),
                    None => {
                        out.error = Some("Invalid number");
                        break;
                    }
                }
                i = end;
            }
            _ => {
                let end = line[i..].iter().position(|&b| matches!(b, b' ' | b'"' | b'{')).map_or(line.len(), |p| i + p);
                match std::str::from_utf8(&line[i..end]) {
                    Ok(a) if a.bytes().all(|b| b.is_ascii_graphic()) => out.tokens.push(Token::Atom(a.to_string())),
                    _ => {
                        out.error = Some("Invalid characters in command");
                        break;
                    }
                }
                i = end;
            }
        }
    }
    // A literal at the end of the line must still be honoured after an error.
    if out.error.is_some()
        && let Some(p) = line.iter().rposition(|&b| b == b'{')
    {
        out.literal = literal_marker(&line[p..]);
    }
    out
}

/// `{N}` or `{N+}` filling the rest of the line.
fn literal_marker(s: &[u8]) -> Option<u64> {
    let body = s.strip_prefix(b"{")?.strip_suffix(b"}")?;
    let digits = body.strip_suffix(b"+").unwrap_or(body);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A quoted string's content after the opening quote: (unescaped bytes, bytes used
/// including the closing quote).
fn quoted(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let c = *s.get(i + 1)?;
                if c != b'"' && c != b'\\' {
                    return None;
                }
                out.push(c);
                i += 2;
            }
            0 => return None,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// Reads one command: every line and literal up to the CRLF that ends it. An empty
/// line gives no tokens.
pub fn read_command(conn: &mut Conn, lim: &Limits) -> Result<Vec<Token>, CmdError> {
    let mut tokens = Vec::new();
    let mut error: Option<&'static str> = None;
    let mut too_big = false;
    let mut literal_total: u64 = 0;
    let mut line = Vec::new();
    loop {
        match conn.read_line(&mut line, lim.max_line) {
            Ok(()) => {}
            Err(ReadError::TooLong) => {
                // Whatever the line announced at its end is lost with it; the client's
                // next line is read as a new command.
                return Err(CmdError::TooLong);
            }
            Err(e) => return Err(CmdError::Conn(e)),
        }
        let parsed = parse_line(&line);
        if error.is_none() {
            error = parsed.error;
        }
        if !too_big && error.is_none() {
            tokens.extend(parsed.tokens);
            if tokens.len() > MAX_TOKENS {
                error = Some("Too many arguments");
            }
        }
        let Some(n) = parsed.literal else { break };
        literal_total = literal_total.saturating_add(n);
        if too_big || error.is_some() || literal_total > lim.max_literal {
            too_big |= error.is_none();
            skip(conn, n)?;
        } else {
            let mut s = Vec::with_capacity(n as usize);
            conn.read_exact_into(&mut s, n as usize).map_err(CmdError::Conn)?;
            tokens.push(Token::Str(s));
        }
    }
    if too_big {
        let first = match tokens.first() {
            Some(Token::Atom(a)) => a.to_ascii_uppercase(),
            _ => String::new(),
        };
        return Err(CmdError::TooBig(first));
    }
    match error {
        Some(e) => Err(CmdError::Syntax(e)),
        None => Ok(tokens),
    }
}

/// Drops `n` octets of a refused literal, a bounded piece at a time.
fn skip(conn: &mut Conn, n: u64) -> Result<(), CmdError> {
    let mut left = n;
    while left > 0 {
        let piece = left.min(1 << 20);
        conn.skip(piece as usize).map_err(CmdError::Conn)?;
        left -= piece;
    }
    Ok(())
}

/// Appends `s` as a ManageSieve string: quoted when it is short UTF-8 without CR, LF
/// or NUL, else a literal.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() <= 1024 && std::str::from_utf8(s).is_ok() && !s.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0));
    if quotable {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
    }
}

/// A response line: `OK`, `NO` or `BYE`, an optional response code (given with its
/// parentheses' content, e.g. `QUOTA/MAXSIZE`), and an optional human text.
pub fn response(kind: &str, code: Option<&str>, text: Option<&str>) -> Vec<u8> {
    let mut out = kind.as_bytes().to_vec();
    if let Some(c) = code {
        out.extend_from_slice(format!(" ({c})").as_bytes());
    }
    if let Some(t) = text {
        out.push(b' ');
        put_string(&mut out, t.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use service::conn::{Addr, Stream};
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    const LIM: Limits = Limits { max_line: 100, max_literal: 20 };

    fn conn_with(input: &[u8]) -> Conn {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(input).unwrap();
        drop(b);
        Conn::new(Stream::Unix(a), Addr::Unix, Addr::Unix)
    }

    fn atom(s: &str) -> Token {
        Token::Atom(s.into())
    }

    fn string(s: &str) -> Token {
        Token::Str(s.as_bytes().to_vec())
    }

    #[test]
    fn lines() {
        let l = parse_line(br#"PUTSCRIPT "my \"x\" \\ script" {12+}"#);
        assert_eq!(l.tokens, vec![atom("PUTSCRIPT"), string(r#"my "x" \ script"#)]);
        assert_eq!((l.literal, l.error), (Some(12), None));
        let l = parse_line(b"HAVESPACE \"a\" 4096");
        assert_eq!(l.tokens, vec![atom("HAVESPACE"), string("a"), Token::Num(4096)]);
        assert_eq!(parse_line(b"getscript {3}").literal, Some(3), "a synchronising literal is taken too");
        assert_eq!(parse_line("SETACTIVE \"ünï\"".as_bytes()).tokens[1], string("ünï"));
        assert_eq!(parse_line(b"").tokens, vec![]);
        for bad in [&b"X \"open"[..], b"X \"bad \\n escape\"", b"X {12x}", b"X {} ", b"X 99999999999999999999999", b"X \x01"] {
            assert!(parse_line(bad).error.is_some(), "{:?}", String::from_utf8_lossy(bad));
        }
        // After an error the literal at the end still counts, to be skipped.
        let l = parse_line(b"PUTSCRIPT \"a\\q\" {5+}");
        assert!(l.error.is_some());
        assert_eq!(l.literal, Some(5));
    }

    #[test]
    fn commands_with_literals() {
        let mut c = conn_with(b"PUTSCRIPT {3+}\r\nabc {5+}\r\nkeep;\r\n\r\nRENAMESCRIPT \"a\" \"b\"\r\nLOGOUT\r\n");
        assert_eq!(read_command(&mut c, &LIM).unwrap(), vec![atom("PUTSCRIPT"), string("abc"), string("keep;")]);
        assert_eq!(read_command(&mut c, &LIM).unwrap(), vec![], "an empty line");
        assert_eq!(read_command(&mut c, &LIM).unwrap(), vec![atom("RENAMESCRIPT"), string("a"), string("b")]);
        assert_eq!(read_command(&mut c, &LIM).unwrap(), vec![atom("LOGOUT")]);
        assert!(matches!(read_command(&mut c, &LIM), Err(CmdError::Conn(ReadError::Eof))));
    }

    #[test]
    fn oversized_literal_is_skipped_and_the_session_goes_on() {
        let big = vec![b'x'; 5000];
        let mut input = b"PUTSCRIPT \"s\" {5000+}\r\n".to_vec();
        input.extend_from_slice(&big);
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let mut c = conn_with(&input);
        assert!(matches!(read_command(&mut c, &LIM), Err(CmdError::TooBig(ref w)) if w == "PUTSCRIPT"));
        assert_eq!(read_command(&mut c, &LIM).unwrap(), vec![atom("NOOP")]);
        // Literals of one command add up.
        let mut c = conn_with(b"X {15+}\r\n123456789012345 {15+}\r\n123456789012345\r\nNOOP\r\n");
        assert!(matches!(read_command(&mut c, &LIM), Err(CmdError::TooBig(_))));
        assert_eq!(read_command(&mut c, &LIM).unwrap(), vec![atom("NOOP")]);
    }

    #[test]
    fn errors_skip_the_whole_command() {
        // The literal after a syntax error is script text, not commands.
        let mut c = conn_with(b"PUTSCRIPT \"a\\q\" {8+}\r\nLOGOUT\r\n\r\nNOOP\r\n");
        assert!(matches!(read_command(&mut c, &LIM), Err(CmdError::Syntax(_))));
        assert_eq!(read_command(&mut c, &LIM).unwrap(), vec![atom("NOOP")]);
        let mut c = conn_with(&[b"X ".as_slice(), &[b'a'; 200], b"\r\nNOOP\r\n"].concat());
        assert!(matches!(read_command(&mut c, &LIM), Err(CmdError::TooLong)));
        assert_eq!(read_command(&mut c, &LIM).unwrap(), vec![atom("NOOP")]);
        let many = "X".to_string() + &" a".repeat(MAX_TOKENS + 1) + "\r\n";
        let mut c = conn_with(many.as_bytes());
        assert!(matches!(read_command(&mut c, &LIM), Err(CmdError::Syntax(_))));
    }

    #[test]
    fn dropped_mid_literal() {
        let mut c = conn_with(b"PUTSCRIPT \"s\" {10+}\r\nkeep");
        assert!(matches!(read_command(&mut c, &LIM), Err(CmdError::Conn(ReadError::Eof))));
        let mut c = conn_with(b"PUTSCRIPT \"s\" {100+}\r\nkeep");
        assert!(matches!(read_command(&mut c, &LIM), Err(CmdError::Conn(ReadError::Eof))));
    }

    #[test]
    fn output() {
        let mut o = Vec::new();
        put_string(&mut o, br#"a "b" \c"#);
        assert_eq!(o, br#""a \"b\" \\c""#);
        let mut o = Vec::new();
        put_string(&mut o, b"two\r\nlines");
        assert_eq!(o, b"{10}\r\ntwo\r\nlines");
        assert_eq!(response("NO", Some("QUOTA/MAXSIZE"), Some("Too big")), b"NO (QUOTA/MAXSIZE) \"Too big\"\r\n");
        assert_eq!(response("OK", None, None), b"OK\r\n");
    }
}
