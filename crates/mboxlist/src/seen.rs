//! Per-user \Seen state and annotations, in the mailbox list's environment.
//!
//! The owner's \Seen lives in the mailbox's own index records; every other user's
//! \Seen of a (shared or other user's) mailbox is kept here, keyed by the mailbox's
//! uniqueid so it survives renames: `seen`: userid NUL uniqueid → `@TIME UIDSET`, the
//! time it was last written (seconds since the epoch; arbitron's "last read") and a UID
//! set in IMAP sequence-set syntax (`1:5,7,9:12`); values written before the time was
//! kept are a bare UID set.
//!
//! Annotations (RFC 5464 METADATA / Cyrus annotations): `annotations`: mailbox name
//! NUL entry NUL userid (empty for shared values) → value bytes.

use crate::MboxList;
use lmdb::{Cursor, Transaction, WriteFlags};

/// A set of UIDs as ranges, kept sorted and merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UidSet(pub Vec<(u32, u32)>);

impl UidSet {
    /// Parses `1:5,7` (ranges in either order); `None` on bad syntax.
    pub fn parse(s: &str) -> Option<UidSet> {
        let mut v = Vec::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (a, b): (u32, u32) = match part.split_once(':') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let x: u32 = part.parse().ok()?;
                    (x, x)
                }
            };
            v.push((a.min(b), a.max(b)));
        }
        let mut set = UidSet(v);
        set.normalise();
        Some(set)
    }

    fn normalise(&mut self) {
        self.0.sort();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(self.0.len());
        for &(a, b) in &self.0 {
            match out.last_mut() {
                Some(l) if a <= l.1.saturating_add(1) => l.1 = l.1.max(b),
                _ => out.push((a, b)),
            }
        }
        self.0 = out;
    }

    pub fn contains(&self, uid: u32) -> bool {
        self.0.binary_search_by(|&(a, b)| if b < uid { std::cmp::Ordering::Less } else if a > uid { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Equal }).is_ok()
    }

    pub fn insert(&mut self, uid: u32) {
        self.0.push((uid, uid));
        self.normalise();
    }

    pub fn remove(&mut self, uid: u32) {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        for &(a, b) in &self.0 {
            if uid < a || uid > b {
                out.push((a, b));
                continue;
            }
            if a < uid {
                out.push((a, uid - 1));
            }
            if uid < b {
                out.push((uid + 1, b));
            }
        }
        self.0 = out;
    }
}

impl std::fmt::Display for UidSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b { write!(f, "{a}")? } else { write!(f, "{a}:{b}")? }
        }
        Ok(())
    }
}

/// A seen value: `@TIME UIDSET`, or a bare `UIDSET` as written before times were kept.
fn seen_value(v: &[u8]) -> Option<(u64, UidSet)> {
    let s = std::str::from_utf8(v).ok()?;
    match s.strip_prefix('@') {
        Some(rest) => {
            let (t, set) = rest.split_once(' ').unwrap_or((rest, ""));
            Some((t.parse().ok()?, UidSet::parse(set)?))
        }
        None => Some((0, UidSet::parse(s)?)),
    }
}

fn key3(a: &str, b: &str, c: &str) -> Vec<u8> {
    [a.as_bytes(), b"\0", b.as_bytes(), b"\0", c.as_bytes()].concat()
}

impl MboxList {
    /// The UIDs `userid` has seen in the mailbox with `uniqueid`.
    pub fn seen(&self, userid: &str, uniqueid: &str) -> Result<UidSet, String> {
        self.seen_with_time(userid, uniqueid).map(|(_, s)| s)
    }

