//! Comparators (RFC 4790: i;octet, i;ascii-casemap, i;unicode-casemap of RFC 5051,
//! i;ascii-numeric) and match types (RFC 5228 §2.7.1, relational RFC 5231, regex).
//!
//! `:matches` and `:regex` run on the `regex` crate, whose matching time is linear in
//! the input whatever the pattern: a hostile pattern cannot stall delivery. Patterns
//! are compiled under a size bound and kept in a small per-process cache, since the
//! same script runs for every delivery. `:matches` wildcards expand greedily (RFC
//! 5229 §3.2), which is what a greedy `(.*)` gives.

use crate::ast::{Cmp, Match, MatchType, Rel};
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Bound on a compiled regular expression (bytes of the compiled program).
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Longest pattern accepted.
const PATTERN_MAX: usize = 4096;
/// Compiled patterns kept per process.
const CACHE_MAX: usize = 256;

thread_local! {
    static CACHE: RefCell<HashMap<(String, bool, bool), Regex>> = RefCell::new(HashMap::new());
}

/// Folds `s` as the comparator compares it.
pub fn fold(cmp: Cmp, s: &str) -> Cow<'_, str> {
    match cmp {
        Cmp::Octet | Cmp::AsciiNumeric => Cow::Borrowed(s),
        Cmp::AsciiCasemap => {
            if s.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(s.to_ascii_lowercase())
            } else {
                Cow::Borrowed(s)
            }
        }
        // RFC 5051: titlecase, then compatibility decomposition (NFKD), so that
        // "É", "é" and "e\u{301}" are one; shared with SORT and THREAD.
        Cmp::UnicodeCasemap => sortthread::casemap(s),
    }
}

fn compile(pattern: &str, insensitive: bool) -> Result<Regex, String> {
    if pattern.len() > PATTERN_MAX {
        return Err(format!("pattern longer than {PATTERN_MAX} bytes"));
    }
    RegexBuilder::new(pattern)
        .case_insensitive(insensitive)
        .dot_matches_new_line(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => "regular expression too large".to_string(),
            other => other.to_string().lines().last().unwrap_or("invalid").trim().to_string(),
        })
}

/// Runs `f` on the compiled pattern, compiling it on first use. The regex is lent,
/// not cloned: a clone would start with a cold matching cache of its own.
fn with_cached<T>(pattern: &str, insensitive: bool, glob: bool, f: impl FnOnce(&Regex) -> T) -> Result<T, String> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let key = (pattern.to_string(), insensitive, glob);
        if !c.contains_key(&key) {
            let r = if glob { compile(&glob_to_regex(pattern), insensitive)? } else { compile(pattern, insensitive)? };
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(key.clone(), r);
        }
        Ok(f(&c[&key]))
    })
}

/// The regular expression of a `:regex` key (POSIX extended syntax, as the regex
/// crate reads it), case-insensitive under the casemap comparators.
pub fn regex_for(pattern: &str, cmp: Cmp) -> Result<Regex, String> {
    with_cached(pattern, matches!(cmp, Cmp::AsciiCasemap | Cmp::UnicodeCasemap), false, Regex::clone)
}

/// `*` and `?` with `\` quoting, as an anchored regular expression in which each
/// wildcard is a group.
fn glob_to_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len() * 2 + 8);
    out.push('^');
    let mut chars = p.chars();
    let mut buf = [0u8; 4];
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str("(.*)"),
            '?' => out.push_str("(.)"),
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push_str(&regex::escape(n.encode_utf8(&mut buf)));
                }
            }
            _ => out.push_str(&regex::escape(c.encode_utf8(&mut buf))),
        }
    }
    out.push('$');
    out
}

/// The leading-digits value of i;ascii-numeric: `None` is positive infinity (no
/// leading digit). Digits are compared as text without leading zeros, so any length
/// works.
fn numeric(s: &str) -> Option<&str> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let d = s[..digits].trim_start_matches('0');
    Some(d)
}

