//! RFC 5322 Date values to seconds since the epoch, for SEARCH SENTBEFORE/SENTON/
//! SENTSINCE and SORT.
//!
//! Accepts the current syntax and the obsolete forms still found in old mail:
//! optional day name, comments anywhere (`(CEST)`), 2- and 3-digit years (RFC 5322
//! 4.3: below 50 is 20xx, else 19xx; 3 digits add 1900), seconds left out, `-` between
//! day, month and year, the asctime order `Tue Jul  1 10:52:37 2003`, named zones
//! (UT, GMT, the US zones) and military letters (read as +0000, which RFC 5322 4.3
//! allows since their sign was often wrong). A missing zone is +0000. Anything that
//! does not fit gives `None`.

/// Seconds since 1970-01-01T00:00:00Z of a Date header value.
pub fn parse_date(value: &[u8]) -> Option<i64> {
    let toks = tokens(value);
    let mut t = Toks { toks: &toks, i: 0, last_digits: 0 };
    if t.peek_alpha().is_some_and(day_name) {
        t.i += 1;
        t.eat(b',');
    }
    let (day, month, year, time) = if let Some(month) = t.peek_alpha().and_then(month_number) {
        // asctime: month day time year
        t.i += 1;
        let day = t.number()?;
        let time = t.time()?;
        let year = t.number()?;
        (day, month, (year, t.last_digits), Some(time))
    } else {
        let day = t.number()?;
        t.eat(b'-');
        let month = t.alpha().and_then(month_number)?;
        t.eat(b'-');
        let year = t.number()?;
        let digits = t.last_digits;
        (day, month, (year, digits), t.time())
    };
    let (hour, minute, second) = time.unwrap_or((0, 0, 0));
    let offset = t.zone().unwrap_or(0);
    let year = full_year(year.0, year.1)?;
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second - offset)
}

#[derive(Debug, PartialEq)]
enum Tok<'a> {
    Num(i64, usize),
    Word(&'a [u8]),
    Punct(u8),
}

/// Words, numbers and punctuation; whitespace and comments separate them.
fn tokens(value: &[u8]) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'(' {
            let mut depth = 0;
            while i < value.len() {
                match value[i] {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    b'\\' => i += 1,
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
        } else if b.is_ascii_digit() {
            let start = i;
            while i < value.len() && value[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &value[start..i];
            // More digits than any date field has: not a date.
            let n = if digits.len() > 9 { i64::MAX } else { digits.iter().fold(0, |n, &d| n * 10 + i64::from(d - b'0')) };
            out.push(Tok::Num(n, digits.len()));
        } else if b.is_ascii_alphabetic() {
            let start = i;
            while i < value.len() && value[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Tok::Word(&value[start..i]));
        } else {
            if !b.is_ascii_whitespace() {
                out.push(Tok::Punct(b));
            }
            i += 1;
        }
    }
    out
}

struct Toks<'t, 'a> {
    toks: &'t [Tok<'a>],
    i: usize,
    last_digits: usize,
}

impl<'a> Toks<'_, 'a> {
    fn peek_alpha(&self) -> Option<&'a [u8]> {
        match self.toks.get(self.i) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn alpha(&mut self) -> Option<&'a [u8]> {
        let w = self.peek_alpha()?;
        self.i += 1;
        Some(w)
    }

    fn number(&mut self) -> Option<i64> {
        match self.toks.get(self.i) {
            Some(Tok::Num(n, digits)) => {
                self.i += 1;
                self.last_digits = *digits;
                Some(*n)
            }
            _ => None,
        }
    }

    fn eat(&mut self, p: u8) -> bool {
        let hit = self.toks.get(self.i) == Some(&Tok::Punct(p));
        if hit {
            self.i += 1;
        }
        hit
    }

    /// `hh:mm[:ss]`.
    fn time(&mut self) -> Option<(i64, i64, i64)> {
        let save = (self.i, self.last_digits);
        let hm = (|| {
            let h = self.number()?;
            self.eat(b':').then_some(())?;
            let m = self.number()?;
            let s = if self.eat(b':') { self.number()? } else { 0 };
            Some((h, m, s))
        })();
        if hm.is_none() {
            (self.i, self.last_digits) = save;
        }
        hm
    }

    /// Offset east of UTC in seconds.
    fn zone(&mut self) -> Option<i64> {
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return self.alpha().map(named_zone);
        };
        let n = self.number()?;
        let (h, m) = if self.last_digits <= 2 && self.eat(b':') { (n, self.number()?) } else { (n / 100, n % 100) };
        (h <= 99 && m <= 59).then_some(sign * (h * 3_600 + m * 60))
    }
}

fn full_year(year: i64, digits: usize) -> Option<i64> {
    let y = match digits {
        1 | 2 if year < 50 => 2000 + year,
        1 | 2 => 1900 + year,
        3 => 1900 + year,
        4 => year,
        _ => return None,
    };
    (1000..=9999).contains(&y).then_some(y)
}

fn day_name(w: &[u8]) -> bool {
    w.len() >= 3 && [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"].iter().any(|d| w[..3].eq_ignore_ascii_case(&d[..]))
}

fn month_number(w: &[u8]) -> Option<i64> {
    const MONTHS: [&[u8; 3]; 12] = [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];
    if w.len() < 3 {
        return None;
    }
    MONTHS.iter().position(|m| w[..3].eq_ignore_ascii_case(&m[..])).map(|i| i as i64 + 1)
}

fn named_zone(w: &[u8]) -> i64 {
    const ZONES: [(&[u8], i64); 12] = [
        (b"UT", 0),
        (b"UTC", 0),
        (b"GMT", 0),
        (b"Z", 0),
        (b"EST", -5),
        (b"EDT", -4),
        (b"CST", -6),
        (b"CDT", -5),
        (b"MST", -7),
        (b"MDT", -6),
        (b"PST", -8),
        (b"PDT", -7),
    ];
    ZONES.iter().find(|(n, _)| n.eq_ignore_ascii_case(w)).map_or(0, |(_, h)| h * 3_600)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's method);
/// a day past the end of its month runs on into the next.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_date(b"Thu, 01 Jan 1970 00:00:00 +0000"), Some(0));
        assert_eq!(parse_date(b"Fri, 21 Nov 1997 09:55:06 -0600"), Some(880_127_706));
        assert_eq!(parse_date(b"21 Nov 97 09:55:06 GMT"), Some(880_106_106));
        assert_eq!(parse_date(b"Tue, 1 Jul 2003 10:52:37 +0200 (CEST)"), Some(1_057_049_557));
        assert_eq!(parse_date(b"Tue Jul  1 08:52:37 2003"), Some(1_057_049_557));
        assert_eq!(parse_date(b" 1-Jul-2003 08:52 "), Some(1_057_049_520));
        assert_eq!(parse_date(b"Sat, 29 Feb 2020 23:59:60 EST"), Some(1_583_038_800));
        assert_eq!(parse_date(b"1 Jan 49 00:00 Z"), parse_date(b"1 Jan 2049 00:00 +0000"));
        assert_eq!(parse_date(b"1 Jan 103 00:00 +0000"), parse_date(b"1 Jan 2003 00:00 +0000"));
        assert_eq!(parse_date(b"garbage"), None);
        assert_eq!(parse_date(b""), None);
        assert_eq!(parse_date(b"32 Jan 2003"), None);
        assert_eq!(parse_date(b"1 Jan 99999999999999999999 00:00"), None);
    }
}
