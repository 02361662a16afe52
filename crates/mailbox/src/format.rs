//! The binary layout of `cyrus.index` and `cyrus.cache`, version 1.
//!
//! All integers are little-endian. Every header and record carries a CRC-32 of its
//! other bytes, so a torn read (a writer was half-way through) or a flipped bit is
//! detected, never believed.
//!
//! `cyrus.index` = one [`IndexHeader`] of [`HEADER_SIZE`] bytes, then `num_records`
//! [`Record`]s of [`RECORD_SIZE`] bytes in UID order. Bytes after the last counted
//! record are an append that was never acknowledged; the next writer overwrites them.
//!
//! Header (offset: field):
//! ```text
//!   0 magic "MSUITIDX"   8 version u32        12 header_size u32   16 record_size u32
//!  20 uidvalidity u32   24 last_uid u32      28 num_records u32   32 highestmodseq u64
//!  40 exists u32        44 deleted u32       48 answered u32      52 flagged u32
//!  56 seen u32          60 recent_uid u32    64 quota_used u64    72 last_appenddate i64
//!  80 generation u32    84 cache_end u64     92 deletedmodseq u64  100 last_append u32
//! 104 (zero)
//! 124 crc u32 of 0..124
//! ```
//! Record:
//! ```text
//!   0 uid u32           4 system_flags u32    8 internaldate i64  16 sentdate i64
//!  24 size u32         28 header_size u32    32 cache_offset u64  40 cache_len u32
//!  44 user_flags [u32; 4] (bit n = user flag n of cyrus.header)   60 savedate u32
//!  64 modseq u64       72 last_updated i64   80 guid [u8; 20] (SHA-1 of the message)
//! 100 crc u32 of 0..100
//! ```
//! `cyrus.cache` = entries `len u32, crc u32 (of the payload), payload`, appended; a
//! record points at its entry. Bytes after the header's `cache_end` were never
//! acknowledged.

pub const MAGIC: &[u8; 8] = b"MSUITIDX";
pub const VERSION: u32 = 1;
pub const HEADER_SIZE: usize = 128;
pub const RECORD_SIZE: usize = 104;
pub const CACHE_ENTRY_HEAD: usize = 8;

/// System flags and internal state bits of a record.
pub mod flag {
    pub const ANSWERED: u32 = 1 << 0;
    pub const FLAGGED: u32 = 1 << 1;
    pub const DELETED: u32 = 1 << 2;
    pub const DRAFT: u32 = 1 << 3;
    pub const SEEN: u32 = 1 << 4;
    /// The IMAP-visible flags.
    pub const IMAP: u32 = ANSWERED | FLAGGED | DELETED | DRAFT | SEEN;
    /// Expunged: gone for clients; the file stays until cyr_expire.
    pub const EXPUNGED: u32 = 1 << 16;
    /// The message file has been removed.
    pub const UNLINKED: u32 = 1 << 17;

    /// The system flag bit of `\Name` (any case), if it is one.
    pub fn from_name(name: &str) -> Option<u32> {
        match name.to_ascii_lowercase().as_str() {
            "\\answered" => Some(ANSWERED),
            "\\flagged" => Some(FLAGGED),
            "\\deleted" => Some(DELETED),
            "\\seen" => Some(SEEN),
            "\\draft" => Some(DRAFT),
            _ => None,
        }
    }
}

/// A message's UID (never 0 for a stored message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Uid(pub u32);

/// A modification sequence (RFC 7162).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Modseq(pub u64);

/// What can go wrong reading the binary files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    BadMagic,
    BadVersion(u32),
    BadSizes,
    Checksum,
    Truncated,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::BadMagic => f.write_str("not a cyrus.index of this suite (bad magic)"),
            FormatError::BadVersion(v) => write!(f, "index version {v} is not supported"),
            FormatError::BadSizes => f.write_str("index header gives impossible sizes"),
            FormatError::Checksum => f.write_str("checksum mismatch"),
            FormatError::Truncated => f.write_str("file is shorter than its header says"),
        }
    }
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// The index header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexHeader {
    pub uidvalidity: u32,
    pub last_uid: u32,
    pub num_records: u32,
    pub highestmodseq: u64,
    pub exists: u32,
    pub deleted: u32,
    pub answered: u32,
    pub flagged: u32,
    pub seen: u32,
    pub recent_uid: u32,
    pub quota_used: u64,
    pub last_appenddate: i64,
    pub generation: u32,
    pub cache_end: u64,
    /// The highest modseq of the expunged records removed from the index (by
    /// cyr_expire): below it, which UIDs vanished is no longer known one by one.
    pub deletedmodseq: u64,
    /// How many records the last append added (the last ones counted): until they
    /// are known to be on disk whole, a crash may have left the header without
    /// them, and [`IndexHeader::without_torn_append`] is how they are checked.
    /// 0 in an index written before the field existed.
    pub last_append: u32,
    /// How many message files a writer is placing as `UID.` for the UIDs after
    /// `last_uid`, before it counts their records: a writer killed between the two
    /// leaves files nobody counts, and the next writer removes exactly these (never
    /// a file it did not place, such as one an administrator copied in).
    pub placing: u32,
}

