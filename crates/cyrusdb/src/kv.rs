//! Cyrus's key-value database files, read whole into sorted pairs.
//!
//! The backend is told by the file's first bytes, as Cyrus's `cyrusdb_detect` does:
//! twoskip (2.5+ default), skiplist (2.x default), anything else is flat text. All
//! integers are big-endian.
//!
//! - **twoskip**: a 64-byte header (magic, version, generation, num_records,
//!   repack_size, current_size, flags, CRC), then records: type (`=` dummy, `+`
//!   record, `-` delete, `$` commit), level, key and value lengths, `level+1` 64-bit
//!   pointers of which the first two are alternative level-0 links, a CRC of the head
//!   and one of the key and value, key, value, padding to 8. The ordered walk follows
//!   level 0 from the dummy, taking of the two links the larger one below
//!   `current_size`: bytes past `current_size` are an uncommitted (or torn)
//!   transaction, and reading with that bound sees what Cyrus's recovery would, without
//!   writing anything. Every record's head CRC is checked.
//! - **skiplist**: a 48-byte header with `logstart`; records in order up to
//!   `logstart`, then a log of transactions, each ADD/DELETE run ending in a COMMIT.
//!   Only committed transactions are applied; an incomplete one at the end is a torn
//!   write and is ignored, as Cyrus's recovery does.
//! - **flat**: sorted `key TAB value LF` lines; since 2.5 the bytes NUL, TAB, CR, LF
//!   and 0xFF are escaped as 0xFF followed by the byte with its high bit set.

use crate::{Error, be32, be64, err};
use std::collections::BTreeMap;

const TWOSKIP_MAGIC: &[u8] = b"\xa1\x02\x8b\x0dtwoskip file\0\0\0\0";
const SKIPLIST_MAGIC: &[u8] = b"\xa1\x02\x8b\x0dskiplist file\0\0\0";
const BERKELEY_MAGICS: &[[u8; 4]] = &[[0x00, 0x06, 0x15, 0x61], [0x61, 0x15, 0x06, 0x00], [0x00, 0x05, 0x31, 0x62], [0x62, 0x31, 0x05, 0x00]];

/// Which backend a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Twoskip,
    Skiplist,
    Flat,
}

/// The backend of `bytes`, by magic.
pub fn detect(bytes: &[u8]) -> Result<Backend, Error> {
    if bytes.starts_with(TWOSKIP_MAGIC) {
        Ok(Backend::Twoskip)
    } else if bytes.starts_with(SKIPLIST_MAGIC) {
        Ok(Backend::Skiplist)
    } else if bytes.starts_with(b"SQLite format 3\0") {
        err("an SQLite database (convert it with Cyrus's cvt_cyrusdb to twoskip first)")
    } else if bytes.len() >= 16 && BERKELEY_MAGICS.iter().any(|m| bytes[12..16] == m[..] || bytes[..4] == m[..]) {
        err("a Berkeley DB file (convert it with Cyrus's cvt_cyrusdb to twoskip first)")
    } else {
        Ok(Backend::Flat)
    }
}

/// Every (key, value) of a database file, sorted by key.
pub type Pairs = BTreeMap<Vec<u8>, Vec<u8>>;

/// Reads a database file of any backend.
pub fn read(bytes: &[u8]) -> Result<Pairs, Error> {
    match detect(bytes)? {
        Backend::Twoskip => twoskip(bytes),
        Backend::Skiplist => skiplist(bytes),
        Backend::Flat => Ok(flat(bytes)),
    }
}

/// Reads the file at `path` (see [`read`]).
pub fn read_file(path: &std::path::Path) -> Result<Pairs, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error(format!("{}: {e}", path.display())))?;
    read(&bytes).map_err(|e| Error(format!("{}: {e}", path.display())))
}

struct TsRecord {
    kind: u8,
    next: Vec<u64>,
    key: std::ops::Range<usize>,
    val: std::ops::Range<usize>,
}

