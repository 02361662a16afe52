//! The i;unicode-casemap collation of RFC 5051, which RFC 5256 (through I18NLEVEL=1
//! of RFC 5255) names for SORT and THREAD, and Sieve offers as a comparator.
//!
//! A string is mapped character by character to its simple titlecase, then
//! decomposed (NFKD); two strings compare as the octets of their mapped forms. The
//! mapping is applied a second time to the decomposed text, so that a character
//! whose compatibility decomposition yields lower-case letters (the ligature "ﬁ")
//! folds like the letters it stands for. ASCII, nearly all header text, takes a fast
//! path: titlecase is upper case there and nothing decomposes.
//!
//! Rust offers full upper-case mappings, not titlecase: the few characters where
//! they differ are mapped by hand (the DŽ/Lj/Nj/Dz digraphs, Greek letters with
//! ypogegrammeni, Georgian Mkhedruli, which has no titlecase), and a character whose
//! upper case is several characters (ß) stays as it is, which is what its simple
//! mapping says.

use std::borrow::Cow;
use std::cmp::Ordering;

use unicode_normalization::UnicodeNormalization;

/// `s` as i;unicode-casemap compares it.
pub fn casemap(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_lowercase()) {
            return Cow::Owned(s.to_ascii_uppercase());
        }
        return Cow::Borrowed(s);
    }
    let once: String = s.chars().map(titlecase).nfkd().collect();
    Cow::Owned(once.chars().map(titlecase).nfkd().collect())
}

/// Orders two strings under i;unicode-casemap.
pub fn compare(a: &str, b: &str) -> Ordering {
    casemap(a).as_bytes().cmp(casemap(b).as_bytes())
}

/// The simple titlecase mapping of one character (UnicodeData.txt field 14).
pub fn titlecase(c: char) -> char {
    let n = c as u32;
    match n {
        0x01C4..=0x01C6 => return '\u{01C5}',
        0x01C7..=0x01C9 => return '\u{01C8}',
        0x01CA..=0x01CC => return '\u{01CB}',
        0x01F1..=0x01F3 => return '\u{01F2}',
        // Georgian Mkhedruli: an upper case (Mtavruli) since Unicode 11, no titlecase.
        0x10D0..=0x10FA | 0x10FD..=0x10FF => return c,
        // Greek with ypogegrammeni: titlecase is the prosgegrammeni form.
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => return char::from_u32(n + 8).unwrap_or(c),
        0x1FB3 => return '\u{1FBC}',
        0x1FC3 => return '\u{1FCC}',
        0x1FF3 => return '\u{1FFC}',
        _ => {}
    }
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_upper_case() {
        assert_eq!(casemap("Hello, World"), "HELLO, WORLD");
        assert!(matches!(casemap("ABC 1"), Cow::Borrowed(_)));
        // Titlecase, not lower case, decides the order: "a" sorts before "_".
        assert_eq!(compare("a", "_"), Ordering::Less);
        assert_eq!(compare("abc", "ABD"), Ordering::Less);
        assert_eq!(compare("Zebra", "zebra"), Ordering::Equal);
    }

    #[test]
    fn unicode_cases() {
        assert_eq!(compare("ÄPFEL", "äpfel"), Ordering::Equal);
        // Precomposed and decomposed forms are one.
        assert_eq!(compare("caf\u{e9}", "CAFE\u{301}"), Ordering::Equal);
        // Compatibility decomposition: the ligature is its letters, in either case.
        assert_eq!(compare("\u{FB01}nance", "FINANCE"), Ordering::Equal);
        // ß has no simple titlecase: it is not SS.
        assert_ne!(compare("straße", "STRASSE"), Ordering::Equal);
        assert_eq!(compare("STRAßE", "straße"), Ordering::Equal);
        // Digraphs fold to their titlecase form.
        assert_eq!(casemap("\u{01C6}"), casemap("\u{01C4}"));
        assert_eq!(titlecase('\u{01C6}'), '\u{01C5}');
        assert_eq!(titlecase('\u{1FB3}'), '\u{1FBC}');
        assert_eq!(titlecase('\u{10D0}'), '\u{10D0}');
        assert_eq!(compare("σ", "Σ"), Ordering::Equal);
        assert_eq!(compare("ς", "Σ"), Ordering::Equal);
        // An accented letter sorts after its base letter alone and before the next
        // letter: the combining mark is compared as the octets of its UTF-8 form.
        assert_eq!(compare("élan", "Ezra"), Ordering::Greater);
        assert_eq!(compare("élan", "Fa"), Ordering::Less);
    }
}