impl IndexHeader {
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[..8].copy_from_slice(MAGIC);
        put32(&mut b, 8, VERSION);
        put32(&mut b, 12, HEADER_SIZE as u32);
        put32(&mut b, 16, RECORD_SIZE as u32);
        put32(&mut b, 20, self.uidvalidity);
        put32(&mut b, 24, self.last_uid);
        put32(&mut b, 28, self.num_records);
        put64(&mut b, 32, self.highestmodseq);
        put32(&mut b, 40, self.exists);
        put32(&mut b, 44, self.deleted);
        put32(&mut b, 48, self.answered);
        put32(&mut b, 52, self.flagged);
        put32(&mut b, 56, self.seen);
        put32(&mut b, 60, self.recent_uid);
        put64(&mut b, 64, self.quota_used);
        put64(&mut b, 72, self.last_appenddate as u64);
        put32(&mut b, 80, self.generation);
        put64(&mut b, 84, self.cache_end);
        put64(&mut b, 92, self.deletedmodseq);
        put32(&mut b, 100, self.last_append);
        put32(&mut b, 104, self.placing);
        let crc = crc32fast::hash(&b[..HEADER_SIZE - 4]);
        put32(&mut b, HEADER_SIZE - 4, crc);
        b
    }

    pub fn decode(b: &[u8]) -> Result<IndexHeader, FormatError> {
        if b.len() < HEADER_SIZE {
            return Err(FormatError::Truncated);
        }
        if &b[..8] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        if crc32fast::hash(&b[..HEADER_SIZE - 4]) != u32_at(b, HEADER_SIZE - 4) {
            return Err(FormatError::Checksum);
        }
        let v = u32_at(b, 8);
        if v != VERSION {
            return Err(FormatError::BadVersion(v));
        }
        if u32_at(b, 12) as usize != HEADER_SIZE || u32_at(b, 16) as usize != RECORD_SIZE {
            return Err(FormatError::BadSizes);
        }
        Ok(IndexHeader {
            uidvalidity: u32_at(b, 20),
            last_uid: u32_at(b, 24),
            num_records: u32_at(b, 28),
            highestmodseq: u64_at(b, 32),
            exists: u32_at(b, 40),
            deleted: u32_at(b, 44),
            answered: u32_at(b, 48),
            flagged: u32_at(b, 52),
            seen: u32_at(b, 56),
            recent_uid: u32_at(b, 60),
            quota_used: u64_at(b, 64),
            last_appenddate: u64_at(b, 72) as i64,
            generation: u32_at(b, 80),
            cache_end: u64_at(b, 84),
            deletedmodseq: u64_at(b, 92),
            last_append: u32_at(b, 100),
            placing: u32_at(b, 104),
        })
    }
}

/// One message's index record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub uid: Uid,
    pub system_flags: u32,
    pub internaldate: i64,
    pub sentdate: i64,
    pub size: u32,
    pub header_size: u32,
    pub cache_offset: u64,
    pub cache_len: u32,
    pub user_flags: [u32; 4],
    pub modseq: Modseq,
    pub last_updated: i64,
    pub guid: [u8; 20],
    /// When the message was put in this mailbox (seconds since the epoch; 0 for
    /// records written before this field was kept: then the internal date stands
    /// in). RFC 8514 SAVEDATE.
    pub savedate: u32,
}

impl Record {
    pub fn encode(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        put32(&mut b, 0, self.uid.0);
        put32(&mut b, 4, self.system_flags);
        put64(&mut b, 8, self.internaldate as u64);
        put64(&mut b, 16, self.sentdate as u64);
        put32(&mut b, 24, self.size);
        put32(&mut b, 28, self.header_size);
        put64(&mut b, 32, self.cache_offset);
        put32(&mut b, 40, self.cache_len);
        for (i, f) in self.user_flags.iter().enumerate() {
            put32(&mut b, 44 + 4 * i, *f);
        }
        put32(&mut b, 60, self.savedate);
        put64(&mut b, 64, self.modseq.0);
        put64(&mut b, 72, self.last_updated as u64);
        b[80..100].copy_from_slice(&self.guid);
        let crc = crc32fast::hash(&b[..RECORD_SIZE - 4]);
        put32(&mut b, RECORD_SIZE - 4, crc);
        b
    }