fn ts_record(b: &[u8], off: usize) -> Result<TsRecord, Error> {
    let at = |what: &str| Error(format!("twoskip: record at {off}: {what}"));
    let head = b.get(off..off + 8).ok_or_else(|| at("beyond the end of the file"))?;
    let kind = head[0];
    let level = head[1] as usize;
    if !matches!(kind, b'=' | b'+' | b'-' | b'$') || level > 31 {
        return Err(at("not a record (bad type or level)"));
    }
    let mut p = off + 8;
    let mut keylen = u64::from(u16::from_be_bytes([head[2], head[3]]));
    let mut vallen = u64::from(be32(head, 4));
    if keylen == 0xffff {
        keylen = be64(b.get(p..p + 8).ok_or_else(|| at("truncated"))?, 0);
        p += 8;
    }
    if vallen == 0xffff_ffff {
        vallen = be64(b.get(p..p + 8).ok_or_else(|| at("truncated"))?, 0);
        p += 8;
    }
    let npointers = level + 1;
    let ptr_bytes = b.get(p..p + 8 * npointers + 8).ok_or_else(|| at("truncated"))?;
    let next = (0..npointers).map(|i| be64(ptr_bytes, 8 * i)).collect();
    let crc_at = p + 8 * npointers;
    if crc32fast::hash(&b[off..crc_at]) != be32(b, crc_at) {
        return Err(at("head checksum mismatch"));
    }
    let data = crc_at + 8;
    let (kl, vl) = (usize::try_from(keylen).map_err(|_| at("key too long"))?, usize::try_from(vallen).map_err(|_| at("value too long"))?);
    let padded = (kl + vl).div_ceil(8) * 8;
    let body = b.get(data..data + padded).ok_or_else(|| at("key and value run past the end of the file"))?;
    if kind == b'+' && crc32fast::hash(body) != be32(b, crc_at + 4) {
        return Err(at("key/value checksum mismatch"));
    }
    Ok(TsRecord { kind, next, key: data..data + kl, val: data + kl..data + kl + vl })
}

/// The level-0 successor: of the two alternative links, the larger one that lies
/// within the committed file.
fn ts_next0(r: &TsRecord, end: u64) -> u64 {
    if r.kind == b'-' || r.next.len() == 1 {
        return if r.next[0] < end { r.next[0] } else { 0 };
    }
    let (a, b) = (r.next[0], r.next[1]);
    match (a < end, b < end) {
        (true, true) => a.max(b),
        (true, false) => a,
        (false, true) => b,
        (false, false) => 0,
    }
}

fn twoskip(b: &[u8]) -> Result<Pairs, Error> {
    if b.len() < 64 {
        return err("twoskip: file shorter than its header");
    }
    if crc32fast::hash(&b[..60]) != be32(b, 60) {
        return err("twoskip: header checksum mismatch");
    }
    if be32(b, 20) != 1 {
        return err(format!("twoskip: version {} is not known", be32(b, 20)));
    }
    let end = be64(b, 48).min(b.len() as u64);
    let dummy = ts_record(b, 64)?;
    if dummy.kind != b'=' {
        return err("twoskip: no dummy record at offset 64");
    }
    let mut out = Pairs::new();
    let mut off = ts_next0(&dummy, end);
    let mut steps = 0usize;
    let mut last_key: Option<Vec<u8>> = None;
    while off != 0 {
        steps += 1;
        if steps > b.len() / 8 {
            return err("twoskip: the level-0 list loops");
        }
        let r = ts_record(b, off as usize)?;
        match r.kind {
            b'-' => {}
            b'+' => {
                let key = b[r.key.clone()].to_vec();
                if last_key.as_ref().is_some_and(|k| *k >= key) {
                    return err(format!("twoskip: keys out of order at {off}"));
                }
                out.insert(key.clone(), b[r.val.clone()].to_vec());
                last_key = Some(key);
            }
            _ => return err(format!("twoskip: a {} record in the list at {off}", r.kind as char)),
        }
        off = ts_next0(&r, end);
    }
    Ok(out)
}

const SL_INORDER: u32 = 1;
const SL_ADD: u32 = 2;
const SL_DELETE: u32 = 4;
const SL_COMMIT: u32 = 255;
const SL_DUMMY: u32 = 257;

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// One key/value node of a skiplist file: (key, value, length of the node).
fn sl_node(b: &[u8], off: usize) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    let keylen = be32(b.get(off + 4..off + 8)?, 0) as usize;
    let k = off + 8;
    let key = b.get(k..k + keylen)?.to_vec();
    let d = k + pad4(keylen);
    let datalen = be32(b.get(d..d + 4)?, 0) as usize;
    let data = b.get(d + 4..d + 4 + datalen)?.to_vec();
    let mut p = d + 4 + pad4(datalen);
    // Forward pointers up to the 0xFFFFFFFF terminator.
    loop {
        let w = be32(b.get(p..p + 4)?, 0);
        p += 4;
        if w == 0xffff_ffff {
            break;
        }
        if p - (d + 4 + pad4(datalen)) > 4 * 32 {
            return None;
        }
    }
    Some((key, data, p - off))
}

