//! Rebuilding a mailbox's index and cache from its message files.
//!
//! The message files `UID.` are the truth. What the old index still says soundly
//! (flags, keywords, internal dates, modseqs, expunged state) is kept for the UIDs
//! whose files exist; a record whose checksum fails is dropped and its message comes
//! back with no flags. A record whose file is gone is dropped. A message expunged in
//! the old index stays expunged: reconstruct never brings deleted mail back. A spool
//! copied from a Cyrus server (whose index and header this suite cannot read) is
//! rebuilt from its files alone, UIDs in file order, under a new UIDVALIDITY (an
//! unreadable index may have known UIDs whose files are gone).
//!
//! The new cache and index are written beside the old ones, fsynced and renamed into
//! place (index last); writers that were waiting for the lock reopen the new files.

use crate::format::{self, HEADER_SIZE, IndexHeader, Modseq, RECORD_SIZE, Record, Uid, flag};
use crate::header::MailboxHeader;
use crate::mailbox::{Error, Mailbox, Paths, io};
use crate::write::count;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;

/// What reconstruct found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Message files found.
    pub files: usize,
    /// Records of the old index that were sound.
    pub kept: usize,
    /// Messages with no sound record, added (with no flags).
    pub added: Vec<Uid>,
    /// Records whose message file is missing, dropped.
    pub removed: Vec<Uid>,
    /// Old records that failed their checksum.
    pub damaged: usize,
    /// Whether the old index or header could not be read at all.
    pub old_index_unreadable: bool,
}

impl Report {
    /// Whether anything needed fixing.
    pub fn changed(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty() || self.damaged > 0 || self.old_index_unreadable
    }
}

/// UIDs of the message files in `dir`, sorted.
pub fn message_files(dir: &std::path::Path) -> Result<Vec<Uid>, Error> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let e = e.map_err(|e| io(dir, e))?;
        let name = e.file_name();
        let Some(n) = name.to_str().and_then(|n| n.strip_suffix('.')) else { continue };
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(u) = n.parse::<u32>() {
                if u > 0 {
                    v.push(Uid(u));
                }
            }
        }
    }
    v.sort();
    Ok(v)
}

fn read_old(paths: &Paths, report: &mut Report) -> (Option<IndexHeader>, BTreeMap<Uid, Record>) {
    let Ok(bytes) = std::fs::read(paths.index()) else {
        report.old_index_unreadable = true;
        return (None, BTreeMap::new());
    };
    let Ok(h) = IndexHeader::decode(&bytes) else {
        report.old_index_unreadable = true;
        return (None, BTreeMap::new());
    };
    let mut recs = BTreeMap::new();
    for i in 0..h.num_records as usize {
        let off = HEADER_SIZE + i * RECORD_SIZE;
        match bytes.get(off..off + RECORD_SIZE).map(Record::decode) {
            Some(Ok(r)) => {
                recs.insert(r.uid, r);
            }
            _ => report.damaged += 1,
        }
    }
    (Some(h), recs)
}

/// Rebuilds the mailbox at `paths`. `name`, `uniqueid` and `uidvalidity` come from the
/// mailbox list (they are used when the old header or index is unreadable).
pub fn reconstruct(paths: &Paths, name: &str, uniqueid: &str, uidvalidity: u32) -> Result<Report, Error> {
    std::fs::create_dir_all(&paths.meta).map_err(|e| io(&paths.meta, e))?;
    // First what any writer does after a crash: the files of an append that was
    // never acknowledged go (they are no message to add back).
    if let Ok(mut mb) = Mailbox::open(paths) {
        let _ = mb.lock();
    }
    // Hold the lock of the current index, if there is one, against writers.
    let lockfile = loop {
        let Ok(f) = std::fs::OpenOptions::new().read(true).write(true).open(paths.index()) else { break None };
        let f = crate::write::lock_exclusive(f, &paths.index())?;
        // Another reconstruct may have replaced the file while we waited.
        let same = match (f.metadata(), std::fs::metadata(paths.index())) {
            (Ok(a), Ok(b)) => a.ino() == b.ino(),
            _ => false,
        };
        if same {
            break Some(f);
        }
    };
    let mut report = Report::default();
    let (old_h, old) = read_old(paths, &mut report);
    let mut names = MailboxHeader::read(&paths.header()).unwrap_or_else(|_| {
        report.old_index_unreadable = true;
        MailboxHeader { name: name.into(), uniqueid: uniqueid.into(), user_flags: vec![] }
    });
    if names.name != name {
        names.name = name.into();
    }
    let files = message_files(&paths.data)?;
    report.files = files.len();

    // An index that exists but cannot be read may have known UIDs whose files are gone:
    // without it, UIDs could be given again, so clients must forget their caches.
    let index_existed = lockfile.is_some();
    let fallback_uidvalidity = if index_existed {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or(0);
        now.max(uidvalidity.saturating_add(1))
    } else {
        uidvalidity
    };
    let h = IndexHeader {
        uidvalidity: old_h.as_ref().map_or(fallback_uidvalidity, |h| h.uidvalidity),
        highestmodseq: old_h.as_ref().map_or(1, |h| h.highestmodseq),
        recent_uid: old_h.as_ref().map_or(0, |h| h.recent_uid),
        last_appenddate: old_h.as_ref().map_or(0, |h| h.last_appenddate),
        generation: old_h.as_ref().map_or(0, |h| h.generation.wrapping_add(1)),
        last_uid: old_h.as_ref().map_or(0, |h| h.last_uid),
        ..Default::default()
    };
    rebuild(paths, &names, h, &old, &files, &mut report, true, false)?;
    drop(lockfile);
    // Prove the result opens and reads.
    let mb = Mailbox::open(paths)?;
    for r in mb.records() {
        r?;
    }
    Ok(report)
}

