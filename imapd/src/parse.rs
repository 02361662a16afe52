//! The IMAP command grammar (RFC 3501 9, RFC 7888 literals) over one whole command as
//! read by [`crate::session`]: its lines and literals joined, each literal still
//! introduced by its `{n}` / `{n+}` and CRLF, so that the parser reads it in place.
//!
//! Every parse error is a `String` that becomes the text of a tagged `BAD`. Nesting
//! (search keys, body sections) is bounded by the callers with [`MAX_DEPTH`].

use std::borrow::Cow;

/// Deepest parenthesised nesting accepted (search keys).
pub const MAX_DEPTH: usize = 64;

pub type PResult<T> = Result<T, String>;

/// `*` in a sequence set.
pub const STAR: u64 = u64::MAX;

/// `$` (RFC 5182 SEARCHRES): the saved search result, as the one range (SAVED, SAVED).
pub const SAVED: u64 = u64::MAX - 1;

/// A sequence set as written: ranges whose ends may be [`STAR`], or `$` ([`SAVED`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqSet(pub Vec<(u64, u64)>);

impl SeqSet {
    /// The ranges with `*` replaced by `max`, each ordered low..=high, clipped to
    /// `1..=max` (a range wholly above `max` is dropped, except that `*` alone is
    /// `max` even when... there is nothing: then it is empty).
    pub fn resolve(&self, max: u32) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = Vec::new();
        if max == 0 || self.is_saved() {
            return out;
        }
        for &(a, b) in &self.0 {
            let a = if a == STAR { u64::from(max) } else { a };
            let b = if b == STAR { u64::from(max) } else { b };
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            if lo > u64::from(max) {
                continue;
            }
            out.push((lo as u32, hi.min(u64::from(max)) as u32));
        }
        out.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(out.len());
        for (lo, hi) in out {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        merged
    }

    /// Whether this is `$`, which the caller resolves against the saved result.
    pub fn is_saved(&self) -> bool {
        self.0 == [(SAVED, SAVED)]
    }

    /// Whether `n` is in the set, `*` being `max` (for UID sets in SEARCH).
    pub fn contains(&self, n: u32, max: u32) -> bool {
        self.0.iter().any(|&(a, b)| {
            let a = if a == STAR { u64::from(max) } else { a };
            let b = if b == STAR { u64::from(max) } else { b };
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            (lo..=hi).contains(&u64::from(n))
        })
    }
}

