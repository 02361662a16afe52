//! Message-IDs as THREAD reads them from Message-ID, References and In-Reply-To.
//!
//! The reading is Cyrus's (`find_msgid`), so that the same mail threads the same way
//! on both servers: an id is `<local@domain>`, where the local part is an atom
//! (anything but `<> @\`) or a quoted string (unquoted in the result), the domain
//! such an atom; text between ids is skipped, and a candidate that does not have
//! that shape (no `@`, a space inside) is skipped too. Ids compare as octets.

use std::borrow::Cow;

/// Characters that end an atom of an id.
fn special(c: u8) -> bool {
    matches!(c, b'<' | b'>' | b' ' | b'@' | b'\\')
}

/// The next id in a header value at or after `pos`, which is left after it.
pub fn next<'a>(s: &'a [u8], pos: &mut usize) -> Option<Cow<'a, [u8]>> {
    Scan::default().next(s, pos)
}

/// Remembers the last '>' and closing quote found: the starts of the searches only
/// grow, so a value full of '<' is read once, not once per '<'.
#[derive(Default)]
struct Scan {
    gt: Option<(usize, Option<usize>)>,
    quote: Option<(usize, Option<usize>)>,
}

impl Scan {
    /// First position at or after `from` holding `c` (not escaped by a backslash
    /// when `c` is a quote), through `memo`.
    fn find(s: &[u8], from: usize, c: u8, memo: &mut Option<(usize, Option<usize>)>) -> Option<usize> {
        if let Some((f, found)) = *memo
            && f <= from
            && found.is_none_or(|q| q >= from)
        {
            return found;
        }
        let mut at = from;
        let found = loop {
            match s.get(at..).and_then(|r| r.iter().position(|&b| b == c)) {
                Some(i) if c == b'"' && at + i > 0 && s[at + i - 1] == b'\\' => at += i + 1,
                Some(i) => break Some(at + i),
                None => break None,
            }
        };
        *memo = Some((from, found));
        found
    }

    fn next<'a>(&mut self, s: &'a [u8], pos: &mut usize) -> Option<Cow<'a, [u8]>> {
        let mut src = *pos;
        loop {
            let at = src + s.get(src..)?.iter().position(|&c| c == b'<' || c == b'\r')?;
            if s[at] == b'\r' {
                // A line break that is not a fold ends the value.
                if s.get(at + 1) == Some(&b'\n') && !matches!(s.get(at + 2), Some(b' ' | b'\t')) {
                    *pos = s.len();
                    return None;
                }
                src = at + 1;
                continue;
            }
            // A quoted local part must close, else this '<' is text.
            let mut cp = at + 1;
            if s.get(cp) == Some(&b'"') {
                match Self::find(s, cp + 1, b'"', &mut self.quote) {
                    Some(q) => cp = q,
                    None => {
                        src = at + 1;
                        continue;
                    }
                }
            }
            // No '>' anywhere further: there is no id left at all.
            Self::find(s, cp, b'>', &mut self.gt)?;
            match parse_at(s, at) {
                Ok((id, end)) => {
                    *pos = end;
                    return Some(id);
                }
                Err(resume) => src = resume,
            }
        }
    }
}

/// The id starting at the '<' at `at`: the id and where it ends, or where to resume
/// looking when the text there is not an id.
fn parse_at(s: &[u8], at: usize) -> Result<(Cow<'_, [u8]>, usize), usize> {
    let mut src = at + 1;
    let mut owned: Option<Vec<u8>> = None;
    if s.get(src) == Some(&b'"') {
        let mut v = vec![b'<'];
        src += 1;
        while let Some(&c) = s.get(src) {
            if c == b'"' {
                break;
            }
            if c == b'\\' {
                src += 1;
            }
            if let Some(&c) = s.get(src) {
                v.push(c);
            }
            src += 1;
        }
        src += 1;
        owned = Some(v);
    } else {
        while s.get(src).is_some_and(|&c| !special(c)) {
            src += 1;
        }
    }
    let local_empty = match &owned {
        Some(v) => v.len() == 1,
        None => src == at + 1,
    };
    if s.get(src) != Some(&b'@') || local_empty {
        return Err(src.min(s.len()));
    }
    let domain_start = src + 1;
    src = domain_start;
    while s.get(src).is_some_and(|&c| !special(c)) {
        src += 1;
    }
    if s.get(src) != Some(&b'>') || src == domain_start {
        return Err(src.min(s.len()));
    }
    let end = src + 1;
    Ok(match owned {
        Some(mut v) => {
            v.extend_from_slice(&s[domain_start - 1..end]);
            (Cow::Owned(v), end)
        }
        None => (Cow::Borrowed(&s[at..end]), end),
    })
}

/// Every id in a value, in order.
pub fn all(s: &[u8]) -> Vec<Cow<'_, [u8]>> {
    let mut pos = 0;
    let mut out = Vec::new();
    let mut scan = Scan::default();
    while let Some(id) = scan.next(s, &mut pos) {
        out.push(id);
    }
    out
}

/// The first id in a value.
pub fn first(s: &[u8]) -> Option<Cow<'_, [u8]>> {
    next(s, &mut 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &str) -> Vec<String> {
        all(s.as_bytes()).iter().map(|i| String::from_utf8_lossy(i).into_owned()).collect()
    }

    #[test]
    fn shapes() {
        assert_eq!(ids("<a@b> <c@d>"), ["<a@b>", "<c@d>"]);
        assert_eq!(ids("junk <a@b>junk<c.d@e.f> (comment <x@y>)"), ["<a@b>", "<c.d@e.f>", "<x@y>"]);
        assert_eq!(ids("<nodomain> <a@b>"), ["<a@b>"]);
        assert_eq!(ids("<a b@c> <d@e>"), ["<d@e>"]);
        assert_eq!(ids("<\"x y\"@host>"), ["<x y@host>"]);
        assert_eq!(ids("<\"a\\\"b\"@h>"), ["<a\"b@h>"]);
        assert_eq!(ids("<@b> <a@> <a@b>"), ["<a@b>"]);
        assert_eq!(ids("<a@b"), Vec::<String>::new());
        assert_eq!(ids("<\"unclosed@b> <a@b>"), ["<a@b>"]);
        assert_eq!(ids("<a@b>\r\n <c@d>\r\nX: <e@f>"), ["<a@b>", "<c@d>"]);
        assert_eq!(ids(""), Vec::<String>::new());
        assert_eq!(first(b"<x@y> <z@w>").as_deref(), Some(&b"<x@y>"[..]));
    }

    #[test]
    fn hostile_input_is_linear() {
        let t = std::time::Instant::now();
        for s in ["<".repeat(200_000) + ">", "<\"\\\"".repeat(100_000) + "\">", "<\"".repeat(100_000) + "\"@x>", "<a".repeat(100_000) + "@b>"] {
            let _ = all(s.as_bytes());
        }
        assert!(t.elapsed().as_secs() < 2);
    }
}
