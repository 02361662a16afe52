//! Changing a mailbox: create, append, flag changes, expunge. Writers hold the
//! mailbox lock (an exclusive `flock` on `cyrus.index`); readers never take it.
//!
//! Append, durable before it returns (the whole argument is in doc/durability.md):
//! 1. message files are written before the lock (staged in the data directory) or
//!    hard-linked from a durable file; nothing is synced yet;
//! 2. under the lock: the header is written saying how many files are being placed
//!    (`placing`, cleared by the next writer with the files if we are killed now),
//!    each is renamed (or linked) to `UID.`; cache entries are
//!    written at the header's `cache_end`, records after the last counted one, then
//!    the header counting them, its `last_append` grown by their number (the
//!    trailing records not yet known to be on disk); the lock is released;
//! 3. `syncfs(2)` of the mailbox's filesystem, outside the lock: it makes durable
//!    every write made before it began, this append's and every earlier one's, so
//!    that appenders running at once share their syncs (group commit);
//! 4. under the lock again, the header's `last_append` shrinks to the records
//!    appended after ours (written, not synced: a lost update only makes the next
//!    open check more records).
//!
//! A crash before 3 returns acknowledged nothing of this append, and nothing of any
//! append after it (whose sync began later). Records and files nobody counts are
//! overwritten by the next append. A header that reached the disk without some of
//! the records, cache entries or files it counts is found at the next open by
//! checking the `last_append` records (checksums, file sizes), and the count is cut
//! at the first one not whole (`Mailbox::check_last_append`): every record before
//! it was synced by then, every one after it was never acknowledged. Flag changes
//! and expunges rewrite records in place, then the header, then fsync once.

use crate::format::{self, HEADER_SIZE, IndexHeader, Modseq, RECORD_SIZE, Record, Uid, flag};
use crate::header::{MAX_USER_FLAGS, MailboxHeader};
use crate::mailbox::{Error, Mailbox, Paths, io};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// One message to append.
pub struct NewMessage<'a> {
    /// The exact bytes, CRLF line ends.
    pub raw: &'a [u8],
    /// System flags (`format::flag`), IMAP ones only.
    pub flags: u32,
    /// User flag names.
    pub keywords: &'a [&'a str],
    /// INTERNALDATE, seconds since the epoch.
    pub internaldate: i64,
    /// The message already parsed (`message::parse(raw)`), when the caller has it: a
    /// delivery to many mailboxes parses once.
    pub parsed: Option<&'a message::Message>,
    /// A message file with these same bytes, already durable, to hard-link instead of
    /// writing and fsyncing a copy (single-instance store); a copy is written when the
    /// link cannot be made (another filesystem).
    pub link_from: Option<&'a Path>,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Creates an empty mailbox at `paths` (directories made as needed).
pub fn create(paths: &Paths, name: &str, uniqueid: &str, uidvalidity: u32) -> Result<(), Error> {
    for d in [&paths.data, &paths.meta] {
        create_dirs_durably(d)?;
    }
    if paths.index().exists() {
        return Err(Error::Io(format!("{} exists already", paths.index().display())));
    }
    MailboxHeader { name: name.into(), uniqueid: uniqueid.into(), user_flags: vec![] }
        .write(&paths.header())
        .map_err(Error::Io)?;
    let cache = File::create(paths.cache()).map_err(|e| io(&paths.cache(), e))?;
    cache.sync_all().map_err(|e| io(&paths.cache(), e))?;
    let tmp = paths.index().with_extension("NEW");
    let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
    let h = IndexHeader { uidvalidity, highestmodseq: 1, ..Default::default() };
    f.write_all(&h.encode()).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, paths.index()).map_err(|e| io(&paths.index(), e))?;
    crate::fsync_dir(&paths.meta).map_err(|e| io(&paths.meta, e))?;
    Ok(())
}

