//! The selected mailbox of a session: message sequence numbers as this client knows
//! them, \Recent and \Seen as they are for this user, and the untagged updates
//! (EXISTS, RECENT, FETCH FLAGS, EXPUNGE) that bring the client up to date with what
//! other processes did.
//!
//! Changes are found by modseq: every append, flag change and expunge raises the
//! mailbox's HIGHESTMODSEQ and stamps the record, so one pass over the records newer
//! than what we last reported finds them all, whoever made them. Expunges are held
//! back (RFC 3501 7.4.1) during FETCH, STORE and SEARCH and reported at the next
//! command that allows them.
//!
//! \Seen is kept in the index for the mailbox's owner and in the per-user seen
//! database for everyone else (shared folders), as Cyrus does.

use mailbox::{Mailbox, Record, Watch, flag};
use mboxlist::seen::UidSet;
use mboxlist::{InternalName, Rights, Store};
use service::Conn;

pub struct Selected {
    pub name: InternalName,
    pub uniqueid: String,
    pub mb: Mailbox,
    /// The change notification, made when the session first IDLEs (inotify
    /// instances are limited per user: only idling sessions need one).
    pub watch: Option<Watch>,
    pub readonly: bool,
    pub rights: Rights,
    /// UID of each message number (index = msn - 1).
    pub uids: Vec<u32>,
    /// Record position hint of each message number.
    pos: Vec<u32>,
    /// Messages that are \Recent in this session.
    pub recent: UidSet,
    /// Highest modseq whose changes the client has been told about.
    known_modseq: u64,
    /// UIDs expunged by others and not yet reported (held back).
    pending_expunge: std::collections::HashSet<u32>,
    /// Number of keywords announced in FLAGS.
    known_keywords: usize,
    /// The user's \Seen set when it is not kept in the index.
    pub seen_db: Option<UidSet>,
    pub userid: String,
    /// CONDSTORE/QRESYNC as the session enabled them: FETCH lines carry UID and
    /// MODSEQ, expunges go out as VANISHED.
    pub mode: crate::sync::Enabled,
    /// The UIDs of the last `SEARCH RETURN (SAVE)` (RFC 5182 `$`), ascending.
    pub saved: Vec<u32>,
}

/// Message flags as the client sees them.
pub fn flag_names(sys: u32) -> impl Iterator<Item = &'static str> {
    [
        (flag::ANSWERED, "\\Answered"),
        (flag::FLAGGED, "\\Flagged"),
        (flag::DELETED, "\\Deleted"),
        (flag::SEEN, "\\Seen"),
        (flag::DRAFT, "\\Draft"),
    ]
    .into_iter()
    .filter(move |(b, _)| sys & b != 0)
    .map(|(_, n)| n)
}

pub use mailbox::flag::from_name as system_flag;

impl Selected {
    /// Opens `name` for `userid`; `examine` opens it read-only. Claims \Recent when
    /// read-write.
    pub fn open(store: &Store, name: &InternalName, userid: &str, rights: Rights, examine: bool) -> Result<Selected, mboxlist::StoreError> {
        let (entry, mut mb) = store.open_mailbox(name)?;
        let readonly = examine || !(rights.has('s') || rights.has('w') || rights.has('t') || rights.has('i') || rights.has('e'));
        let owner = store.ns.owner(name);
        let seen_db = if owner.as_deref() == Some(userid) { None } else { Some(store.list.seen(userid, &entry.uniqueid).unwrap_or_default()) };
        let mut recent = UidSet::default();
        // EXAMINE shows \Recent without taking it (as Cyrus); SELECT takes it.
        // Nothing above the recent mark: no lock to wait for (a writer holding it may be
        // waiting on the journal).
        let unclaimed = mb.header().last_uid > mb.header().recent_uid;
        let prev = if readonly || !unclaimed { mb.header().recent_uid } else { mb.lock().and_then(|mut w| w.claim_recent())? };
        let last = mb.header().last_uid;
        if last > prev {
            recent.0.push((prev + 1, last));
        }
        let mut uids = Vec::with_capacity(mb.header().exists as usize);
        let mut pos = Vec::with_capacity(mb.header().exists as usize);
        for i in 0..mb.len() {
            let r = mb.record(i)?;
            if !r.is_expunged() {
                uids.push(r.uid.0);
                pos.push(i as u32);
            }
        }
        let known_modseq = mb.header().highestmodseq;
        let known_keywords = mb.user_flags().len();
        Ok(Selected {
            name: name.clone(),
            uniqueid: entry.uniqueid,
            mb,
            watch: None,
            readonly,
            rights,
            uids,
            pos,
            recent,
            known_modseq,
            pending_expunge: std::collections::HashSet::new(),
            known_keywords,
            seen_db,
            userid: userid.to_string(),
            mode: Default::default(),
            saved: Vec::new(),
        })
    }

