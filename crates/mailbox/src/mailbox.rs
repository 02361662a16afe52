//! Opening a mailbox and reading it through mmap, without locks.
//!
//! A reader maps `cyrus.index` and `cyrus.cache` and reads the header, then records,
//! straight from the map. It never blocks on a writer: a header or record caught
//! half-written fails its checksum and is read again (a writer's update is one
//! `pwrite` of at most one header or record, so a retry soon sees it whole). Only
//! `num_records` records are believed, and the map is never read past its length;
//! [`Mailbox::refresh`] re-maps when the files have grown.

use crate::format::{self, FormatError, HEADER_SIZE, IndexHeader, RECORD_SIZE, Record, Uid};
use crate::header::MailboxHeader;
use memmap2::Mmap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const INDEX: &str = "cyrus.index";
pub const CACHE: &str = "cyrus.cache";
pub const HEADER: &str = "cyrus.header";

/// How often a checksum failure is read again before it counts as corruption.
const TORN_RETRIES: u32 = 200;

/// Where a mailbox's files live: message files in `data`, the header, index and cache
/// in `meta` (the same directory unless a metapartition is configured).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub data: PathBuf,
    pub meta: PathBuf,
}

impl Paths {
    pub fn single(dir: &Path) -> Paths {
        Paths { data: dir.to_path_buf(), meta: dir.to_path_buf() }
    }

    pub fn index(&self) -> PathBuf {
        self.meta.join(INDEX)
    }

    pub fn cache(&self) -> PathBuf {
        self.meta.join(CACHE)
    }

    pub fn header(&self) -> PathBuf {
        self.meta.join(HEADER)
    }

    /// The message file of `uid`: `UID.`, as Cyrus names it.
    pub fn message(&self, uid: Uid) -> PathBuf {
        self.data.join(format!("{}.", uid.0))
    }
}

