//! Duplicate-delivery databases: one LMDB environment per first letter of the
//! recipient, `configdirectory/deliverdb/deliver-<letter>.db` (plus its `-lock` file),
//! so that deliveries to recipients of different letters never wait on one writer.
//!
//! A record maps (message id, recipient) to the time it was marked, in seconds since
//! the epoch. lmtpd marks a delivery and checks for one (`duplicatesuppression`);
//! Sieve's vacation and duplicate tests use their own recipient strings in the same
//! store. `ctl_deliver -d` dumps, `ctl_deliver -E days` prunes. A letter whose file
//! does not exist simply has no records: looking it up is not an error and logs
//! nothing.
//!
//! Layout of a record: key = message id, NUL, recipient (bytes as given); value =
//! 8-byte little-endian time, then, for an article nntpd filed, its 4-byte UID (as
//! Cyrus keeps the UID beside the mark): nntpd finds an article by message id with
//! [`DeliverDb::find`]. Environments are opened lazily, after exec, never
//! across a fork; on open, reader slots left by killed processes are cleared.
//!
//! Commits are not fsynced (LMDB's NOSYNC): a crash may forget the last records,
//! whose only consequence is that a message retried by the MTA is stored again. That
//! keeps one fsync per delivery off the mail path; `ctl_cyrusdb -c` (a checkpoint
//! EVENT) and every `sync` force them to disk.

use lmdb::{Cursor, Database, Environment, EnvironmentFlags, Transaction, WriteFlags};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Largest a single letter's file may grow to (the file itself grows as needed).
const MAP_SIZE: usize = 1 << 30;
const MAX_READERS: u32 = 512;

/// The directory of the databases under configdirectory.
pub fn dir(configdirectory: &Path) -> PathBuf {
    configdirectory.join("deliverdb")
}

/// The letter a recipient's records live under: its first character, lowercased,
/// when it is a letter or digit; `_` otherwise (shared folders, odd names).
pub fn letter(recipient: &str) -> char {
    match recipient.chars().next() {
        Some(c) if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
        _ => '_',
    }
}

fn key(msgid: &str, recipient: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(msgid.len() + recipient.len() + 1);
    k.extend_from_slice(msgid.as_bytes());
    k.push(0);
    k.extend_from_slice(recipient.as_bytes());
    k
}

/// One record, as dumped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub msgid: String,
    pub recipient: String,
    pub time: u64,
    /// The UID the message got in the recipient's mailbox, when it was kept.
    pub uid: Option<u32>,
}

/// The set of per-letter databases of one configdirectory.
pub struct DeliverDb {
    dir: PathBuf,
    only: Option<char>,
    open: BTreeMap<char, (Environment, Database)>,
}

impl DeliverDb {
    pub fn new(configdirectory: &Path) -> DeliverDb {
        DeliverDb { dir: dir(configdirectory), only: None, open: BTreeMap::new() }
    }