fn skiplist(b: &[u8]) -> Result<Pairs, Error> {
    if b.len() < 48 {
        return err("skiplist: file shorter than its header");
    }
    let logstart = be32(b, 40) as usize;
    let mut keys_at: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    let mut out = Pairs::new();
    let mut off = 48;
    if be32(b, off) != SL_DUMMY {
        return err("skiplist: no dummy node at offset 48");
    }
    let (_, _, len) = sl_node(b, off).ok_or_else(|| Error("skiplist: damaged dummy node".into()))?;
    off += len;
    while off < logstart.min(b.len()) {
        if be32(b, off) != SL_INORDER {
            break;
        }
        let (k, v, len) = sl_node(b, off).ok_or_else(|| Error(format!("skiplist: damaged node at {off}")))?;
        keys_at.insert(off, k.clone());
        out.insert(k, v);
        off += len;
    }
    off = off.max(logstart);
    // The log: apply each transaction that ends in a COMMIT.
    let mut pending: Vec<(usize, u32, Vec<u8>, Vec<u8>, usize)> = Vec::new();
    while off + 4 <= b.len() {
        match be32(b, off) {
            0 => off += 4, // zero runs Cyrus skips too
            SL_ADD | SL_INORDER => match sl_node(b, off) {
                Some((k, v, len)) => {
                    pending.push((off, SL_ADD, k, v, 0));
                    off += len;
                }
                None => break,
            },
            SL_DELETE => {
                let Some(t) = b.get(off + 4..off + 8) else { break };
                pending.push((off, SL_DELETE, Vec::new(), Vec::new(), be32(t, 0) as usize));
                off += 8;
            }
            SL_COMMIT => {
                for (at, kind, k, v, target) in pending.drain(..) {
                    if kind == SL_ADD {
                        keys_at.insert(at, k.clone());
                        out.insert(k, v);
                    } else if let Some(k) = keys_at.get(&target) {
                        out.remove(k);
                    }
                }
                off += 4;
            }
            _ => break,
        }
    }
    Ok(out)
}

