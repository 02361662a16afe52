//! What the cache holds for each message, built once at append.
//!
//! Payload version 3: `version u8 = 3`, `header_len u32`, `body_lines u32` (the lines
//! of the body, as Cyrus's content_lines: NNTP's :lines), the message's header block
//! (up to and including the blank line), then the message crate's cache form of the
//! parsed message (ENVELOPE, BODY, BODYSTRUCTURE, section offsets, decoded search
//! fields; layout in `message::cache`). Version 2, written before, lacks `body_lines`
//! and is read as it is. FETCH of FLAGS, ENVELOPE, BODYSTRUCTURE,
//! RFC822.SIZE, INTERNALDATE and header sections, and header SEARCH, never open the
//! message file.

pub const PAYLOAD_VERSION: u8 = 3;

/// Length of the header block: up to and including the first empty line (CRLF CRLF
/// or, in a damaged message, LF LF); the whole message if there is none.
pub fn header_len(raw: &[u8]) -> usize {
    if raw.starts_with(b"\r\n") {
        return 2;
    }
    if raw.starts_with(b"\n") {
        return 1;
    }
    let mut i = 0;
    while let Some(p) = raw[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let rest = &raw[nl + 1..];
        if rest.starts_with(b"\r\n") {
            return nl + 3;
        }
        if rest.starts_with(b"\n") {
            return nl + 2;
        }
        i = nl + 1;
    }
    raw.len()
}

/// The cache payload of a message, and the message parsed.
pub fn build(raw: &[u8]) -> (Vec<u8>, message::Message) {
    let parsed = message::parse(raw);
    (payload(raw, &parsed), parsed)
}

/// The cache payload of `raw`, already parsed as `parsed`.
pub fn payload(raw: &[u8], parsed: &message::Message) -> Vec<u8> {
    let hl = header_len(raw);
    let structure = parsed.to_cache();
    let mut v = Vec::with_capacity(9 + hl + structure.len());
    v.push(PAYLOAD_VERSION);
    v.extend_from_slice(&(hl as u32).to_le_bytes());
    v.extend_from_slice(&body_lines(&raw[hl..]).to_le_bytes());
    v.extend_from_slice(&raw[..hl]);
    v.extend_from_slice(&structure);
    v
}

/// The parsed message kept in a cache payload (checked; never reparses the message).
pub fn structure(payload: &[u8]) -> Option<message::Cached> {
    let (start, hl) = layout(payload)?;
    message::Cached::from_cache(payload.get(start + hl..)?).ok()
}

/// The lines of a body: its line breaks, and one more for a last line without one.
pub fn body_lines(body: &[u8]) -> u32 {
    let n = body.iter().filter(|&&b| b == b'\n').count();
    (n + usize::from(!body.is_empty() && !body.ends_with(b"\n"))) as u32
}

/// The body's line count kept in a payload (`None` for a version-2 payload).
pub fn stored_body_lines(payload: &[u8]) -> Option<u32> {
    (payload.first() == Some(&3) && payload.len() >= 9).then(|| u32::from_le_bytes([payload[5], payload[6], payload[7], payload[8]]))
}

/// Where a payload's header block starts, and its length.
fn layout(payload: &[u8]) -> Option<(usize, usize)> {
    let start = match payload.first() {
        Some(2) => 5,
        Some(3) => 9,
        _ => return None,
    };
    if payload.len() < start {
        return None;
    }
    Some((start, u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]) as usize))
}

/// ENVELOPE, BODY and BODYSTRUCTURE as stored in a cache payload, borrowed.
pub fn wire_forms(payload: &[u8]) -> Option<message::cache::WireForms<'_>> {
    let (start, hl) = layout(payload)?;
    message::cache::wire_forms(payload.get(start + hl..)?).ok()
}

/// The header block stored in a cache payload.
pub fn header_block(payload: &[u8]) -> Option<&[u8]> {
    let (start, hl) = layout(payload)?;
    payload.get(start..start + hl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths() {
        assert_eq!(header_len(b"A: b\r\n\r\nbody"), 8);
        assert_eq!(header_len(b"A: b\n\nbody"), 6);
        assert_eq!(header_len(b"A: b\r\nC: d\r\n"), 12);
        assert_eq!(header_len(b"\r\nbody"), 2);
        assert_eq!(header_len(b""), 0);
        let raw = b"Subject: x\r\n\r\nhi\r\n";
        let (p, parsed) = build(raw);
        assert_eq!(header_block(&p), Some(&b"Subject: x\r\n\r\n"[..]));
        assert_eq!(header_block(&p[..3]), None);
        assert_eq!(structure(&p).as_ref(), Some(&parsed));
        assert_eq!(structure(&p[..p.len() - 1]), None);
        assert_eq!(stored_body_lines(&p), Some(1));
        assert_eq!(body_lines(b"a\r\nb"), 2);
        assert_eq!(body_lines(b""), 0);
        // A version-2 payload (no line count) is still read.
        let mut v2 = vec![2u8];
        v2.extend_from_slice(&p[1..5]);
        v2.extend_from_slice(&p[9..]);
        assert_eq!(header_block(&v2), Some(&b"Subject: x\r\n\r\n"[..]));
        assert_eq!(structure(&v2), Some(parsed));
        assert_eq!(stored_body_lines(&v2), None);
    }
}
