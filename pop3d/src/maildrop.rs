//! The maildrop of a POP3 session: a snapshot of a mailbox taken at login, held
//! exclusively (one POP3 session per maildrop: `-ERR [IN-USE]` for a second), with
//! deletions marked in the session and applied only at QUIT.
//!
//! Messages delivered during the session appear in the next one; an IMAP client
//! expunging meanwhile does not change what this session numbers (a message that is
//! gone is answered with an error when retrieved).

use mailbox::{Mailbox, Uid, flag};
use mboxlist::{InternalName, Store};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

pub struct Msg {
    pub uid: Uid,
    pub size: u32,
    pub deleted: bool,
}

pub struct Maildrop {
    pub name: InternalName,
    pub mb: Mailbox,
    pub msgs: Vec<Msg>,
    pub uidvalidity: u32,
    /// Whether DELE may be used: rights `t` (flag deleted) and `e` (expunge).
    pub may_delete: bool,
    /// Whether the ACL decides (popuseacl, or another user's mailbox): then it is read
    /// again before each message is sent ([`Maildrop::may_read`]).
    by_acl: bool,
    _lock: Flock<File>,
}

/// Why a maildrop could not be opened.
pub enum OpenError {
    InUse,
    Denied,
    NoMailbox,
    Other(String),
}

impl Maildrop {
    /// Opens and locks `name`. `hide_deleted`: popuseimapflags (messages flagged
    /// \Deleted are not offered).
    /// `use_acl` (popuseacl): the ACL decides; otherwise the user's own maildrop is
    /// fully theirs, as in Cyrus.
    pub fn open(store: &Store, configdir: &Path, name: &InternalName, userid: &str, hide_deleted: bool, use_acl: bool) -> Result<Maildrop, OpenError> {
        let (entry, mb) = store.open_mailbox(name).map_err(|e| match e {
            mboxlist::StoreError::NotFound(_) => OpenError::NoMailbox,
            other => OpenError::Other(other.to_string()),
        })?;
        // The ACL decides, as for IMAP: reading needs `r` (the owner's implicit rights
        // do not include it, so an ACL can take it away).
        let own = store.ns.owner(name).as_deref() == Some(userid);
        let by_acl = use_acl || !own;
        let rights = if by_acl { store.rights(userid, name, &entry) } else { mboxlist::Rights::all() };
        if !rights.has('r') {
            return Err(OpenError::Denied);
        }
        let lockdir = configdir.join("lock");
        std::fs::create_dir_all(&lockdir).map_err(|e| OpenError::Other(e.to_string()))?;
        let lock = File::create(lockdir.join(format!("{}.pop", entry.uniqueid))).map_err(|e| OpenError::Other(e.to_string()))?;
        let lock = Flock::lock(lock, FlockArg::LockExclusiveNonblock).map_err(|_| OpenError::InUse)?;
        let mut msgs = Vec::new();
        for r in mb.records() {
            let r = r.map_err(|e| OpenError::Other(e.to_string()))?;
            if r.is_expunged() || (hide_deleted && r.has(flag::DELETED)) {
                continue;
            }
            msgs.push(Msg { uid: r.uid, size: r.size, deleted: false });
        }
        let uidvalidity = mb.header().uidvalidity;
        let may_delete = rights.has('t') && rights.has('e');
        Ok(Maildrop { name: name.clone(), mb, msgs, uidvalidity, may_delete, by_acl, _lock: lock })
    }

    /// Whether `userid` may still read this maildrop: rights follow the ACL at once
    /// (RFC 4314 §4), so a `r` right removed while the session is open stops RETR and
    /// TOP at the next command.
    pub fn may_read(&self, store: &Store, userid: &str) -> bool {
        if !self.by_acl {
            return true;
        }
        store.lookup(&self.name).is_ok_and(|e| store.rights(userid, &self.name, &e).has('r'))
    }

    /// Message `n` (1-based), unless it is out of range or marked deleted.
    pub fn get(&self, n: &str) -> Result<&Msg, &'static str> {
        let n: usize = n.parse().map_err(|_| "Invalid message number")?;
        let m = n.checked_sub(1).and_then(|i| self.msgs.get(i)).ok_or("No such message")?;
        if m.deleted {
            return Err("Message deleted");
        }
        Ok(m)
    }

    pub fn live(&self) -> impl Iterator<Item = (usize, &Msg)> {
        self.msgs.iter().enumerate().filter(|(_, m)| !m.deleted).map(|(i, m)| (i + 1, m))
    }

    /// The UIDL value of a message, per `uidl_format`.
    pub fn uidl(&self, m: &Msg, format: &str) -> String {
        match format {
            "uidonly" => m.uid.0.to_string(),
            "dovecot" => format!("{:08x}{:08x}", m.uid.0, self.uidvalidity),
            "courier" => format!("{}-{}", self.uidvalidity, m.uid.0),
            _ => format!("{}.{}", self.uidvalidity, m.uid.0),
        }
    }
}
