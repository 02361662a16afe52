//! The cache record of a parsed message: everything [`Message`] holds, so that
//! FETCH and SEARCH need not reparse (or even open) the message file.
//!
//! Layout, version 1 (`n` is an unsigned LEB128 varint; `blob` is `n` length then
//! that many bytes; `opt` is `n` = 0 for absent, else length + 1, then the bytes):
//!
//! ```text
//! "MSGC" 0x01                       magic and version
//! blob envelope                     ENVELOPE as sent
//! blob body                         BODY as sent
//! blob bodystructure                BODYSTRUCTURE as sent
//! n    size                         octets of the whole message
//! opt  subject from to cc bcc message-id    SearchFields, UTF-8
//! u8   0|1, then i64 LE if 1        SearchFields::date
//! n    node count, then per node (pre-order, see crate::section):
//!      u8 kind (0 leaf, 1 multipart, 2 message/rfc822)
//!      n header_start, n header length, n body length, n subtree size
//!      u8 0 | 1 (TEXT/* leaf), and if 1: u8 transfer (0 none, 1 base64, 2 QP),
//!         opt charset
//! u32 LE CRC-32 (IEEE) of all the bytes before it
//! ```
//!
//! The layout did not change when the parser took up Cyrus's splitting rules
//! (crate::structure): a record written before them reads as it did and answers what
//! that parser said (tests/cache-v1 holds such records); `reconstruct` rewrites it.
//!
//! Reading checks the checksum, every length against the bytes left, the UTF-8 of
//! every string and the shape of the section table; any failure is an error, never a
//! panic or a read out of bounds.

use std::fmt;

use crate::section::{Node, NodeKind, Sections, TextCoding};
use crate::transfer::Transfer;
use crate::{Message, SearchFields};

const MAGIC: &[u8; 4] = b"MSGC";
const VERSION: u8 = 1;
/// Fewest bytes a node takes, to bound the allocation for a claimed node count.
const MIN_NODE_BYTES: usize = 6;

/// Why cache bytes were rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheError {
    /// Not a message cache record.
    BadMagic,
    /// Written by a version of this crate that this one cannot read.
    Version(u8),
    /// The checksum does not match: the bytes were damaged.
    Checksum,
    /// Shorter than its lengths say.
    Truncated,
    /// Well-formed bytes describing something impossible.
    Invalid(&'static str),
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::BadMagic => write!(f, "not a message cache record"),
            CacheError::Version(v) => write!(f, "message cache record version {v} is not supported"),
            CacheError::Checksum => write!(f, "message cache record checksum mismatch"),
            CacheError::Truncated => write!(f, "message cache record truncated"),
            CacheError::Invalid(what) => write!(f, "message cache record invalid: {what}"),
        }
    }
}

impl std::error::Error for CacheError {}

pub(crate) fn encode(m: &Message) -> Vec<u8> {
    let mut w = Vec::with_capacity(64 + m.envelope.len() + m.body.len() + m.bodystructure.len() + 16 * m.sections.nodes.len());
    w.extend_from_slice(MAGIC);
    w.push(VERSION);
    for b in [&m.envelope, &m.body, &m.bodystructure] {
        blob(&mut w, b);
    }
    varint(&mut w, m.sections.size as u64);
    let f = &m.fields;
    for s in [&f.subject, &f.from, &f.to, &f.cc, &f.bcc, &f.message_id] {
        opt(&mut w, s.as_ref().map(|s| s.as_bytes()));
    }
    match f.date {
        Some(d) => {
            w.push(1);
            w.extend_from_slice(&d.to_le_bytes());
        }
        None => w.push(0),
    }
    varint(&mut w, m.sections.nodes.len() as u64);
    for n in &m.sections.nodes {
        w.push(kind_code(n.kind));
        // Saturating: a table from parse is ordered, and no input may make encode panic.
        let lengths = [n.body_start.saturating_sub(n.header_start), n.body_end.saturating_sub(n.body_start)];
        for v in [n.header_start, lengths[0], lengths[1], n.subtree] {
            varint(&mut w, v as u64);
        }
        match &n.text {
            Some(t) => {
                w.push(1);
                w.push(t.transfer.code());
                opt(&mut w, t.charset.as_deref());
            }
            None => w.push(0),
        }
    }
    let crc = crc32(&w);
    w.extend_from_slice(&crc.to_le_bytes());
    w
}

