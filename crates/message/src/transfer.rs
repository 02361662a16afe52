//! Content-Transfer-Encodings (RFC 2045 6): base64 and quoted-printable decoding,
//! also used for RFC 2047 B and Q encoded words.
//!
//! Both decoders are lenient, as mail needs: base64 skips octets outside its
//! alphabet and stops at `=`; quoted-printable keeps a `=` that starts no valid
//! escape or soft line break. Neither fails, and both are one linear pass.

use std::borrow::Cow;

/// How a body is encoded, as far as decoding it for search goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transfer {
    /// 7bit, 8bit, binary, absent, or unknown: the octets are the content.
    Identity,
    Base64,
    QuotedPrintable,
}

impl Transfer {
    /// From an uppercased Content-Transfer-Encoding token.
    pub(crate) fn from_name(name: Option<&[u8]>) -> Transfer {
        match name {
            Some(b"BASE64") => Transfer::Base64,
            Some(b"QUOTED-PRINTABLE") => Transfer::QuotedPrintable,
            _ => Transfer::Identity,
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Transfer::Identity => 0,
            Transfer::Base64 => 1,
            Transfer::QuotedPrintable => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Transfer> {
        [Transfer::Identity, Transfer::Base64, Transfer::QuotedPrintable].into_iter().find(|t| t.code() == code)
    }

    /// The decoded octets; borrowed when there is nothing to decode.
    pub(crate) fn decode(self, body: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Transfer::Identity => Cow::Borrowed(body),
            Transfer::Base64 => Cow::Owned(base64(body)),
            Transfer::QuotedPrintable => Cow::Owned(quoted_printable(body, false)),
        }
    }
}

fn base64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

pub(crate) fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in input {
        if b == b'=' {
            break;
        }
        let Some(v) = base64_value(b) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Quoted-printable; with `underscore_space` (RFC 2047 Q) `_` is a space.
pub(crate) fn quoted_printable(input: &[u8], underscore_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'=' {
            if let (Some(h), Some(l)) = (input.get(i + 1).and_then(|&c| hex(c)), input.get(i + 2).and_then(|&c| hex(c))) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            if let Some(next) = soft_break_end(input, i + 1) {
                i = next;
                continue;
            }
            out.push(b'=');
        } else if b == b'_' && underscore_space {
            out.push(b' ');
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// If only whitespace and a line break (or the end) follow a `=` at `from`,
/// where the next line starts.
fn soft_break_end(input: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    while matches!(input.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    match input.get(j) {
        None => Some(j),
        Some(b'\n') => Some(j + 1),
        Some(b'\r') if input.get(j + 1) == Some(&b'\n') => Some(j + 2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lenient() {
        assert_eq!(base64(b"SGVsbG8sIHdvcmxkIQ=="), b"Hello, world!");
        assert_eq!(base64(b"SGVs\r\nbG8"), b"Hello");
        assert_eq!(base64(b""), b"");
    }

    #[test]
    fn qp() {
        assert_eq!(quoted_printable(b"caf=C3=A9 =\r\nnext=3d", false), "café next=".as_bytes());
        assert_eq!(quoted_printable(b"a=zz=", false), b"a=zz");
        assert_eq!(quoted_printable(b"a_b", true), b"a b");
    }
}
