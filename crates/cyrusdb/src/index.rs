//! `cyrus.index` as Cyrus 2.3 through 3.6 writes it (minor versions 10, 12, 13, 14,
//! 15, 16, 17). Big-endian throughout; from version 12 the header and each record end
//! in a CRC-32 of their other bytes. The header's own `start_offset` and
//! `record_size` say where records are, so a reader needs the version only to know
//! which fields exist:
//!
//! | minor | Cyrus | header | record | record CRC at |
//! |---|---|---|---|---|
//! | 10 | 2.3 | 96 | 88 | none (expunged records in `cyrus.expunge`) |
//! | 12 | 2.4 | 128 | 96 | 92 |
//! | 13 | 2.5, 3.0 | 128 | 104 | 100 |
//! | 14, 15 | 3.1 development | 160 | 104 | 100 |
//! | 16 | 3.2 | 160 | 112 | 108 |
//! | 17 | 3.4, 3.6 | 160 | 112 | 108 |
//!
//! Header fields (offset): generation 0, minor 8, start_offset 12, record_size 16,
//! num_records 20, last_appenddate 24, last_uid 28, quota_used 32 (u64), uidvalidity
//! 44, highestmodseq 68 (u64), exists 84, recentuid 104; CRC in the last 4 bytes.
//! Record fields: uid 0, internaldate 4, sentdate 8, size 12, header_size 16,
//! last_updated 28, system_flags 32, user_flags 36 (four words), GUID 60 (20 bytes,
//! SHA-1 of the message file), modseq 80 (u64), createdmodseq 96 (u64, v16+).

use crate::{Error, be32, be64, err};

/// Cyrus's flag bits in `system_flags`.
pub mod flag {
    pub const ANSWERED: u32 = 1 << 0;
    pub const FLAGGED: u32 = 1 << 1;
    pub const DELETED: u32 = 1 << 2;
    pub const DRAFT: u32 = 1 << 3;
    pub const SEEN: u32 = 1 << 4;
    pub const ARCHIVED: u32 = 1 << 29;
    pub const UNLINKED: u32 = 1 << 30;
    pub const EXPUNGED: u32 = 1 << 31;
}

/// The minor versions this reader knows.
pub const KNOWN_VERSIONS: &[u32] = &[10, 12, 13, 14, 15, 16, 17];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub minor_version: u32,
    pub generation: u32,
    pub num_records: u32,
    pub last_appenddate: u32,
    pub last_uid: u32,
    pub quota_used: u64,
    pub uidvalidity: u32,
    pub options: u32,
    pub highestmodseq: u64,
    pub exists: u32,
    pub recentuid: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub uid: u32,
    pub internaldate: u32,
    pub sentdate: u32,
    pub size: u32,
    pub header_size: u32,
    pub last_updated: u32,
    pub system_flags: u32,
    pub user_flags: [u32; 4],
    pub guid: [u8; 20],
    pub modseq: u64,
    pub createdmodseq: u64,
}

impl Record {
    pub fn is_expunged(&self) -> bool {
        self.system_flags & flag::EXPUNGED != 0
    }
}

/// A whole index: its header, the records whose CRC holds, and the 1-based numbers
/// of those whose CRC failed.
#[derive(Clone, Debug, Default)]
pub struct Index {
    pub header: Header,
    pub records: Vec<Record>,
    pub bad_records: Vec<usize>,
}

fn header_crc_at(v: u32) -> Option<usize> {
    match v {
        12 | 13 => Some(124),
        14..=17 => Some(156),
        _ => None,
    }
}

fn record_crc_at(v: u32) -> Option<usize> {
    match v {
        12 => Some(92),
        13..=15 => Some(100),
        16 | 17 => Some(108),
        _ => None,
    }
}

