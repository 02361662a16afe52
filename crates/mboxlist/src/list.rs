//! The records of the mailbox list, quota roots and subscriptions in LMDB.
//!
//! Databases of the environment (all keys are bytes, sorted, so a hierarchy is a
//! contiguous key range):
//! - `mailboxes`: internal name → [`Entry`] (version 1: `1u8`, type u8 (see
//!   [`mbtype`]), uidvalidity u32, then u16-length partition, u16-length uniqueid,
//!   u32-length ACL);
//! - `quota`: root name → [`Quota`] (version 1: `1u8`, then four u64: storage limit in
//!   KiB (`u64::MAX` = none), message limit (`u64::MAX` = none), bytes used, messages
//!   used);
//! - `subs`: userid, NUL, internal name → empty.
//!
//! Every change is one LMDB write transaction, durable at commit.

use crate::MboxList;
use lmdb::{Cursor, Transaction, WriteFlags};

/// The type byte of a mailbox-list entry: a kind in the low bits, flags in the high
/// ones. Compare kinds with [`kind`] (or [`Entry::is_normal`]), never the whole byte.
pub mod mbtype {
    /// Kind: a mailbox in use.
    pub const NORMAL: u8 = 0;
    /// Kind: a name being created or deleted (held while the files are made or removed).
    pub const RESERVED: u8 = 1;
    /// Flag: the mailbox's directory is by mailbox id, `uuid/A/B/UNIQUEID` under its
    /// partition (Cyrus 3.6's layout without `mailbox_legacy_dirs`), not by name. Set
    /// only when a mailbox Cyrus made that way is taken over; the suite itself creates
    /// mailboxes by name. It never changes for a mailbox: its files would be lost to
    /// the store. Entries written before this bit existed do not have it, so their
    /// directories stay where they were.
    pub const BY_ID: u8 = 0x80;
    /// The bits of the byte that are flags, not the kind.
    pub const FLAGS: u8 = BY_ID;

    /// The kind of a type byte, without its flags.
    pub fn kind(t: u8) -> u8 {
        t & !FLAGS
    }
}

/// One mailbox in the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub mbtype: u8,
    pub partition: String,
    pub uniqueid: String,
    pub uidvalidity: u32,
    /// Cyrus's stored ACL form (`id\trights\t...`).
    pub acl: String,
}

impl Entry {
    /// A mailbox in use (whatever its flags), not a reserved name.
    pub fn is_normal(&self) -> bool {
        mbtype::kind(self.mbtype) == mbtype::NORMAL
    }

    /// Whether its directory is by mailbox id ([`mbtype::BY_ID`]).
    pub fn is_by_id(&self) -> bool {
        self.mbtype & mbtype::BY_ID != 0
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![1u8, self.mbtype];
        v.extend_from_slice(&self.uidvalidity.to_le_bytes());
        for s in [&self.partition, &self.uniqueid] {
            v.extend_from_slice(&(s.len().min(u16::MAX as usize) as u16).to_le_bytes());
            v.extend_from_slice(&s.as_bytes()[..s.len().min(u16::MAX as usize)]);
        }
        v.extend_from_slice(&(self.acl.len() as u32).to_le_bytes());
        v.extend_from_slice(self.acl.as_bytes());
        v
    }

    pub fn decode(b: &[u8]) -> Option<Entry> {
        let mut r = Reader(b);
        if r.u8()? != 1 {
            return None;
        }
        let mbtype = r.u8()?;
        let uidvalidity = r.u32()?;
        let n = r.u16()? as usize;
        let partition = r.string(n)?;
        let n = r.u16()? as usize;
        let uniqueid = r.string(n)?;
        let n = r.u32()? as usize;
        let acl = r.string(n)?;
        Some(Entry { mbtype, partition, uniqueid, uidvalidity, acl })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
    }
    fn string(&mut self, n: usize) -> Option<String> {
        self.take(n).and_then(|b| String::from_utf8(b.to_vec()).ok())
    }
}

/// A quota root: limits and usage (RFC 9208 STORAGE in KiB, MESSAGE in messages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    pub storage_limit_kib: Option<u64>,
    pub message_limit: Option<u64>,
    pub storage_used: u64,
    pub message_used: u64,
}