fn numeric_cmp(a: &str, b: &str) -> Ordering {
    match (numeric(a), numeric(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
    }
}

/// Orders a value against a key under the comparator.
pub fn order(cmp: Cmp, value: &str, key: &str) -> Ordering {
    match cmp {
        Cmp::AsciiNumeric => numeric_cmp(value, key),
        _ => fold(cmp, value).as_bytes().cmp(fold(cmp, key).as_bytes()),
    }
}

pub fn rel_holds(rel: Rel, o: Ordering) -> bool {
    match rel {
        Rel::Gt => o == Ordering::Greater,
        Rel::Ge => o != Ordering::Less,
        Rel::Lt => o == Ordering::Less,
        Rel::Le => o != Ordering::Greater,
        Rel::Eq => o == Ordering::Equal,
        Rel::Ne => o != Ordering::Equal,
    }
}

/// What a successful `:matches` or `:regex` captured (`${0}` first).
pub type Captures = Vec<String>;

/// Whether `value` matches `key`; `want_captures` asks for the match variables. Not
/// for `:count` (counted by the caller) or `:list` (looked up by the caller).
pub fn matches(m: &Match, value: &str, key: &str, want_captures: bool) -> Result<(bool, Option<Captures>), String> {
    let hit = match m.mt {
        MatchType::Is => order(m.cmp, value, key) == Ordering::Equal,
        MatchType::Contains => fold(m.cmp, value).contains(fold(m.cmp, key).as_ref()),
        MatchType::Value(rel) => rel_holds(rel, order(m.cmp, value, key)),
        MatchType::Matches | MatchType::Regex => {
            let insensitive = matches!(m.cmp, Cmp::AsciiCasemap | Cmp::UnicodeCasemap);
            return with_cached(key, insensitive, m.mt == MatchType::Matches, |re| {
                if !want_captures {
                    return (re.is_match(value), None);
                }
                match re.captures(value) {
                    Some(c) => (true, Some(c.iter().map(|g| g.map_or(String::new(), |g| g.as_str().to_string())).collect())),
                    None => (false, None),
                }
            });
        }
        MatchType::Count(_) | MatchType::List => false,
    };
    Ok((hit, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(mt: MatchType, cmp: Cmp) -> Match {
        Match { cmp, mt }
    }

    #[test]
    fn comparators() {
        let is = m(MatchType::Is, Cmp::AsciiCasemap);
        assert!(matches(&is, "Hello", "hELLO", false).unwrap().0);
        assert!(!matches(&m(MatchType::Is, Cmp::Octet), "Hello", "hello", false).unwrap().0);
        assert!(matches(&m(MatchType::Is, Cmp::UnicodeCasemap), "ÄPFEL", "äpfel", false).unwrap().0);
        assert!(!matches(&is, "ÄPFEL", "äpfel", false).unwrap().0, "ascii-casemap leaves non-ASCII alone");
        let uni = m(MatchType::Contains, Cmp::UnicodeCasemap);
        assert!(matches(&uni, "CAFE\u{301} au lait", "café", false).unwrap().0, "NFKD: precomposed equals decomposed");
        assert!(matches(&uni, "\u{FB01}nance", "FINANCE", false).unwrap().0, "NFKD: the fi ligature is f i");
        let num = m(MatchType::Value(Rel::Gt), Cmp::AsciiNumeric);
        assert!(matches(&num, "10", "9", false).unwrap().0);
        assert!(matches(&num, "abc", "99999999999999999999999", false).unwrap().0, "no digits is infinity");
        assert!(matches(&m(MatchType::Is, Cmp::AsciiNumeric), "007x", "7", false).unwrap().0);
        assert!(matches(&m(MatchType::Value(Rel::Lt), Cmp::AsciiCasemap), "abc", "ABD", false).unwrap().0);
    }

    #[test]
    fn wildcards_are_greedy() {
        let mt = m(MatchType::Matches, Cmp::AsciiCasemap);
        let (hit, caps) = matches(&mt, "[acme-users] [fwd] version 1.0 is out", "[*] *", true).unwrap();
        assert!(hit);
        assert_eq!(caps.unwrap()[1], "acme-users] [fwd");
        assert!(matches(&mt, "a*b", "a\\*?", false).unwrap().0);
        assert!(!matches(&mt, "aXb", "a\\*?", false).unwrap().0);
        assert!(matches(&mt, "line1\r\nline2", "*line2", false).unwrap().0);
        assert!(matches(&mt, "FOO.bar", "foo.*", false).unwrap().0);
        assert!(!matches(&mt, "fooXbar", "foo.*", false).unwrap().0, "a dot is literal");
        let (_, caps) = matches(&m(MatchType::Regex, Cmp::Octet), "user+tag@x", "^([^+]*)\\+(.*)@", true).unwrap();
        assert_eq!(caps.unwrap()[2], "tag");
    }

    #[test]
    fn regex_bombs_are_refused_or_linear() {
        assert!(regex_for("(a{1000}){1000}", Cmp::Octet).is_err());
        let r = regex_for("(a|aa)*b", Cmp::Octet).unwrap();
        let hay = "a".repeat(100_000);
        let t = std::time::Instant::now();
        assert!(!r.is_match(&hay));
        assert!(t.elapsed().as_secs() < 2);
        assert!(regex_for("(unclosed", Cmp::Octet).is_err());
    }
}