/// Formats sorted numbers as a compact sequence set (`1:3,7`).
pub fn compact(nums: &[u32]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < nums.len() {
        let start = nums[i];
        let mut end = start;
        while i + 1 < nums.len() && nums[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = nums[i];
        }
        if !s.is_empty() {
            s.push(',');
        }
        if start == end {
            s.push_str(&start.to_string());
        } else {
            s.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    s
}

pub struct Parser<'a> {
    b: &'a [u8],
    pub pos: usize,
}

fn is_atom_char(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

fn is_astring_char(c: u8) -> bool {
    is_atom_char(c) || c == b']'
}

fn is_list_char(c: u8) -> bool {
    is_astring_char(c) || c == b'%' || c == b'*'
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// INTERNALDATE form: `"17-Jul-1996 02:44:25 -0700"` (UTC, as stored).
pub fn format_internaldate(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{d:>2}-{}-{y:04} {:02}:{:02}:{:02} +0000", MONTHS[(m - 1) as usize], secs / 3600, secs / 60 % 60, secs % 60)
}

impl<'a> Parser<'a> {
    pub fn new(b: &'a [u8]) -> Parser<'a> {
        Parser { b, pos: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    pub fn end(&self) -> PResult<()> {
        if self.at_end() { Ok(()) } else { Err("Unexpected extra arguments".into()) }
    }

    pub fn sp(&mut self) -> PResult<()> {
        if self.peek() == Some(b' ') {
            self.pos += 1;
            Ok(())
        } else {
            Err("Missing required argument".into())
        }
    }

    /// Consumes `c` if it is next.
    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, c: u8) -> PResult<()> {
        if self.eat(c) { Ok(()) } else { Err(format!("Expected '{}'", c as char)) }
    }

    /// Consumes `word` (case-insensitive) if it is next and not followed by more atom
    /// characters.
    pub fn word(&mut self, word: &str) -> bool {
        let w = word.as_bytes();
        let end = self.pos + w.len();
        if end <= self.b.len() && self.b[self.pos..end].eq_ignore_ascii_case(w) && !self.b.get(end).is_some_and(|&c| is_atom_char(c) && c != b'[' && c != b'.' && c != b'<') {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.b[start..self.pos]
    }

    pub fn atom(&mut self) -> PResult<&'a [u8]> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() { Err("Expected an atom".into()) } else { Ok(a) }
    }

    /// An atom, upper-cased, as text (command names, search keys, fetch items).
    pub fn keyword(&mut self) -> PResult<String> {
        let a = self.take_while(|c| is_atom_char(c) && c != b'[' && c != b'<');
        if a.is_empty() {
            return Err("Expected a keyword".into());
        }
        Ok(String::from_utf8_lossy(a).to_ascii_uppercase())
    }

    fn literal(&mut self) -> PResult<&'a [u8]> {
        self.expect(b'{')?;
        let digits = self.take_while(|c| c.is_ascii_digit());
        let n: usize = std::str::from_utf8(digits).ok().and_then(|s| s.parse().ok()).ok_or("Bad literal size")?;
        let _ = self.eat(b'+') || self.eat(b'-');
        self.expect(b'}')?;
        if !(self.eat(b'\r') && self.eat(b'\n')) {
            return Err("Literal not followed by CRLF".into());
        }
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len()).ok_or("Literal truncated")?;
        let v = &self.b[self.pos..end];
        self.pos = end;
        Ok(v)
    }

    fn quoted(&mut self) -> PResult<Cow<'a, [u8]>> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let c = self.peek().ok_or("Unterminated quoted string")?;
            match c {
                b'"' => {
                    let v = match owned {
                        Some(o) => Cow::Owned(o),
                        None => Cow::Borrowed(&self.b[start..self.pos]),
                    };
                    self.pos += 1;
                    return Ok(v);
                }
                b'\\' => {
                    let o = owned.get_or_insert_with(|| self.b[start..self.pos].to_vec());
                    self.pos += 1;
                    let e = self.peek().ok_or("Unterminated quoted string")?;
                    if e != b'"' && e != b'\\' {
                        return Err("Invalid escape in quoted string".into());
                    }
                    o.push(e);
                    self.pos += 1;
                }
                b'\r' | b'\n' | 0 => return Err("Invalid character in quoted string".into()),
                _ => {
                    if let Some(o) = owned.as_mut() {
                        o.push(c);
                    }
                    self.pos += 1;
                }
            }
        }
    }

    pub fn string(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal().map(Cow::Borrowed),
            _ => Err("Expected a string".into()),
        }
    }

    pub fn astring(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() { Err("Expected an astring".into()) } else { Ok(Cow::Borrowed(a)) }
            }
        }
    }

    /// An astring as UTF-8 text (names, user ids); invalid UTF-8 is an error.
    pub fn astring_text(&mut self) -> PResult<String> {
        let v = self.astring()?;
        String::from_utf8(v.into_owned()).map_err(|_| "Invalid UTF-8".to_string())
    }

    /// A mailbox name (astring; `INBOX` in any case is INBOX).
    pub fn mailbox(&mut self) -> PResult<String> {
        let s = self.astring_text()?;
        Ok(if s.eq_ignore_ascii_case("INBOX") { "INBOX".into() } else { s })
    }

    /// list-mailbox: list-chars or a string.
    pub fn list_mailbox(&mut self) -> PResult<String> {
        match self.peek() {
            Some(b'"' | b'{') => String::from_utf8(self.string()?.into_owned()).map_err(|_| "Invalid UTF-8".into()),
            _ => {
                let a = self.take_while(is_list_char);
                if a.is_empty() { Err("Expected a mailbox pattern".into()) } else { Ok(String::from_utf8_lossy(a).into_owned()) }
            }
        }
    }

    pub fn number(&mut self) -> PResult<u64> {
        let d = self.take_while(|c| c.is_ascii_digit());
        if d.is_empty() || d.len() > 20 {
            return Err("Expected a number".into());
        }
        std::str::from_utf8(d).ok().and_then(|s| s.parse().ok()).ok_or_else(|| "Number too large".into())
    }

    pub fn number32(&mut self) -> PResult<u32> {
        let n = self.number()?;
        u32::try_from(n).map_err(|_| "Number too large".into())
    }

    fn seq_number(&mut self) -> PResult<u64> {
        if self.eat(b'*') {
            return Ok(STAR);
        }
        let n = self.number()?;
        if n == 0 || n > u64::from(u32::MAX) {
            return Err("Invalid sequence number".into());
        }
        Ok(n)
    }

    pub fn seqset(&mut self) -> PResult<SeqSet> {
        if self.eat(b'$') {
            return Ok(SeqSet(vec![(SAVED, SAVED)]));
        }
        let mut v = Vec::new();
        loop {
            let a = self.seq_number()?;
            let b = if self.eat(b':') { self.seq_number()? } else { a };
            v.push((a, b));
            if v.len() > 100_000 {
                return Err("Sequence set too long".into());
            }
            if !self.eat(b',') {
                return Ok(SeqSet(v));
            }
        }
    }

    /// Whether a sequence set starts here (a digit or `*`).
    pub fn at_seqset(&self) -> bool {
        self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'*' || c == b'$')
    }

    /// A flag: `\Word` or a keyword atom.
    pub fn flag(&mut self) -> PResult<String> {
        let bs = self.eat(b'\\');
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            if bs && self.eat(b'*') {
                return Ok("\\*".into());
            }
            return Err("Invalid flag".into());
        }
        let s = String::from_utf8_lossy(a).into_owned();
        Ok(if bs { format!("\\{s}") } else { s })
    }

    /// `(flag flag ...)` or, when `bare` is allowed, a single flag or flags separated
    /// by spaces to the end (STORE).
    pub fn flag_list(&mut self, bare: bool) -> PResult<Vec<String>> {
        let mut v = Vec::new();
        if self.eat(b'(') {
            if self.eat(b')') {
                return Ok(v);
            }
            loop {
                v.push(self.flag()?);
                if self.eat(b')') {
                    return Ok(v);
                }
                self.sp()?;
            }
        }
        if !bare {
            return Err("Expected a flag list".into());
        }
        loop {
            v.push(self.flag()?);
            if self.at_end() {
                return Ok(v);
            }
            self.sp()?;
        }
    }

    fn digits(&mut self, min: usize, max: usize) -> PResult<u32> {
        let d = self.take_while(|c| c.is_ascii_digit());
        if d.len() < min || d.len() > max {
            return Err("Invalid date".into());
        }
        Ok(std::str::from_utf8(d).unwrap_or("0").parse().unwrap_or(0))
    }

    fn month(&mut self) -> PResult<u32> {
        let end = self.pos + 3;
        let m = self.b.get(self.pos..end).ok_or("Invalid date")?;
        let i = MONTHS.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(m)).ok_or("Invalid month")?;
        self.pos = end;
        Ok(i as u32 + 1)
    }

    /// A SEARCH date (`1-Feb-1994`, quoted or not): days since the epoch.
    pub fn date(&mut self) -> PResult<i64> {
        let q = self.eat(b'"');
        let d = self.digits(1, 2)?;
        self.expect(b'-')?;
        let m = self.month()?;
        self.expect(b'-')?;
        let y = self.digits(4, 4)?;
        if q {
            self.expect(b'"')?;
        }
        if d == 0 || d > 31 {
            return Err("Invalid date".into());
        }
        Ok(days_from_civil(i64::from(y), m, d))
    }

    /// An APPEND date-time (`"17-Jul-1996 02:44:25 -0700"`): seconds since the epoch.
    pub fn date_time(&mut self) -> PResult<i64> {
        self.expect(b'"')?;
        if self.peek() == Some(b' ') {
            self.pos += 1;
        }
        let d = self.digits(1, 2)?;
        self.expect(b'-')?;
        let m = self.month()?;
        self.expect(b'-')?;
        let y = self.digits(4, 4)?;
        self.sp()?;
        let hh = self.digits(2, 2)?;
        self.expect(b':')?;
        let mm = self.digits(2, 2)?;
        self.expect(b':')?;
        let ss = self.digits(2, 2)?;
        self.sp()?;
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err("Invalid zone".into()),
        };
        self.pos += 1;
        let z = self.digits(4, 4)?;
        self.expect(b'"')?;
        if d == 0 || d > 31 || hh > 23 || mm > 59 || ss > 60 || z % 100 > 59 {
            return Err("Invalid date-time".into());
        }
        let off = sign * i64::from(z / 100 * 3600 + z % 100 * 60);
        Ok(days_from_civil(i64::from(y), m, d) * 86_400 + i64::from(hh * 3600 + mm * 60 + ss) - off)
    }
}

