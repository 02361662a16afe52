//! The base subject of RFC 5256 section 2.1, which SORT (SUBJECT) orders by and the
//! threading algorithms group by.
//!
//! (1) encoded words decoded to UTF-8 ([`message::decode_header`], which also
//! unfolds), tabs and line breaks made spaces, runs of spaces made one; (2) trailing
//! "(fwd)" and spaces removed, repeatedly; (3) leading spaces and `*subj-blob
//! subj-refwd` leaders (`Re:`, `[list] Fwd [2]:`) removed; (4) one leading
//! `[blob]` removed when something is left after it; (5) 3 and 4 repeated until
//! nothing changes; (6) a `[fwd: ...]` wrapper removed, and back to step 2. The
//! patterns are ASCII and matched without regard to case, so the work is on the
//! UTF-8 bytes and every cut falls on a character boundary.
//!
//! Cyrus 3.6 differs in step 1 only: it keeps runs of spaces and tabs inside the
//! subject, so "a  b" and "a b" are two subjects there and one here.

use crate::collate::casemap;

/// A base subject, and whether extracting it removed a reply or forward marker
/// (RFC 5256 section 3, REFERENCES step 5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BaseSubject {
    pub text: String,
    pub is_refwd: bool,
}

impl BaseSubject {
    /// The raw value of a Subject field (folded, with encoded words).
    pub fn from_header(raw: &[u8]) -> BaseSubject {
        extract(&message::decode_header(raw))
    }

    /// The form SORT and THREAD compare: i;unicode-casemap of the text.
    pub fn key(&self) -> String {
        casemap(&self.text).into_owned()
    }
}

/// The base subject of a decoded subject (step 1's decoding already done).
pub fn extract(decoded: &str) -> BaseSubject {
    let s = collapse(decoded);
    let b = s.as_bytes();
    let (mut start, mut end) = (0, b.len());
    let mut is_refwd = false;
    loop {
        // (2) trailers
        loop {
            let cur = &b[start..end];
            if cur.last() == Some(&b' ') {
                end -= 1;
            } else if cur.len() >= 5 && cur[cur.len() - 5..].eq_ignore_ascii_case(b"(fwd)") {
                end -= 5;
                is_refwd = true;
            } else {
                break;
            }
        }
        // (3) to (5)
        loop {
            let mut changed = false;
            loop {
                let cur = &b[start..end];
                if cur.first() == Some(&b' ') {
                    start += 1;
                } else if let Some(n) = leader(cur) {
                    start += n;
                    is_refwd = true;
                } else {
                    break;
                }
                changed = true;
            }
            if let Some(n) = blob(&b[start..end])
                && start + n < end
            {
                start += n;
                changed = true;
            }
            if !changed {
                break;
            }
        }
        // (6)
        let cur = &b[start..end];
        if cur.len() >= 6 && cur[..5].eq_ignore_ascii_case(b"[fwd:") && cur.ends_with(b"]") {
            start += 5;
            end -= 1;
            is_refwd = true;
            continue;
        }
        break;
    }
    BaseSubject { text: s[start..end].to_string(), is_refwd }
}

/// Step (1) after decoding: tabs and line breaks are spaces, runs of spaces one.
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

/// Length of the `subj-blob` (`"[" *BLOBCHAR "]" *WSP`) at the start of `s`.
fn blob(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'[') {
        return None;
    }
    let close = 1 + s[1..].iter().position(|&c| c == b'[' || c == b']')?;
    if s[close] != b']' {
        return None;
    }
    Some(close + 1 + s[close + 1..].iter().take_while(|&&c| c == b' ').count())
}

/// Length of a `*subj-blob subj-refwd` leader at the start of `s`, where
/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn leader(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(n) = blob(&s[i..]) {
        i += n;
    }
    ["re", "fwd", "fw"].iter().find_map(|word| {
        let mut j = i + word.len();
        if s.len() < j || !s[i..j].eq_ignore_ascii_case(word.as_bytes()) {
            return None;
        }
        j += s[j..].iter().take_while(|&&c| c == b' ').count();
        if let Some(n) = blob(&s[j..]) {
            j += n;
        }
        (s.get(j) == Some(&b':')).then_some(j + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> (String, bool) {
        let b = BaseSubject::from_header(s.as_bytes());
        (b.text, b.is_refwd)
    }

    #[test]
    fn base_subjects() {
        let table: &[(&str, &str, bool)] = &[
            ("Hello world", "Hello world", false),
            ("Re: Hello world", "Hello world", true),
            ("RE: re:Hello world", "Hello world", true),
            ("Fwd: Hello world", "Hello world", true),
            ("fw: FW: Fwd: Hello world", "Hello world", true),
            ("Re [2]: Hello world", "Hello world", true),
            ("Re[2]:Hello world", "Hello world", true),
            ("[list] Re: Hello world", "Hello world", true),
            ("[list] [other] Hello world", "Hello world", false),
            ("Re: [list] Re: Hello world", "Hello world", true),
            ("[Fwd: Hello world]", "Hello world", true),
            ("[fwd: Re: [list] Hello world]", "Hello world", true),
            ("Re: [Fwd: Hello world] (fwd)", "Hello world", true),
            ("Hello world (fwd)", "Hello world", true),
            ("Hello world (FWD) (fwd)  ", "Hello world", true),
            ("  Hello \t world  ", "Hello world", false),
            ("Hello\r\n  world", "Hello world", false),
            ("=?UTF-8?Q?Re=3A_Hello_world?=", "Hello world", true),
            ("=?ISO-8859-1?Q?Caf=E9?= au lait", "Café au lait", false),
            ("[blob only]", "[blob only]", false),
            ("[a] [b]", "[b]", false),
            ("Re: [blob only]", "[blob only]", true),
            ("Re:", "", true),
            ("", "", false),
            ("Rebuild: the plan", "Rebuild: the plan", false),
            ("Re : spaced", "spaced", true),
            ("Re [x: y", "Re [x: y", false),
            ("[fwd:]", "", true),
            ("[Fwd: ]", "", true),
            ("Fwd:[fwd: inner]", "inner", true),
            ("re: (fwd)", "", true),
        ];
        for (raw, want, refwd) in table {
            assert_eq!(base(raw), (want.to_string(), *refwd), "{raw:?}");
        }
    }

    #[test]
    fn keys_fold_case() {
        assert_eq!(BaseSubject::from_header(b"Re: hello").key(), BaseSubject::from_header(b"HELLO").key());
    }
}
