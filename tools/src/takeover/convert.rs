//! One mailbox taken over: Cyrus's `cyrus.header` and `cyrus.index` read (and, for
//! 2.3, `cyrus.expunge`), checked against the message files, Cyrus's own files
//! renamed aside (`cyrus.index` → `cyrus.index.cyrus` ...), this suite's header,
//! index and cache written in their place keeping every UID, flag, keyword, date and
//! modseq, the mailbox list entry added, and the result compared with what was read.
//! A mailbox is converted whole or not at all: on any failure after the rename, this
//! suite's files are removed and Cyrus's renamed back.

use super::site::CyrusMailbox;
use cyrusdb::index::{self, flag as cflag};
use mailbox::{Import, Mailbox, Modseq, Paths, Record, Uid, flag};
use mboxlist::list::{Entry, mbtype};
use mboxlist::{InternalName, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The suffix Cyrus's own files get when they are put aside.
pub const ASIDE: &str = "cyrus";
/// Cyrus's per-mailbox metadata files that this suite replaces or does not read.
const CYRUS_FILES: &[&str] = &["cyrus.header", "cyrus.index", "cyrus.cache", "cyrus.expunge", "cyrus.annotations"];

/// What became of one mailbox.
#[derive(Debug, Default)]
pub struct Outcome {
    pub messages: usize,
    pub bytes: u64,
    pub expunged: usize,
    pub problems: Vec<String>,
    /// Written (false on a dry run, or when it failed).
    pub converted: bool,
    pub already: bool,
}

/// Where Cyrus's copy of metadata file `file` of `paths` is: aside if a previous run
/// (stopped half-way) moved it there, else in place.
fn cyrus_file(paths: &Paths, file: &str) -> PathBuf {
    let aside = paths.meta.join(format!("{file}.{ASIDE}"));
    if aside.exists() { aside } else { paths.meta.join(file) }
}

fn our_system_flags(c: u32) -> u32 {
    let mut f = c & (cflag::ANSWERED | cflag::FLAGGED | cflag::DELETED | cflag::DRAFT | cflag::SEEN);
    if c & cflag::EXPUNGED != 0 {
        f |= flag::EXPUNGED;
    }
    f
}

/// The entry this suite keeps for the mailbox.
pub fn entry_for(m: &CyrusMailbox) -> Entry {
    Entry {
        mbtype: if m.by_id { mbtype::BY_ID } else { mbtype::NORMAL },
        partition: m.partition.clone(),
        uniqueid: m.uniqueid.clone(),
        uidvalidity: m.uidvalidity,
        acl: m.acl.clone(),
    }
}

/// What was read of the Cyrus mailbox, enough to write and to check.
pub struct Read {
    pub import: Import,
    /// Cyrus's records (non-unlinked), for the comparison after writing.
    pub records: Vec<index::Record>,
    /// Archived messages: UID and the file on the archive partition.
    pub archived: Vec<(Uid, PathBuf)>,
    pub uniqueid: String,
}

/// Reads and checks a Cyrus mailbox; never writes. Problems that make the mailbox
/// unconvertible are `Err`; the others are pushed to `problems`.
pub fn read(store: &Store, m: &CyrusMailbox, paths: &Paths, check_files: bool, problems: &mut Vec<String>) -> Result<Read, String> {
    let hdr_path = cyrus_file(paths, "cyrus.header");
    let hdr_bytes = std::fs::read(&hdr_path).map_err(|e| format!("{}: {e}", hdr_path.display()))?;
    let hdr = cyrusdb::header::read(&hdr_bytes).map_err(|e| format!("{}: {e}", hdr_path.display()))?;
    // A mailbox moved into the DELETED hierarchy keeps its old name in its header
    // (DELETED.user.fred.Old.6B12E9EB holds user.fred.Old).
    let deleted_as = |n: &str| m.name.strip_prefix("DELETED.").and_then(|r| r.rsplit_once('.')).is_some_and(|(orig, _)| orig == n);
    if let Some(n) = &hdr.name {
        if n != &m.name && !deleted_as(n) {
            // Debian's 3.6.1 can give two mailboxes one uniqueid (and one directory).
            return Err(format!("{}: cyrus.header names {n}: two mailboxes share this directory (uniqueid {})", hdr_path.display(), m.uniqueid));
        }
    }
    let uniqueid = if m.uniqueid.is_empty() { hdr.uniqueid.clone().unwrap_or_default() } else { m.uniqueid.clone() };
    let ix_path = cyrus_file(paths, "cyrus.index");
    let ix_bytes = std::fs::read(&ix_path).map_err(|e| format!("{}: {e}", ix_path.display()))?;
    let ix = index::read(&ix_bytes).map_err(|e| format!("{}: {e}", ix_path.display()))?;
    for n in &ix.bad_records {
        problems.push(format!("{}: record {n} fails its CRC; its message comes back without flags", ix_path.display()));
    }
    let mut records: Vec<index::Record> = ix.records.clone();
    // 2.3 kept expunged records in a file of their own.
    let exp_path = cyrus_file(paths, "cyrus.expunge");
    if ix.header.minor_version < 12 && exp_path.exists() {
        match std::fs::read(&exp_path).map_err(|e| e.to_string()).and_then(|b| index::read(&b).map_err(|e| e.0)) {
            Ok(ex) => records.extend(ex.records.into_iter().map(|mut r| {
                r.system_flags |= cflag::EXPUNGED;
                r
            })),
            Err(e) => problems.push(format!("{}: {e}", exp_path.display())),
        }
    }
    records.retain(|r| r.system_flags & cflag::UNLINKED == 0);
    // Messages Cyrus archived (archive_enabled) live under archivepartition-NAME, at
    // the same place relative to it: they are hard-linked into the mailbox.
    let mut archived = Vec::new();
    if let Some(r) = records.iter().find(|r| r.system_flags & cflag::ARCHIVED != 0) {
        let root = |prefix: &str| store.cfg.prefixed(prefix).into_iter().find(|(p, _)| *p == m.partition).map(|(_, d)| PathBuf::from(d));
        let (Some(part), Some(arch)) = (root("partition-"), root("archivepartition-")) else {
            return Err(format!("UID {} is archived, and no archivepartition-{} is configured to find it", r.uid, m.partition));
        };
        let rel = paths.data.strip_prefix(&part).map_err(|_| format!("{} is not under partition-{}", paths.data.display(), m.partition))?;
        for r in records.iter().filter(|r| r.system_flags & cflag::ARCHIVED != 0 && r.system_flags & cflag::EXPUNGED == 0) {
            archived.push((Uid(r.uid), arch.join(rel).join(format!("{}.", r.uid))));
        }
    }
    // User flags: holes dropped, bits renumbered.
    let mut user_flags = Vec::new();
    let mut flag_map = Vec::new();
    for f in &hdr.user_flags {
        match f {
            Some(name) if user_flags.len() < mailbox::header::MAX_USER_FLAGS => {
                flag_map.push(Some(user_flags.len()));
                user_flags.push(name.clone());
            }
            _ => flag_map.push(None),
        }
    }
    let remap = |uf: &[u32; 4]| -> [u32; 4] {
        let mut out = [0u32; 4];
        for (bit, to) in flag_map.iter().enumerate() {
            if let Some(to) = to {
                if bit < 128 && uf[bit / 32] & (1 << (bit % 32)) != 0 {
                    out[to / 32] |= 1 << (to % 32);
                }
            }
        }
        out
    };
    let mut ours = BTreeMap::new();
    for r in &records {
        // A dry run checks each file here; a real run learns the same from the
        // files as it converts them (one read of each, no extra stat).
        if check_files {
            let file = archived.iter().find(|(u, _)| u.0 == r.uid).map_or_else(|| paths.message(Uid(r.uid)), |(_, f)| f.clone());
            match std::fs::metadata(&file) {
                Ok(md) if md.len() != u64::from(r.size) => {
                    problems.push(format!("{}: {} bytes where Cyrus's index says {}", file.display(), md.len(), r.size));
                }
                Ok(_) => {}
                Err(_) if r.system_flags & cflag::EXPUNGED != 0 => continue,
                Err(_) => {
                    problems.push(format!("{}: message file missing (UID {} is dropped)", file.display(), r.uid));
                    continue;
                }
            }
        }
        ours.insert(
            Uid(r.uid),
            Record {
                uid: Uid(r.uid),
                system_flags: our_system_flags(r.system_flags),
                internaldate: i64::from(r.internaldate),
                user_flags: remap(&r.user_flags),
                modseq: Modseq(r.modseq.max(1)),
                last_updated: i64::from(r.last_updated),
                size: r.size,
                guid: r.guid,
                ..Default::default()
            },
        );
    }
    Ok(Read {
        import: Import {
            uidvalidity: if ix.header.uidvalidity != 0 { ix.header.uidvalidity } else { m.uidvalidity },
            last_uid: ix.header.last_uid,
            highestmodseq: ix.header.highestmodseq,
            recent_uid: ix.header.recentuid,
            last_appenddate: i64::from(ix.header.last_appenddate),
            user_flags,
            records: ours,
            sync: false,
        },
        records,
        archived,
        uniqueid,
    })
}

fn rename(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::rename(from, to).map_err(|e| format!("rename {} to {}: {e}", from.display(), to.display()))
}

/// Moves Cyrus's metadata files aside (those still in place).
fn put_aside(paths: &Paths) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut moved = Vec::new();
    for f in CYRUS_FILES {
        let (at, aside) = (paths.meta.join(f), paths.meta.join(format!("{f}.{ASIDE}")));
        if aside.exists() || !at.exists() {
            continue;
        }
        if let Err(e) = rename(&at, &aside) {
            put_back(&moved);
            return Err(e);
        }
        moved.push((at, aside));
    }
    Ok(moved)
}