/// `{123}` or `{123+}` / `{123-}` at the end of a line: (size, non-synchronising).
pub fn trailing_literal(line: &[u8]) -> Option<(u64, bool)> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&c| c == b'{')?;
    let inner = &body[open + 1..];
    let (digits, plus) = match inner.last() {
        Some(b'+') | Some(b'-') => (&inner[..inner.len() - 1], true),
        _ => (inner, false),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok().map(|n| (n, plus))
}

/// A tag is one or more ASTRING-CHARs other than `+` (RFC 3501).
pub fn valid_tag(t: &[u8]) -> bool {
    !t.is_empty() && t.iter().all(|&c| is_astring_char(c) && c != b'+')
}

/// Writes `s` as an IMAP string: quoted when it can be, a literal otherwise.
pub fn quote(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() < 1024 && s.iter().all(|&c| c >= 0x20 && c < 0x7f) {
        out.push(b'"');
        for &c in s {
            if c == b'"' || c == b'\\' {
                out.push(b'\\');
            }
            out.push(c);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
    }
}

/// [`quote`] to a new String (for names and ids, which are ASCII).
pub fn quoted(s: &str) -> String {
    let mut v = Vec::new();
    quote(&mut v, s.as_bytes());
    String::from_utf8_lossy(&v).into_owned()
}

/// Whether `s` may go out as an atom (else [`quoted`]).
pub fn astring_out(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(is_astring_char) && !s.eq_ignore_ascii_case("NIL") { s.to_string() } else { quoted(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_literals() {
        let mut p = Parser::new(b"\"a\\\"b\" {3}\r\nxyz atom NIL");
        assert_eq!(&*p.astring().unwrap(), b"a\"b");
        p.sp().unwrap();
        assert_eq!(&*p.astring().unwrap(), b"xyz");
        p.sp().unwrap();
        assert_eq!(&*p.astring().unwrap(), b"atom");
        p.sp().unwrap();
        assert_eq!(p.keyword().unwrap(), "NIL");
        assert!(p.end().is_ok());
        assert!(Parser::new(b"{5}\r\nab").astring().is_err());
        assert!(Parser::new(b"\"abc").astring().is_err());
    }

    #[test]
    fn sequence_sets() {
        let s = Parser::new(b"1:4294967295").seqset().unwrap();
        assert_eq!(s.resolve(10), vec![(1, 10)]);
        assert!(Parser::new(b"0").seqset().is_err());
        assert!(Parser::new(b"4294967296").seqset().is_err());
        let s = Parser::new(b"5:*,2,3,20").seqset().unwrap();
        assert_eq!(s.resolve(7), vec![(2, 3), (5, 7)]);
        assert_eq!(Parser::new(b"*").seqset().unwrap().resolve(0), vec![]);
        assert_eq!(compact(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
    }

    #[test]
    fn dates() {
        assert_eq!(Parser::new(b"\"17-Jul-1996 02:44:25 -0700\"").date_time().unwrap(), 837_596_665);
        assert_eq!(format_internaldate(837_596_665), "17-Jul-1996 09:44:25 +0000");
        assert_eq!(format_internaldate(0), " 1-Jan-1970 00:00:00 +0000");
        assert_eq!(Parser::new(b"1-Jan-1970").date().unwrap(), 0);
        assert_eq!(Parser::new(b"\"2-Jan-1970\"").date().unwrap(), 1);
        assert!(Parser::new(b"32-Jan-1970").date().is_err());
        for d in [-1000, 0, 59, 20_000, 100_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn tags_and_literal_suffix() {
        assert!(valid_tag(b"a1"));
        assert!(!valid_tag(b"a+1"));
        assert!(!valid_tag(b"*"));
        assert_eq!(trailing_literal(b"a LOGIN {5}"), Some((5, false)));
        assert_eq!(trailing_literal(b"a LOGIN {5+}"), Some((5, true)));
        assert_eq!(trailing_literal(b"a NOOP"), None);
    }
}
