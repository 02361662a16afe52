//! Recipients and delivery: from an address to a mailbox (as Cyrus's lmtpd resolves
//! it), then the message stored once per transaction per partition, duplicates
//! suppressed, quotas applied, one reply per recipient.
//!
//! - `user` and `user@domain` (virtdomains) deliver to the user's INBOX; an unknown
//!   user is refused at RCPT with `550 5.1.1`.
//! - `user+detail` delivers to the folder `detail` of the user when it exists and the
//!   sender may post there (right `p` for the authenticated LMTP user, or for
//!   `anonymous`), else to INBOX (`lmtp_fuzzy_mailbox_match` tries a looser match
//!   first).
//! - `postuser+shared.folder` (or `+shared.folder` when postuser is empty) delivers to
//!   a shared folder, which must exist and allow posting.

use crate::address::split_recipient;
use crate::filter::{self, Plan};
use mailbox::{Mailbox, NewMessage};
use mboxlist::{InternalName, Store, StoreError};
use std::collections::HashMap;
use service::metrics::{self, Slot};
use std::path::PathBuf;

/// The internal names a `+detail` may mean. With the Unix separator `/` is the
/// hierarchy and a `.` is part of a name (stored as `^`), but mail addresses usually
/// write the hierarchy with dots, so that reading is tried second.
fn detail_names(unixsep: bool, detail: &str) -> Vec<String> {
    if !unixsep {
        return vec![detail.to_string()];
    }
    let literal = detail.replace('.', "^").replace('/', ".");
    let dotted = detail.replace('/', ".");
    if literal == dotted { vec![literal] } else { vec![literal, dotted] }
}

/// How many of a mailbox's newest messages are compared with a delivery's Message-ID.
const RECENT_DUPLICATE_WINDOW: usize = 32;

/// Whether one of the newest messages of `mb` has Message-ID `id` (read from the cache).
fn recently_stored(mb: &Mailbox, id: &str) -> bool {
    let n = mb.len();
    (n.saturating_sub(RECENT_DUPLICATE_WINDOW)..n).rev().any(|i| {
        mb.record(i)
            .ok()
            .filter(|r| !r.is_expunged())
            .and_then(|r| mb.cache_entry(&r).ok().and_then(mailbox::cache::structure))
            .is_some_and(|m| m.fields().message_id.as_deref() == Some(id))
    })
}

/// One SMTP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply { code, text: text.into() }
    }

    /// The reply as sent; a text of several lines (`\n`-separated) becomes a
    /// multi-line reply (`550-...` then `550 ...`).
    pub fn line(&self) -> String {
        let lines: Vec<&str> = self.text.split('\n').collect();
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.push_str(&format!("{}{sep}{l}\r\n", self.code));
        }
        out
    }
}

/// Where an accepted recipient's mail goes.
#[derive(Clone, Debug)]
pub struct Target {
    pub rcpt: String,
    pub mailbox: InternalName,
    /// The user whose Sieve script will decide (None for shared folders).
    pub user: Option<String>,
    pub ignore_quota: bool,
}

pub struct Deliverer {
    pub store: Store,
    /// Only resolve recipients, never create a mailbox on the way (smmapd).
    pub lookup_only: bool,
    deliverdb: deliverdb::DeliverDb,
    downcase: bool,
    fuzzy: bool,
    postuser: String,
    duplicates: bool,
    single_instance: bool,
    strict_quota: bool,
    quota_perm: bool,
    filter: filter::Runner,
    /// The appends of the message being delivered, synced together once every
    /// recipient's copies are written.
    pending: Vec<mailbox::Unsynced>,
    /// What became of the recipient being delivered, for the Prometheus figures:
    /// stored, or only found duplicate, or refused over quota.
    outcome: Option<Slot>,
}

/// The message as one copy of it is stored: the delivered bytes, or a message made or
/// changed by Sieve (which cannot be hard-linked from the staged file).
struct Msg<'a> {
    raw: &'a [u8],
    parsed: &'a message::Message,
    linkable: bool,
}