    /// When `userid`'s seen state of the mailbox was last written (0: never, or
    /// before times were kept) and the UIDs.
    pub fn seen_with_time(&self, userid: &str, uniqueid: &str) -> Result<(u64, UidSet), String> {
        let db = self.db("seen")?;
        let txn = self.env.begin_ro_txn().map_err(|e| e.to_string())?;
        let k = format!("{userid}\0{uniqueid}");
        match txn.get(db, &k) {
            Ok(v) => seen_value(v).ok_or_else(|| format!("damaged seen state of {userid}")),
            Err(lmdb::Error::NotFound) => Ok((0, UidSet::default())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Records the UIDs `userid` has seen, and now as the time it last read there.
    pub fn set_seen(&self, userid: &str, uniqueid: &str, set: &UidSet) -> Result<(), String> {
        let db = self.db("seen")?;
        let mut txn = self.env.begin_rw_txn().map_err(|e| e.to_string())?;
        let k = format!("{userid}\0{uniqueid}");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        txn.put(db, &k, &format!("@{now} {set}"), WriteFlags::empty()).map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())
    }

    /// Every seen record: (userid, mailbox uniqueid, last read time — 0 when written
    /// before times were kept —, the UIDs), in one pass (for arbitron).
    pub fn seen_records(&self) -> Result<Vec<(String, String, u64, UidSet)>, String> {
        let db = self.db("seen")?;
        let txn = self.env.begin_ro_txn().map_err(|e| e.to_string())?;
        let mut cur = txn.open_ro_cursor(db).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for item in cur.iter_start() {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let Some((user, id)) = std::str::from_utf8(k).ok().and_then(|k| k.split_once('\0')) else { continue };
            if let Some((t, set)) = seen_value(v) {
                out.push((user.to_string(), id.to_string(), t, set));
            }
        }
        Ok(out)
    }

    /// Forgets `userid`'s seen record of the mailbox `uniqueid`; whether there was one.
    pub fn delete_seen(&self, userid: &str, uniqueid: &str) -> Result<bool, String> {
        let db = self.db("seen")?;
        let mut txn = self.env.begin_rw_txn().map_err(|e| e.to_string())?;
        let found = match txn.del(db, &format!("{userid}\0{uniqueid}"), None) {
            Ok(()) => true,
            Err(lmdb::Error::NotFound) => false,
            Err(e) => return Err(e.to_string()),
        };
        txn.commit().map_err(|e| e.to_string())?;
        Ok(found)
    }

    /// An annotation value: `userid` empty for the shared value.
    pub fn annotation(&self, mailbox: &str, entry: &str, userid: &str) -> Result<Option<Vec<u8>>, String> {
        let db = self.db("annotations")?;
        let txn = self.env.begin_ro_txn().map_err(|e| e.to_string())?;
        match txn.get(db, &key3(mailbox, entry, userid)) {
            Ok(v) => Ok(Some(v.to_vec())),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Sets (or with `None` removes) an annotation value.
    pub fn set_annotation(&self, mailbox: &str, entry: &str, userid: &str, value: Option<&[u8]>) -> Result<(), String> {
        self.set_annotations(&[(mailbox, entry, userid, value)])
    }

    /// Sets (a value) or removes (`None`) several annotations in one transaction:
    /// all or none. Each item: (mailbox, entry, userid, value).
    pub fn set_annotations(&self, items: &[(&str, &str, &str, Option<&[u8]>)]) -> Result<(), String> {
        let db = self.db("annotations")?;
        let mut txn = self.env.begin_rw_txn().map_err(|e| e.to_string())?;
        for (mailbox, entry, userid, value) in items {
            let k = key3(mailbox, entry, userid);
            match value {
                Some(v) => txn.put(db, &k, v, WriteFlags::empty()).map_err(|e| e.to_string())?,
                None => match txn.del(db, &k, None) {
                    Ok(()) | Err(lmdb::Error::NotFound) => {}
                    Err(e) => return Err(e.to_string()),
                },
            }
        }
        txn.commit().map_err(|e| e.to_string())
    }

    /// Every (entry, userid, value) of a mailbox.
    pub fn annotations(&self, mailbox: &str) -> Result<Vec<(String, String, Vec<u8>)>, String> {
        let db = self.db("annotations")?;
        let txn = self.env.begin_ro_txn().map_err(|e| e.to_string())?;
        let mut cur = txn.open_ro_cursor(db).map_err(|e| e.to_string())?;
        let mut prefix = mailbox.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for item in cur.iter_from(&prefix) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            if !k.starts_with(&prefix) {
                break;
            }
            let rest = &k[prefix.len()..];
            let mut parts = rest.splitn(2, |&b| b == 0);
            let entry = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let user = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            out.push((entry, user, v.to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets() {
        let mut s = UidSet::parse("7,1:5,6,9:8").unwrap();
        assert_eq!(s.to_string(), "1:9");
        s.remove(4);
        assert_eq!(s.to_string(), "1:3,5:9");
        assert!(s.contains(3) && !s.contains(4) && s.contains(9) && !s.contains(10));
        s.insert(4);
        s.insert(20);
        assert_eq!(s.to_string(), "1:9,20");
        assert!(UidSet::parse("1:x").is_none());
        assert_eq!(UidSet::parse("").unwrap(), UidSet::default());
    }

    #[test]
    fn seen_and_annotations_persist() {
        let d = std::env::temp_dir().join(format!("seen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let l = MboxList::open(&d, true).unwrap();
        assert_eq!(l.seen("barney", "u1").unwrap(), UidSet::default());
        l.set_seen("barney", "u1", &UidSet::parse("1:3").unwrap()).unwrap();
        assert!(l.seen("barney", "u1").unwrap().contains(2));
        assert_eq!(l.seen("wilma", "u1").unwrap(), UidSet::default(), "per user");
        l.set_annotation("shared.news", "/comment", "", Some(b"hello")).unwrap();
        l.set_annotation("shared.news", "/comment", "fred", Some(b"mine")).unwrap();
        l.set_annotation("shared.newsx", "/comment", "", Some(b"other")).unwrap();
        assert_eq!(l.annotation("shared.news", "/comment", "fred").unwrap().as_deref(), Some(&b"mine"[..]));
        assert_eq!(l.annotations("shared.news").unwrap().len(), 2);
        l.set_annotation("shared.news", "/comment", "fred", None).unwrap();
        assert_eq!(l.annotation("shared.news", "/comment", "fred").unwrap(), None);
        drop(l);
        let l = MboxList::open(&d, false).unwrap();
        assert_eq!(l.annotation("shared.news", "/comment", "").unwrap().as_deref(), Some(&b"hello"[..]));
        std::fs::remove_dir_all(d).unwrap();
    }
}