    /// Starts watching the mailbox for changes (for IDLE); false if inotify is not
    /// available (the caller then polls).
    pub fn watch(&mut self) -> bool {
        if self.watch.is_none() {
            match Watch::new(&self.mb.paths().meta) {
                Ok(w) => self.watch = Some(w),
                Err(e) => log::warn!("{}: no change notification ({e}); IDLE polls every 5 s", self.name.0),
            }
        }
        self.watch.is_some()
    }

    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    pub fn max_uid(&self) -> u32 {
        self.uids.last().copied().unwrap_or(0)
    }

    /// The message number of `uid`, if the client knows it.
    pub fn msn_of(&self, uid: u32) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    /// The record of message number `msn` (1-based).
    pub fn record(&mut self, msn: u32) -> Result<Record, mailbox::Error> {
        let i = msn as usize - 1;
        let uid = self.uids[i];
        let hint = self.pos[i] as usize;
        if hint < self.mb.len() {
            let r = self.mb.record(hint)?;
            if r.uid.0 == uid {
                return Ok(r);
            }
        }
        match self.mb.find(mailbox::Uid(uid))? {
            Some(p) => {
                self.pos[i] = p as u32;
                self.mb.record(p)
            }
            None => Err(mailbox::Error::Corrupt(format!("uid {uid} is no longer in the index"))),
        }
    }

    /// Whether the user has seen `r`.
    pub fn is_seen(&self, r: &Record) -> bool {
        match &self.seen_db {
            None => r.has(flag::SEEN),
            Some(s) => s.contains(r.uid.0),
        }
    }

    /// System flags as this user sees them (\Seen from the seen database when it is
    /// kept there).
    pub fn sys_flags(&self, r: &Record) -> u32 {
        let f = r.system_flags & flag::IMAP & !flag::SEEN;
        if self.is_seen(r) { f | flag::SEEN } else { f }
    }

    /// `(\Seen \Recent kw ...)` for a record.
    pub fn flags_text(&self, r: &Record) -> String {
        let mut s = String::from("(");
        let mut first = true;
        let mut push = |s: &mut String, n: &str| {
            if !first {
                s.push(' ');
            }
            first = false;
            s.push_str(n);
        };
        for n in flag_names(self.sys_flags(r)) {
            push(&mut s, n);
        }
        if self.recent.contains(r.uid.0) && !self.mode.rev2 {
            push(&mut s, "\\Recent");
        }
        let names = self.mb.user_flags();
        for (i, n) in names.iter().enumerate() {
            if r.has_user_flag(i) {
                push(&mut s, n);
            }
        }
        s.push(')');
        s
    }

    /// `* n FETCH (FLAGS (...))` for a record, with UID when `uid` or QRESYNC is on
    /// (RFC 7162 3.2.4) and MODSEQ when CONDSTORE is (3.1.4), in Cyrus's order.
    pub fn fetch_flags_line(&self, msn: u32, r: &Record, uid: bool) -> String {
        let f = self.flags_text(r);
        if self.mode.condstore && (uid || self.mode.qresync) {
            format!("* {msn} FETCH (UID {} FLAGS {f} MODSEQ ({}))\r\n", r.uid.0, r.modseq.0)
        } else if self.mode.condstore {
            format!("* {msn} FETCH (FLAGS {f} MODSEQ ({}))\r\n", r.modseq.0)
        } else if uid {
            format!("* {msn} FETCH (UID {} FLAGS {f})\r\n", r.uid.0)
        } else {
            format!("* {msn} FETCH (FLAGS {f})\r\n")
        }
    }

