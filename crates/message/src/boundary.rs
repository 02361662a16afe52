//! Boundary delimiters (RFC 2046 5.1.1) as Cyrus 3.6 recognises them.
//!
//! The parser keeps the boundaries of every multipart it is inside, outermost
//! first ([`Pending`]). A line is a delimiter when it is `--` followed by any of
//! them, and then by `--` (a close delimiter), the line end, whitespace, or — only
//! on a last line of one octet more — anything; a boundary that is merely a prefix
//! of a longer word is no match, so `--ab` never closes `a`. Boundaries are tried
//! outermost first, so when a nested multipart reuses its parent's boundary, the
//! parent's wins. A close delimiter ends the multipart it belongs to and every one
//! nested inside it; a plain delimiter of an enclosing multipart ends only the
//! current part, and the innermost multipart goes on with a new part (Cyrus reads
//! `--outer` inside `--inner` parts so). RFC 2046 asks for boundaries that cannot
//! collide, so none of this matters for well-formed mail; it fixes where broken
//! mail splits.
//!
//! The boundary itself is the `BOUNDARY` parameter, or `BOUNDARY*` decoded from
//! RFC 2231 `charset'language'%XX` form when its charset is known (else as written).

use std::borrow::Cow;

use crate::charset;
use crate::cursor::is_space;
use crate::mime::Param;

/// The boundaries of the multiparts being read, outermost first.
#[derive(Default)]
pub(crate) struct Pending {
    stack: Vec<Vec<u8>>,
}

impl Pending {
    pub(crate) fn push(&mut self, boundary: Vec<u8>) {
        self.stack.push(boundary);
    }

    pub(crate) fn len(&self) -> usize {
        self.stack.len()
    }

    /// Ends every pending multipart (the message ended inside them).
    pub(crate) fn clear(&mut self) {
        self.stack.clear();
    }

    /// Whether `line` (with its line end) is a delimiter of a pending boundary; a
    /// close delimiter also ends its multipart and those inside it.
    pub(crate) fn delimiter(&mut self, line: &[u8]) -> bool {
        let Some(rest) = line.strip_prefix(b"--") else { return false };
        for (i, b) in self.stack.iter().enumerate() {
            let Some(after) = rest.strip_prefix(b.as_slice()) else { continue };
            if after.starts_with(b"--") {
                self.stack.truncate(i);
                return true;
            }
            // A longer word is another boundary, unless the line ends one octet later.
            if after.len() > 1 && after[0] != 0 && !is_space(after[0]) {
                continue;
            }
            return true;
        }
        false
    }
}

/// The boundary of a multipart: the first `BOUNDARY` or `BOUNDARY*` parameter.
pub(crate) fn of(params: &[Param]) -> Option<Vec<u8>> {
    let p = params.iter().find(|p| p.name == b"BOUNDARY" || p.name == b"BOUNDARY*")?;
    let decoded = if p.name.ends_with(b"*") { extended_value(&p.value) } else { None };
    Some(decoded.unwrap_or_else(|| p.value.clone()))
}

/// An RFC 2231 extended value `charset'language'octets` as UTF-8; `None` if it is
/// not one, its charset is unknown or an escape is bad.
pub(crate) fn extended_value(v: &[u8]) -> Option<Vec<u8>> {
    let mut fields = v.splitn(3, |&b| b == b'\'');
    let (label, _language, octets) = (fields.next()?, fields.next()?, fields.next()?);
    if label.is_empty() || !charset::known(label) {
        return None;
    }
    let out = crate::percent_octets(octets)?;
    Some(charset::to_utf8(Cow::Owned(out), Some(label)).into_owned().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(bs: &[&str]) -> Pending {
        Pending { stack: bs.iter().map(|b| b.as_bytes().to_vec()).collect() }
    }

    #[test]
    fn delimiter_lines() {
        let mut p = pending(&["b"]);
        assert!(p.delimiter(b"--b\r\n"));
        assert!(p.delimiter(b"--b \t junk\r\n"));
        assert!(p.delimiter(b"--b\n"));
        assert!(!p.delimiter(b"--bb\r\n"));
        assert!(!p.delimiter(b"-b\r\n"));
        // One octet after the boundary on the last line still counts (Cyrus).
        assert!(p.delimiter(b"--bx"));
        assert!(!p.delimiter(b"--bxy"));
        assert_eq!(p.len(), 1);
        assert!(p.delimiter(b"--b--junk\r\n"));
        assert_eq!(p.len(), 0);
        assert!(!p.delimiter(b"--b\r\n"));
    }

    #[test]
    fn outer_boundaries_first() {
        let mut p = pending(&["a", "b"]);
        assert!(p.delimiter(b"--a\r\n"));
        assert_eq!(p.len(), 2, "an enclosing delimiter ends a part, not a multipart");
        assert!(p.delimiter(b"--a--\r\n"));
        assert_eq!(p.len(), 0, "an enclosing close ends the inner multipart too");
        let mut p = pending(&["x", "x"]);
        assert!(p.delimiter(b"--x--\r\n"));
        assert_eq!(p.len(), 0, "a reused boundary closes the parent");
        let mut p = pending(&[""]);
        assert!(p.delimiter(b"--\r\n"));
        assert!(!p.delimiter(b"--abc\r\n"));
    }

    #[test]
    fn rfc2231_boundaries() {
        let param = |n: &str, v: &str| Param { name: n.into(), value: v.into() };
        assert_eq!(of(&[param("BOUNDARY*", "us-ascii'en'a%20b")]), Some(b"a b".to_vec()));
        assert_eq!(of(&[param("BOUNDARY*", "ansi-x3.4-1968''EeQf")]), Some(b"EeQf".to_vec()));
        assert_eq!(of(&[param("BOUNDARY*", "utf-8''%E2%82%AC")]), Some("€".as_bytes().to_vec()));
        // Unknown or missing charset, bad escape: the value as written.
        assert_eq!(of(&[param("BOUNDARY*", "''abc")]), Some(b"''abc".to_vec()));
        assert_eq!(of(&[param("BOUNDARY*", "x-nope''abc")]), Some(b"x-nope''abc".to_vec()));
        assert_eq!(of(&[param("BOUNDARY*", "utf-8''%G1")]), Some(b"utf-8''%G1".to_vec()));
        assert_eq!(of(&[param("CHARSET", "x"), param("BOUNDARY", "=_1"), param("BOUNDARY*", "us-ascii''2")]), Some(b"=_1".to_vec()));
        assert_eq!(of(&[param("NAME", "x")]), None);
    }
}
