//! Newsgroups over the mail store, as Cyrus's nntpd maps them: group `comp.lang.c`
//! is the shared mailbox `PREFIX.comp.lang.c` (`newsprefix`), served when its name
//! matches `newsgroups`; personal mailboxes and other domains' mailboxes never are.
//! Article numbers are UIDs. A [`Group`] is a selected group: its mailbox, mapped,
//! and the article numbers seen at GROUP time (NEXT/LAST walk them).

use mailbox::{Mailbox, Record, Uid};
use mboxlist::{Entry, InternalName, Store, wildmat};

/// The group ↔ mailbox mapping of the configuration.
pub struct News {
    /// `newsprefix` with its dot, or empty.
    prefix: String,
    /// The `newsgroups` wildmat, on group names.
    served: String,
}

impl News {
    pub fn from_config(cfg: &conf::Config) -> News {
        let prefix = cfg.get_str("newsprefix").filter(|p| !p.is_empty()).map(|p| format!("{p}.")).unwrap_or_default();
        News { prefix, served: cfg.get_str("newsgroups").unwrap_or("*").to_string() }
    }

    /// The mailbox of `group`, if the name is one nntpd may serve (checked before any
    /// lookup: no empty or `..` components, no `/`, `!`, wildmat or control
    /// characters, never a personal mailbox).
    pub fn mailbox_of(&self, group: &str) -> Option<InternalName> {
        let ok = !group.is_empty()
            && group.len() <= 400
            && !group.split('.').any(str::is_empty)
            && !group.bytes().any(|c| c <= b' ' || c == 0x7f || matches!(c, b'/' | b'!' | b'*' | b'?' | b',' | b'[' | b']' | b'\\' | b'%'))
            && !group.starts_with("user.")
            && !group.eq_ignore_ascii_case("INBOX")
            && !group.to_ascii_uppercase().starts_with("INBOX.");
        (ok && wildmat::wildmat(&self.served, group, false)).then(|| InternalName(format!("{}{group}", self.prefix)))
    }

    /// The group a mailbox is served as, if it is one.
    pub fn group_of(&self, mailbox: &str) -> Option<String> {
        let group = mailbox.strip_prefix(&self.prefix)?;
        self.mailbox_of(group).map(|_| group.to_string())
    }

    /// Every served group (with its mailbox entry), in name order.
    pub fn all(&self, store: &Store) -> Vec<(String, InternalName, Entry)> {
        let Ok(list) = store.list.list(&self.prefix) else { return Vec::new() };
        list.into_iter()
            .filter(|(_, e)| e.is_normal())
            .filter_map(|(name, e)| self.group_of(&name).map(|g| (g, InternalName(name), e)))
            .collect()
    }

    /// The deliver-database recipient under which nntpd and lmtpd record a message
    /// filed into `mailbox` (lmtpd's key for shared folders).
    pub fn dup_key(mailbox: &InternalName) -> String {
        format!("shared:{}", mailbox.0)
    }
}

/// Why a group cannot be opened.
pub enum OpenError {
    NoSuchGroup,
    Denied,
    Broken(String),
}

impl OpenError {
    /// The 411 text, as Cyrus gives it.
    pub fn text(&self) -> String {
        match self {
            OpenError::NoSuchGroup => "411 No such newsgroup (Mailbox does not exist)".into(),
            OpenError::Denied => "411 No such newsgroup (Permission denied)".into(),
            OpenError::Broken(e) => format!("411 No such newsgroup ({e})"),
        }
    }
}

/// A selected group.
pub struct Group {
    pub name: String,
    pub mbox: InternalName,
    pub mb: Mailbox,
    /// Article numbers present at the last GROUP/LISTGROUP, ascending.
    pub uids: Vec<u32>,
    /// Index in `uids` of the current article.
    pub current: Option<usize>,
}

impl Group {
    /// Opens `group` for `userid` (the ACL decides: `r` to read).
    pub fn open(news: &News, store: &Store, group: &str, userid: &str) -> Result<Group, OpenError> {
        let mbox = news.mailbox_of(group).ok_or(OpenError::NoSuchGroup)?;
        let (entry, mb) = store.open_mailbox(&mbox).map_err(|e| match e {
            mboxlist::StoreError::NotFound(_) => OpenError::NoSuchGroup,
            other => OpenError::Broken(other.to_string()),
        })?;
        let rights = store.rights(userid, &mbox, &entry);
        if !rights.has('r') {
            return Err(if rights.has('l') { OpenError::Denied } else { OpenError::NoSuchGroup });
        }
        let mut g = Group { name: group.to_string(), mbox, mb, uids: Vec::new(), current: None };
        g.snapshot().map_err(OpenError::Broken)?;
        Ok(g)
    }

    /// Reads the mailbox again and takes its article numbers; the current article is
    /// the first (RFC 3977 6.1.1).
    pub fn snapshot(&mut self) -> Result<(), String> {
        self.mb.refresh().map_err(|e| e.to_string())?;
        let mut uids = Vec::with_capacity(self.mb.len());
        for r in self.mb.records() {
            let r = r.map_err(|e| e.to_string())?;
            if !r.is_expunged() {
                uids.push(r.uid.0);
            }
        }
        self.uids = uids;
        self.current = (!self.uids.is_empty()).then_some(0);
        Ok(())
    }

    /// `(count, low, high)` as GROUP and LIST ACTIVE show them (an empty group: low is
    /// one above high).
    pub fn bounds(&self) -> (usize, u32, u32) {
        let last = self.mb.header().last_uid;
        match (self.uids.first(), self.uids.last()) {
            (Some(&lo), Some(&hi)) => (self.uids.len(), lo, hi),
            _ => (0, last + 1, last),
        }
    }

    /// The live record of article `uid`, if it is there.
    pub fn record(&self, uid: u32) -> Option<Record> {
        let i = self.mb.find(Uid(uid)).ok().flatten()?;
        self.mb.record(i).ok().filter(|r| !r.is_expunged())
    }

    /// The article numbers in `lo..=hi` that exist now.
    pub fn range(&self, lo: u32, hi: u32) -> Vec<u32> {
        let start = self.uids.partition_point(|&u| u < lo);
        self.uids[start..].iter().take_while(|&&u| u <= hi).copied().collect()
    }
}
