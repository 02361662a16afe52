//! The store as the daemons and tools use it: the mailbox list, the namespace, the
//! partitions and the admins of one imapd.conf, in one place, so that ACLs and quotas
//! are enforced here and never in a protocol crate alone.
//!
//! A mailbox's files: `partition-NAME` + its directory in Cyrus's layout
//! ([`crate::spool`]: by name, with `hashimapspool` and `fulldirhash`, or by mailbox
//! id) for the message files; the same under `metapartition-NAME` for cyrus.header,
//! cyrus.index and cyrus.cache when `metapartition_files` names them. [`Store::paths`]
//! is the one place every daemon and tool gets a mailbox's directories from.

use crate::acl::{Acl, Rights};
use crate::list::{Entry, mbtype};
use crate::names::{InternalName, Namespace};
use crate::spool::SpoolLayout;
use crate::MboxList;
use conf::Config;
use mailbox::{Mailbox, NewMessage, Paths, Uid};
use std::path::{Path, PathBuf};

/// Why a store operation failed, as a protocol needs to answer it.
#[derive(Debug)]
pub enum StoreError {
    NotFound(String),
    Exists(String),
    BadName(String),
    /// Usage would pass a quota limit (IMAP `[OVERQUOTA]`, LMTP 452 4.2.2).
    OverQuota(String),
    Denied(String),
    /// Configuration, I/O or damaged files (LMTP 451 4.3.0).
    Internal(String),
    /// The partition is full: temporary (LMTP 452 4.3.1, IMAP `[OVERQUOTA]`).
    NoSpace(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound(m) => write!(f, "Mailbox does not exist: {m}"),
            StoreError::Exists(m) => write!(f, "Mailbox already exists: {m}"),
            StoreError::BadName(m) => write!(f, "{m}"),
            StoreError::OverQuota(m) => write!(f, "Over quota: {m}"),
            StoreError::Denied(m) => write!(f, "Permission denied: {m}"),
            StoreError::Internal(m) => write!(f, "{m}"),
            StoreError::NoSpace(m) => write!(f, "{m}"),
        }
    }
}

impl From<mailbox::Error> for StoreError {
    fn from(e: mailbox::Error) -> Self {
        match e {
            mailbox::Error::NotFound(m) => StoreError::NotFound(m),
            e @ mailbox::Error::NoSpace(_) => StoreError::NoSpace(e.to_string()),
            other => StoreError::Internal(other.to_string()),
        }
    }
}

fn internal(e: String) -> StoreError {
    StoreError::Internal(e)
}

/// An I/O error on `path`: NoSpace when the filesystem is full, else Internal.
fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    let m = format!("{}: {e}", path.display());
    if mailbox::is_no_space(&e) { StoreError::NoSpace(m) } else { internal(m) }
}

/// The namespace imapd.conf describes.
pub fn namespace(cfg: &Config) -> Namespace {
    let virt = cfg.get_str("virtdomains").unwrap_or("off").to_ascii_lowercase();
    Namespace {
        unixhierarchysep: cfg.get_bool("unixhierarchysep"),
        altnamespace: cfg.get_bool("altnamespace"),
        virtdomains: !matches!(virt.as_str(), "off" | "no" | "0"),
        userprefix: cfg.get_str("userprefix").unwrap_or("Other Users").to_string(),
        sharedprefix: cfg.get_str("sharedprefix").unwrap_or("Shared Folders").to_string(),
        defaultdomain: cfg.get_str("defaultdomain").filter(|d| !d.is_empty()).map(|d| d.to_ascii_lowercase()),
        username_tolower: cfg.get_bool("username_tolower"),
    }
}

