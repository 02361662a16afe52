//! Octets in a declared charset to UTF-8, through encoding_rs.
//!
//! A charset encoding_rs knows is used as declared, except that text declared
//! us-ascii (or not declared, or in a charset nobody knows) is read as UTF-8 when it
//! is valid UTF-8 and as windows-1252 otherwise: mislabelled 8-bit text is common and
//! those two cover most of it. Nothing fails; ASCII or valid UTF-8 is not copied.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// The encoding for a charset label, ignoring an RFC 2231 `*language` suffix;
/// `None` for us-ascii, which gets the best-effort reading.
pub(crate) fn lookup(label: &[u8]) -> Option<&'static Encoding> {
    if is_ascii(label) { None } else { Encoding::for_label(bare(label)) }
}

/// Whether the label names a charset we can read (us-ascii included).
pub(crate) fn known(label: &[u8]) -> bool {
    is_ascii(label) || Encoding::for_label(bare(label)).is_some()
}

fn bare(label: &[u8]) -> &[u8] {
    label.split(|&b| b == b'*').next().unwrap_or(label).trim_ascii()
}

fn is_ascii(label: &[u8]) -> bool {
    let l = bare(label);
    // The names of ASCII that Cyrus (through ICU) knows and encoding_rs does not.
    [&b"us-ascii"[..], b"ascii", b"ansi-x3.4-1968", b"ansi_x3.4-1968", b"iso646-us", b"us"].iter().any(|a| l.eq_ignore_ascii_case(a))
}

/// Decodes `bytes` declared as `label` (see the module doc).
pub(crate) fn to_utf8<'a>(bytes: Cow<'a, [u8]>, label: Option<&[u8]>) -> Cow<'a, str> {
    match label.and_then(lookup) {
        Some(enc) if enc != UTF_8 => decode_with(enc, bytes),
        _ => best_effort(bytes),
    }
}

/// UTF-8 when valid, else windows-1252.
pub(crate) fn best_effort(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(b) => match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => decode_with(WINDOWS_1252, Cow::Borrowed(b)),
        },
        Cow::Owned(v) => match String::from_utf8(v) {
            Ok(s) => Cow::Owned(s),
            Err(e) => decode_with(WINDOWS_1252, Cow::Owned(e.into_bytes())),
        },
    }
}

fn decode_with<'a>(enc: &'static Encoding, bytes: Cow<'a, [u8]>) -> Cow<'a, str> {
    match bytes {
        Cow::Borrowed(b) => enc.decode_without_bom_handling(b).0,
        Cow::Owned(v) => Cow::Owned(enc.decode_without_bom_handling(&v).0.into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(to_utf8(Cow::Borrowed(b"caf\xe9"), Some(b"ISO-8859-1")), "café");
        assert_eq!(to_utf8(Cow::Borrowed("café".as_bytes()), Some(b"us-ascii")), "café");
        assert_eq!(to_utf8(Cow::Borrowed(b"caf\xe9"), Some(b"x-unknown")), "café");
        assert_eq!(to_utf8(Cow::Borrowed(b"\x82\xa0"), Some(b"shift_jis")), "あ");
        assert!(matches!(to_utf8(Cow::Borrowed(b"plain"), None), Cow::Borrowed(_)));
    }
}
