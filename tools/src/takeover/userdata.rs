//! What Cyrus keeps per user and per server beside the mailboxes: other users' seen
//! state (`USER.seen` / 3.6 `seen.db`), subscriptions (`USER.sub` / `sub.db`), quota
//! limits (quotalegacy files or `quotas.db`), annotations (`annotations.db`) and Sieve
//! scripts (sievedir, or 3.6's `#sieve` mailbox). Cyrus's files are only read.

use super::site::{CyrusMailbox, Kind};
use cyrusdb::{dlist, kv};
use mboxlist::Store;
use mboxlist::seen::UidSet;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use conf::dir_hash;

/// The userid of a user's INBOX (`user.fred` → fred, `example.com!user.fred` →
/// fred@example.com), `None` for other mailboxes.
pub fn owner_of_inbox(name: &str) -> Option<String> {
    let (domain, local) = match name.split_once('!') {
        Some((d, l)) => (Some(d), l),
        None => (None, name),
    };
    let user = local.strip_prefix("user.")?;
    if user.contains('.') {
        return None;
    }
    let user = user.replace('^', ".");
    Some(match domain {
        Some(d) => format!("{user}@{d}"),
        None => user,
    })
}

pub struct Site<'a> {
    pub store: &'a Store,
    pub configdir: PathBuf,
    pub fulldirhash: bool,
    pub mailboxes: &'a [CyrusMailbox],
    /// uniqueid → internal name, of the mailboxes taken over.
    pub by_id: HashMap<String, String>,
}

/// Counts of what was carried.
#[derive(Debug, Default)]
pub struct Carried {
    pub users: usize,
    pub seen: usize,
    pub subscriptions: usize,
    pub quotaroots: usize,
    pub annotations: usize,
    pub scripts: usize,
}