/// Errors of the store, with what the client and the log need.
#[derive(Debug)]
pub enum Error {
    Io(String),
    /// The files are damaged; `reconstruct` repairs them.
    Corrupt(String),
    NotFound(String),
    /// A limit (user flags, UIDs) is reached.
    Limit(String),
    /// The partition is full (ENOSPC) or the filesystem quota is reached (EDQUOT):
    /// temporary, nothing was changed (LMTP 452 4.3.1, IMAP `[OVERQUOTA]`).
    NoSpace(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(m) => write!(f, "I/O error: {m}"),
            Error::Corrupt(m) => write!(f, "mailbox is damaged (run reconstruct): {m}"),
            Error::NotFound(m) => write!(f, "no such mailbox: {m}"),
            Error::Limit(m) => write!(f, "{m}"),
            Error::NoSpace(m) => write!(f, "no space left on the partition: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Whether an I/O error means the filesystem is full (or its quota reached).
pub fn is_no_space(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

pub(crate) fn io(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound(path.display().to_string())
    } else if is_no_space(&e) {
        Error::NoSpace(format!("{}: {e}", path.display()))
    } else {
        Error::Io(format!("{}: {e}", path.display()))
    }
}

/// An open mailbox.
pub struct Mailbox {
    pub(crate) paths: Paths,
    pub(crate) index: File,
    pub(crate) cache: File,
    index_map: Option<Mmap>,
    cache_map: Option<Mmap>,
    pub(crate) header: IndexHeader,
    pub(crate) names: MailboxHeader,
    /// Inode, size and mtime of the cyrus.header read into `names` (it is replaced
    /// whole on change).
    names_ino: (u64, u64, i64),
    ino: u64,
    /// guard::SHRUNK as last seen: a page replaced since means a file shrank.
    shrunk_seen: u64,
    /// The header on disk counts an append whose records a crash left torn: `header`
    /// is the repaired one, which the next writer writes back.
    /// Set when the header's count was cut at open: the UIDs of the records cut,
    /// whose files the next writer removes before it writes the repaired header.
    pub(crate) torn_append: Option<std::ops::RangeInclusive<u32>>,
}

fn map(f: &File) -> Result<Option<Mmap>, std::io::Error> {
    if f.metadata()?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: our writers only grow the files while mapped (append or overwrite in
    // place), every read is bounds-checked against the map's length, and a file shrunk
    // by anything else is survived by the SIGBUS guard (crate::guard) and remapped at
    // the next refresh.
    unsafe { Mmap::map(f) }.map(Some)
}

/// What changes when cyrus.header is replaced.
fn header_stamp(paths: &Paths) -> (u64, u64, i64) {
    std::fs::metadata(paths.header()).map(|m| (m.ino(), m.len(), m.mtime_nsec() + m.mtime() * 1_000_000_000)).unwrap_or((0, 0, 0))
}

fn open_rw(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .or_else(|_| File::open(path))
        .map_err(|e| io(path, e))
}

impl Mailbox {
    /// Opens the mailbox whose files are at `paths`.
    pub fn open(paths: &Paths) -> Result<Mailbox, Error> {
        // reconstruct renames a new cache, then a new index, into place: an open that
        // falls between the two gets an index and a cache that do not belong together.
        // The newest record's cache entry tells; then open again.
        let mut tries = 0;
        loop {
            let mb = Mailbox::open_once(paths)?;
            let last = mb.len().checked_sub(1).map(|i| mb.record(i));
            let matched = match last {
                None => true,
                Some(Ok(r)) => mb.cache_entry(&r).is_ok(),
                Some(Err(_)) => true, // a damaged record is reported where it is read
            };
            if matched || tries >= 20 {
                return Ok(mb);
            }
            tries += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn open_once(paths: &Paths) -> Result<Mailbox, Error> {
        crate::guard::install();
        let index = open_rw(&paths.index())?;
        let cache = open_rw(&paths.cache())?;
        let names_ino = header_stamp(paths);
        let names = MailboxHeader::read(&paths.header()).map_err(Error::Corrupt)?;
        let ino = index.metadata().map_err(|e| io(&paths.index(), e))?.ino();
        let mut mb = Mailbox {
            paths: paths.clone(),
            index,
            cache,
            index_map: None,
            cache_map: None,
            header: IndexHeader::default(),
            names,
            names_ino,
            ino,
            shrunk_seen: crate::guard::SHRUNK.load(std::sync::atomic::Ordering::Relaxed),
            torn_append: None,
        };
        mb.refresh()?;
        Ok(mb)
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn header(&self) -> &IndexHeader {
        &self.header
    }

    pub fn name(&self) -> &str {
        &self.names.name
    }

    pub fn uniqueid(&self) -> &str {
        &self.names.uniqueid
    }

    /// The user flag names, by bit number.
    pub fn user_flags(&self) -> &[String] {
        &self.names.user_flags
    }

    /// UIDNEXT.
    pub fn uidnext(&self) -> u32 {
        self.header.last_uid + 1
    }

    /// Whether our open index is the file at the index path (not one replaced by
    /// reconstruct).
    pub(crate) fn index_is_current(&self) -> bool {
        std::fs::metadata(self.paths.index()).is_ok_and(|m| m.ino() == self.ino)
    }

    /// Catches up with changes made by any process since the last refresh: a new
    /// header, grown files, a rebuilt index (reconstruct) or new user flags.
    pub fn refresh(&mut self) -> Result<(), Error> {
        let path = self.paths.index();
        if let Ok(m) = std::fs::metadata(&path) {
            if m.ino() != self.ino {
                // reconstruct replaced the files: start over on the new ones.
                *self = Mailbox::open(&self.paths.clone())?;
                return Ok(());
            }
        }
        let mut tries = 0;
        loop {
            self.remap_if_grown()?;
            let Some(m) = &self.index_map else {
                return Err(Error::Corrupt(format!("{} is empty", path.display())));
            };
            match IndexHeader::decode(&m[..m.len().min(HEADER_SIZE)]) {
                Ok(h) => {
                    let need = HEADER_SIZE + h.num_records as usize * RECORD_SIZE;
                    if need > m.len() {
                        self.remap()?;
                        if need > self.index_map.as_ref().map_or(0, |m| m.len()) {
                            return Err(Error::Corrupt(format!("{}: {}", path.display(), FormatError::Truncated)));
                        }
                    }
                    if h.cache_end as usize > self.cache_map.as_ref().map_or(0, |m| m.len()) {
                        // The cache grew without the index growing (slots left by a
                        // crashed append were reused).
                        self.remap()?;
                    }
                    // New keywords replace cyrus.header: one stat tells.
                    let names_ino = header_stamp(&self.paths);
                    if names_ino != self.names_ino {
                        self.names = MailboxHeader::read(&self.paths.header()).map_err(Error::Corrupt)?;
                        self.names_ino = names_ino;
                    }
                    let changed = self.header != h;
                    self.header = h;
                    if changed && self.header.last_append > 0 {
                        self.check_last_append();
                    }
                    return Ok(());
                }
                Err(FormatError::Checksum) if tries < TORN_RETRIES => {
                    tries += 1;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => return Err(Error::Corrupt(format!("{}: header: {e}", path.display()))),
            }
        }
    }

    /// An append counts its records in the header before the sync that makes them
    /// durable (see `write`), and the header's `last_append` names the trailing
    /// records no sync is yet known to cover: a crash may have left on disk a header
    /// without some of them, their cache entries or their files (a file's size is on
    /// disk only with its data: ordered journalling). Those appends were never
    /// acknowledged. The count is cut at the first such record: the ones before it
    /// were synced (a later record's sync began after they were written), the ones
    /// after it were never acknowledged (their sync would have covered it). The
    /// header keeps `last_uid` and `highestmodseq`, so that no UID or modseq a
    /// client may have seen is used again; the counters are recounted; the next
    /// writer writes the repaired header.
    fn check_last_append(&mut self) {
        let n = self.len();
        let k = (self.header.last_append as usize).min(n);
        let whole = |i: usize| {
            self.record(i).is_ok_and(|r| {
                self.cache_entry(&r).is_ok()
                    && (r.has(crate::flag::UNLINKED)
                        || std::fs::metadata(self.paths.message(r.uid)).is_ok_and(|m| m.len() == u64::from(r.size)))
            })
        };
        let Some(cut) = (n - k..n).find(|&i| !whole(i)) else { return };
        let mut h = self.header.clone();
        h.num_records = cut as u32;
        h.last_append = 0;
        (h.exists, h.deleted, h.answered, h.flagged, h.seen, h.quota_used) = (0, 0, 0, 0, 0, 0);
        self.header = h.clone();
        for i in 0..cut {
            if let Ok(r) = self.record(i) {
                crate::write::count(&mut h, &r, 1);
            }
        }
        log::warn!("{}: {} records appended but never acknowledged were cut by a crash; dropped", self.paths.index().display(), n - cut);
        // Appends give UIDs in sequence, so the cut records had the last UIDs.
        let kept = if cut == 0 { 0 } else { self.record(cut - 1).map_or(0, |r| r.uid.0) };
        let first = kept.max(h.last_uid.saturating_sub((n - cut) as u32)) + 1;
        self.torn_append = Some(first..=h.last_uid);
        self.header = h;
    }

    fn remap_if_grown(&mut self) -> Result<(), Error> {
        // Either file may have changed size: grown (appends) or, when damaged by
        // something else, shrunk — a map longer than its file must never be read.
        let len = self.index.metadata().map_err(|e| io(&self.paths.index(), e))?.len() as usize;
        let clen = self.cache.metadata().map_err(|e| io(&self.paths.cache(), e))?.len() as usize;
        let shrunk = crate::guard::SHRUNK.load(std::sync::atomic::Ordering::Relaxed);
        if self.index_map.as_ref().map_or(0, |m| m.len()) != len || self.cache_map.as_ref().map_or(0, |m| m.len()) > clen || shrunk != self.shrunk_seen {
            self.shrunk_seen = shrunk;
            self.remap()?;
        }
        Ok(())
    }

    pub(crate) fn remap(&mut self) -> Result<(), Error> {
        self.index_map = map(&self.index).map_err(|e| io(&self.paths.index(), e))?;
        self.cache_map = map(&self.cache).map_err(|e| io(&self.paths.cache(), e))?;
        Ok(())
    }

    /// Number of records (expunged ones included), in UID order.
    pub fn len(&self) -> usize {
        self.header.num_records as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i` (0-based position in the index), checksum verified.
    pub fn record(&self, i: usize) -> Result<Record, Error> {
        if i >= self.len() {
            return Err(Error::Corrupt(format!("record {i} out of range")));
        }
        let off = HEADER_SIZE + i * RECORD_SIZE;
        let m = self.index_map.as_ref().ok_or_else(|| Error::Corrupt("index not mapped".into()))?;
        let mut tries = 0;
        loop {
            let bytes = m.get(off..off + RECORD_SIZE).ok_or_else(|| Error::Corrupt(format!("record {i} beyond end of index")))?;
            match Record::decode(bytes) {
                Ok(r) => return Ok(r),
                Err(FormatError::Checksum) if tries < TORN_RETRIES => {
                    tries += 1;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => return Err(Error::Corrupt(format!("{}: record {i}: {e}", self.paths.index().display()))),
            }
        }
    }

    /// Every record, in UID order.
    pub fn records(&self) -> impl Iterator<Item = Result<Record, Error>> + '_ {
        (0..self.len()).map(|i| self.record(i))
    }

    /// Position of `uid` in the index (binary search: records are in UID order).
    pub fn find(&self, uid: Uid) -> Result<Option<usize>, Error> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let r = self.record(mid)?;
            match r.uid.cmp(&uid) {
                std::cmp::Ordering::Equal => return Ok(Some(mid)),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }

    /// Finds `uid` when UIDs are asked for in ascending order: `cursor` is where the
    /// last one was found, and the record after it is tried before a binary search.
    /// Returns its position and record.
    pub fn seek(&self, uid: Uid, cursor: &mut usize) -> Result<Option<(usize, Record)>, Error> {
        if *cursor < self.len() {
            let r = self.record(*cursor)?;
            if r.uid == uid {
                let i = *cursor;
                *cursor += 1;
                return Ok(Some((i, r)));
            }
        }
        match self.find(uid)? {
            Some(i) => {
                *cursor = i + 1;
                Ok(Some((i, self.record(i)?)))
            }
            None => Ok(None),
        }
    }

    /// The cache payload of a record, checksum verified, read from the map.
    pub fn cache_entry(&self, r: &Record) -> Result<&[u8], Error> {
        let m = self.cache_map.as_ref().ok_or_else(|| Error::Corrupt("cache is empty".into()))?;
        let start = r.cache_offset as usize;
        let end = start + format::CACHE_ENTRY_HEAD + r.cache_len as usize;
        let bytes = m.get(start..end).ok_or_else(|| Error::Corrupt(format!("uid {}: cache entry beyond end of cache", r.uid.0)))?;
        format::decode_cache_entry(bytes).map_err(|e| Error::Corrupt(format!("uid {}: cache: {e}", r.uid.0)))
    }

    /// The message file's bytes (for what the cache does not hold, such as BODY[]).
    pub fn read_message(&self, uid: Uid) -> Result<Vec<u8>, Error> {
        let p = self.paths.message(uid);
        std::fs::read(&p).map_err(|e| io(&p, e))
    }
}