impl Quota {
    fn encode(&self) -> Vec<u8> {
        let mut v = vec![1u8];
        for x in [self.storage_limit_kib.unwrap_or(u64::MAX), self.message_limit.unwrap_or(u64::MAX), self.storage_used, self.message_used] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    fn decode(b: &[u8]) -> Option<Quota> {
        let mut r = Reader(b);
        if r.u8()? != 1 {
            return None;
        }
        let lim = |x: u64| (x != u64::MAX).then_some(x);
        Some(Quota { storage_limit_kib: lim(r.u64()?), message_limit: lim(r.u64()?), storage_used: r.u64()?, message_used: r.u64()? })
    }

    /// Whether adding `bytes` and `messages` would pass a limit. Changes that do not
    /// grow usage never do (so deleting and moving within a root always work).
    pub fn would_exceed(&self, bytes: i64, messages: i64) -> bool {
        let over_storage = bytes > 0
            && self.storage_limit_kib.is_some_and(|l| self.storage_used.saturating_add(bytes as u64) > l.saturating_mul(1024));
        let over_count = messages > 0 && self.message_limit.is_some_and(|l| self.message_used.saturating_add(messages as u64) > l);
        over_storage || over_count
    }
}

fn err(e: lmdb::Error) -> String {
    e.to_string()
}

fn sub_key(userid: &str, name: &str) -> Vec<u8> {
    let mut k = userid.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

impl MboxList {
    pub fn lookup(&self, name: &str) -> Result<Option<Entry>, String> {
        let db = self.db("mailboxes")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        match txn.get(db, &name) {
            Ok(v) => Entry::decode(v).map(Some).ok_or_else(|| format!("{name}: damaged mailbox list entry")),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// Adds `name`; fails if it exists.
    pub fn insert(&self, name: &str, e: &Entry) -> Result<(), String> {
        let db = self.db("mailboxes")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        match txn.put(db, &name, &e.encode(), WriteFlags::NO_OVERWRITE) {
            Err(lmdb::Error::KeyExist) => return Err(format!("{name}: mailbox exists")),
            r => r.map_err(err)?,
        }
        txn.commit().map_err(err)
    }

    /// Adds many new entries in one transaction (one sync): all or none.
    pub fn insert_many(&self, entries: &[(String, Entry)]) -> Result<(), String> {
        let db = self.db("mailboxes")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        for (name, e) in entries {
            match txn.put(db, name, &e.encode(), WriteFlags::NO_OVERWRITE) {
                Err(lmdb::Error::KeyExist) => return Err(format!("{name}: mailbox exists")),
                r => r.map_err(err)?,
            }
        }
        txn.commit().map_err(err)
    }

    /// Replaces the entry of an existing `name`.
    pub fn update(&self, name: &str, e: &Entry) -> Result<(), String> {
        let db = self.db("mailboxes")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        if txn.get(db, &name).is_err() {
            return Err(format!("{name}: no such mailbox"));
        }
        txn.put(db, &name, &e.encode(), WriteFlags::empty()).map_err(err)?;
        txn.commit().map_err(err)
    }

    pub fn remove(&self, name: &str) -> Result<(), String> {
        let db = self.db("mailboxes")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        match txn.del(db, &name, None) {
            Err(lmdb::Error::NotFound) => return Err(format!("{name}: no such mailbox")),
            r => r.map_err(err)?,
        }
        txn.commit().map_err(err)
    }

    /// Every entry whose name starts with `prefix`, in name order.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, Entry)>, String> {
        let db = self.db("mailboxes")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        let mut cur = txn.open_ro_cursor(db).map_err(err)?;
        let iter = if prefix.is_empty() { cur.iter_start() } else { cur.iter_from(prefix) };
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item.map_err(err)?;
            if !k.starts_with(prefix.as_bytes()) {
                break;
            }
            let name = String::from_utf8_lossy(k).into_owned();
            let e = Entry::decode(v).ok_or_else(|| format!("{name}: damaged mailbox list entry"))?;
            out.push((name, e));
        }
        Ok(out)
    }

    /// A mailbox and its children: `name` itself and every `name.` descendant.
    pub fn subtree(&self, name: &str) -> Result<Vec<(String, Entry)>, String> {
        let mut v = self.list(&format!("{name}."))?;
        if let Some(e) = self.lookup(name)? {
            v.insert(0, (name.to_string(), e));
        }
        Ok(v)
    }

    pub fn quota(&self, root: &str) -> Result<Option<Quota>, String> {
        let db = self.db("quota")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        match txn.get(db, &root) {
            Ok(v) => Quota::decode(v).map(Some).ok_or_else(|| format!("{root}: damaged quota entry")),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// Sets the limits of `root` (creating it with zero usage), or removes the root
    /// when both limits are `None`.
    pub fn set_quota_limits(&self, root: &str, storage_kib: Option<u64>, messages: Option<u64>) -> Result<(), String> {
        let db = self.db("quota")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        let old = match txn.get(db, &root) {
            Ok(v) => Quota::decode(v),
            Err(_) => None,
        };
        if storage_kib.is_none() && messages.is_none() {
            let _ = txn.del(db, &root, None);
        } else {
            let q = Quota { storage_limit_kib: storage_kib, message_limit: messages, ..old.unwrap_or_default() };
            txn.put(db, &root, &q.encode(), WriteFlags::empty()).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    /// Adds (or subtracts) usage of `root`, unless it would pass a limit while growing
    /// and `force` is false. Returns whether it was applied.
    pub fn quota_charge(&self, root: &str, bytes: i64, messages: i64, force: bool) -> Result<bool, String> {
        let db = self.db("quota")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        let Some(mut q) = txn.get(db, &root).ok().and_then(Quota::decode) else { return Ok(true) };
        if !force && q.would_exceed(bytes, messages) {
            return Ok(false);
        }
        q.storage_used = (q.storage_used as i64).saturating_add(bytes).max(0) as u64;
        q.message_used = (q.message_used as i64).saturating_add(messages).max(0) as u64;
        txn.put(db, &root, &q.encode(), WriteFlags::empty()).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(true)
    }

    /// Sets the usage of `root` outright (`quota -f`).
    pub fn quota_set_usage(&self, root: &str, bytes: u64, messages: u64) -> Result<(), String> {
        let db = self.db("quota")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        let Some(mut q) = txn.get(db, &root).ok().and_then(Quota::decode) else { return Err(format!("{root}: no quota root")) };
        q.storage_used = bytes;
        q.message_used = messages;
        txn.put(db, &root, &q.encode(), WriteFlags::empty()).map_err(err)?;
        txn.commit().map_err(err)
    }

    /// Every quota root, in name order.
    pub fn quota_roots(&self) -> Result<Vec<(String, Quota)>, String> {
        let db = self.db("quota")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        let mut cur = txn.open_ro_cursor(db).map_err(err)?;
        let mut out = Vec::new();
        for item in cur.iter_start() {
            let (k, v) = item.map_err(err)?;
            let name = String::from_utf8_lossy(k).into_owned();
            out.push((name.clone(), Quota::decode(v).ok_or_else(|| format!("{name}: damaged quota entry"))?));
        }
        Ok(out)
    }

    /// The quota root governing `name`: the longest root that is `name` or an
    /// ancestor of it.
    pub fn quota_root_of(&self, name: &str) -> Result<Option<String>, String> {
        // Never climb out of a domain: `example.org!user.fred` stops at `example.org!`.
        let floor = name.find('!').map_or(0, |i| i + 1);
        let mut cand = name;
        loop {
            if self.quota(cand)?.is_some() {
                return Ok(Some(cand.to_string()));
            }
            match cand.rfind('.').filter(|&i| i > floor) {
                Some(i) => cand = &cand[..i],
                None if floor > 0 && cand.len() > floor => cand = &name[..floor],
                None => return Ok(None),
            }
        }
    }

    /// A UIDVALIDITY for a new mailbox: the current second, but always above every one
    /// given before (a mailbox deleted and created again within a second must not
    /// get its old UIDVALIDITY back, or clients would trust their stale caches).
    pub fn next_uidvalidity(&self, now: u32) -> Result<u32, String> {
        let db = self.db("meta")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        let last = match txn.get(db, &"last_uidvalidity") {
            Ok(v) if v.len() == 4 => u32::from_le_bytes([v[0], v[1], v[2], v[3]]),
            _ => 0,
        };
        let next = now.max(last.saturating_add(1)).max(1);
        txn.put(db, &"last_uidvalidity", &next.to_le_bytes(), WriteFlags::empty()).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(next)
    }

    pub fn subscribe(&self, userid: &str, name: &str, on: bool) -> Result<(), String> {
        let db = self.db("subs")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        let k = sub_key(userid, name);
        if on {
            txn.put(db, &k, &b"", WriteFlags::empty()).map_err(err)?;
        } else {
            match txn.del(db, &k, None) {
                Err(lmdb::Error::NotFound) | Ok(()) => {}
                Err(e) => return Err(err(e)),
            }
        }
        txn.commit().map_err(err)
    }

    /// Every subscription of every user, as (userid, mailbox name), in one pass.
    pub fn all_subscriptions(&self) -> Result<Vec<(String, String)>, String> {
        let db = self.db("subs")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        let mut cur = txn.open_ro_cursor(db).map_err(err)?;
        let mut out = Vec::new();
        for item in cur.iter_start() {
            let (k, _) = item.map_err(err)?;
            if let Some(i) = k.iter().position(|&b| b == 0) {
                out.push((String::from_utf8_lossy(&k[..i]).into_owned(), String::from_utf8_lossy(&k[i + 1..]).into_owned()));
            }
        }
        Ok(out)
    }

    pub fn subscriptions(&self, userid: &str) -> Result<Vec<String>, String> {
        let db = self.db("subs")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        let mut cur = txn.open_ro_cursor(db).map_err(err)?;
        let prefix = sub_key(userid, "");
        let mut out = Vec::new();
        for item in cur.iter_from(&prefix) {
            let (k, _) = item.map_err(err)?;
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(n: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mboxlist-{n}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn entries_and_hierarchies() {
        let d = tmp("entries");
        let l = MboxList::open(&d, true).unwrap();
        let e = Entry { partition: "default".into(), uniqueid: "abc".into(), uidvalidity: 7, acl: "fred\tlrswipkxtean\t".into(), ..Default::default() };
        l.insert("user.fred", &e).unwrap();
        assert!(l.insert("user.fred", &e).unwrap_err().contains("exists"));
        l.insert("user.fred.Sent", &e).unwrap();
        l.insert("user.fredrick", &e).unwrap();
        l.insert("user.barney", &e).unwrap();
        assert_eq!(l.lookup("user.fred").unwrap(), Some(e.clone()));
        assert_eq!(l.lookup("user.nobody").unwrap(), None);
        let names: Vec<String> = l.subtree("user.fred").unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["user.fred", "user.fred.Sent"], "user.fredrick is not a child");
        assert_eq!(l.list("user.").unwrap().len(), 4);
        let mut e2 = e.clone();
        e2.acl = "anyone\tl\t".into();
        l.update("user.barney", &e2).unwrap();
        assert_eq!(l.lookup("user.barney").unwrap().unwrap().acl, "anyone\tl\t");
        l.remove("user.barney").unwrap();
        assert!(l.remove("user.barney").is_err());
        assert!(l.update("user.barney", &e2).is_err());
        assert_eq!(Entry::decode(&e.encode()), Some(e.clone()));
        // The by-id flag is one bit of the type byte; the kind is read apart from it.
        let by_id = Entry { mbtype: mbtype::NORMAL | mbtype::BY_ID, ..e.clone() };
        assert_eq!(by_id.encode()[1], 0x80);
        let back = Entry::decode(&by_id.encode()).unwrap();
        assert!(back.is_normal() && back.is_by_id());
        assert!(e.is_normal() && !e.is_by_id());
        let reserved = Entry { mbtype: mbtype::RESERVED | mbtype::BY_ID, ..e.clone() };
        assert!(!reserved.is_normal() && reserved.is_by_id());
        assert_eq!(Entry::decode(&[1, 0, 1]), None);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn quotas() {
        let d = tmp("quota");
        let l = MboxList::open(&d, true).unwrap();
        assert_eq!(l.quota_root_of("user.fred.Sent").unwrap(), None);
        l.set_quota_limits("user.fred", Some(1), Some(3)).unwrap();
        assert_eq!(l.quota_root_of("user.fred.Sent.2024").unwrap().as_deref(), Some("user.fred"));
        assert_eq!(l.quota_root_of("user.fredrick").unwrap(), None);
        assert!(l.quota_charge("user.fred", 1000, 1, false).unwrap());
        assert!(!l.quota_charge("user.fred", 100, 1, false).unwrap(), "over 1 KiB");
        assert!(l.quota_charge("user.fred", 24, 1, false).unwrap(), "exactly 1 KiB is allowed");
        assert!(!l.quota_charge("user.fred", 0, 2, false).unwrap(), "over 3 messages");
        assert!(l.quota_charge("user.fred", -500, -1, false).unwrap(), "shrinking always works");
        assert!(l.quota_charge("user.fred", 0, 0, false).unwrap(), "a move within the root does not grow");
        let q = l.quota("user.fred").unwrap().unwrap();
        assert_eq!((q.storage_used, q.message_used), (524, 1));
        l.quota_set_usage("user.fred", 10, 0).unwrap();
        assert_eq!(l.quota_roots().unwrap()[0].1.storage_used, 10);
        l.set_quota_limits("user.fred", None, None).unwrap();
        assert!(l.quota("user.fred").unwrap().is_none());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn subscriptions() {
        let d = tmp("subs");
        let l = MboxList::open(&d, true).unwrap();
        l.subscribe("fred", "user.fred.Sent", true).unwrap();
        l.subscribe("fred", "shared.news", true).unwrap();
        l.subscribe("fredrick", "user.fredrick", true).unwrap();
        l.subscribe("fred", "nope", false).unwrap();
        assert_eq!(l.subscriptions("fred").unwrap(), vec!["shared.news", "user.fred.Sent"]);
        l.subscribe("fred", "shared.news", false).unwrap();
        assert_eq!(l.subscriptions("fred").unwrap(), vec!["user.fred.Sent"]);
        std::fs::remove_dir_all(d).unwrap();
    }
}