impl Site<'_> {
    /// A user's per-user file in Cyrus's legacy place (`user/H/USER.SUFFIX`, or under
    /// `domain/H/DOMAIN/`), or in 3.6's place by the INBOX's id
    /// (`user/uuid/A/B/ID/SUFFIX.db`); the first that exists.
    fn user_file(&self, userid: &str, suffix: &str) -> Option<PathBuf> {
        let (local, domain) = match userid.split_once('@') {
            Some((l, d)) => (l, Some(d)),
            None => (userid, None),
        };
        let mut legacy = self.configdir.clone();
        if let Some(d) = domain {
            legacy.push("domain");
            legacy.push(dir_hash(d, self.fulldirhash).to_string());
            legacy.push(d);
        }
        legacy.push("user");
        legacy.push(dir_hash(local, self.fulldirhash).to_string());
        legacy.push(format!("{local}.{suffix}"));
        if legacy.exists() {
            return Some(legacy);
        }
        let inbox = self.mailboxes.iter().find(|m| owner_of_inbox(&m.name).as_deref() == Some(userid))?;
        let id = &inbox.uniqueid;
        if id.len() < 2 {
            return None;
        }
        let p = self.configdir.join("user").join("uuid").join(&id[..1]).join(&id[1..2]).join(id).join(format!("{suffix}.db"));
        p.exists().then_some(p)
    }

    pub fn users(&self) -> Vec<String> {
        let mut v: Vec<String> = self.mailboxes.iter().filter(|m| m.skip.is_none()).filter_map(|m| owner_of_inbox(&m.name)).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Seen state of other users' and shared mailboxes (the owner's own is in each
    /// index record and came with the mailbox).
    pub fn seen(&self, userid: &str, problems: &mut Vec<String>) -> usize {
        let Some(path) = self.user_file(userid, "seen") else { return 0 };
        let Some(pairs) = read_db(&path, problems) else { return 0 };
        let mut n = 0;
        for (k, v) in &pairs {
            let uniqueid = String::from_utf8_lossy(k).into_owned();
            if !self.by_id.contains_key(&uniqueid) {
                continue;
            }
            // "1 lastread lastuid lastchange seenuids"
            let text = String::from_utf8_lossy(v);
            let seenuids = text.splitn(5, ' ').nth(4).unwrap_or("").trim();
            match UidSet::parse(seenuids) {
                Some(set) => match self.store.list.set_seen(userid, &uniqueid, &set) {
                    Ok(()) => n += 1,
                    Err(e) => problems.push(format!("seen state of {userid}: {e}")),
                },
                None => problems.push(format!("{}: seen state for {uniqueid} is not a UID set: {text}", path.display())),
            }
        }
        n
    }

    /// Subscriptions: internal names (2.x–3.4), or 3.6's `N`+dbname keys with the
    /// user's own INBOX written `INBOX`.
    pub fn subscriptions(&self, userid: &str, problems: &mut Vec<String>) -> usize {
        let Some(path) = self.user_file(userid, "sub") else { return 0 };
        let Some(pairs) = read_db(&path, problems) else { return 0 };
        let v36 = pairs.contains_key(&b"\x1fVER\x1f"[..]);
        let inbox = self.store.ns.inbox(userid).0;
        let mut n = 0;
        for k in pairs.keys() {
            let name = if v36 {
                let Some(db) = k.strip_prefix(b"N") else { continue };
                if let Some(rest) = db.strip_prefix(b"INBOX") {
                    let tail = super::site::dbname_to_internal(rest.strip_prefix(b"\x1f").unwrap_or(rest));
                    if rest.is_empty() { inbox.clone() } else { format!("{inbox}.{tail}") }
                } else {
                    super::site::dbname_to_internal(db)
                }
            } else {
                String::from_utf8_lossy(k).into_owned()
            };
            match self.store.list.subscribe(userid, &name, true) {
                Ok(()) => n += 1,
                Err(e) => problems.push(format!("subscription of {userid} to {name}: {e}")),
            }
        }
        n
    }

    /// Quota limits, from the quotalegacy files under `quota/` (and
    /// `domain/H/DOMAIN/quota/`) or from `quotas.db`. Usage is recomputed afterwards
    /// from the mailboxes, as `quota -f` does.
    pub fn quotas(&self, problems: &mut Vec<String>) -> usize {
        let mut roots: Vec<(String, Vec<u8>)> = Vec::new();
        let db = self.configdir.join("quotas.db");
        if db.exists() {
            match kv::read_file(&db) {
                Ok(p) => roots.extend(p.into_iter().map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))),
                Err(e) => problems.push(e.0),
            }
        }
        let mut legacy = |dir: &Path, domain: Option<&str>| {
            let Ok(hashes) = std::fs::read_dir(dir) else { return };
            for h in hashes.flatten() {
                let path = h.path();
                let files: Vec<PathBuf> = if path.is_dir() { std::fs::read_dir(&path).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default() } else { vec![path] };
                for f in files {
                    let Some(file) = f.file_name().and_then(|n| n.to_str()) else { continue };
                    let root = match (domain, file) {
                        (Some(d), "root") => format!("{d}!"),
                        (Some(d), r) => format!("{d}!{r}"),
                        (None, r) => r.to_string(),
                    };
                    match std::fs::read(&f) {
                        Ok(v) => roots.push((root, v)),
                        Err(e) => problems.push(format!("{}: {e}", f.display())),
                    }
                }
            }
        };
        legacy(&self.configdir.join("quota"), None);
        if let Ok(hs) = std::fs::read_dir(self.configdir.join("domain")) {
            for h in hs.flatten() {
                for d in std::fs::read_dir(h.path()).into_iter().flatten().flatten() {
                    let name = d.file_name().to_string_lossy().into_owned();
                    legacy(&d.path().join("quota"), Some(&name));
                }
            }
        }
        let mut n = 0;
        for (root, value) in roots {
            let (storage, messages) = parse_quota(&value);
            match self.store.list.set_quota_limits(&root, storage, messages) {
                Ok(()) => n += 1,
                Err(e) => problems.push(format!("quota root {root}: {e}")),
            }
        }
        n
    }

    /// Mailbox and server annotations from `annotations.db` (keys by mailbox name up
    /// to 3.4, by mailbox uniqueid in 3.6; `[.OwNeR.]` is the mailbox's owner).
    pub fn annotations(&self, problems: &mut Vec<String>) -> usize {
        let path = self.configdir.join("annotations.db");
        if !path.exists() {
            return 0;
        }
        let Some(pairs) = read_db(&path, problems) else { return 0 };
        let mut n = 0;
        for (k, v) in &pairs {
            let parts: Vec<&[u8]> = k.split(|&b| b == 0).collect();
            if parts.len() < 2 {
                continue;
            }
            let first = String::from_utf8_lossy(parts[0]).into_owned();
            let entry = String::from_utf8_lossy(parts[1]).into_owned();
            let mut userid = parts.get(2).map(|u| String::from_utf8_lossy(u).into_owned()).unwrap_or_default();
            // 3.6 names the mailbox by its uniqueid; older versions by its name.
            let mailbox = if first.is_empty() {
                String::new()
            } else if let Some(name) = self.by_id.get(&first) {
                name.clone()
            } else if self.by_id.values().any(|n| *n == first) {
                first
            } else {
                continue;
            };
            let owner = mailbox_owner(&mailbox);
            if userid == "[.OwNeR.]" {
                userid = owner.clone().unwrap_or_default();
            }
            let Some(value) = annotation_value(v) else { continue };
            // This suite keeps special-use as a shared value of the mailbox.
            if entry == "/specialuse" && owner.as_deref() == Some(userid.as_str()) {
                userid.clear();
            }
            match self.store.list.set_annotation(&mailbox, &entry, &userid, Some(&value)) {
                Ok(()) => n += 1,
                Err(e) => problems.push(format!("annotation {entry} of {mailbox}: {e}")),
            }
        }
        n
    }

    /// The user's Sieve scripts and which is active: `NAME.script` files beside the
    /// `defaultbc` link in Cyrus's directory for the user, and the scripts kept as
    /// messages of the user's `#sieve` mailbox (Cyrus 3.6: name in the Subject, the
    /// active one \Flagged). Written where this suite keeps them; a script already there
    /// with the same text (the same directory) is left as it is.
    pub fn sieve(&self, userid: &str, problems: &mut Vec<String>) -> usize {
        let cfg = &self.store.cfg;
        let Ok(ours) = sieve::store::ScriptDir::for_user(cfg, userid) else { return 0 };
        let mut scripts: Vec<(String, Vec<u8>)> = Vec::new();
        let mut active: Option<String> = None;
        let mut dirs = vec![ours.path().map(Path::to_path_buf)];
        if let Some(inbox) = self.mailboxes.iter().find(|m| owner_of_inbox(&m.name).as_deref() == Some(userid)) {
            let id = &inbox.uniqueid;
            if id.len() >= 2 {
                dirs.push(Some(PathBuf::from(cfg.get_str("sievedir").unwrap_or("/usr/sieve")).join("uuid").join(&id[..1]).join(&id[1..2]).join(id)));
            }
        }
        for dir in dirs.into_iter().flatten() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(n) = name.strip_suffix(".script") {
                    match std::fs::read(e.path()) {
                        Ok(src) => scripts.push((n.to_string(), src)),
                        Err(err) => problems.push(format!("{}: {err}", e.path().display())),
                    }
                }
            }
            if active.is_none() {
                active = std::fs::read_link(dir.join("defaultbc")).ok().and_then(|t| t.file_name()?.to_str()?.strip_suffix(".bc").map(str::to_string));
            }
        }
        // 3.6's #sieve mailbox.
        if let Some(m) = self.mailboxes.iter().find(|m| m.kind == Kind::Sieve && mailbox_owner(&m.name).as_deref() == Some(userid)) {
            match self.sieve_mailbox(m) {
                Ok(list) => {
                    for (name, src, is_active) in list {
                        if is_active {
                            active = Some(name.clone());
                        }
                        scripts.retain(|(n, _)| *n != name);
                        scripts.push((name, src));
                    }
                }
                Err(e) => problems.push(format!("{}: {e}", m.name)),
            }
        }
        let mut n = 0;
        for (name, src) in &scripts {
            if ours.get(name).ok().flatten().as_deref() == Some(src.as_slice()) {
                n += 1;
                continue;
            }
            match ours.put(name, src) {
                Ok(()) => n += 1,
                Err(e) => problems.push(format!("script {name} of {userid}: {e}")),
            }
        }
        if let Some(a) = active.filter(|a| scripts.iter().any(|(n, _)| n == a)) {
            if ours.active_name().as_deref() != Some(a.as_str()) {
                if let Err(e) = ours.set_active(Some(&a)) {
                    problems.push(format!("active script of {userid}: {e}"));
                }
            }
        }
        n
    }

    /// (name, source, active) of each live message of a `#sieve` mailbox.
    fn sieve_mailbox(&self, m: &CyrusMailbox) -> Result<Vec<(String, Vec<u8>, bool)>, String> {
        let entry = super::convert::entry_for(m);
        let paths = self.store.paths(&mboxlist::InternalName(m.name.clone()), &entry).map_err(|e| e.to_string())?;
        let ix = std::fs::read(paths.index()).map_err(|e| e.to_string())?;
        let ix = cyrusdb::index::read(&ix).map_err(|e| e.0)?;
        let mut out = Vec::new();
        for r in ix.records.iter().filter(|r| r.system_flags & (cyrusdb::index::flag::EXPUNGED | cyrusdb::index::flag::UNLINKED) == 0) {
            let raw = std::fs::read(paths.message(mailbox::Uid(r.uid))).map_err(|e| e.to_string())?;
            let hl = sieve::headers::header_len(&raw);
            let headers = sieve::headers::Headers::new(&raw);
            let Some(name) = headers.values("subject").into_iter().next() else { continue };
            let body = raw[hl..].to_vec();
            out.push((name, body, r.system_flags & cyrusdb::index::flag::FLAGGED != 0));
        }
        Ok(out)
    }
}