    pub fn decode(b: &[u8]) -> Result<Record, FormatError> {
        if b.len() < RECORD_SIZE {
            return Err(FormatError::Truncated);
        }
        if crc32fast::hash(&b[..RECORD_SIZE - 4]) != u32_at(b, RECORD_SIZE - 4) {
            return Err(FormatError::Checksum);
        }
        let mut guid = [0u8; 20];
        guid.copy_from_slice(&b[80..100]);
        Ok(Record {
            uid: Uid(u32_at(b, 0)),
            system_flags: u32_at(b, 4),
            internaldate: u64_at(b, 8) as i64,
            sentdate: u64_at(b, 16) as i64,
            size: u32_at(b, 24),
            header_size: u32_at(b, 28),
            cache_offset: u64_at(b, 32),
            cache_len: u32_at(b, 40),
            user_flags: [u32_at(b, 44), u32_at(b, 48), u32_at(b, 52), u32_at(b, 56)],
            modseq: Modseq(u64_at(b, 64)),
            last_updated: u64_at(b, 72) as i64,
            guid,
            savedate: u32_at(b, 60),
        })
    }

    /// The save date (RFC 8514), the internal date where none was kept.
    pub fn saved(&self) -> i64 {
        if self.savedate == 0 { self.internaldate } else { i64::from(self.savedate) }
    }

    pub fn is_expunged(&self) -> bool {
        self.system_flags & flag::EXPUNGED != 0
    }

    pub fn has(&self, f: u32) -> bool {
        self.system_flags & f != 0
    }

    pub fn has_user_flag(&self, n: usize) -> bool {
        n < 128 && self.user_flags[n / 32] & (1 << (n % 32)) != 0
    }
}

/// A cache entry as stored: head then payload.
pub fn encode_cache_entry(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(CACHE_ENTRY_HEAD + payload.len());
    v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    v.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// The payload of the cache entry at the start of `b`, checked.
pub fn decode_cache_entry(b: &[u8]) -> Result<&[u8], FormatError> {
    if b.len() < CACHE_ENTRY_HEAD {
        return Err(FormatError::Truncated);
    }
    let len = u32_at(b, 0) as usize;
    let payload = b.get(CACHE_ENTRY_HEAD..CACHE_ENTRY_HEAD + len).ok_or(FormatError::Truncated)?;
    if crc32fast::hash(payload) != u32_at(b, 4) {
        return Err(FormatError::Checksum);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let h = IndexHeader { uidvalidity: 7, last_uid: 9, num_records: 3, highestmodseq: 12, quota_used: 1 << 40, last_appenddate: -5, cache_end: 999, ..Default::default() };
        let mut b = h.encode();
        assert_eq!(IndexHeader::decode(&b), Ok(h));
        b[30] ^= 1;
        assert_eq!(IndexHeader::decode(&b), Err(FormatError::Checksum));
        assert_eq!(IndexHeader::decode(&b[..10]), Err(FormatError::Truncated));
        let mut b = IndexHeader::default().encode();
        b[0] = b'X';
        assert_eq!(IndexHeader::decode(&b), Err(FormatError::BadMagic));
    }

    #[test]
    fn record_round_trip_and_every_flipped_bit_is_caught() {
        let r = Record { uid: Uid(42), system_flags: flag::SEEN | flag::DELETED, internaldate: 1_700_000_000, size: 1234, user_flags: [1, 0, 0, 1 << 31], modseq: Modseq(77), guid: [9; 20], ..Default::default() };
        let b = r.encode();
        assert_eq!(Record::decode(&b), Ok(r.clone()));
        assert!(r.has_user_flag(0) && r.has_user_flag(127) && !r.has_user_flag(1) && !r.has_user_flag(500));
        for byte in 0..RECORD_SIZE {
            for bit in 0..8 {
                let mut d = b;
                d[byte] ^= 1 << bit;
                assert_eq!(Record::decode(&d), Err(FormatError::Checksum), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn cache_entries() {
        let e = encode_cache_entry(b"hello");
        assert_eq!(decode_cache_entry(&e), Ok(&b"hello"[..]));
        let mut d = e.clone();
        d[9] ^= 4;
        assert_eq!(decode_cache_entry(&d), Err(FormatError::Checksum));
        assert_eq!(decode_cache_entry(&e[..7]), Err(FormatError::Truncated));
        assert_eq!(decode_cache_entry(&e[..10]), Err(FormatError::Truncated));
    }
}
