//! Header text for humans and SEARCH: RFC 2047 encoded words decoded, folding
//! removed, raw 8-bit octets read as UTF-8 when valid and as windows-1252 otherwise.
//!
//! Encoded words are found anywhere (not only between spaces, as lenient readers
//! do); whitespace between two of them is dropped (RFC 2047 6.2); consecutive words
//! in one charset are decoded together, so a character split across two words comes
//! out whole. A word in a charset encoding_rs does not know stays as written. Finding
//! the `?=` that ends a word reuses the last search, so the pass stays linear even on
//! a long line full of `=?`.

use std::borrow::Cow;

use crate::{charset, header, transfer};

/// Longest charset name tried; a longer one is not an encoded word.
const CHARSET_MAX: usize = 64;

/// Remembered as the last `?=` when there is none further on.
const NONE_LEFT: usize = usize::MAX;

/// Decodes an unstructured header value (see the module doc).
pub fn decode_header(raw: &[u8]) -> String {
    let s = header::unfold(raw);
    let mut out = String::with_capacity(s.len());
    let mut pending: Option<(&[u8], Vec<u8>)> = None; // charset, octets
    let mut text_start = 0; // start of text not yet written
    let mut i = 0;
    let mut terminator: Option<usize> = None; // last `?=` found
    while let Some(off) = find(&s[i..], b"=?") {
        let j = i + off;
        let Some(word) = encoded_word(&s, j, &mut terminator) else {
            i = j + 2;
            continue;
        };
        let between = &s[text_start..j];
        if pending.is_none() || !between.iter().all(|&b| b == b' ' || b == b'\t') {
            flush(&mut out, pending.take());
            out.push_str(&charset::best_effort(Cow::Borrowed(between)));
        }
        match pending.as_mut() {
            Some((cs, bytes)) if cs.eq_ignore_ascii_case(word.charset) => bytes.extend(word.octets),
            _ => {
                flush(&mut out, pending.take());
                pending = Some((word.charset, word.octets));
            }
        }
        text_start = word.end;
        i = word.end;
        if i >= s.len() {
            break;
        }
    }
    flush(&mut out, pending);
    out.push_str(&charset::best_effort(Cow::Borrowed(&s[text_start.min(s.len())..])));
    out
}

fn flush(out: &mut String, pending: Option<(&[u8], Vec<u8>)>) {
    if let Some((cs, bytes)) = pending {
        out.push_str(&charset::to_utf8(Cow::Owned(bytes), Some(cs)));
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Word<'a> {
    charset: &'a [u8],
    octets: Vec<u8>,
    end: usize,
}

/// The encoded word `=?charset?e?text?=` starting at `start`, if valid and in a
/// known charset.
fn encoded_word<'a>(s: &'a [u8], start: usize, terminator: &mut Option<usize>) -> Option<Word<'a>> {
    let cs_start = start + 2;
    let cs_len = s[cs_start..].iter().take(CHARSET_MAX + 1).position(|&b| b == b'?')?;
    let cs = &s[cs_start..cs_start + cs_len];
    if cs.is_empty() || cs.iter().any(|&b| b <= b' ' || b >= 0x7f) {
        return None;
    }
    let enc_at = cs_start + cs_len + 1;
    let (enc, q) = (s.get(enc_at)?.to_ascii_uppercase(), s.get(enc_at + 1)?);
    if *q != b'?' || !(enc == b'B' || enc == b'Q') {
        return None;
    }
    let text_start = enc_at + 2;
    let end = match *terminator {
        Some(t) if t >= text_start => t,
        _ => {
            let t = s.get(text_start..).and_then(|rest| find(rest, b"?=")).map_or(NONE_LEFT, |t| text_start + t);
            *terminator = Some(t);
            t
        }
    };
    if end == NONE_LEFT || !charset::known(cs) {
        return None;
    }
    let text = &s[text_start..end];
    let octets = if enc == b'B' { transfer::base64(text) } else { transfer::quoted_printable(text, true) };
    Some(Word { charset: cs, octets, end: end + 2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(decode_header(b" =?ISO-8859-1?Q?Andr=E9?= Pirard"), "André Pirard");
        assert_eq!(decode_header(b"=?utf-8?B?w6k=?=  =?utf-8?B?w6k=?="), "éé");
        assert_eq!(decode_header(b"=?utf-8?B?w6k=?= x =?utf-8?B?w6k=?="), "é x é");
        assert_eq!(decode_header(b"=?x-nope?Q?a?= b"), "=?x-nope?Q?a?= b");
        assert_eq!(decode_header(b"a\r\n b"), "a b");
        assert_eq!(decode_header(b"caf\xe9"), "café");
        assert_eq!(decode_header("café".as_bytes()), "café");
        // A UTF-8 character split across two words.
        assert_eq!(decode_header(b"=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?="), "é");
        assert_eq!(decode_header(b"=?=?=?"), "=?=?=?");
    }
}