/// Undoes flat's escaping (0xFF then the byte with its high bit set; 0xFF 0xFF is 0xFF).
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == 0xff && i + 1 < s.len() {
            out.push(if s[i + 1] == 0xff { 0xff } else { s[i + 1] & 0x7f });
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

fn flat(b: &[u8]) -> Pairs {
    let mut out = Pairs::new();
    for line in b.split(|&c| c == b'\n') {
        if line.is_empty() {
            continue;
        }
        let (k, v) = match line.iter().position(|&c| c == b'\t') {
            Some(t) => (&line[..t], &line[t + 1..]),
            None => (line, &b""[..]),
        };
        out.insert(unescape(k), unescape(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A twoskip file as Cyrus lays it: dummy, then records in key order, each
    /// linking to the next through one of its two level-0 pointers.
    fn build_twoskip(pairs: &[(&[u8], &[u8])], torn_tail: bool) -> Vec<u8> {
        fn rec(kind: u8, level: usize, key: &[u8], val: &[u8], next: &[u64]) -> Vec<u8> {
            let mut r = vec![kind, level as u8];
            r.extend_from_slice(&(key.len() as u16).to_be_bytes());
            r.extend_from_slice(&(val.len() as u32).to_be_bytes());
            for i in 0..=level {
                r.extend_from_slice(&next.get(i).copied().unwrap_or(0).to_be_bytes());
            }
            let head = crc32fast::hash(&r);
            let mut body = key.to_vec();
            body.extend_from_slice(val);
            body.resize((key.len() + val.len()).div_ceil(8) * 8, 0);
            r.extend_from_slice(&head.to_be_bytes());
            r.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
            r.extend_from_slice(&body);
            r
        }
        let sizes: Vec<usize> = pairs.iter().map(|(k, v)| rec(b'+', 1, k, v, &[]).len()).collect();
        let dummy_len = rec(b'=', 31, b"", b"", &[]).len();
        let mut offs = vec![64 + dummy_len];
        for s in &sizes {
            offs.push(offs.last().unwrap() + s);
        }
        let end = *offs.last().unwrap() as u64;
        let mut file = vec![0u8; 64];
        // Alternate which level-0 pointer carries the link, as Cyrus does.
        let link = |i: usize| -> Vec<u64> {
            let n = if i < pairs.len() { offs[i] as u64 } else { 0 };
            if i % 2 == 0 { vec![n, 0] } else { vec![0, n] }
        };
        file.extend(rec(b'=', 31, b"", b"", &link(0)));
        for (i, (k, v)) in pairs.iter().enumerate() {
            file.extend(rec(b'+', 1, k, v, &link(i + 1)));
        }
        let mut h = Vec::new();
        h.extend_from_slice(TWOSKIP_MAGIC);
        h.extend_from_slice(&1u32.to_be_bytes());
        h.extend_from_slice(&1u64.to_be_bytes());
        h.extend_from_slice(&(pairs.len() as u64).to_be_bytes());
        h.extend_from_slice(&0u64.to_be_bytes());
        let current = if torn_tail { offs[pairs.len() - 1] as u64 } else { end };
        h.extend_from_slice(&current.to_be_bytes());
        h.extend_from_slice(&0u32.to_be_bytes());
        let crc = crc32fast::hash(&h);
        h.extend_from_slice(&crc.to_be_bytes());
        file[..64].copy_from_slice(&h);
        file
    }

    #[test]
    fn twoskip_walk_and_torn_tail() {
        let pairs: &[(&[u8], &[u8])] = &[(b"a", b"1"), (b"b", b"22"), (b"c", b"")];
        let f = build_twoskip(pairs, false);
        assert_eq!(detect(&f).unwrap(), Backend::Twoskip);
        let got = read(&f).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[&b"b"[..]], b"22");
        // The last record lies past current_size: an uncommitted write, not seen.
        let torn = build_twoskip(pairs, true);
        let got = read(&torn).unwrap();
        assert_eq!(got.keys().cloned().collect::<Vec<_>>(), vec![b"a".to_vec(), b"b".to_vec()]);
        // A flipped bit in a committed record is refused, not believed.
        let mut bad = f.clone();
        let n = bad.len() - 3;
        bad[n] ^= 1;
        assert!(read(&bad).is_err());
        let mut bad = f.clone();
        bad[30] ^= 1;
        assert!(read(&bad).unwrap_err().0.contains("header checksum"));
    }

    #[test]
    fn skiplist_replay() {
        fn node(kind: u32, k: &[u8], v: &[u8], levels: usize) -> Vec<u8> {
            let mut r = kind.to_be_bytes().to_vec();
            r.extend_from_slice(&(k.len() as u32).to_be_bytes());
            r.extend_from_slice(k);
            r.resize(8 + pad4(k.len()), 0);
            r.extend_from_slice(&(v.len() as u32).to_be_bytes());
            let d = r.len();
            r.extend_from_slice(v);
            r.resize(d + pad4(v.len()), 0);
            for _ in 0..levels {
                r.extend_from_slice(&0u32.to_be_bytes());
            }
            r.extend_from_slice(&0xffff_ffffu32.to_be_bytes());
            r
        }
        let mut f = SKIPLIST_MAGIC.to_vec();
        for w in [1u32, 2, 20, 1, 0, 0, 0] {
            f.extend_from_slice(&w.to_be_bytes());
        }
        f.extend(node(SL_DUMMY, b"", b"", 20));
        let first = f.len();
        f.extend(node(SL_INORDER, b"alpha", b"one", 1));
        f.extend(node(SL_INORDER, b"beta", b"two", 1));
        let logstart = f.len() as u32;
        f[40..44].copy_from_slice(&logstart.to_be_bytes());
        // A committed transaction replacing alpha and adding gamma...
        f.extend(SL_DELETE.to_be_bytes());
        f.extend((first as u32).to_be_bytes());
        f.extend(node(SL_ADD, b"alpha", b"ONE", 1));
        f.extend(node(SL_ADD, b"gamma", b"three", 2));
        f.extend(SL_COMMIT.to_be_bytes());
        // ... and a torn one deleting beta, never committed.
        f.extend(SL_DELETE.to_be_bytes());
        f.extend(((first + node(SL_INORDER, b"alpha", b"one", 1).len()) as u32).to_be_bytes());
        let got = read(&f).unwrap();
        assert_eq!(got[&b"alpha"[..]], b"ONE");
        assert_eq!(got[&b"beta"[..]], b"two");
        assert_eq!(got[&b"gamma"[..]], b"three");
    }

    #[test]
    fn flat_escapes() {
        let f = b"\x1fVER\x1f\t2\nNINBOX\t\nk\xff\x89x\tv\xff\xff\n";
        let got = read(f).unwrap();
        assert_eq!(got[&b"\x1fVER\x1f"[..]], b"2");
        assert_eq!(got[&b"k\tx"[..]], b"v\xff");
        assert!(got.contains_key(&b"NINBOX"[..]));
    }
}