fn put_back(moved: &[(PathBuf, PathBuf)]) {
    for (at, aside) in moved.iter().rev() {
        let _ = std::fs::remove_file(at);
        let _ = std::fs::rename(aside, at);
    }
}

/// Converts one mailbox (see the module doc). Its files are written without syncing
/// and its list entry is left in `pending`: the caller syncs the filesystems once,
/// then adds every entry in one transaction, so that a mailbox is in the list only
/// when its files are on disk. A run stopped before that leaves mailboxes that a next
/// run converts again from Cyrus's files aside.
pub fn convert(store: &Store, m: &CyrusMailbox, dry_run: bool, pending: &mut Vec<(String, Entry)>) -> Outcome {
    let mut out = Outcome::default();
    if let Err(e) = mboxlist::names::validate(&m.name) {
        out.problems.push(format!("not a mailbox name this suite accepts ({e}): not converted"));
        return out;
    }
    let name = InternalName(m.name.clone());
    if store.lookup(&name).is_ok() {
        out.already = true;
        return out;
    }
    let entry = entry_for(m);
    let paths = match store.paths(&name, &entry) {
        Ok(p) => p,
        Err(e) => {
            out.problems.push(e.to_string());
            return out;
        }
    };
    let read = match read(store, m, &paths, dry_run, &mut out.problems) {
        Ok(r) => r,
        Err(e) => {
            out.problems.push(e);
            return out;
        }
    };
    out.messages = read.records.iter().filter(|r| !r.is_expunged()).count();
    out.expunged = read.records.len() - out.messages;
    out.bytes = read.records.iter().filter(|r| !r.is_expunged()).map(|r| u64::from(r.size)).sum();
    if dry_run {
        return out;
    }
    let moved = match put_aside(&paths) {
        Ok(m) => m,
        Err(e) => {
            out.problems.push(e);
            return out;
        }
    };
    let mut linked = Vec::new();
    for (uid, from) in &read.archived {
        let to = paths.message(*uid);
        if to.exists() {
            continue;
        }
        if let Err(e) = std::fs::hard_link(from, &to) {
            for l in &linked {
                let _ = std::fs::remove_file(l);
            }
            put_back(&moved);
            out.problems.push(format!("not converted: archived {} cannot be linked into the mailbox ({e}); the archive partition must be on the same filesystem", from.display()));
            out.converted = false;
            return out;
        }
        linked.push(to);
    }
    let mut entry = entry;
    entry.uniqueid = read.uniqueid.clone();
    entry.uidvalidity = read.import.uidvalidity;
    let result = mailbox::import(&paths, &m.name, &read.uniqueid, &read.import).map_err(|e| e.to_string());
    if let Ok(report) = &result {
        for uid in &report.removed {
            out.problems.push(format!("{}: message file missing (UID {} is dropped)", paths.message(*uid).display(), uid.0));
        }
    }
    if let Err(e) = result {
        // Whole or nothing: this suite's files go, Cyrus's come back.
        let aside: Vec<(PathBuf, PathBuf)> = CYRUS_FILES
            .iter()
            .map(|f| (paths.meta.join(f), paths.meta.join(format!("{f}.{ASIDE}"))))
            .filter(|(_, a)| a.exists())
            .collect();
        put_back(&aside);
        for l in &linked {
            let _ = std::fs::remove_file(l);
        }
        out.problems.push(format!("not converted: {e}"));
        return out;
    }
    out.converted = true;
    verify(&paths, &read, &mut out.problems);
    pending.push((m.name.clone(), entry));
    out
}

