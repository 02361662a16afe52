//! The message header as a script sees it: fields in order, decoded on demand, and
//! changed by editheader (RFC 5293) so that later tests see the change and the
//! message is stored with it.

/// Fields a script may never add or delete (RFC 5293 §6 protects Received; Cyrus
/// protects Auto-Submitted as well, so that loop protection cannot be defeated).
const PROTECTED: &[&str] = &["received", "auto-submitted"];

/// Longest value addheader may add.
pub const MAX_ADDED_VALUE: usize = 1024;

pub struct Headers<'a> {
    raw: &'a [u8],
    body_start: usize,
    fields: Vec<(String, Vec<u8>)>,
    pub edited: bool,
}

/// Length of the header block of `raw`, the blank line included.
pub fn header_len(raw: &[u8]) -> usize {
    let mut i = 0;
    while i < raw.len() {
        let end = raw[i..].iter().position(|&b| b == b'\n').map_or(raw.len(), |p| i + p + 1);
        let line = &raw[i..end];
        if line == b"\r\n" || line == b"\n" {
            return end;
        }
        i = end;
    }
    raw.len()
}

impl<'a> Headers<'a> {
    pub fn new(raw: &'a [u8]) -> Headers<'a> {
        let body_start = header_len(raw);
        let fields = message::header_fields(&raw[..body_start]).into_iter().map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), v.to_vec())).collect();
        Headers { raw, body_start, fields, edited: false }
    }

    /// Raw values of the fields named `name`, in order.
    pub fn raw_values<'s>(&'s self, name: &'s str) -> impl DoubleEndedIterator<Item = &'s [u8]> + 's {
        self.fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    pub fn exists(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Decoded (RFC 2047, unfolded, trimmed) values of `name`.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.raw_values(name).map(|v| message::decode_header(v).trim().to_string()).collect()
    }

    pub fn body(&self) -> &'a [u8] {
        &self.raw[self.body_start..]
    }

    pub fn add(&mut self, name: &str, value: &str, last: bool) {
        if PROTECTED.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            return;
        }
        let v = format!(" {}", encode_value(value));
        let f = (name.to_string(), v.into_bytes());
        if last {
            self.fields.push(f);
        } else {
            self.fields.insert(0, f);
        }
        self.edited = true;
    }

    /// Deletes the fields named `name` for which `pick(occurrence, decoded value)`
    /// holds; occurrences count from 1 (from the end when `from_end`).
    pub fn delete(&mut self, name: &str, from_end: bool, mut pick: impl FnMut(usize, &str) -> bool) {
        if PROTECTED.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            return;
        }
        let total = self.fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count();
        let mut seen = 0;
        let before = self.fields.len();
        self.fields.retain(|(n, v)| {
            if !n.eq_ignore_ascii_case(name) {
                return true;
            }
            seen += 1;
            let occurrence = if from_end { total - seen + 1 } else { seen };
            !pick(occurrence, message::decode_header(v).trim())
        });
        self.edited |= self.fields.len() != before;
    }

    /// The message with the header as edited.
    pub fn message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() + 256);
        for (n, v) in &self.fields {
            out.extend_from_slice(n.as_bytes());
            out.push(b':');
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body());
        out
    }
}

/// A value as it may stand in a header: CR/LF removed, non-ASCII as an RFC 2047
/// encoded word, bounded.
pub fn encode_value(value: &str) -> String {
    let mut v: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    if v.len() > MAX_ADDED_VALUE {
        let mut cut = MAX_ADDED_VALUE;
        while !v.is_char_boundary(cut) {
            cut -= 1;
        }
        v.truncate(cut);
    }
    if v.is_ascii() {
        return v;
    }
    rfc2047_encode(&v)
}

/// `=?UTF-8?B?...?=` words of at most 45 octets each, separated by folding space.
pub fn rfc2047_encode(v: &str) -> String {
    let mut words = Vec::new();
    let mut start = 0;
    while start < v.len() {
        let mut end = (start + 45).min(v.len());
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        words.push(format!("=?UTF-8?B?{}?=", base64(v[start..end].as_bytes())));
        start = end;
    }
    words.join("\r\n ")
}

pub fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit() {
        let raw = b"Received: x\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nX-A: 1\r\nX-A: 2\r\nX-A: 3\r\n\r\nbody\r\n";
        let mut h = Headers::new(raw);
        assert_eq!(h.values("subject"), vec!["café"]);
        h.add("X-New", "été", false);
        h.add("Received", "forged", false);
        h.delete("x-a", true, |i, _| i == 1);
        h.delete("received", false, |_, _| true);
        let out = String::from_utf8(h.message()).unwrap();
        assert_eq!(out, "X-New: =?UTF-8?B?w6l0w6k=?=\r\nReceived: x\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nX-A: 1\r\nX-A: 2\r\n\r\nbody\r\n");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