/// A Cyrus database read whole, or `None` with the reason among the problems.
fn read_db(path: &Path, problems: &mut Vec<String>) -> Option<kv::Pairs> {
    kv::read_file(path).map_err(|e| problems.push(e.0)).ok()
}

/// The owner of a mailbox in a user's hierarchy.
fn mailbox_owner(name: &str) -> Option<String> {
    let (domain, local) = match name.split_once('!') {
        Some((d, l)) => (Some(d), l),
        None => (None, name),
    };
    let user = local.strip_prefix("user.")?.split('.').next()?.replace('^', ".");
    Some(match domain {
        Some(d) => format!("{user}@{d}"),
        None => user,
    })
}

/// An annotation value: a native `unsigned long` holding the length in network order
/// (8 bytes on 64-bit hosts: 4 bytes of length then 4 zero bytes), the value, NUL,
/// the old content type, NUL, more fields; the last byte of 2.5+ values has the
/// deleted bit. `None` for a deleted or unreadable value.
fn annotation_value(v: &[u8]) -> Option<Vec<u8>> {
    if v.len() < 4 {
        return None;
    }
    let len = u32::from_be_bytes([v[0], v[1], v[2], v[3]]) as usize;
    let start = if v.len() >= 8 && v[4..8] == [0, 0, 0, 0] && v.len() >= 8 + len { 8 } else { 4 };
    let value = v.get(start..start + len)?.to_vec();
    // 2.5+: modseq (8) and a flags byte at the very end; bit 0 = deleted.
    if v.len() >= start + len + 1 + 11 && v[v.len() - 1] & 1 != 0 {
        return None;
    }
    (!value.is_empty()).then_some(value)
}