/// `create_dir_all`, with each new directory's entry fsynced in its parent, so that a
/// mailbox the list knows cannot vanish with a power loss.
pub fn create_dirs_durably(dir: &Path) -> Result<(), Error> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_durably(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(io(dir, e)),
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    crate::fsync_dir(parent).map_err(|e| io(parent, e))
}

/// How a flag change applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

/// The mailbox, locked for writing. Dropping it releases the lock.
pub struct Writer<'a> {
    mb: &'a mut Mailbox,
    /// The lock, on a duplicate of `mb.index` (one open file, one lock).
    _lock: Flock<File>,
}

/// Takes the exclusive `flock` of `f` (of file `path`), waiting for its holder; a
/// signal does not end the wait. Dropping the result releases the lock.
pub(crate) fn lock_exclusive(f: File, path: &Path) -> Result<Flock<File>, Error> {
    let mut f = f;
    loop {
        match Flock::lock(f, FlockArg::LockExclusive) {
            Ok(locked) => return Ok(locked),
            Err((back, Errno::EINTR)) => f = back,
            Err((_, e)) => return Err(io(path, e.into())),
        }
    }
}

/// `syncfs(2)`: every write made on `f`'s filesystem before the call, data and
/// metadata (new names included), is on disk when it returns; concurrent callers
/// share the journal commit. Linux reports writeback errors through it since 5.8.
/// Timed for the `cyrus_fsync_duration_seconds` histogram (when the process counts).
fn sync_filesystem(f: &File, path: &Path) -> Result<(), Error> {
    let t = metrics::fsync_timer();
    let r = nix::unistd::syncfs(f).map_err(|e| io(path, e.into()));
    metrics::fsync_done(t);
    r
}

fn fdatasync(f: &File, path: &Path) -> Result<(), Error> {
    let t = metrics::fsync_timer();
    let r = f.sync_data().map_err(|e| io(path, e));
    metrics::fsync_done(t);
    r
}