/// The record's bytes before its checksum, once magic, version and checksum are
/// checked.
fn checked(bytes: &[u8]) -> Result<&[u8], CacheError> {
    if bytes.len() < MAGIC.len() + 1 || &bytes[..4] != MAGIC {
        return Err(CacheError::BadMagic);
    }
    if bytes[4] != VERSION {
        return Err(CacheError::Version(bytes[4]));
    }
    let (data, crc) = bytes.split_at(bytes.len().checked_sub(4).ok_or(CacheError::Truncated)?);
    if data.len() < 5 || crc32(data).to_le_bytes() != crc {
        return Err(CacheError::Checksum);
    }
    Ok(data)
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Message, CacheError> {
    let data = checked(bytes)?;
    let mut r = Reader { b: data, pos: 5 };
    let envelope = r.blob()?.to_vec();
    let body = r.blob()?.to_vec();
    let bodystructure = r.blob()?.to_vec();
    let size = r.usize()?;
    let mut strings = [(); 6].map(|_| None);
    for s in &mut strings {
        *s = r.opt()?.map(|b| String::from_utf8(b.to_vec()).map_err(|_| CacheError::Invalid("field is not UTF-8"))).transpose()?;
    }
    let date = match r.u8()? {
        0 => None,
        1 => Some(i64::from_le_bytes(r.take(8)?.try_into().map_err(|_| CacheError::Truncated)?)),
        _ => return Err(CacheError::Invalid("date flag")),
    };
    let [subject, from, to, cc, bcc, message_id] = strings;
    let fields = SearchFields { subject, from, to, cc, bcc, message_id, date };
    let count = r.usize()?;
    let mut nodes = Vec::with_capacity(count.min(r.left() / MIN_NODE_BYTES));
    for _ in 0..count {
        nodes.push(r.node()?);
    }
    if r.left() != 0 {
        return Err(CacheError::Invalid("trailing bytes"));
    }
    let sections = Sections { size, nodes };
    if !sections.is_valid() {
        return Err(CacheError::Invalid("section table"));
    }
    Ok(Message { envelope, body, bodystructure, sections, fields })
}

/// The IMAP wire forms in a cache record, borrowed (for FETCH ENVELOPE, BODY and
/// BODYSTRUCTURE, which need nothing else): checked as [`decode`] checks the record's
/// head and checksum, without building the rest.
#[derive(Debug, PartialEq, Eq)]
pub struct WireForms<'a> {
    pub envelope: &'a [u8],
    pub body: &'a [u8],
    pub bodystructure: &'a [u8],
}

pub fn wire_forms(bytes: &[u8]) -> Result<WireForms<'_>, CacheError> {
    let data = checked(bytes)?;
    let mut r = Reader { b: data, pos: 5 };
    Ok(WireForms { envelope: r.blob()?, body: r.blob()?, bodystructure: r.blob()? })
}

fn kind_code(k: NodeKind) -> u8 {
    match k {
        NodeKind::Leaf => 0,
        NodeKind::Multipart => 1,
        NodeKind::Message => 2,
    }
}

fn varint(w: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}

fn blob(w: &mut Vec<u8>, b: &[u8]) {
    varint(w, b.len() as u64);
    w.extend_from_slice(b);
}

fn opt(w: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            varint(w, b.len() as u64 + 1);
            w.extend_from_slice(b);
        }
        None => varint(w, 0),
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.b.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CacheError> {
        if n > self.left() {
            return Err(CacheError::Truncated);
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, CacheError> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, CacheError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(CacheError::Invalid("varint overflow"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CacheError::Invalid("varint too long"))
    }

    fn usize(&mut self) -> Result<usize, CacheError> {
        usize::try_from(self.varint()?).map_err(|_| CacheError::Invalid("number too large"))
    }

    fn blob(&mut self) -> Result<&'a [u8], CacheError> {
        let n = self.usize()?;
        self.take(n)
    }

    fn opt(&mut self) -> Result<Option<&'a [u8]>, CacheError> {
        match self.usize()? {
            0 => Ok(None),
            n => self.take(n - 1).map(Some),
        }
    }

    fn node(&mut self) -> Result<Node, CacheError> {
        let kind = match self.u8()? {
            0 => NodeKind::Leaf,
            1 => NodeKind::Multipart,
            2 => NodeKind::Message,
            _ => return Err(CacheError::Invalid("node kind")),
        };
        let header_start = self.usize()?;
        let body_start = header_start.checked_add(self.usize()?).ok_or(CacheError::Invalid("offset overflow"))?;
        let body_end = body_start.checked_add(self.usize()?).ok_or(CacheError::Invalid("offset overflow"))?;
        let subtree = self.usize()?;
        let text = match self.u8()? {
            0 => None,
            1 => {
                let transfer = Transfer::from_code(self.u8()?).ok_or(CacheError::Invalid("transfer encoding"))?;
                Some(TextCoding { transfer, charset: self.opt()?.map(<[u8]>::to_vec) })
            }
            _ => return Err(CacheError::Invalid("text flag")),
        };
        Ok(Node { header_start, body_start, body_end, kind, subtree, text })
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib), by crc32fast (SIMD where the CPU has it:
/// FETCH ENVELOPE and header SEARCH check one record per message).
fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    /// Records with a good checksum but an impossible section table are refused.
    #[test]
    fn impossible_tables() {
        let good = crate::parse(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n");
        assert_eq!(decode(&encode(&good)).as_ref(), Ok(&good));
        let damage: [fn(&mut Sections); 6] = [
            |s| s.nodes[1].body_end = s.size + 1,
            |s| s.nodes[1].kind = NodeKind::Message,
            |s| s.nodes[0].subtree = 5,
            |s| s.nodes[1].subtree = 2,
            |s| s.nodes[0].kind = NodeKind::Leaf,
            |s| s.nodes.clear(),
        ];
        for (i, d) in damage.iter().enumerate() {
            let mut m = good.clone();
            d(&mut m.sections);
            assert!(decode(&encode(&m)).is_err(), "damage {i} accepted");
        }
    }

    #[test]
    fn wire_forms_borrow_what_decode_builds() {
        let m = crate::parse(b"Subject: x\r\n\r\nhi\r\n");
        let rec = encode(&m);
        let w = wire_forms(&rec).unwrap();
        assert_eq!((w.envelope, w.body, w.bodystructure), (m.envelope(), m.body(), m.bodystructure()));
        let mut bad = rec.clone();
        bad[7] ^= 1;
        assert_eq!(wire_forms(&bad), Err(CacheError::Checksum));
    }

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut w = Vec::new();
            varint(&mut w, v);
            assert_eq!(Reader { b: &w, pos: 0 }.varint(), Ok(v));
        }
        assert!(Reader { b: &[0xff; 11], pos: 0 }.varint().is_err());
    }
}
