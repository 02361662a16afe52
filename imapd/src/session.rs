//! One IMAP session: greeting, command lines, tags, literals, and the three commands
//! of this version.

use service::{Conn, Flow, LineProtocol, Worker};
use std::time::Duration;

/// Longest command line accepted, literals excluded.
const MAX_LINE: usize = 64 * 1024;
/// A non-synchronising literal larger than this ends the session (the client would
/// otherwise make us read it all); synchronising ones are refused before they are sent.
const MAX_SKIPPED_LITERAL: usize = 64 * 1024;

/// What this version can do, and nothing more.
const CAPABILITIES: &str = "IMAP4rev1 LOGINDISABLED";

struct Imap;

/// Serves one connection.
pub fn serve(w: &Worker, conn: &mut Conn) {
    // RFC 3501 5.4: the autologout timer is at least 30 minutes.
    let timeout = w.config.get_duration("timeout").max(Duration::from_secs(30 * 60));
    let host = w.servername();
    let info = match w.config.get_str("serverinfo").unwrap_or("on").to_ascii_lowercase().as_str() {
        "off" => String::new(),
        "min" => format!(" {host}"),
        _ => format!(" {host} Cyrus-compatible IMAP server {} ready", env!("CARGO_PKG_VERSION")),
    };
    let greeting = format!("* OK [CAPABILITY {CAPABILITIES}]{info}\r\n");
    service::serve(conn, timeout, &greeting, &mut Imap);
}

/// A tag is one or more ASTRING-CHARs other than `+` (RFC 3501).
fn valid_tag(t: &[u8]) -> bool {
    !t.is_empty()
        && t.iter().all(|&c| {
            c > 0x20 && c < 0x7f && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// `{123}` or `{123+}` at the end of a line: (size, non-synchronising).
fn trailing_literal(line: &[u8]) -> Option<(usize, bool)> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&c| c == b'{')?;
    let inner = &body[open + 1..];
    let (digits, plus) = match inner.strip_suffix(b"+") {
        Some(d) => (d, true),
        None => (inner, false),
    };
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok().map(|n| (n, plus))
}

impl Imap {
    /// Consumes the rest of a command that carries non-synchronising literals, so that
    /// the next line read is the next command. Returns false if that is not possible.
    fn skip_literals(&mut self, conn: &mut Conn, mut line: Vec<u8>) -> bool {
        while let Some((n, true)) = trailing_literal(&line) {
            if n > MAX_SKIPPED_LITERAL || conn.skip(n).is_err() {
                return false;
            }
            if conn.read_line(&mut line, MAX_LINE).is_err() {
                return false;
            }
        }
        true
    }
}

impl LineProtocol for Imap {
    fn max_line(&self) -> usize {
        MAX_LINE
    }

    fn on_line(&mut self, conn: &mut Conn, line: &[u8]) -> Flow {
        if let Some((_, true)) = trailing_literal(line) {
            if !self.skip_literals(conn, line.to_vec()) {
                conn.write(b"* BYE Literal too large\r\n");
                return Flow::Close;
            }
        }
        let mut parts = line.splitn(3, |&c| c == b' ');
        let tag = parts.next().unwrap_or_default();
        if !valid_tag(tag) {
            conn.write(b"* BAD Invalid tag\r\n");
            return Flow::Continue;
        }
        let tag = String::from_utf8_lossy(tag).into_owned();
        let cmd = parts.next().unwrap_or_default().to_ascii_uppercase();
        let has_args = parts.next().is_some_and(|a| !a.is_empty());
        if cmd.is_empty() {
            conn.write_fmt(format_args!("{tag} BAD Null command\r\n"));
            return Flow::Continue;
        }
        match (cmd.as_slice(), has_args) {
            (b"CAPABILITY", false) => {
                conn.write_fmt(format_args!("* CAPABILITY {CAPABILITIES}\r\n{tag} OK Completed\r\n"));
            }
            (b"NOOP", false) => conn.write_fmt(format_args!("{tag} OK Completed\r\n")),
            (b"LOGOUT", false) => {
                conn.write_fmt(format_args!("* BYE LOGOUT received\r\n{tag} OK Completed\r\n"));
                return Flow::Close;
            }
            (b"CAPABILITY" | b"NOOP" | b"LOGOUT", true) => {
                conn.write_fmt(format_args!("{tag} BAD Unexpected extra arguments\r\n"));
            }
            _ => {
                let name = String::from_utf8_lossy(&cmd);
                let name: String = name.chars().take(40).collect();
                conn.write_fmt(format_args!("{tag} BAD Unrecognized command {name}\r\n"));
            }
        }
        Flow::Continue
    }

    fn on_too_long(&mut self, conn: &mut Conn) -> Flow {
        conn.write(b"* BAD Line too long\r\n");
        Flow::Continue
    }

    fn on_timeout(&mut self, conn: &mut Conn) {
        conn.write(b"* BYE Autologout; idle for too long\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert!(valid_tag(b"a1"));
        assert!(valid_tag(b"A.001"));
        assert!(!valid_tag(b""));
        assert!(!valid_tag(b"a+1"));
        assert!(!valid_tag(b"*"));
        assert!(!valid_tag(b"a{"));
    }

    #[test]
    fn literals_at_line_end() {
        assert_eq!(trailing_literal(b"a LOGIN {5}"), Some((5, false)));
        assert_eq!(trailing_literal(b"a LOGIN {5+}"), Some((5, true)));
        assert_eq!(trailing_literal(b"a LOGIN {}"), None);
        assert_eq!(trailing_literal(b"a LOGIN {99999999999}"), None);
        assert_eq!(trailing_literal(b"a NOOP"), None);
    }
}