    /// `* FLAGS (...)` and the PERMANENTFLAGS line.
    pub fn write_flags(&self, conn: &mut Conn) {
        let kws = self.mb.user_flags().join(" ");
        let sp = if kws.is_empty() { "" } else { " " };
        conn.write_fmt(format_args!("* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen{sp}{kws})\r\n"));
        if self.readonly {
            conn.write(b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
        } else {
            let mut perm = Vec::new();
            for (c, n) in [('w', "\\Answered"), ('w', "\\Flagged"), ('w', "\\Draft"), ('t', "\\Deleted"), ('s', "\\Seen")] {
                if self.rights.has(c) {
                    perm.push(n.to_string());
                }
            }
            if self.rights.has('w') {
                perm.extend(self.mb.user_flags().iter().cloned());
                perm.push("\\*".into());
            }
            conn.write_fmt(format_args!("* OK [PERMANENTFLAGS ({})] Ok\r\n", perm.join(" ")));
        }
    }

    /// Records that our own write left the mailbox at `modseq` after being at
    /// `before`: if nobody else wrote in between, the client already knows it all.
    pub fn own_write(&mut self, before: u64, after: u64) {
        if before == self.known_modseq {
            self.known_modseq = after;
        }
    }

    /// Catches up with the mailbox and tells the client: new keywords, EXISTS and
    /// RECENT for new messages, FETCH FLAGS for changed ones, and EXPUNGE when
    /// `allow_expunge` (else they wait). `uid_fetch`: include UID in FETCH lines.
    pub fn update(&mut self, conn: &mut Conn, allow_expunge: bool) -> Result<(), mailbox::Error> {
        if let Some(w) = &self.watch {
            w.drain();
        }
        let before_len = self.mb.len();
        self.mb.refresh()?;
        if self.mb.len() < before_len {
            // The index was rebuilt (reconstruct): positions changed.
            for p in self.pos.iter_mut() {
                *p = u32::MAX;
            }
        }
        let h = self.mb.header().clone();
        if self.mb.user_flags().len() != self.known_keywords {
            self.known_keywords = self.mb.user_flags().len();
            self.write_flags(conn);
        }
        if h.highestmodseq != self.known_modseq {
            let known = self.known_modseq;
            let max_uid = self.max_uid();
            let mut changed = Vec::new();
            let mut new = Vec::new();
            for i in self.unseen_changes_from(known, h.highestmodseq)..self.mb.len() {
                let r = self.mb.record(i)?;
                if r.modseq.0 <= known {
                    continue;
                }
                if r.uid.0 > max_uid {
                    if !r.is_expunged() {
                        new.push((r.uid.0, i as u32));
                    }
                } else if r.is_expunged() {
                    if self.msn_of(r.uid.0).is_some() {
                        self.pending_expunge.insert(r.uid.0);
                    }
                } else if let Some(msn) = self.msn_of(r.uid.0) {
                    changed.push((msn, r));
                }
            }
            for (msn, r) in changed {
                conn.write(self.fetch_flags_line(msn, &r, false).as_bytes());
            }
            // Expunges before the new EXISTS (as Cyrus orders them: a MOVE within the
            // mailbox reads EXPUNGE, then EXISTS).
            if allow_expunge && !self.pending_expunge.is_empty() {
                self.flush_expunges(conn);
            }
            if !new.is_empty() {
                for (uid, p) in new {
                    self.uids.push(uid);
                    self.pos.push(p);
                }
                // EXAMINE sees what is above the recent mark; SELECT claims it.
                let unclaimed = self.mb.header().last_uid > self.mb.header().recent_uid;
                let prev = if self.readonly || !unclaimed {
                    self.mb.header().recent_uid.max(max_uid)
                } else {
                    self.mb.lock().and_then(|mut w| w.claim_recent())?
                };
                let last = self.mb.header().last_uid;
                if last > prev {
                    // Claims come in order: extend the last range when they touch.
                    match self.recent.0.last_mut() {
                        Some(r) if r.1 + 1 >= prev + 1 => r.1 = r.1.max(last),
                        _ => self.recent.0.push((prev + 1, last)),
                    }
                }
                conn.write_fmt(format_args!("* {} EXISTS\r\n", self.uids.len()));
                if !self.mode.rev2 {
                    // By range, not by message: a wake-up must not cost the mailbox's size.
                    let n_recent: usize = self.recent.0.iter().map(|&(lo, hi)| self.uids.partition_point(|&u| u <= hi) - self.uids.partition_point(|&u| u < lo)).sum();
                    conn.write_fmt(format_args!("* {n_recent} RECENT\r\n"));
                }
            }
            self.known_modseq = h.highestmodseq.max(self.known_modseq);
        }
        if allow_expunge && !self.pending_expunge.is_empty() {
            self.flush_expunges(conn);
        }
        Ok(())
    }

    /// Where the records changed since modseq `known` can be, given the header's
    /// `highest`: after the last message the client knows when every modseq since
    /// `known` went to a record there (only appends happened: an IDLE wake-up or
    /// our own APPEND then costs the new messages, not the mailbox's size); else 0.
    /// Every modseq is given to exactly one record when it is taken, so a change to
    /// an older record leaves a modseq the tail cannot account for.
    fn unseen_changes_from(&self, known: u64, highest: u64) -> usize {
        let (Some(&p), Some(&uid)) = (self.pos.last(), self.uids.last()) else { return 0 };
        let start = p as usize + 1;
        if start > self.mb.len() || !self.mb.record(p as usize).is_ok_and(|r| r.uid.0 == uid) {
            return 0;
        }
        let tail = (start..self.mb.len()).filter(|&i| self.mb.record(i).is_ok_and(|r| r.modseq.0 > known)).count() as u64;
        if highest.saturating_sub(known) == tail { start } else { 0 }
    }

    /// Sends EXPUNGE for every held-back expunge, highest message number first (each
    /// number is then still right when it is read); with QRESYNC one VANISHED line.
    fn flush_expunges(&mut self, conn: &mut Conn) {
        if self.mode.qresync {
            let mut uids: Vec<u32> = self.pending_expunge.iter().copied().filter(|&u| self.msn_of(u).is_some()).collect();
            uids.sort_unstable();
            crate::sync::write_vanished(conn, &uids, false);
        } else {
            let mut msns: Vec<u32> = self.pending_expunge.iter().filter_map(|&u| self.msn_of(u)).collect();
            msns.sort_unstable_by(|a, b| b.cmp(a));
            let mut out = String::with_capacity(msns.len() * 16);
            for msn in &msns {
                out.push_str(&format!("* {msn} EXPUNGE\r\n"));
            }
            conn.write(out.as_bytes());
        }
        // One pass over the map, however many went.
        let keep: Vec<bool> = self.uids.iter().map(|u| !self.pending_expunge.contains(u)).collect();
        let mut k = keep.iter();
        self.pos.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        self.uids.retain(|_| *k.next().unwrap_or(&true));
        self.pending_expunge.clear();
    }

    /// Message numbers of a resolved sequence set (or UID set when `uid`), ascending.
    pub fn resolve(&self, set: &crate::parse::SeqSet, uid: bool) -> Vec<u32> {
        let mut out = Vec::new();
        if set.is_saved() {
            // `$`: the saved messages still here, whatever the command's kind.
            return self.saved.iter().filter_map(|&u| self.msn_of(u)).collect();
        }
        if uid {
            let max = self.max_uid();
            for (lo, hi) in set.resolve(max) {
                let start = self.uids.partition_point(|&u| u < lo);
                let end = self.uids.partition_point(|&u| u <= hi);
                out.extend((start..end).map(|i| i as u32 + 1));
            }
        } else {
            for (lo, hi) in set.resolve(self.exists()) {
                out.extend(lo..=hi);
            }
        }
        out.dedup();
        out
    }

    /// Saves the seen database set (non-owners).
    pub fn save_seen(&self, store: &Store) -> Result<(), String> {
        match &self.seen_db {
            Some(s) => store.list.set_seen(&self.userid, &self.uniqueid, s),
            None => Ok(()),
        }
    }
}