/// Writes `raw` to a new file at `path` (not synced: the append's sync covers it);
/// no half-written file is left behind on error (a full disk).
fn write_new(path: &Path, raw: &[u8]) -> Result<(), Error> {
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io(path, e))
        .and_then(|mut f| f.write_all(raw).map_err(|e| io(path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Removes staged message files (`.stage-*`) older than `max_age` from the data
/// directory of `paths`: left by an appending process that was killed before its
/// rename. Returns how many went.
pub fn clean_staged(paths: &Paths, max_age: std::time::Duration) -> usize {
    let Ok(rd) = std::fs::read_dir(&paths.data) else { return 0 };
    rd.flatten()
        .filter(|e| e.file_name().as_encoded_bytes().starts_with(b".stage-"))
        .filter(|e| e.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok()).is_some_and(|a| a > max_age))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// An append made by [`Mailbox::append_unsynced`], to pass to [`sync_appends`].
#[derive(Debug)]
pub struct Unsynced {
    index: PathBuf,
    /// Records counted once it was written.
    end: u32,
    /// The device of its filesystem (read when the append was made).
    dev: u64,
}

/// Makes appends made by [`Mailbox::append_unsynced`] durable: one `syncfs` per
/// filesystem they are on, then each mailbox's header told (as [`Writer::settle`]).
/// When it returns `Ok`, every one of them may be acknowledged.
pub fn sync_appends(pending: &[Unsynced]) -> Result<(), Error> {
    let mut synced: Vec<u64> = Vec::new();
    for p in pending {
        if !synced.contains(&p.dev) {
            let f = File::open(&p.index).map_err(|e| io(&p.index, e))?;
            sync_filesystem(&f, &p.index)?;
            synced.push(p.dev);
        }
    }
    for p in pending {
        // Only spares the next open some checks: a failure is not the append's.
        if let Err(e) = settle_index(&p.index, p.end) {
            log::warn!("{}: {e}", p.index.display());
        }
    }
    Ok(())
}

/// The header with `last_append` no longer naming records `..end`, which a sync has
/// made durable; `None` when it names none of them already.
fn settled(h: &IndexHeader, end: u32) -> Option<IndexHeader> {
    let unsure = h.num_records.saturating_sub(end);
    (h.last_append > unsure).then(|| IndexHeader { last_append: unsure, ..h.clone() })
}

/// [`Writer::settle`] on an index file not held open: locked, its header read,
/// changed and written (not synced).
fn settle_index(path: &Path, end: u32) -> Result<(), Error> {
    let f = lock_exclusive(OpenOptions::new().read(true).write(true).open(path).map_err(|e| io(path, e))?, path)?;
    let mut b = [0u8; HEADER_SIZE];
    f.read_exact_at(&mut b, 0).map_err(|e| io(path, e))?;
    let h = IndexHeader::decode(&b).map_err(|e| Error::Corrupt(format!("{}: header: {e}", path.display())))?;
    if let Some(h) = settled(&h, end) {
        f.write_all_at(&h.encode(), 0).map_err(|e| io(path, e))?;
    }
    Ok(())
}

/// Names of staged files: unique in the data directory while this process lives.
static STAGE_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Mailbox {
    /// Appends a batch, durable when it returns: the message files that are not
    /// hard-linked from a durable file are written before the lock is taken, and the
    /// sync is made after it is released, so that appenders to one mailbox hold the
    /// lock only while writing and share their syncs. Returns the UIDs given, in
    /// order.
    pub fn append(&mut self, msgs: &[NewMessage<'_>]) -> Result<Vec<Uid>, Error> {
        let (uids, pending) = self.append_unsynced(msgs)?;
        sync_filesystem(&self.index, &self.paths.index())?;
        self.lock()?.settle(pending.end)?;
        Ok(uids)
    }

    /// An append's writes without its sync: the messages are counted (other
    /// processes see them) but not durable until [`sync_appends`] returns for it,
    /// which the caller must call before acknowledging them. One message delivered
    /// to many mailboxes then costs one sync. Returns the UIDs given, in order.
    pub fn append_unsynced(&mut self, msgs: &[NewMessage<'_>]) -> Result<(Vec<Uid>, Unsynced), Error> {
        let mut staged: Vec<Option<PathBuf>> = Vec::with_capacity(msgs.len());
        let mut result = Ok(());
        for m in msgs {
            if result.is_err() || m.link_from.is_some_and(Path::exists) {
                staged.push(None);
                continue;
            }
            let seq = STAGE_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = self.paths.data.join(format!(".stage-{}-{seq}", std::process::id()));
            let _ = std::fs::remove_file(&tmp); // left by a killed process of this pid
            result = write_new(&tmp, m.raw);
            staged.push(result.is_ok().then_some(tmp));
        }
        let committed = result.and_then(|()| self.lock().and_then(|mut w| w.commit(msgs, &mut staged)));
        for tmp in staged.into_iter().flatten() {
            let _ = std::fs::remove_file(tmp);
        }
        let (uids, end) = committed?;
        use std::os::unix::fs::MetadataExt;
        let dev = self.index.metadata().map_err(|e| io(&self.paths.index(), e))?.dev();
        Ok((uids, Unsynced { index: self.paths.index(), end, dev }))
    }

    /// Takes the mailbox lock (waiting for another writer) and catches up.
    pub fn lock(&mut self) -> Result<Writer<'_>, Error> {
        let lock = loop {
            let path = self.paths.index();
            let lock = lock_exclusive(self.index.try_clone().map_err(|e| io(&path, e))?, &path)?;
            // reconstruct may have renamed a new index into place while we waited: the
            // lock must be on the file that is there now.
            if self.index_is_current() {
                break lock;
            }
            drop(lock);
            *self = Mailbox::open(&self.paths.clone())?;
        };
        let mut w = Writer { mb: self, _lock: lock };
        w.mb.refresh()?;
        w.recover()?;
        Ok(w)
    }
}

impl Writer<'_> {
    pub fn mailbox(&self) -> &Mailbox {
        self.mb
    }

    /// Bit numbers for keyword names, adding new names to cyrus.header.
    fn keyword_bits(&mut self, names: &[&str]) -> Result<[u32; 4], Error> {
        let mut bits = [0u32; 4];
        let mut changed = false;
        for n in names {
            let i = match self.mb.names.flag_index(n) {
                Some(i) => i,
                None => {
                    if self.mb.names.user_flags.len() >= MAX_USER_FLAGS {
                        return Err(Error::Limit(format!("too many user flags (at most {MAX_USER_FLAGS})")));
                    }
                    self.mb.names.user_flags.push((*n).to_string());
                    changed = true;
                    self.mb.names.user_flags.len() - 1
                }
            };
            bits[i / 32] |= 1 << (i % 32);
        }
        if changed {
            self.mb.names.write(&self.mb.paths.header()).map_err(Error::Io)?;
        }
        Ok(bits)
    }

    fn write_header(&mut self, h: &IndexHeader) -> Result<(), Error> {
        let p = self.mb.paths.index();
        self.mb.index.write_all_at(&h.encode(), 0).map_err(|e| io(&p, e))?;
        fdatasync(&self.mb.index, &p)?;
        self.mb.header = h.clone();
        self.mb.remap()
    }

    /// Clears what a writer killed in an append left (its steps 1–2): message files
    /// placed for UIDs after `last_uid` but never counted (the header's `placing`),
    /// and the files of records that an open cut from a torn header. Neither was
    /// ever acknowledged; the header is written (and synced) after the files go.
    fn recover(&mut self) -> Result<(), Error> {
        let h = &self.mb.header;
        let placed = (h.placing > 0).then(|| h.last_uid.saturating_add(1)..=h.last_uid.saturating_add(h.placing));
        if placed.is_none() && self.mb.torn_append.is_none() {
            return Ok(());
        }
        for uids in placed.iter().chain(self.mb.torn_append.iter()) {
            for uid in uids.clone() {
                let _ = std::fs::remove_file(self.mb.paths.message(Uid(uid)));
            }
        }
        log::info!("{}: files of an append that was never acknowledged removed", self.mb.paths.index().display());
        let h = IndexHeader { placing: 0, ..self.mb.header.clone() };
        self.write_header(&h)?;
        self.mb.torn_append = None;
        Ok(())
    }

    /// Claims every message above the mailbox's recent mark for the caller's session
    /// (RFC 3501: one session sees a message as \Recent) and returns the previous
    /// mark. The header is written without fsync: a mark lost in a crash only makes
    /// some messages \Recent a second time.
    pub fn claim_recent(&mut self) -> Result<u32, Error> {
        let mut h = self.mb.header.clone();
        let prev = h.recent_uid;
        if h.last_uid > prev {
            h.recent_uid = h.last_uid;
            let p = self.mb.paths.index();
            self.mb.index.write_all_at(&h.encode(), 0).map_err(|e| io(&p, e))?;
            self.mb.header = h;
        }
        Ok(prev)
    }

    /// Appends a batch; returns the UIDs given, in order. Durable when it returns.
    /// Message files not already on disk are written here, under the lock, and the
    /// filesystem is synced with the lock held; [`Mailbox::append`] does both
    /// outside it.
    pub fn append(&mut self, msgs: &[NewMessage<'_>]) -> Result<Vec<Uid>, Error> {
        let (uids, end) = self.commit(msgs, &mut Vec::new())?;
        sync_filesystem(&self.mb.index, &self.mb.paths.index())?;
        self.settle(end)?;
        Ok(uids)
    }

    /// After a sync that began once records `..end` were written: they are on disk,
    /// so the header's `last_append` need not name them (written, not synced).
    fn settle(&mut self, end: u32) -> Result<(), Error> {
        if let Some(h) = settled(&self.mb.header, end) {
            let p = self.mb.paths.index();
            self.mb.index.write_all_at(&h.encode(), 0).map_err(|e| io(&p, e))?;
            self.mb.header = h;
        }
        Ok(())
    }

    /// Steps 1 and 2 of an append (see the module's comment): `staged[k]`, when
    /// there, is a file of message k in the data directory to rename into place.
    /// Returns the UIDs and the number of records counted after it.
    fn commit(&mut self, msgs: &[NewMessage<'_>], staged: &mut [Option<PathBuf>]) -> Result<(Vec<Uid>, u32), Error> {
        self.recover()?;
        let mut h = self.mb.header.clone();
        let first = h.last_uid.checked_add(1).ok_or_else(|| Error::Limit("UIDs exhausted".into()))?;
        let paths = self.mb.paths.clone();
        // 1. message files under their names, the header first saying so.
        h.placing = msgs.len() as u32;
        let ip = paths.index();
        self.mb.index.write_all_at(&h.encode(), 0).map_err(|e| io(&ip, e))?;
        self.mb.header.placing = h.placing;
        h.placing = 0;
        for (k, m) in msgs.iter().enumerate() {
            let uid = Uid(first + k as u32);
            let path = paths.message(uid);
            // Left by an append that was never acknowledged (same UID): replaced.
            let _ = std::fs::remove_file(&path);
            match staged.get_mut(k).and_then(Option::take) {
                Some(tmp) => {
                    if let Err(e) = std::fs::rename(&tmp, &path) {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(io(&path, e));
                    }
                }
                None if m.link_from.is_some_and(|src| std::fs::hard_link(src, &path).is_ok()) => {}
                None => write_new(&path, m.raw)?,
            }
        }
        // 2. cache entries and records.
        let mut cache_off = h.cache_end;
        let mut cache_buf = Vec::new();
        let mut rec_buf = Vec::with_capacity(msgs.len() * RECORD_SIZE);
        let t = now();
        for (k, m) in msgs.iter().enumerate() {
            let uid = Uid(first + k as u32);
            let owned;
            let parsed = match m.parsed {
                Some(p) => p,
                None => {
                    owned = message::parse(m.raw);
                    &owned
                }
            };
            let payload = crate::cache::payload(m.raw, parsed);
            let entry = format::encode_cache_entry(&payload);
            let user_flags = self.keyword_bits(m.keywords)?;
            h.highestmodseq += 1;
            let flags = m.flags & flag::IMAP;
            let rec = Record {
                uid,
                system_flags: flags,
                internaldate: m.internaldate,
                sentdate: parsed.fields().date.unwrap_or(0),
                size: m.raw.len() as u32,
                header_size: crate::cache::header_len(m.raw) as u32,
                cache_offset: cache_off,
                cache_len: payload.len() as u32,
                user_flags,
                modseq: Modseq(h.highestmodseq),
                last_updated: t,
                guid: openssl::sha::sha1(m.raw),
                savedate: u32::try_from(t).unwrap_or(0),
            };
            cache_off += entry.len() as u64;
            cache_buf.extend_from_slice(&entry);
            rec_buf.extend_from_slice(&rec.encode());
            count(&mut h, &rec, 1);
        }
        let cp = paths.cache();
        self.mb.cache.write_all_at(&cache_buf, h.cache_end).map_err(|e| io(&cp, e))?;
        let at = (HEADER_SIZE + h.num_records as usize * RECORD_SIZE) as u64;
        self.mb.index.write_all_at(&rec_buf, at).map_err(|e| io(&ip, e))?;
        h.num_records += msgs.len() as u32;
        h.last_uid = first + msgs.len() as u32 - 1;
        h.cache_end = cache_off;
        h.last_appenddate = t;
        h.last_append = h.last_append.saturating_add(msgs.len() as u32).min(h.num_records);
        self.mb.index.write_all_at(&h.encode(), 0).map_err(|e| io(&ip, e))?;
        let end = h.num_records;
        self.mb.header = h;
        self.mb.remap()?;
        Ok(((0..msgs.len() as u32).map(|k| Uid(first + k)).collect(), end))
    }

    /// Changes flags of the messages with these UIDs (expunged or missing ones are
    /// skipped); returns the records as they now are.
    pub fn store(&mut self, uids: &[Uid], op: FlagOp, flags: u32, keywords: &[&str]) -> Result<Vec<Record>, Error> {
        let bits = if op == FlagOp::Remove {
            // Removing a keyword nobody has must not use up one of the 128 slots.
            let mut b = [0u32; 4];
            for k in keywords {
                if let Some(i) = self.mb.names.flag_index(k) {
                    b[i / 32] |= 1 << (i % 32);
                }
            }
            b
        } else {
            self.keyword_bits(keywords)?
        };
        let flags = flags & flag::IMAP;
        self.rewrite(uids, |old| {
            if old.is_expunged() {
                return None;
            }
            let mut r = old.clone();
            match op {
                FlagOp::Add => {
                    r.system_flags |= flags;
                    for w in 0..4 {
                        r.user_flags[w] |= bits[w];
                    }
                }
                FlagOp::Remove => {
                    r.system_flags &= !flags;
                    for w in 0..4 {
                        r.user_flags[w] &= !bits[w];
                    }
                }
                FlagOp::Replace => {
                    r.system_flags = (r.system_flags & !flag::IMAP) | flags;
                    r.user_flags = bits;
                }
            }
            Some(r)
        })
    }

    /// Marks these UIDs expunged (their files stay until cyr_expire); returns the
    /// UIDs that were expunged now.
    pub fn expunge(&mut self, uids: &[Uid]) -> Result<Vec<Uid>, Error> {
        let done = self.rewrite(uids, |old| {
            let mut r = old.clone();
            r.system_flags |= flag::EXPUNGED;
            (!old.is_expunged()).then_some(r)
        })?;
        Ok(done.into_iter().map(|r| r.uid).collect())
    }

    /// Rewrites the records of `uids` through `change` (None or an equal record: left
    /// alone), each UID once and in ascending order, so that the cursor walks forward
    /// and neighbouring records go out in one write. Counters, modseqs and the header
    /// follow. Returns the records as changed.
    fn rewrite(&mut self, uids: &[Uid], mut change: impl FnMut(&Record) -> Option<Record>) -> Result<Vec<Record>, Error> {
        let mut h = self.mb.header.clone();
        let ip = self.mb.paths.index();
        let mut changed = Vec::new();
        let mut runs = Runs::default();
        let mut cursor = 0usize;
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for &uid in &sorted {
            let Some((i, old)) = self.mb.seek(uid, &mut cursor)? else { continue };
            let Some(mut r) = change(&old) else { continue };
            if r == old {
                continue;
            }
            count(&mut h, &old, -1);
            count(&mut h, &r, 1);
            h.highestmodseq += 1;
            r.modseq = Modseq(h.highestmodseq);
            r.last_updated = now();
            runs.push(i, &r.encode());
            changed.push(r);
        }
        runs.write(&self.mb.index, &ip)?;
        if !changed.is_empty() {
            self.write_header(&h)?;
        }
        Ok(changed)
    }
}

impl Writer<'_> {
    /// Marks expunged records whose files are about to be removed (cyr_expire);
    /// returns the UIDs marked. The caller removes the files after this returns, so a
    /// crash between the two leaves a file nobody counts, never a record without one.
    pub fn mark_unlinked(&mut self, uids: &[Uid]) -> Result<Vec<Uid>, Error> {
        let ip = self.mb.paths.index();
        let mut done = Vec::new();
        for &uid in uids {
            let Some(i) = self.mb.find(uid)? else { continue };
            let mut r = self.mb.record(i)?;
            if !r.is_expunged() || r.has(flag::UNLINKED) {
                continue;
            }
            r.system_flags |= flag::UNLINKED;
            self.mb.index.write_all_at(&r.encode(), (HEADER_SIZE + i * RECORD_SIZE) as u64).map_err(|e| io(&ip, e))?;
            done.push(uid);
        }
        if !done.is_empty() {
            fdatasync(&self.mb.index, &ip)?;
        }
        Ok(done)
    }
}

impl Writer<'_> {
    /// Removes from the index the records of messages expunged before `cutoff`
    /// whose files are gone (cyr_expire, after [`Writer::mark_unlinked`]): the index
    /// is rewritten beside the old one, fsynced and renamed into place, as
    /// reconstruct does (readers and waiting writers reopen it). The header's
    /// `deletedmodseq` keeps the highest modseq removed, so that QRESYNC knows from
    /// where on it can no longer name each vanished UID. Returns how many records
    /// went. The caller drops the writer and the mailbox afterwards.
    pub fn compact(&mut self, cutoff: i64) -> Result<usize, Error> {
        let mut h = self.mb.header.clone();
        let mut index = Vec::with_capacity(HEADER_SIZE + self.mb.len() * RECORD_SIZE);
        index.extend_from_slice(&[0u8; HEADER_SIZE]);
        let mut removed = 0usize;
        for i in 0..self.mb.len() {
            let r = self.mb.record(i)?;
            if r.is_expunged() && r.has(flag::UNLINKED) && r.last_updated < cutoff {
                h.deletedmodseq = h.deletedmodseq.max(r.modseq.0);
                removed += 1;
                continue;
            }
            index.extend_from_slice(&r.encode());
        }
        if removed == 0 {
            return Ok(0);
        }
        h.num_records -= removed as u32;
        h.generation = h.generation.wrapping_add(1);
        index[..HEADER_SIZE].copy_from_slice(&h.encode());
        let path = self.mb.paths.index();
        let tmp = path.with_extension("NEW");
        let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        std::io::Write::write_all(&mut f, &index).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        crate::fsync_dir(&self.mb.paths.meta).map_err(|e| io(&self.mb.paths.meta, e))?;
        Ok(removed)
    }
}

/// Changed records gathered into runs of neighbours, each written with one pwrite.
#[derive(Default)]
struct Runs {
    runs: Vec<(usize, Vec<u8>)>,
}

impl Runs {
    fn push(&mut self, i: usize, rec: &[u8]) {
        if let Some((start, buf)) = self.runs.last_mut() {
            if *start + buf.len() / RECORD_SIZE == i {
                buf.extend_from_slice(rec);
                return;
            }
        }
        self.runs.push((i, rec.to_vec()));
    }

    fn write(&self, f: &File, path: &Path) -> Result<(), Error> {
        for (i, buf) in &self.runs {
            f.write_all_at(buf, (HEADER_SIZE + i * RECORD_SIZE) as u64).map_err(|e| io(path, e))?;
        }
        Ok(())
    }
}

/// Adds (`sign` 1) or removes (-1) a live record's share of the header's counters.
pub(crate) fn count(h: &mut IndexHeader, r: &Record, sign: i64) {
    if r.is_expunged() {
        return;
    }
    let add = |v: &mut u32, yes: bool| {
        if yes {
            *v = (*v as i64 + sign).max(0) as u32;
        }
    };
    add(&mut h.exists, true);
    add(&mut h.deleted, r.has(flag::DELETED));
    add(&mut h.answered, r.has(flag::ANSWERED));
    add(&mut h.flagged, r.has(flag::FLAGGED));
    add(&mut h.seen, r.has(flag::SEEN));
    h.quota_used = (h.quota_used as i64 + sign * i64::from(r.size)).max(0) as u64;
}
