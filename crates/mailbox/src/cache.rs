//! What the cache holds for each message, built once at append.
//!
//! Payload version 2: `version u8 = 2`, `header_len u32`, the message's header block
//! (up to and including the blank line), then the message crate's cache form of the
//! parsed message (ENVELOPE, BODY, BODYSTRUCTURE, section offsets, decoded search
//! fields; layout in `message::cache`). FETCH of FLAGS, ENVELOPE, BODYSTRUCTURE,
//! RFC822.SIZE, INTERNALDATE and header sections, and header SEARCH, never open the
//! message file.

pub const PAYLOAD_VERSION: u8 = 2;

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
    let mut v = Vec::with_capacity(5 + hl + structure.len());
    v.push(PAYLOAD_VERSION);
    v.extend_from_slice(&(hl as u32).to_le_bytes());
    v.extend_from_slice(&raw[..hl]);
    v.extend_from_slice(&structure);
    v
}

/// The parsed message kept in a cache payload (checked; never reparses the message).
pub fn structure(payload: &[u8]) -> Option<message::Cached> {
    let hb = header_block(payload)?;
    message::Cached::from_cache(&payload[5 + hb.len()..]).ok()
}

/// ENVELOPE, BODY and BODYSTRUCTURE as stored in a cache payload, borrowed.
pub fn wire_forms(payload: &[u8]) -> Option<message::cache::WireForms<'_>> {
    let hb = header_block(payload)?;
    message::cache::wire_forms(&payload[5 + hb.len()..]).ok()
}

/// The header block stored in a cache payload.
pub fn header_block(payload: &[u8]) -> Option<&[u8]> {
    if payload.first() != Some(&PAYLOAD_VERSION) || payload.len() < 5 {
        return None;
    }
    let hl = u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]) as usize;
    payload.get(5..5 + hl)
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
        assert_eq!(structure(&p), Some(parsed));
        assert_eq!(structure(&p[..p.len() - 1]), None);
    }
}
