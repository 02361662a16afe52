//! IMAP wire forms of the strings inside ENVELOPE and BODYSTRUCTURE (RFC 3501 4.3, 9).
//!
//! Cyrus's choice between quoted string and literal is kept so that a client sees the
//! bytes Cyrus would send: a string is quoted when it is shorter than 1024 octets and
//! holds no NUL, no 8-bit octet, no CR, LF, `"`, `%` or `\`; anything else is a literal
//! `{n}\r\n...`. NUL may not travel in IMAP4rev1 at all, not even in a literal (CHAR8 is
//! %x01-ff), so a stored NUL goes out as a space: the length and every other octet stay.

/// Longest string Cyrus sends quoted; from this length on it sends a literal.
const QUOTED_MAX: usize = 1024;

/// `NIL` for `None`, else the string.
pub(crate) fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A quoted string or a literal, as Cyrus chooses.
pub(crate) fn string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() < QUOTED_MAX && s.iter().all(|&b| quotable(b)) {
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
    } else {
        out.push(b'{');
        out.extend_from_slice(s.len().to_string().as_bytes());
        out.extend_from_slice(b"}\r\n");
        out.extend(s.iter().map(|&b| if b == 0 { b' ' } else { b }));
    }
}

fn quotable(b: u8) -> bool {
    b != 0 && b < 0x80 && !matches!(b, b'\r' | b'\n' | b'"' | b'%' | b'\\')
}

/// `("NAME" "value" ...)` or `NIL` for an empty list.
pub(crate) fn params<'a>(out: &mut Vec<u8>, pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) {
    list(out, pairs, b" ", |out, (name, value)| {
        string(out, name);
        out.push(b' ');
        string(out, value);
    });
}

/// `(a b ...)` with each item written by `item` and `sep` between items, or `NIL`
/// when there is none. Address lists and multipart bodies take no separator
/// (RFC 3501 `1*address`, `1*body`); parameters and languages take a space.
pub(crate) fn list<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    sep: &[u8],
    mut item: impl FnMut(&mut Vec<u8>, T),
) {
    let mut first = true;
    for x in items {
        if first {
            out.push(b'(');
        } else {
            out.extend_from_slice(sep);
        }
        first = false;
        item(out, x);
    }
    out.extend_from_slice(if first { b"NIL" } else { b")" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, x);
        out
    }

    #[test]
    fn quoted_or_literal() {
        assert_eq!(s(b"Hello"), b"\"Hello\"");
        assert_eq!(s(b""), b"\"\"");
        assert_eq!(s(b"say \"hi\""), b"{8}\r\nsay \"hi\"");
        assert_eq!(s(b"50%"), b"{3}\r\n50%");
        assert_eq!(s("é".as_bytes()), b"{2}\r\n\xc3\xa9");
        assert_eq!(s(b"a\0b"), b"{3}\r\na b");
        assert_eq!(s(&[b'x'; 1024])[..7], *b"{1024}\r");
    }

    #[test]
    fn lists() {
        let mut out = Vec::new();
        params(&mut out, [(&b"CHARSET"[..], &b"us-ascii"[..])]);
        assert_eq!(out, b"(\"CHARSET\" \"us-ascii\")");
        out.clear();
        params(&mut out, []);
        assert_eq!(out, b"NIL");
    }
}