/// A quota value: 2.5+ dlist `%(S (used limit) M (used limit) ...)`, or 2.4's
/// `used limit` (limit in KiB; a legacy file writes the space as a line end). Returns
/// (storage limit KiB, message limit).
fn parse_quota(v: &[u8]) -> (Option<u64>, Option<u64>) {
    let text = String::from_utf8_lossy(v);
    let t = text.trim();
    if t.starts_with('%') {
        if let Ok(d) = dlist::parse(t.as_bytes()) {
            let limit = |k: &str| d.get(k).and_then(|l| l.items().get(1)).and_then(dlist::Value::num);
            return (limit("S"), limit("M"));
        }
        return (None, None);
    }
    let nums: Vec<i64> = t.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    (nums.get(1).filter(|&&l| l >= 0).map(|&l| l as u64), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces() {
        assert_eq!(owner_of_inbox("example.com!user.fred^x").as_deref(), Some("fred.x@example.com"));
        assert_eq!(owner_of_inbox("user.fred.Sent"), None);
        assert_eq!(mailbox_owner("user.fred.Sent").as_deref(), Some("fred"));
        let mut v = vec![0, 0, 0, 4, 0, 0, 0, 0];
        v.extend_from_slice(b"mine\0text/plain\0");
        v.extend_from_slice(&[0; 16]);
        v.push(0);
        assert_eq!(annotation_value(&v).as_deref(), Some(&b"mine"[..]));
        *v.last_mut().unwrap() = 1;
        assert_eq!(annotation_value(&v), None, "deleted");
        assert_eq!(parse_quota(b"%(S (828 10000) M (3 100) AS (12) NF (4) MODSEQ 9)\n"), (Some(10000), Some(100)));
        assert_eq!(parse_quota(b"%(S (828) M (3))"), (None, None));
        assert_eq!(parse_quota(b"12345\n2048\n"), (Some(2048), None));
        assert_eq!(parse_quota(b"12345 -1"), (None, None));
    }
}