/// Reads a `cyrus.index` (or a 2.3 `cyrus.expunge`, which has the same layout).
pub fn read(b: &[u8]) -> Result<Index, Error> {
    if b.len() < 96 {
        return err(format!("index of {} bytes is shorter than any index header", b.len()));
    }
    let v = be32(b, 8);
    if !KNOWN_VERSIONS.contains(&v) {
        return err(format!("index minor version {v} is not one this reader knows ({KNOWN_VERSIONS:?})"));
    }
    let start = be32(b, 12) as usize;
    let rsize = be32(b, 16) as usize;
    let min_record = match v {
        10 => 88,
        12 => 96,
        13..=15 => 104,
        _ => 112,
    };
    if start < 96 || start > b.len() || rsize < min_record || rsize > 4096 {
        return err(format!("index header gives impossible sizes (header {start}, record {rsize})"));
    }
    if let Some(at) = header_crc_at(v) {
        if start < at + 4 || crc32fast::hash(&b[..at]) != be32(b, at) {
            return err("index header checksum mismatch");
        }
    }
    let num = be32(b, 20) as usize;
    let header = Header {
        minor_version: v,
        generation: be32(b, 0),
        num_records: num as u32,
        last_appenddate: be32(b, 24),
        last_uid: be32(b, 28),
        quota_used: be64(b, 32),
        uidvalidity: be32(b, 44),
        options: be32(b, 60),
        highestmodseq: be64(b, 68),
        exists: if v >= 12 { be32(b, 84) } else { num as u32 },
        recentuid: if v >= 12 { be32(b, 104) } else { 0 },
    };
    let need = start + num * rsize;
    if b.len() < need {
        return err(format!("index is truncated: {num} records need {need} bytes, the file has {}", b.len()));
    }
    let mut records = Vec::with_capacity(num);
    let mut bad_records = Vec::new();
    for i in 0..num {
        let r = &b[start + i * rsize..start + (i + 1) * rsize];
        if let Some(at) = record_crc_at(v) {
            if crc32fast::hash(&r[..at]) != be32(r, at) {
                bad_records.push(i + 1);
                continue;
            }
        }
        let mut guid = [0u8; 20];
        guid.copy_from_slice(&r[60..80]);
        records.push(Record {
            uid: be32(r, 0),
            internaldate: be32(r, 4),
            sentdate: be32(r, 8),
            size: be32(r, 12),
            header_size: be32(r, 16),
            last_updated: be32(r, 28),
            system_flags: be32(r, 32),
            user_flags: [be32(r, 36), be32(r, 40), be32(r, 44), be32(r, 48)],
            guid,
            modseq: be64(r, 80),
            createdmodseq: if v >= 16 { be64(r, 96) } else { 0 },
        });
    }
    Ok(Index { header, records, bad_records })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An index as Cyrus 3.6 (minor 17) writes it.
    pub fn build_v17(uidvalidity: u32, records: &[(u32, u32, u64)]) -> Vec<u8> {
        let mut h = vec![0u8; 160];
        let put = |b: &mut [u8], o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_be_bytes());
        put(&mut h, 8, 17);
        put(&mut h, 12, 160);
        put(&mut h, 16, 112);
        put(&mut h, 20, records.len() as u32);
        put(&mut h, 28, records.iter().map(|r| r.0).max().unwrap_or(0));
        put(&mut h, 44, uidvalidity);
        h[68..76].copy_from_slice(&records.iter().map(|r| r.2).max().unwrap_or(1).to_be_bytes());
        put(&mut h, 84, records.iter().filter(|r| r.1 & flag::EXPUNGED == 0).count() as u32);
        let crc = crc32fast::hash(&h[..156]);
        put(&mut h, 156, crc);
        for &(uid, flags, modseq) in records {
            let mut r = vec![0u8; 112];
            put(&mut r, 0, uid);
            put(&mut r, 12, 100 + uid);
            put(&mut r, 32, flags);
            put(&mut r, 36, 0b101);
            r[80..88].copy_from_slice(&modseq.to_be_bytes());
            let crc = crc32fast::hash(&r[..108]);
            put(&mut r, 108, crc);
            h.extend_from_slice(&r);
        }
        h
    }

    #[test]
    fn v17_and_checks() {
        let b = build_v17(1234, &[(1, flag::SEEN, 3), (2, flag::EXPUNGED | flag::DELETED, 5), (4, 0, 6)]);
        let ix = read(&b).unwrap();
        assert_eq!(ix.header.uidvalidity, 1234);
        assert_eq!(ix.header.last_uid, 4);
        assert_eq!(ix.header.highestmodseq, 6);
        assert_eq!(ix.records.len(), 3);
        assert!(ix.records[1].is_expunged());
        assert_eq!(ix.records[0].user_flags[0], 0b101);
        let mut bad = b.clone();
        bad[160 + 112 + 5] ^= 1;
        let ix = read(&bad).unwrap();
        assert_eq!(ix.bad_records, vec![2]);
        let mut bad = b.clone();
        bad[44] ^= 1;
        assert!(read(&bad).unwrap_err().0.contains("checksum"));
        assert!(read(&b[..b.len() - 10]).unwrap_err().0.contains("truncated"));
        let mut future = b.clone();
        future[8..12].copy_from_slice(&99u32.to_be_bytes());
        assert!(read(&future).unwrap_err().0.contains("version 99"));
    }
}