    /// The databases of another directory, or only one letter's file
    /// (`.../deliver-f.db`), as `ctl_deliver -f` names them.
    pub fn at(path: &Path) -> Result<DeliverDb, String> {
        if path.is_dir() {
            return Ok(DeliverDb { dir: path.to_path_buf(), only: None, open: BTreeMap::new() });
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let l = name
            .strip_prefix("deliver-")
            .and_then(|r| r.strip_suffix(".db"))
            .filter(|l| l.chars().count() == 1)
            .and_then(|l| l.chars().next())
            .ok_or_else(|| format!("{}: neither a directory nor a deliver-<letter>.db file", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(DeliverDb { dir, only: Some(l), open: BTreeMap::new() })
    }

    fn path(&self, l: char) -> PathBuf {
        self.dir.join(format!("deliver-{l}.db"))
    }

    /// The environment of letter `l`; `None` when its file does not exist and
    /// `create` is false.
    fn env(&mut self, l: char, create: bool) -> Result<Option<&(Environment, Database)>, String> {
        if !self.open.contains_key(&l) {
            let path = self.path(l);
            if !create && !path.exists() {
                return Ok(None);
            }
            if create {
                std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
            }
            let env = Environment::new()
                .set_flags(EnvironmentFlags::NO_SUB_DIR | EnvironmentFlags::NO_TLS | EnvironmentFlags::NO_SYNC)
                .set_map_size(MAP_SIZE)
                .set_max_readers(MAX_READERS)
                .open_with_permissions(&path, 0o600)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let mut dead = 0;
            // SAFETY: the environment pointer is valid while `env` lives.
            unsafe { lmdb_sys::mdb_reader_check(env.env(), &mut dead) };
            let db = env.open_db(None).map_err(|e| format!("{}: {e}", path.display()))?;
            self.open.insert(l, (env, db));
        }
        Ok(self.open.get(&l))
    }

    /// Forces every existing letter's environment to disk.
    pub fn sync(&mut self) -> Result<(), String> {
        for l in self.letters() {
            if let Some((env, _)) = self.env(l, false)? {
                env.sync(true).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// When (msgid, recipient) was marked, if it was.
    pub fn check(&mut self, msgid: &str, recipient: &str) -> Result<Option<u64>, String> {
        let Some((env, db)) = self.env(letter(recipient), false)? else { return Ok(None) };
        let txn = env.begin_ro_txn().map_err(|e| e.to_string())?;
        match txn.get(*db, &key(msgid, recipient)) {
            Ok(v) if v.len() >= 8 => Ok(Some(u64::from_le_bytes(v[..8].try_into().unwrap_or([0; 8])))),
            Ok(_) => Ok(None),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Marks (msgid, recipient) at `time` (not fsynced: see the module doc).
    pub fn mark(&mut self, msgid: &str, recipient: &str, time: u64) -> Result<(), String> {
        let Some((env, db)) = self.env(letter(recipient), true)? else { return Err("cannot create".into()) };
        let mut txn = env.begin_rw_txn().map_err(|e| e.to_string())?;
        txn.put(*db, &key(msgid, recipient), &time.to_le_bytes(), WriteFlags::empty()).map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())
    }

    /// Marks (msgid, recipient) at `time` with the UID the message got there.
    pub fn mark_uid(&mut self, msgid: &str, recipient: &str, time: u64, uid: u32) -> Result<(), String> {
        let Some((env, db)) = self.env(letter(recipient), true)? else { return Err("cannot create".into()) };
        let mut v = time.to_le_bytes().to_vec();
        v.extend_from_slice(&uid.to_le_bytes());
        let mut txn = env.begin_rw_txn().map_err(|e| e.to_string())?;
        txn.put(*db, &key(msgid, recipient), &v, WriteFlags::empty()).map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())
    }

    /// Every record of `msgid`, whatever its recipient (one prefix seek per letter).
    pub fn find(&mut self, msgid: &str) -> Result<Vec<Record>, String> {
        self.find_in(msgid, self.letters(), "")
    }

    /// The records of `msgid` whose recipient starts with `recipients` (a prefix that
    /// fixes the letter: one seek).
    pub fn find_for(&mut self, msgid: &str, recipients: &str) -> Result<Vec<Record>, String> {
        self.find_in(msgid, vec![letter(recipients)], recipients)
    }

    fn find_in(&mut self, msgid: &str, letters: Vec<char>, recipients: &str) -> Result<Vec<Record>, String> {
        let mut prefix = msgid.as_bytes().to_vec();
        prefix.push(0);
        let full = [prefix.as_slice(), recipients.as_bytes()].concat();
        let mut out = Vec::new();
        for l in letters {
            let Some((env, db)) = self.env(l, false)? else { continue };
            let txn = env.begin_ro_txn().map_err(|e| e.to_string())?;
            let mut cur = txn.open_ro_cursor(*db).map_err(|e| e.to_string())?;
            for item in cur.iter_from(&full) {
                let (k, v) = item.map_err(|e| e.to_string())?;
                if !k.starts_with(&full) {
                    break;
                }
                out.extend(decode(k, v));
            }
        }
        Ok(out)
    }

    /// The letters whose database file exists, in order.
    pub fn letters(&self) -> Vec<char> {
        let mut v: Vec<char> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let l = name.strip_prefix("deliver-")?.strip_suffix(".db")?;
                let mut cs = l.chars();
                let c = cs.next()?;
                (cs.next().is_none() && self.only.is_none_or(|o| o == c)).then_some(c)
            })
            .collect();
        v.sort();
        v
    }

    /// Calls `f` on every record of every letter; returns how many there were.
    pub fn for_each(&mut self, mut f: impl FnMut(Record)) -> Result<usize, String> {
        let mut n = 0;
        for l in self.letters() {
            let Some((env, db)) = self.env(l, false)? else { continue };
            let txn = env.begin_ro_txn().map_err(|e| e.to_string())?;
            let mut cur = txn.open_ro_cursor(*db).map_err(|e| e.to_string())?;
            for item in cur.iter_start() {
                let (k, v) = item.map_err(|e| e.to_string())?;
                if let Some(r) = decode(k, v) {
                    f(r);
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Writes every record as `msgid<TAB>recipient<TAB>time` lines.
    pub fn dump(&mut self, out: &mut dyn Write) -> Result<usize, String> {
        let mut err = None;
        let n = self.for_each(|r| {
            if err.is_none() {
                if let Err(e) = writeln!(out, "{}\t{}\t{}", r.msgid, r.recipient, r.time) {
                    err = Some(e.to_string());
                }
            }
        })?;
        err.map_or(Ok(n), Err)
    }

    /// Deletes records marked before `cutoff`; returns (records seen, deleted).
    pub fn prune(&mut self, cutoff: u64) -> Result<(usize, usize), String> {
        let (mut seen, mut deleted) = (0, 0);
        for l in self.letters() {
            let Some((env, db)) = self.env(l, false)? else { continue };
            let mut txn = env.begin_rw_txn().map_err(|e| e.to_string())?;
            let mut old = Vec::new();
            {
                let mut cur = txn.open_ro_cursor(*db).map_err(|e| e.to_string())?;
                for item in cur.iter_start() {
                    let (k, v) = item.map_err(|e| e.to_string())?;
                    seen += 1;
                    let t = decode(k, v).map(|r| r.time).unwrap_or(0);
                    if t < cutoff {
                        old.push(k.to_vec());
                    }
                }
            }
            for k in &old {
                txn.del(*db, k, None).map_err(|e| e.to_string())?;
            }
            deleted += old.len();
            txn.commit().map_err(|e| e.to_string())?;
        }
        Ok((seen, deleted))
    }
}

fn decode(k: &[u8], v: &[u8]) -> Option<Record> {
    let nul = k.iter().position(|&b| b == 0)?;
    let time = u64::from_le_bytes(v.get(..8)?.try_into().ok()?);
    let uid = v.get(8..12).map(|u| u32::from_le_bytes(u.try_into().unwrap_or([0; 4])));
    Some(Record {
        msgid: String::from_utf8_lossy(&k[..nul]).into_owned(),
        recipient: String::from_utf8_lossy(&k[nul + 1..]).into_owned(),
        time,
        uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("deliverdb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn find_by_msgid() {
        let d = tmp("find");
        let mut db = DeliverDb::new(&d);
        db.mark_uid("<a@x>", "shared:news.one", 10, 7).unwrap();
        db.mark("<a@x>", "fred:user.fred", 11).unwrap();
        db.mark("<a@x>y", "shared:news.two", 12).unwrap();
        let mut found = db.find("<a@x>").unwrap();
        found.sort_by(|a, b| a.recipient.cmp(&b.recipient));
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].recipient.as_str(), found[0].uid), ("fred:user.fred", None));
        assert_eq!((found[1].recipient.as_str(), found[1].uid, found[1].time), ("shared:news.one", Some(7), 10));
        assert_eq!(db.check("<a@x>", "shared:news.one").unwrap(), Some(10));
        assert!(db.find("<none@x>").unwrap().is_empty());
        let news = db.find_for("<a@x>", "shared:").unwrap();
        assert_eq!(news.len(), 1);
        assert_eq!(news[0].recipient, "shared:news.one");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn letters() {
        assert_eq!(letter("Fred"), 'f');
        assert_eq!(letter("9lives"), '9');
        assert_eq!(letter("+shared"), '_');
        assert_eq!(letter(""), '_');
    }

    #[test]
    fn mark_check_dump_prune() {
        let d = tmp("basic");
        let mut db = DeliverDb::new(&d);
        assert_eq!(db.check("<a@x>", "fred").unwrap(), None);
        assert!(db.letters().is_empty(), "a lookup creates nothing");
        db.mark("<a@x>", "fred", 100).unwrap();
        db.mark("<b@x>", "fred", 300).unwrap();
        db.mark("<a@x>", "barney", 200).unwrap();
        db.mark("<c@x>", ".shared", 50).unwrap();
        assert_eq!(db.check("<a@x>", "fred").unwrap(), Some(100));
        assert_eq!(db.check("<a@x>", "fran").unwrap(), None);
        assert_eq!(db.letters(), vec!['_', 'b', 'f']);
        assert!(d.join("deliverdb/deliver-f.db").exists());
        let mut out = Vec::new();
        assert_eq!(db.dump(&mut out).unwrap(), 4);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("<a@x>\tbarney\t200\n"), "{text}");
        assert_eq!(db.prune(150).unwrap(), (4, 2));
        assert_eq!(db.check("<a@x>", "fred").unwrap(), None);
        assert_eq!(db.check("<b@x>", "fred").unwrap(), Some(300));
        // A fresh handle (as another process would have) sees the same.
        let mut again = DeliverDb::new(&d);
        assert_eq!(again.for_each(|_| {}).unwrap(), 2);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn several_processes_at_once() {
        let d = tmp("procs");
        let exe = std::env::current_exe().unwrap();
        let kids: Vec<_> = (0..4)
            .map(|i| {
                std::process::Command::new(&exe)
                    .args(["--exact", "tests::child_writer", "--nocapture", "--ignored"])
                    .env("DELIVERDB_DIR", &d)
                    .env("DELIVERDB_CHILD", i.to_string())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut k in kids {
            assert!(k.wait().unwrap().success());
        }
        let mut db = DeliverDb::new(&d);
        assert_eq!(db.for_each(|_| {}).unwrap(), 4 * 200);
        std::fs::remove_dir_all(d).unwrap();
    }

    /// Run by several_processes_at_once in child processes.
    #[test]
    #[ignore]
    fn child_writer() {
        let Ok(dir) = std::env::var("DELIVERDB_DIR") else { return };
        let i: u32 = std::env::var("DELIVERDB_CHILD").unwrap().parse().unwrap();
        let mut db = DeliverDb::new(Path::new(&dir));
        for n in 0..200 {
            let rcpt = ["fred", "barney", "wilma", "betty"][(n % 4) as usize];
            db.mark(&format!("<{i}.{n}@x>"), rcpt, n as u64).unwrap();
            assert!(db.check(&format!("<{i}.{n}@x>"), rcpt).unwrap().is_some());
        }
    }
}
