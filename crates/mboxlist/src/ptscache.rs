//! The group cache of `auth_mech: pts` (Cyrus's ptscache_db): per userid, when its
//! groups were read from the directory and the `group:` identifiers found. ptloader
//! writes it; every daemon reads it and asks ptloader only for a missing or stale
//! entry (older than `ptscache_timeout`).

use crate::MboxList;
use lmdb::{Transaction, WriteFlags};

fn err(e: lmdb::Error) -> String {
    e.to_string()
}

impl MboxList {
    /// `userid`'s cached groups and when (seconds since the epoch) they were read.
    pub fn pts_get(&self, userid: &str) -> Result<Option<(u64, Vec<String>)>, String> {
        let db = self.db("ptscache")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        let v = match txn.get(db, &userid) {
            Ok(v) => v,
            Err(lmdb::Error::NotFound) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let text = String::from_utf8_lossy(v);
        let (at, groups) = text.split_once('\t').unwrap_or((&text, ""));
        Ok(at.parse().ok().map(|at| (at, groups.split_whitespace().map(str::to_string).collect())))
    }

    /// Records `userid`'s groups as read at `at`.
    pub fn pts_put(&self, userid: &str, at: u64, groups: &[String]) -> Result<(), String> {
        let db = self.db("ptscache")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        txn.put(db, &userid, &format!("{at}\t{}", groups.join(" ")), WriteFlags::empty()).map_err(err)?;
        txn.commit().map_err(err)
    }
}