/// Writes a new index and cache for the message files `files` of the mailbox at
/// `paths`: records of `old` are kept for the files that exist (their flags, dates,
/// modseqs, expunged state), files without a record are added with no flags, and size,
/// GUID and cache always come from the file itself. The header is written first, then
/// the cache, then the index, each fsynced and renamed into place.
/// With `trust_guid`, an old record's GUID is kept when its size is the file's (an
/// import from a system whose GUID is also the file's SHA-1), saving a hash of every
/// message.
fn rebuild(paths: &Paths, names: &MailboxHeader, mut h: IndexHeader, old: &BTreeMap<Uid, Record>, files: &[Uid], report: &mut Report, sync: bool, trust_guid: bool) -> Result<(), Error> {
    let mut cache = Vec::new();
    let mut index = Vec::with_capacity(HEADER_SIZE + files.len() * RECORD_SIZE);
    index.extend_from_slice(&[0u8; HEADER_SIZE]);
    for &uid in files {
        let path = paths.message(uid);
        let raw = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let (payload, parsed) = crate::cache::build(&raw);
        let mtime = std::fs::metadata(&path).map(|m| m.mtime()).unwrap_or(0);
        let mut r = match old.get(&uid) {
            Some(o) => {
                report.kept += 1;
                o.clone()
            }
            None => {
                report.added.push(uid);
                h.highestmodseq += 1;
                Record { uid, internaldate: mtime, modseq: Modseq(h.highestmodseq), last_updated: mtime, ..Default::default() }
            }
        };
        r.system_flags &= !flag::UNLINKED;
        let known_guid = trust_guid && r.guid != [0u8; 20] && r.size as usize == raw.len();
        r.size = raw.len() as u32;
        r.header_size = crate::cache::header_len(&raw) as u32;
        if !known_guid {
            r.guid = openssl::sha::sha1(&raw);
        }
        r.sentdate = parsed.fields().date.unwrap_or(0);
        r.cache_offset = cache.len() as u64;
        r.cache_len = payload.len() as u32;
        cache.extend_from_slice(&format::encode_cache_entry(&payload));
        h.highestmodseq = h.highestmodseq.max(r.modseq.0);
        h.last_uid = h.last_uid.max(uid.0);
        count(&mut h, &r, 1);
        index.extend_from_slice(&r.encode());
        h.num_records += 1;
    }
    for (uid, r) in old {
        if files.binary_search(uid).is_err() && !r.has(flag::UNLINKED) && !r.is_expunged() {
            report.removed.push(*uid);
        }
    }
    h.cache_end = cache.len() as u64;
    index[..HEADER_SIZE].copy_from_slice(&h.encode());

    let write_new = |path: std::path::PathBuf, bytes: &[u8]| -> Result<(), Error> {
        let tmp = path.with_extension("NEW");
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        if sync {
            f.sync_all().map_err(|e| io(&tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    };
    names.write_with(&paths.header(), sync).map_err(Error::Io)?;
    write_new(paths.cache(), &cache)?;
    write_new(paths.index(), &index)?;
    if sync { crate::fsync_dir(&paths.meta).map_err(|e| io(&paths.meta, e)) } else { Ok(()) }
}

/// What another system (Cyrus) knew of a mailbox, for [`import`].
#[derive(Clone, Debug, Default)]
pub struct Import {
    pub uidvalidity: u32,
    pub last_uid: u32,
    pub highestmodseq: u64,
    pub recent_uid: u32,
    pub last_appenddate: i64,
    /// User flag names; bit n of a record's user flags is the n-th.
    pub user_flags: Vec<String>,
    /// The records to keep, by UID (flags, dates, modseq, expunged state). A record's
    /// GUID (the SHA-1 of the message file) is kept when its size is the file's.
    pub records: BTreeMap<Uid, Record>,
    /// fsync each file (else the caller makes the whole import durable at once, e.g.
    /// with syncfs, before it relies on it).
    pub sync: bool,
}

/// Writes this suite's header, index and cache for a mailbox whose message files are
/// already in place, keeping what `imp` says of each (as reconstruct keeps a sound
/// old index). No file of the other system is read or changed here: the caller moves
/// that system's own files aside first. The mailbox lock is not taken: the mailbox
/// is not in service yet.
pub fn import(paths: &Paths, name: &str, uniqueid: &str, imp: &Import) -> Result<Report, Error> {
    std::fs::create_dir_all(&paths.meta).map_err(|e| io(&paths.meta, e))?;
    let mut report = Report::default();
    let files = message_files(&paths.data)?;
    report.files = files.len();
    let names = MailboxHeader { name: name.into(), uniqueid: uniqueid.into(), user_flags: imp.user_flags.clone() };
    let h = IndexHeader {
        uidvalidity: imp.uidvalidity,
        last_uid: imp.last_uid,
        highestmodseq: imp.highestmodseq.max(1),
        recent_uid: imp.recent_uid,
        last_appenddate: imp.last_appenddate,
        ..Default::default()
    };
    rebuild(paths, &names, h, &imp.records, &files, &mut report, imp.sync, true)?;
    let mb = Mailbox::open(paths)?;
    for r in mb.records() {
        r?;
    }
    Ok(report)
}