/// Compares what was written with what was read: every UID with its flags, keywords,
/// modseq and date, and each message file's size against Cyrus's record. (The GUID is
/// Cyrus's, the SHA-1 of the file, kept when the size matches and computed when not.)
fn verify(paths: &Paths, read: &Read, problems: &mut Vec<String>) {
    let mb = match Mailbox::open(paths) {
        Ok(mb) => mb,
        Err(e) => {
            problems.push(format!("the converted mailbox does not open: {e}"));
            return;
        }
    };
    let mut ours: BTreeMap<u32, Record> = BTreeMap::new();
    for r in mb.records() {
        match r {
            Ok(r) => {
                ours.insert(r.uid.0, r);
            }
            Err(e) => problems.push(format!("a converted record does not read back: {e}")),
        }
    }
    for c in &read.records {
        let Some(want) = read.import.records.get(&Uid(c.uid)) else { continue };
        let Some(got) = ours.get(&c.uid) else {
            problems.push(format!("UID {}: missing after conversion", c.uid));
            continue;
        };
        if got.system_flags & (flag::IMAP | flag::EXPUNGED) != want.system_flags || got.user_flags != want.user_flags || got.modseq != want.modseq || got.internaldate != want.internaldate {
            problems.push(format!("UID {}: flags, keywords, modseq or date differ after conversion", c.uid));
        }
        if got.size != c.size {
            problems.push(format!("{}: {} bytes where Cyrus's index says {}", paths.message(Uid(c.uid)).display(), got.size, c.size));
        }
    }
    let header = mb.header();
    if header.uidvalidity != read.import.uidvalidity || header.last_uid < read.import.last_uid {
        problems.push("UIDVALIDITY or the last UID differ after conversion".into());
    }
}