/// Sieve's flags as the index keeps them: system flag bits and keywords (IMAP atoms;
/// anything else, and \Recent, is dropped).
fn split_flags(flags: &[String]) -> (u32, Vec<&str>) {
    let mut sys = 0;
    let mut kws = Vec::new();
    for f in flags {
        match mailbox::flag::from_name(f) {
            Some(b) => sys |= b,
            None if !f.starts_with('\\') && !f.is_empty() && f.len() <= 200 && f.bytes().all(|b| b.is_ascii_graphic() && !b"(){%*\"]\\".contains(&b)) => kws.push(f.as_str()),
            None => {}
        }
    }
    (sys, kws)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Deliverer {
    pub fn new(store: Store) -> Deliverer {
        let cfg = &store.cfg;
        let configdir = PathBuf::from(cfg.get_str("configdirectory").unwrap_or("."));
        Deliverer {
            deliverdb: deliverdb::DeliverDb::new(&configdir),
            downcase: cfg.get_bool("lmtp_downcase_rcpt"),
            fuzzy: cfg.get_bool("lmtp_fuzzy_mailbox_match"),
            postuser: cfg.get_str("postuser").unwrap_or("").to_string(),
            duplicates: cfg.get_bool("duplicatesuppression"),
            single_instance: cfg.get_bool("singleinstancestore"),
            strict_quota: cfg.get_bool("lmtp_strict_quota"),
            quota_perm: cfg.get_bool("lmtp_over_quota_perm_failure"),
            filter: filter::Runner::new(cfg),
            pending: Vec::new(),
            outcome: None,
            lookup_only: false,
            store,
        }
    }

    fn may_post(&self, name: &InternalName, poster: &str) -> bool {
        match self.store.lookup(name) {
            Ok(e) => self.store.rights(poster, name, &e).has('p'),
            Err(_) => false,
        }
    }

    /// Resolves RCPT TO's address. `poster` is the authenticated LMTP user, or
    /// "anonymous".
    pub fn resolve(&self, addr: &str, poster: &str, ignore_quota: bool) -> Result<Target, Reply> {
        let r = split_recipient(addr, self.downcase);
        let ns = &self.store.ns;
        // Everything a recipient names is inside its domain (virtdomains): its user,
        // and the shared folder of `+folder@domain` or `postuser+folder@domain`.
        let domain = match &r.domain {
            Some(d) if ns.virtdomains && ns.defaultdomain.as_deref() != Some(d.as_str()) => {
                if !mboxlist::users::valid_domain(d) {
                    return Err(Reply::new(550, "5.1.1 User unknown"));
                }
                Some(d.clone())
            }
            _ => None,
        };
        let userid = match &domain {
            Some(d) => format!("{}@{d}", r.user),
            None => r.user.clone(),
        };
        // An unauthenticated poster is the anonymous user of the recipient's domain.
        let anonymous_here;
        let poster = match &domain {
            Some(d) if poster == "anonymous" => {
                anonymous_here = format!("anonymous@{d}");
                anonymous_here.as_str()
            }
            _ => poster,
        };
        // `postuser+folder` (with postuser empty, `+folder`) names a shared folder, as
        // in Cyrus; with a postuser set, an empty user is no one.
        let shared = r.detail.is_some() && r.user == self.postuser;
        if shared {
            let detail = r.detail.unwrap_or_default();
            let in_domain = |n: String| match &domain {
                Some(d) => format!("{d}!{n}"),
                None => n,
            };
            let Some(name) = detail_names(ns.unixhierarchysep, &detail)
                .into_iter()
                .map(in_domain)
                .map(InternalName)
                .find(|n| mboxlist::names::validate(&n.0).is_ok() && self.store.lookup(n).is_ok())
            else {
                return Err(Reply::new(550, format!("5.1.1 Mailbox unknown: {detail}")));
            };
            if !self.may_post(&name, poster) {
                return Err(Reply::new(550, "5.7.1 Permission denied"));
            }
            return Ok(Target { rcpt: addr.into(), mailbox: name, user: None, ignore_quota });
        }
        if r.user.is_empty() || ns.canonical_userid(&userid, None).is_err() {
            return Err(Reply::new(550, "5.1.1 User unknown"));
        }
        let inbox = ns.inbox(&userid);
        if !self.lookup_only && mboxlist::names::validate(&inbox.0).is_ok() && self.store.lookup(&inbox).is_err() {
            service::autocreate::at_delivery(&self.store.cfg, &self.store, &userid);
        }
        if mboxlist::names::validate(&inbox.0).is_err() || self.store.lookup(&inbox).is_err() {
            return Err(Reply::new(550, "5.1.1 User unknown"));
        }
        let mut mailbox = inbox.clone();
        if let Some(detail) = r.detail.filter(|d| !d.is_empty()) {
            for rel in detail_names(ns.unixhierarchysep, &detail) {
                let folder = InternalName(format!("{}.{rel}", inbox.0));
                if mboxlist::names::validate(&folder.0).is_err() {
                    continue;
                }
                if let Some(found) = self.find_folder(&inbox, &folder) {
                    if self.may_post(&found, poster) {
                        mailbox = found;
                    }
                    break;
                }
            }
        }
        Ok(Target { rcpt: addr.into(), mailbox, user: Some(userid), ignore_quota })
    }

    /// The folder itself if it exists; with lmtp_fuzzy_mailbox_match, a folder of the
    /// same user equal to it ignoring case and spaces, or the nearest existing parent.
    fn find_folder(&self, inbox: &InternalName, folder: &InternalName) -> Option<InternalName> {
        if self.store.lookup(folder).is_ok() {
            return Some(folder.clone());
        }
        if !self.fuzzy {
            return None;
        }
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        let all = self.store.list.subtree(&inbox.0).ok()?;
        let mut cand = folder.0.clone();
        while cand.len() > inbox.0.len() {
            if let Some((n, _)) = all.iter().find(|(n, _)| squash(n) == squash(&cand)) {
                return Some(InternalName(n.clone()));
            }
            cand.truncate(cand.rfind('.')?);
        }
        None
    }

    /// Stores `raw` (parsed once, as `parsed`) for every target, each user's Sieve
    /// script deciding where; one reply per target, in order.
    pub fn deliver(&mut self, targets: &[Target], raw: &[u8], parsed: &message::Message, ctx: &filter::Context) -> Vec<Reply> {
        let msgid = parsed.fields().message_id.as_deref();
        let mut staged: HashMap<String, PathBuf> = HashMap::new();
        let mut replies = Vec::with_capacity(targets.len());
        let mut outcomes = Vec::with_capacity(targets.len());
        let msg = Msg { raw, parsed, linkable: true };
        for t in targets {
            self.outcome = None;
            replies.push(self.deliver_target(t, &msg, msgid, ctx, &mut staged));
            outcomes.push(self.outcome);
        }
        // One sync for every copy of the message, to every recipient and folder.
        let pending = std::mem::take(&mut self.pending);
        if let Err(e) = mailbox::sync_appends(&pending) {
            log::error!("delivery of {} not made durable: {e}", msgid.unwrap_or("<nomsgid>"));
            for r in replies.iter_mut().filter(|r| r.code / 100 == 2) {
                *r = Reply::new(451, "4.3.0 Temporary failure: the message was not stored");
            }
        }
        for (r, o) in replies.iter().zip(outcomes) {
            count_outcome(r, o);
        }
        replies
    }

    /// One recipient: duplicate suppression, then the user's script (if any), then
    /// the copies it asks for, then what it sends.
    fn deliver_target(&mut self, t: &Target, msg: &Msg, msgid: Option<&str>, ctx: &filter::Context, staged: &mut HashMap<String, PathBuf>) -> Reply {
        let Some(user) = t.user.as_deref() else { return self.deliver_one(t, &t.mailbox, msg, 0, &[], msgid, staged) };
        let dup_key = format!("{user}:{}", t.mailbox.0);
        if let (true, Some(id)) = (self.duplicates, msgid) {
            if let Ok(Some(_)) = self.deliverdb.check(id, &dup_key) {
                log::info!("dupelim: eliminated duplicate message to {} id {} (delivery)", t.mailbox.0, id);
                self.outcome.get_or_insert(Slot::DELIVER_DUPLICATE);
                return Reply::new(250, format!("2.1.5 Ok (duplicate of a message already delivered to {})", t.rcpt));
            }
        }
        let plan = self.filter.plan(&self.store, &mut self.deliverdb, user, &t.rcpt, &t.mailbox, msg.raw, msg.parsed, ctx);
        let (stores, sends, edited) = match plan {
            Plan::NoScript => return self.deliver_one(t, &t.mailbox, msg, 0, &[], msgid, staged),
            Plan::Reject(r) => {
                metrics::inc(Slot::SIEVE_REJECT);
                return r;
            }
            Plan::Deliver { stores, sends, edited } => (stores, sends, edited),
        };
        for st in &stores {
            metrics::inc(if st.mailbox == t.mailbox { Slot::SIEVE_KEEP } else { Slot::SIEVE_FILEINTO });
        }
        if stores.is_empty() && !sends.iter().any(|o| o.kind == "redirect") {
            metrics::inc(Slot::SIEVE_DISCARD);
        }
        let edited_parsed = edited.as_deref().map(message::parse);
        let msg = match (&edited, &edited_parsed) {
            (Some(raw), Some(parsed)) => Msg { raw, parsed, linkable: false },
            _ => Msg { raw: msg.raw, parsed: msg.parsed, linkable: msg.linkable },
        };
        let mut reply = Reply::new(250, "2.1.5 Ok");
        let mut stored = false;
        for st in &stores {
            let (sys, kws) = split_flags(&st.flags);
            let r = self.deliver_one(t, &st.mailbox, &msg, sys, &kws, msgid, staged);
            if r.code >= 400 {
                if reply.code < 400 {
                    reply = r;
                }
            } else {
                stored = true;
            }
        }
        if reply.code >= 400 {
            // The MTA tries again; nothing is sent until every copy is stored.
            return reply;
        }
        for o in &sends {
            if self.filter.send(o) {
                match o.kind {
                    "redirect" => metrics::inc(Slot::SIEVE_REDIRECT),
                    "vacation" => metrics::inc(Slot::SIEVE_VACATION_SENT),
                    _ => {}
                }
                log::info!("sieve {}: {} to: {}", o.kind, msgid.unwrap_or("<nomsgid>"), o.recipients.join(","));
                if let Some((id, rcpt)) = &o.track {
                    let _ = self.deliverdb.mark(id, rcpt, now());
                }
                if let Some(fcc) = &o.fcc {
                    let parsed = message::parse(&o.message);
                    let copy = Msg { raw: &o.message, parsed: &parsed, linkable: false };
                    let (sys, kws) = split_flags(&fcc.flags);
                    let r = self.deliver_one(t, &fcc.mailbox, &copy, sys, &kws, parsed.fields().message_id.as_deref(), staged);
                    if r.code >= 400 {
                        log::error!("sieve fcc '{}' failed: {}", fcc.mailbox.0, r.text);
                    }
                }
            } else if o.kind == "redirect" && !stored {
                // The only copy would have been the one sent: keep the message.
                let r = self.deliver_one(t, &t.mailbox, &msg, 0, &[filter::FAILED_FLAG], msgid, staged);
                if r.code >= 400 {
                    return r;
                }
                stored = true;
            }
        }
        // A copy stored in the default mailbox has marked this key already.
        if let (true, Some(id), false) = (self.duplicates, msgid, stores.iter().any(|s| s.mailbox == t.mailbox)) {
            let _ = self.deliverdb.mark(id, &dup_key, now());
        }
        reply
    }

    #[allow(clippy::too_many_arguments)]
    fn deliver_one(
        &mut self,
        t: &Target,
        name: &InternalName,
        msg: &Msg,
        flags: u32,
        keywords: &[&str],
        msgid: Option<&str>,
        staged: &mut HashMap<String, PathBuf>,
    ) -> Reply {
        let (raw, parsed) = (msg.raw, msg.parsed);
        // The deliver databases are split by the recipient's first letter: key by
        // user (or "shared") and mailbox, so that users spread over the letters.
        let dup_key = format!("{}:{}", t.user.as_deref().unwrap_or("shared"), name.0);
        // A user's default mailbox was looked up in the deliver database before the
        // script ran (deliver_target): not twice.
        let checked = t.user.is_some() && *name == t.mailbox;
        if let (true, Some(id), false) = (self.duplicates, msgid, checked) {
            if let Ok(Some(_)) = self.deliverdb.check(id, &dup_key) {
                log::info!("dupelim: eliminated duplicate message to {} id {} (delivery)", name.0, id);
                self.outcome.get_or_insert(Slot::DELIVER_DUPLICATE);
                return Reply::new(250, format!("2.1.5 Ok (duplicate of a message already delivered to {})", t.rcpt));
            }
        }
        let opened = self.store.open_mailbox(name);
        // The duplicate record is written after the append; if lmtpd was killed in
        // between, the MTA retries a message that is already stored: the newest
        // messages of the mailbox are the other place to look.
        if let (true, Some(id), Ok((_, mb))) = (self.duplicates, msgid, &opened) {
            if recently_stored(mb, id) {
                log::info!("dupelim: eliminated duplicate message to {} id {} (recent)", name.0, id);
                self.outcome.get_or_insert(Slot::DELIVER_DUPLICATE);
                let _ = self.deliverdb.mark(id, &dup_key, now());
                return Reply::new(250, format!("2.1.5 Ok (duplicate of a message already delivered to {})", t.rcpt));
            }
        }
        let (entry, mut mb): (_, Mailbox) = match opened {
            Ok(x) => x,
            // The mailbox was there at RCPT: a missing file now (an unmounted partition,
            // a damaged mailbox) is a temporary failure, never a bounce.
            Err(e) => {
                log::error!("delivery to {} failed: {e}", name.0);
                return Reply::new(451, "4.3.0 Temporary failure: cannot open the mailbox");
            }
        };
        if !t.ignore_quota {
            match self.store.quota_refuses(name, raw.len() as u64, self.strict_quota) {
                Ok(Some(root)) => {
                    log::info!("delivery to {} refused: over quota (root {root})", name.0);
                    metrics::inc(Slot::QUOTA_REFUSED);
                    self.outcome = Some(Slot::DELIVER_OVER_QUOTA);
                    return if self.quota_perm {
                        Reply::new(552, "5.2.2 Over quota")
                    } else {
                        Reply::new(452, "4.2.2 Over quota")
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    log::error!("quota check for {} failed: {e}", name.0);
                    return Reply::new(451, "4.3.0 Temporary failure");
                }
            }
        }
        // Single-instance store: the first copy on a partition is written and synced
        // (before the mailbox lock is taken); the others are hard links to its file,
        // which is durable by then. No stage file is made and removed per message:
        // ext4 makes every new inode skip the ones freed in the last minutes, so such
        // churn costs each delivery a scan growing with the delivery rate.
        let link = if self.single_instance && msg.linkable { staged.get(&entry.partition).map(PathBuf::as_path) } else { None };
        let msg_for = NewMessage { raw, flags, keywords, internaldate: now() as i64, parsed: Some(parsed), link_from: link };
        // The quota was checked above as Cyrus does (lenient unless strict); the
        // charge itself must not refuse again.
        match self.store.append_unsynced(name, &mut mb, &[msg_for], true) {
            Ok((uids, pending)) => {
                self.pending.push(pending);
                if self.single_instance && msg.linkable && !staged.contains_key(&entry.partition) {
                    staged.insert(entry.partition.clone(), mb.paths().message(uids[0]));
                }
                if let (true, Some(id)) = (self.duplicates, msgid) {
                    if let Err(e) = self.deliverdb.mark(id, &dup_key, now()) {
                        log::warn!("cannot record delivery of {id} to {} for duplicate suppression: {e}", name.0);
                    }
                }
                log::info!("Delivered: {} to mailbox: {}", msgid.unwrap_or("<nomsgid>"), name.0);
                if self.outcome != Some(Slot::DELIVER_OVER_QUOTA) {
                    self.outcome = Some(Slot::DELIVERED);
                }
                Reply::new(250, "2.1.5 Ok")
            }
            Err(e) => {
                log::error!("delivery of {} to {} failed: {e}", msgid.unwrap_or("<nomsgid>"), name.0);
                store_failure(&e)
            }
        }
    }
}

/// Counts one recipient's outcome: its final reply, with what the delivery noted
/// (`outcome`). A refusal by the user's Sieve script is counted as a sieve reject.
fn count_outcome(r: &Reply, outcome: Option<Slot>) {
    let slot = match (r.code / 100, outcome) {
        (2, Some(Slot::DELIVER_DUPLICATE)) => Slot::DELIVER_DUPLICATE,
        (2, _) => Slot::DELIVERED,
        (_, Some(Slot::DELIVER_OVER_QUOTA)) => Slot::DELIVER_OVER_QUOTA,
        (4, _) => Slot::DELIVER_TEMP_FAIL,
        _ => return,
    };
    metrics::inc(slot);
}

/// The reply when a message could not be stored: always temporary, so the MTA keeps
/// it; a full partition says so (RFC 3463 4.3.1, "mail system full").
fn store_failure(e: &StoreError) -> Reply {
    match e {
        StoreError::NoSpace(_) => Reply::new(452, "4.3.1 Insufficient system storage, the message was not stored"),
        _ => Reply::new(451, "4.3.0 Temporary failure: the message was not stored"),
    }
}