/// A random unique id (hex), from the kernel's generator.
pub fn new_uniqueid() -> String {
    let mut b = [0u8; 12];
    // SAFETY: getrandom into a local buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        // Fall back on time and pid: unique enough for a name that is only an id.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        b[..8].copy_from_slice(&(t as u64).to_le_bytes());
        b[8..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A message written and fsynced once in a partition's `stage./` directory, for
/// every mailbox of a delivery on that partition to hard-link (single-instance store,
/// and the content's fsync paid outside the mailbox locks). Removed when dropped.
pub struct Staged {
    pub path: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub struct Store {
    pub cfg: Config,
    pub list: MboxList,
    pub ns: Namespace,
    /// Where by-name mailboxes are under a partition, read once from the configuration.
    pub layout: SpoolLayout,
    admins: Vec<String>,
    groups: crate::groups::Groups,
}

impl Store {
    /// Opens the mailbox list of `cfg`'s configdirectory.
    pub fn open(cfg: &Config) -> Result<Store, StoreError> {
        let dir = cfg.get_str("configdirectory").ok_or_else(|| internal(format!("{}: configdirectory is not set", cfg.path().display())))?;
        let list = MboxList::open(Path::new(dir), false).map_err(|e| internal(format!("{e} (run mkimap first?)")))?;
        Ok(Store::with_list(cfg, list))
    }

    /// The store of `cfg` over another mailbox list (a scratch one, for a tool's dry
    /// run that must write nothing into configdirectory).
    pub fn with_list(cfg: &Config, list: MboxList) -> Store {
        Store { cfg: cfg.clone(), list, ns: namespace(cfg), layout: SpoolLayout::from_config(cfg), admins: cfg.get_list("admins"), groups: crate::groups::Groups::from_config(cfg) }
    }

    /// For a daemon: the store, or `None` with the reason logged (its sessions then
    /// answer that the store is unavailable rather than the worker dying in a loop).
    /// Opened once per process, after exec, never across a fork.
    pub fn open_for_daemon(cfg: &Config) -> Option<Store> {
        match Store::open(cfg) {
            Ok(s) => Some(s),
            Err(e) => {
                log::error!("mail store unavailable, logins will fail: {e}");
                None
            }
        }
    }

    /// Whether `userid` is listed in `admins` (of its own domain, or of every one:
    /// see [`crate::users`]).
    pub fn is_admin(&self, userid: &str) -> bool {
        self.admins.iter().any(|a| a == userid)
    }

    /// Whether `userid` administers every domain (an admin with no domain part).
    pub fn is_global_admin(&self, userid: &str) -> bool {
        self.is_admin(userid) && self.ns.user_domain(userid).is_none()
    }

    /// Whether `userid` is an admin of the domain `name` is in.
    pub fn administers(&self, userid: &str, name: &InternalName) -> bool {
        self.is_admin(userid) && (self.ns.same_domain(userid, name) || self.is_global_admin(userid))
    }

    /// Whether `userid` may reach `name` at all: its own domain, or every domain for a
    /// global admin. Across domains nothing is granted, whatever an ACL says.
    pub fn reaches(&self, userid: &str, name: &InternalName) -> bool {
        self.ns.same_domain(userid, name) || self.is_global_admin(userid)
    }

    /// An ACL identifier as SETACL and DELETEACL store it, for a mailbox `name`:
    /// canonical ([`Namespace::canonical_userid`]), in the mailbox's domain when it
    /// names none (`bob` on `example.org!user.fred` is `bob@example.org`), and never
    /// of another domain. `-id` (negative rights) and `group:NAME` keep their form.
    pub fn acl_identifier(&self, name: &InternalName, id: &str, granting: bool) -> Result<String, crate::users::BadUser> {
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(crate::users::BadUser("white space in an identifier".into()));
        }
        let (neg, bare) = match id.strip_prefix('-') {
            Some(b) => ("-", b),
            None => ("", id),
        };
        if let Some(group) = bare.strip_prefix("group:") {
            if group.is_empty() || group.bytes().any(|c| c < 0x21 || c == 0x7f) {
                return Err(crate::users::BadUser("bad group name".into()));
            }
            // A group is named as its database knows it; an unknown one can be
            // removed but not granted rights (as Cyrus's cyrus_acl_set).
            return match self.groups.canonical(group) {
                Some(g) => Ok(format!("{neg}group:{g}")),
                None if !granting => Ok(id.to_string()),
                None => Err(crate::users::BadUser(format!("no group {group}"))),
            };
        }
        let domain = crate::users::name_domain(&name.0);
        let with_domain = match (domain, self.ns.virtdomains && !bare.contains(['@', '%'])) {
            (Some(d), true) if !matches!(bare.to_ascii_lowercase().as_str(), "anyone" | "anybody" | "anonymous") => format!("{bare}@{d}"),
            _ => bare.to_string(),
        };
        let canon = self.ns.canonical_userid(&with_domain, None)?;
        if !matches!(canon.as_str(), "anyone" | "anonymous") && self.ns.user_domain(&canon).as_deref() != domain {
            return Err(crate::users::BadUser(format!("{canon} is not of this mailbox's domain")));
        }
        Ok(format!("{neg}{canon}"))
    }

    fn partition_dir(&self, prefix: &str, partition: &str) -> Option<PathBuf> {
        self.cfg.prefixed(prefix).into_iter().find(|(n, _)| n == partition).map(|(_, d)| PathBuf::from(d))
    }

    /// Writes `raw` to `partition`'s stage directory and fsyncs it.
    pub fn stage(&self, partition: &str, raw: &[u8]) -> Result<Staged, StoreError> {
        use std::io::Write;
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = self
            .partition_dir("partition-", partition)
            .ok_or_else(|| internal(format!("partition-{partition} is not configured")))?
            .join("stage.");
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        // A name no earlier process can have left behind (a pid is reused after a
        // reboot), created exclusively: an old stage file may be linked into a mailbox.
        let path = dir.join(format!("{}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed), new_uniqueid()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        let staged = Staged { path };
        f.write_all(raw).and_then(|()| f.sync_data()).map_err(|e| io_error(&staged.path, e))?;
        Ok(staged)
    }

    /// Removes stage files older than `max_age` from every partition's `stage./`
    /// (left by a delivery process that was killed; the mailboxes hold their own links,
    /// so only space is freed). Returns how many were removed.
    pub fn clean_stage(&self, max_age: std::time::Duration) -> usize {
        let mut n = 0;
        for (_, dir) in self.cfg.prefixed("partition-") {
            let stage = PathBuf::from(dir).join("stage.");
            let Ok(rd) = std::fs::read_dir(&stage) else { continue };
            for e in rd.flatten() {
                let old = e.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok()).is_some_and(|a| a > max_age);
                if old && std::fs::remove_file(e.path()).is_ok() {
                    n += 1;
                }
            }
        }
        n
    }

    /// Where the files of `name` (with list entry `e`) are: by mailbox id when the
    /// entry is flagged [`mbtype::BY_ID`], else by name in the configured layout.
    pub fn paths(&self, name: &InternalName, e: &Entry) -> Result<Paths, StoreError> {
        let rel = self.layout.relative(name, e).map_err(internal)?;
        let data = self
            .partition_dir("partition-", &e.partition)
            .ok_or_else(|| internal(format!("{}: partition-{} is not configured", name.0, e.partition)))?
            .join(&rel);
        let meta_files = self.cfg.get_list("metapartition_files");
        let on_meta = ["header", "index", "cache"].iter().all(|f| meta_files.iter().any(|m| m.eq_ignore_ascii_case(f)));
        let meta = match self.partition_dir("metapartition-", &e.partition) {
            Some(m) if on_meta => m.join(&rel),
            _ => data.clone(),
        };
        Ok(Paths { data, meta })
    }

    /// The directories on `partition` below which by-name mailboxes at or under `name`
    /// may be (see [`SpoolLayout::roots_below`]), for finding mailboxes on disk. A
    /// directory found there belongs to the name whose [`Store::paths`] it is; by-id
    /// directories are found from the list only.
    pub fn dirs_below(&self, name: &InternalName, partition: &str) -> Result<Vec<PathBuf>, StoreError> {
        self.outside_by_id_tree(name)?;
        let root = self.partition_dir("partition-", partition).ok_or_else(|| internal(format!("partition-{partition} is not configured")))?;
        Ok(self.layout.roots_below(name).into_iter().map(|r| root.join(r)).collect())
    }

    /// Refuses a name whose by-name directory would be among the by-id directories.
    fn outside_by_id_tree(&self, name: &InternalName) -> Result<(), StoreError> {
        if self.layout.in_by_id_tree(name) {
            return Err(StoreError::BadName(format!("{}: its directory would be among the directories by mailbox id (partition/uuid)", name.0)));
        }
        Ok(())
    }

    pub fn lookup(&self, name: &InternalName) -> Result<Entry, StoreError> {
        match self.list.lookup(&name.0).map_err(internal)? {
            Some(e) if e.is_normal() => Ok(e),
            _ => Err(StoreError::NotFound(name.0.clone())),
        }
    }

    /// What `userid` may do on `name`.
    ///
    /// Nothing across domains ([`Store::reaches`]); an admin of the mailbox's domain
    /// has `l` and `a` besides what the ACL gives it, as in Cyrus (it reads a user's
    /// mail only when an ACL lets it).
    pub fn rights(&self, userid: &str, name: &InternalName, e: &Entry) -> Rights {
        if !self.reaches(userid, name) {
            return Rights::default();
        }
        let acl = Acl::parse(&e.acl).unwrap_or_default();
        // Group membership is looked up only for an ACL that names a group.
        let groups = if e.acl.contains("group:") { self.groups.of(userid, &self.list) } else { Vec::new() };
        let r = acl.rights_of(userid, &groups, self.ns.owner(name).as_deref());
        if self.administers(userid, name) { r.union(Rights::parse("la").unwrap_or_default()) } else { r }
    }

    /// Creates a mailbox: the list entry (reserved while the files are made), then the
    /// files, then the entry made normal. Its ACL: `acl` if given, else its nearest
    /// existing ancestor's, else all rights for the owner of a personal mailbox, else
    /// `defaultacl` (as Cyrus's mboxlist_create_acl).
    pub fn create(&self, name: &InternalName, partition: Option<&str>, acl: Option<&Acl>) -> Result<Entry, StoreError> {
        crate::names::validate(&name.0).map_err(|e| StoreError::BadName(e.to_string()))?;
        self.outside_by_id_tree(name)?;
        let partition = partition.map(str::to_string).unwrap_or_else(|| self.cfg.get_str("defaultpartition").unwrap_or("default").to_string());
        if self.partition_dir("partition-", &partition).is_none() {
            return Err(internal(format!("partition-{partition} is not configured")));
        }
        let acl = match acl {
            Some(a) => a.to_stored(),
            None => {
                let floor = name.0.find('!').map_or(0, |i| i + 1);
                let ancestor = (floor..name.0.len())
                    .rev()
                    .filter(|&i| name.0.as_bytes()[i] == b'.')
                    .find_map(|i| self.list.lookup(&name.0[..i]).ok().flatten());
                match ancestor {
                    Some(p) => p.acl,
                    None => match self.ns.owner(name) {
                        Some(owner) => format!("{owner}\t{}\t", crate::acl::ALL_RIGHTS),
                        None => default_acl(self.cfg.get_str("defaultacl").unwrap_or("")),
                    },
                }
            }
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or(1);
        let uidvalidity = self.list.next_uidvalidity(now).map_err(internal)?;
        let mut e = Entry { mbtype: mbtype::RESERVED, partition, uniqueid: new_uniqueid(), uidvalidity, acl };
        self.list.insert(&name.0, &e).map_err(|m| if m.contains("exists") { StoreError::Exists(name.0.clone()) } else { internal(m) })?;
        let paths = self.paths(name, &e)?;
        if let Err(err) = mailbox::create(&paths, &name.0, &e.uniqueid, e.uidvalidity) {
            let _ = self.list.remove(&name.0);
            return Err(err.into());
        }
        e.mbtype = mbtype::NORMAL | (e.mbtype & mbtype::FLAGS);
        self.list.update(&name.0, &e).map_err(internal)?;
        Ok(e)
    }

    /// Adds the entry of a mailbox whose files exist already (taken over from Cyrus,
    /// or laid by a tool): checks the name, the partition and, for a by-id entry, its
    /// uniqueid, then inserts `e` as it is. Returns where its files must be; nothing on
    /// disk is touched. Two by-id entries with one uniqueid would share a directory:
    /// the caller must not give one twice.
    pub fn register(&self, name: &InternalName, e: &Entry) -> Result<Paths, StoreError> {
        crate::names::validate(&name.0).map_err(|x| StoreError::BadName(x.to_string()))?;
        let paths = self.paths(name, e)?;
        self.list.insert(&name.0, e).map_err(|m| if m.contains("exists") { StoreError::Exists(name.0.clone()) } else { internal(m) })?;
        Ok(paths)
    }

    pub fn open_mailbox(&self, name: &InternalName) -> Result<(Entry, Mailbox), StoreError> {
        let e = self.lookup(name)?;
        let mb = Mailbox::open(&self.paths(name, &e)?)?;
        Ok((e, mb))
    }

    /// Appends to `name`, charging its quota root first (so concurrent appends can
    /// never pass a limit together); with `ignore_quota` the charge is forced.
    /// Durable when it returns.
    pub fn append(&self, name: &InternalName, mb: &mut Mailbox, msgs: &[NewMessage<'_>], ignore_quota: bool) -> Result<Vec<Uid>, StoreError> {
        self.charged(name, msgs, ignore_quota, || mb.append(msgs))
    }

    /// [`Store::append`] without the sync ([`Mailbox::append_unsynced`]): the caller
    /// passes what it returns to [`mailbox::sync_appends`] before acknowledging.
    pub fn append_unsynced(&self, name: &InternalName, mb: &mut Mailbox, msgs: &[NewMessage<'_>], ignore_quota: bool) -> Result<(Vec<Uid>, mailbox::Unsynced), StoreError> {
        self.charged(name, msgs, ignore_quota, || mb.append_unsynced(msgs))
    }

    /// Runs `append` with the quota charged, and given back if it fails.
    fn charged<T>(&self, name: &InternalName, msgs: &[NewMessage<'_>], ignore_quota: bool, append: impl FnOnce() -> Result<T, mailbox::Error>) -> Result<T, StoreError> {
        let bytes: i64 = msgs.iter().map(|m| m.raw.len() as i64).sum();
        let n = msgs.len() as i64;
        let root = self.list.quota_root_of(&name.0).map_err(internal)?;
        if let Some(r) = &root {
            if !self.list.quota_charge(r, bytes, n, ignore_quota).map_err(internal)? {
                return Err(StoreError::OverQuota(r.clone()));
            }
        }
        match append() {
            Ok(done) => Ok(done),
            Err(e) => {
                if let Some(r) = &root {
                    let _ = self.list.quota_charge(r, -bytes, -n, true);
                }
                Err(e.into())
            }
        }
    }

    /// Whether a delivery of `bytes` may go to `name`: with `strict`, only if it fits
    /// under the limits; otherwise (Cyrus's default for lmtpd) unless the root is
    /// already at or over a limit. Returns the root that refuses.
    pub fn quota_refuses(&self, name: &InternalName, bytes: u64, strict: bool) -> Result<Option<String>, StoreError> {
        let Some(root) = self.list.quota_root_of(&name.0).map_err(internal)? else { return Ok(None) };
        let Some(q) = self.list.quota(&root).map_err(internal)? else { return Ok(None) };
        let refuses = if strict {
            q.would_exceed(bytes as i64, 1)
        } else {
            q.storage_limit_kib.is_some_and(|l| q.storage_used >= l.saturating_mul(1024)) || q.message_limit.is_some_and(|l| q.message_used >= l)
        };
        Ok(refuses.then_some(root))
    }

    /// Expunges `uids` of `name` and gives their size back to the quota root.
    pub fn expunge(&self, name: &InternalName, mb: &mut Mailbox, uids: &[Uid]) -> Result<Vec<Uid>, StoreError> {
        let mut w = mb.lock()?;
        let done = w.expunge(uids)?;
        let mut sizes = 0i64;
        for u in &done {
            if let Some(i) = w.mailbox().find(*u)? {
                sizes += i64::from(w.mailbox().record(i)?.size);
            }
        }
        drop(w);
        // The messages are gone whatever happens to the credit; `quota -f` repairs drift.
        match self.list.quota_root_of(&name.0) {
            Ok(Some(r)) => {
                if let Err(e) = self.list.quota_charge(&r, -sizes, -(done.len() as i64), true) {
                    log::error!("quota root {r}: usage not reduced after an expunge ({e}); run quota -f");
                }
            }
            Ok(None) => {}
            Err(e) => log::error!("{}: quota root lookup failed after an expunge: {e}", name.0),
        }
        Ok(done)
    }

    /// Deletes a mailbox (not its children): the list entry goes first, so nobody
    /// finds it any more; then its files, and its usage is given back to its quota
    /// root. A quota root of its own goes too when nothing is left under it.
    pub fn delete(&self, name: &InternalName) -> Result<(), StoreError> {
        let e = self.lookup(name)?;
        let paths = self.paths(name, &e)?;
        let usage = Mailbox::open(&paths).map(|mb| (mb.header().quota_used, mb.header().exists)).ok();
        let root = self.list.quota_root_of(&name.0).map_err(internal)?;
        self.list.remove(&name.0).map_err(internal)?;
        if let (Some(r), Some((bytes, n))) = (&root, usage) {
            let _ = self.list.quota_charge(r, -(bytes as i64), -(i64::from(n)), true);
        }
        for dir in [&paths.data, &paths.meta] {
            crate::dirs::remove_mailbox_files(dir);
        }
        if root.as_deref() == Some(name.0.as_str()) && self.list.subtree(&name.0).map_err(internal)?.is_empty() {
            let _ = self.list.set_quota_limits(&name.0, None, None);
        }
        for (entry, userid, _) in self.list.annotations(&name.0).unwrap_or_default() {
            let _ = self.list.set_annotation(&name.0, &entry, &userid, None);
        }
        Ok(())
    }

    /// Renames `from` and every mailbox below it to `to` (each on its partition): the
    /// directories of by-name mailboxes move to their new names' places (a by-id
    /// directory stays where it is), each cyrus.header gets its new name, the list
    /// entries are moved, and usage follows to the new quota root.
    pub fn rename(&self, from: &InternalName, to: &InternalName) -> Result<(), StoreError> {
        crate::names::validate(&to.0).map_err(|e| StoreError::BadName(e.to_string()))?;
        if to.0 == from.0 || to.0.starts_with(&format!("{}.", from.0)) {
            return Err(StoreError::BadName("Cannot rename a mailbox into itself".into()));
        }
        // Moving such a directory would carry by-id directories along. (Children share
        // their top's first component, so checking the tops covers the trees.)
        self.outside_by_id_tree(from)?;
        self.outside_by_id_tree(to)?;
        let tree = self.list.subtree(&from.0).map_err(internal)?;
        if tree.is_empty() {
            return Err(StoreError::NotFound(from.0.clone()));
        }
        let renamed = |n: &str| format!("{}{}", to.0, &n[from.0.len()..]);
        for (n, _) in &tree {
            if self.list.lookup(&renamed(n)).map_err(internal)?.is_some() {
                return Err(StoreError::Exists(renamed(n)));
            }
        }
        // Usage per mailbox, to move between quota roots; and each mailbox's
        // directories (data and meta), to go where its new name puts them (a by-id
        // directory stays; see crate::dirs).
        let mut usage = Vec::new();
        let mut moves = Vec::new();
        for (n, e) in &tree {
            let old = self.paths(&InternalName(n.clone()), e)?;
            let new = self.paths(&InternalName(renamed(n)), e)?;
            let u = Mailbox::open(&old).map(|mb| (mb.header().quota_used as i64, i64::from(mb.header().exists))).unwrap_or((0, 0));
            usage.push((self.list.quota_root_of(n).map_err(internal)?, u));
            moves.push((old.data.clone(), new.data.clone()));
            if old.meta != old.data {
                moves.push((old.meta, new.meta));
            }
        }
        crate::dirs::move_mailbox_dirs(&moves).map_err(internal)?;
        for (i, (n, e)) in tree.iter().enumerate() {
            let new_name = renamed(n);
            let p = self.paths(&InternalName(new_name.clone()), e)?;
            if let Ok(mut h) = mailbox::header::MailboxHeader::read(&p.header()) {
                h.name = new_name.clone();
                h.write(&p.header()).map_err(internal)?;
            }
            self.list.insert(&new_name, e).map_err(internal)?;
            self.list.remove(n).map_err(internal)?;
            for (entry, userid, v) in self.list.annotations(n).unwrap_or_default() {
                let _ = self.list.set_annotation(&new_name, &entry, &userid, Some(&v));
                let _ = self.list.set_annotation(n, &entry, &userid, None);
            }
            let new_root = self.list.quota_root_of(&new_name).map_err(internal)?;
            let (old_root, (bytes, msgs)) = &usage[i];
            if *old_root != new_root {
                if let Some(r) = old_root {
                    let _ = self.list.quota_charge(r, -bytes, -msgs, true);
                }
                if let Some(r) = &new_root {
                    let _ = self.list.quota_charge(r, *bytes, *msgs, true);
                }
            }
        }
        Ok(())
    }

    /// Replaces the ACL of `name`.
    pub fn set_acl(&self, name: &InternalName, acl: &Acl) -> Result<(), StoreError> {
        let mut e = self.lookup(name)?;
        e.acl = acl.to_stored();
        self.list.update(&name.0, &e).map_err(internal)
    }

    /// Sum of live sizes and counts of every mailbox under quota root `root` (for
    /// `quota -f` and `reconstruct`): the root and its descendants, less those under
    /// a deeper root.
    pub fn usage_of_root(&self, root: &str) -> Result<(u64, u64), StoreError> {
        let roots: Vec<String> = self.list.quota_roots().map_err(internal)?.into_iter().map(|(n, _)| n).collect();
        let (mut bytes, mut msgs) = (0u64, 0u64);
        for (name, e) in self.list.subtree(root).map_err(internal)? {
            if !e.is_normal() {
                continue;
            }
            let deeper = roots.iter().any(|r| r.len() > root.len() && (name == *r || name.starts_with(&format!("{r}."))));
            if deeper {
                continue;
            }
            let name = InternalName(name);
            let mb = Mailbox::open(&self.paths(&name, &e)?)?;
            bytes += mb.header().quota_used;
            msgs += u64::from(mb.header().exists);
        }
        Ok((bytes, msgs))
    }
}

/// `defaultacl`'s "identifier rights ..." pairs as a stored ACL; a pair whose rights do
/// not parse is skipped (logged), as Cyrus skips it.
fn default_acl(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = String::new();
    for pair in words.chunks(2) {
        match pair {
            [id, rights] if Rights::parse(rights).is_ok() => {
                out.push_str(&format!("{id}\t{}\t", Rights::parse(rights).unwrap_or_default()));
            }
            _ => log::warn!("defaultacl: {pair:?} is not an identifier and its rights; skipped"),
        }
    }
    out
}