/// Puts Cyrus's files back in a mailbox directory and removes this suite's (for going
/// back to Cyrus), and the links of archived messages made at the takeover (Cyrus
/// would take such a file for a lost message and give it a new UID). Returns whether
/// anything was put back.
pub fn revert(paths: &Paths) -> Result<bool, String> {
    use std::os::unix::fs::MetadataExt;
    let mut any = false;
    if let Ok(ix) = std::fs::read(paths.meta.join(format!("cyrus.index.{ASIDE}"))).map_err(|e| e.to_string()).and_then(|b| index::read(&b).map_err(|e| e.0)) {
        for r in ix.records.iter().filter(|r| r.system_flags & cflag::ARCHIVED != 0) {
            let f = paths.message(Uid(r.uid));
            // Only a second link: the archive partition keeps the message.
            if std::fs::metadata(&f).is_ok_and(|md| md.nlink() > 1) {
                std::fs::remove_file(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            }
        }
    }
    for f in CYRUS_FILES {
        let (at, aside) = (paths.meta.join(f), paths.meta.join(format!("{f}.{ASIDE}")));
        if aside.exists() {
            rename(&aside, &at)?;
            any = true;
        } else if matches!(*f, "cyrus.header" | "cyrus.index" | "cyrus.cache") && at.exists() {
            // A mailbox the suite made (no Cyrus files to restore): leave it to
            // Cyrus's reconstruct, without this suite's metadata.
            std::fs::remove_file(&at).map_err(|e| format!("{}: {e}", at.display()))?;
        }
    }
    Ok(any)
}
