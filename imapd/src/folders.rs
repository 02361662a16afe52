//! Commands on mailboxes rather than messages: CREATE (with SPECIAL-USE), DELETE,
//! RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (LIST-EXTENDED, LIST-STATUS), LSUB, STATUS,
//! NAMESPACE; the ACL (RFC 4314) and QUOTA (RFC 9208) commands are in
//! [`crate::access`].
//!
//! Visibility follows the ACL: a mailbox is listed when the user has `l` on it (an
//! admin sees every one); parents that exist only as the path to a visible mailbox
//! are listed `\Noselect`.

use crate::parse::{PResult, Parser, astring_out, quoted};
use crate::metadata::{SPECIAL_USE, SPECIAL_USES};
use crate::reply::{done, no, store_no};
use crate::state::Session;
use mailbox::Mailbox;
use mboxlist::{Acl, InternalName, StoreError};
use service::Conn;
use std::collections::{BTreeMap, HashSet};
/// Cyrus's hierarchy of deleted mailboxes (its `deletedprefix` default).
const DELETED_PREFIX: &str = "DELETED.";

pub fn command(s: &mut Session, conn: &mut Conn, tag: &str, name: &str, p: &mut Parser) -> PResult<()> {
    match name {
        "NAMESPACE" => {
            p.end()?;
            let sep = s.ns.sep();
            if s.ns.altnamespace {
                conn.write_fmt(format_args!(
                    "* NAMESPACE ((\"\" \"{sep}\")) (({} \"{sep}\")) (({} \"{sep}\"))\r\n",
                    quoted(&format!("{}{sep}", s.ns.userprefix)),
                    quoted(&format!("{}{sep}", s.ns.sharedprefix))
                ));
            } else {
                conn.write_fmt(format_args!("* NAMESPACE ((\"INBOX{sep}\" \"{sep}\")) ((\"user{sep}\" \"{sep}\")) ((\"\" \"{sep}\"))\r\n"));
            }
            done(conn, tag);
        }
        "CREATE" => create(s, conn, tag, p)?,
        "DELETE" => {
            p.sp()?;
            let mbox = p.mailbox()?;
            p.end()?;
            delete(s, conn, tag, &mbox);
        }
        "RENAME" => {
            p.sp()?;
            let from = p.mailbox()?;
            p.sp()?;
            let to = p.mailbox()?;
            p.end()?;
            rename(s, conn, tag, &from, &to);
        }
        "SUBSCRIBE" | "UNSUBSCRIBE" => {
            p.sp()?;
            let mbox = p.mailbox()?;
            p.end()?;
            let int = match s.internal(&mbox) {
                Ok(n) => n,
                Err(e) => return Ok(no(conn, tag, &format!("[CANNOT] {e}"))),
            };
            let on = name == "SUBSCRIBE";
            if on {
                match s.rights(&int) {
                    Ok((_, r)) if r.has('l') || r.has('r') => {}
                    Ok(_) | Err(StoreError::NotFound(_)) => return Ok(no(conn, tag, "[NONEXISTENT] Mailbox does not exist")),
                    Err(e) => return Ok(store_no(conn, tag, &e)),
                }
            }
            match s.store().list.subscribe(s.userid(), &int.0, on) {
                Ok(()) => done(conn, tag),
                Err(e) => store_no(conn, tag, &StoreError::Internal(e)),
            }
        }
        "LIST" | "LSUB" => list(s, conn, tag, p, name == "LSUB")?,
        "STATUS" => {
            p.sp()?;
            let mbox = p.mailbox()?;
            p.sp()?;
            let items = status_items(p)?;
            p.end()?;
            let int = match s.internal(&mbox) {
                Ok(n) => n,
                Err(e) => return Ok(no(conn, tag, &format!("[CANNOT] {e}"))),
            };
            match status(s, &int, &items) {
                Ok(text) => {
                    conn.write_fmt(format_args!("* STATUS {} ({text})\r\n", astring_out(&mbox)));
                    done(conn, tag);
                }
                Err(e) => store_no(conn, tag, &e),
            }
        }
        _ => return Err(format!("Unrecognized command {name}")),
    }
    Ok(())
}

// ---- CREATE, DELETE, RENAME ----

/// Whether this user may create `int`: admins anywhere; a user in their own
/// hierarchy (not the INBOX itself); anyone with `k` on the parent.
fn may_create(s: &Session, int: &InternalName) -> bool {
    if s.administers(int) {
        return true;
    }
    let store = s.store();
    let floor = int.0.find('!').map_or(0, |i| i + 1);
    let parent = int.0.rfind('.').filter(|&i| i > floor).map(|i| InternalName(int.0[..i].to_string()));
    if let Some(par) = &parent {
        if let Ok((_, r)) = s.rights(par) {
            return r.has('k');
        }
    }
    let inbox = store.ns.inbox(s.userid());
    store.ns.owner(int).as_deref() == Some(s.userid()) && *int != inbox
}

fn create(s: &mut Session, conn: &mut Conn, tag: &str, p: &mut Parser) -> PResult<()> {
    p.sp()?;
    let mbox = p.mailbox()?;
    let mut uses = Vec::new();
    if p.eat(b' ') {
        p.expect(b'(')?;
        if !p.word("USE") {
            return Err("Unknown CREATE parameter".into());
        }
        p.sp()?;
        uses = p.flag_list(false)?;
        p.expect(b')')?;
    }
    p.end()?;
    if mbox == "INBOX" && !s.admin {
        no(conn, tag, "[ALREADYEXISTS] INBOX already exists");
        return Ok(());
    }
    for u in &uses {
        if !SPECIAL_USES.iter().any(|x| x.eq_ignore_ascii_case(u)) {
            no(conn, tag, "[USEATTR] Unsupported special-use attribute");
            return Ok(());
        }
    }
    let int = match s.internal(&mbox) {
        Ok(n) => n,
        Err(e) => {
            no(conn, tag, &format!("[CANNOT] {e}"));
            return Ok(());
        }
    };
    if !may_create(s, &int) {
        no(conn, tag, "[NOPERM] Permission denied");
        return Ok(());
    }
    let store = s.store();
    match store.create(&int, None, None) {
        Ok(e) => {
            if !uses.is_empty() {
                let v = uses.iter().map(|u| canonical_use(u)).collect::<Vec<_>>().join(" ");
                let _ = store.list.set_annotation(&int.0, SPECIAL_USE, "", Some(v.as_bytes()));
            }
            // RFC 8474: the new mailbox's id (its uniqueid, as Cyrus gives it).
            crate::reply::ok(conn, tag, &format!("[MAILBOXID ({})] Completed", e.uniqueid));
        }
        Err(e) => store_no(conn, tag, &e),
    }
    Ok(())
}

fn canonical_use(u: &str) -> String {
    SPECIAL_USES.iter().find(|x| x.eq_ignore_ascii_case(u)).map_or_else(|| u.to_string(), |x| x.to_string())
}

fn delete(s: &mut Session, conn: &mut Conn, tag: &str, mbox: &str) {
    let int = match s.internal(mbox) {
        Ok(n) => n,
        Err(e) => return no(conn, tag, &format!("[CANNOT] {e}")),
    };
    let store = s.store();
    let inbox = store.ns.inbox(s.userid());
    if int == inbox && !s.admin {
        return no(conn, tag, "[CANNOT] Cannot delete INBOX");
    }
    let rights = match s.rights(&int) {
        Ok((_, r)) => r,
        Err(e) => return store_no(conn, tag, &e),
    };
    if !rights.has('x') && !s.administers(&int) {
        return if rights.has('l') { no(conn, tag, "[NOPERM] Permission denied") } else { no(conn, tag, "[NONEXISTENT] Mailbox does not exist") };
    }
    // An admin deleting a user's INBOX deletes the user: every folder of theirs.
    let is_user_inbox = store.ns.owner(&int).is_some_and(|o| store.ns.inbox(&o) == int);
    let victims: Vec<InternalName> = if is_user_inbox && s.administers(&int) {
        let mut v: Vec<InternalName> = store.list.subtree(&int.0).unwrap_or_default().into_iter().map(|(n, _)| InternalName(n)).collect();
        v.reverse();
        v
    } else {
        vec![int.clone()]
    };
    if s.sel.as_ref().is_some_and(|x| victims.contains(&x.name)) {
        s.sel = None;
    }
    for v in &victims {
        if let Err(e) = store.delete(v) {
            return store_no(conn, tag, &e);
        }
    }
    log::info!("Deleted mailbox {} ({} folders) by {}", int.0, victims.len(), s.userid());
    done(conn, tag);
}

fn rename(s: &mut Session, conn: &mut Conn, tag: &str, from: &str, to: &str) {
    let (fint, tint) = match (s.internal(from), s.internal(to)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return no(conn, tag, &format!("[CANNOT] {e}")),
    };
    let store = s.store();
    let rights = match s.rights(&fint) {
        Ok((_, r)) => r,
        Err(e) => return store_no(conn, tag, &e),
    };
    if !rights.has('x') && !s.administers(&fint) {
        return if rights.has('l') { no(conn, tag, "[NOPERM] Permission denied") } else { no(conn, tag, "[NONEXISTENT] Mailbox does not exist") };
    }
    if !may_create(s, &tint) {
        return no(conn, tag, "[NOPERM] Permission denied");
    }
    if !(s.administers(&fint) && s.administers(&tint)) {
        // A rename never changes whose a mailbox is (the owner's implicit rights would
        // follow it), and every mailbox moved must be one the user may delete.
        if store.ns.owner(&fint) != store.ns.owner(&tint) {
            return no(conn, tag, "[NOPERM] Only administrators may move a mailbox to another owner");
        }
        for (n, e) in store.list.subtree(&fint.0).unwrap_or_default() {
            let int = InternalName(n);
            if !store.rights(s.userid(), &int, &e).has('x') {
                return no(conn, tag, "[NOPERM] Permission denied on a mailbox below");
            }
        }
    }
    if store.list.lookup(&tint.0).ok().flatten().is_some() {
        return no(conn, tag, "[ALREADYEXISTS] Mailbox already exists");
    }
    let inbox = store.ns.inbox(s.userid());
    if fint == inbox {
        // RFC 3501: renaming INBOX moves its messages to the new name; INBOX stays,
        // empty, and its children stay where they are.
        return rename_inbox(s, conn, tag, &fint, &tint);
    }
    if s.sel.as_ref().is_some_and(|x| x.name == fint || x.name.0.starts_with(&format!("{}.", fint.0))) {
        s.sel = None;
    }
    match store.rename(&fint, &tint) {
        Ok(()) => done(conn, tag),
        Err(e) => store_no(conn, tag, &e),
    }
}

fn rename_inbox(s: &mut Session, conn: &mut Conn, tag: &str, inbox: &InternalName, to: &InternalName) {
    let store = s.store();
    let entry = match store.lookup(inbox) {
        Ok(e) => e,
        Err(e) => return store_no(conn, tag, &e),
    };
    let acl = Acl::parse(&entry.acl).unwrap_or_default();
    if let Err(e) = store.create(to, Some(&entry.partition), Some(&acl)) {
        return store_no(conn, tag, &e);
    }
    let r = (|| -> Result<(), StoreError> {
        let (_, mut src) = store.open_mailbox(inbox)?;
        let (_, mut dst) = store.open_mailbox(to)?;
        let mut raws = Vec::new();
        let mut metas = Vec::new();
        for rec in src.records() {
            let rec = rec?;
            if rec.is_expunged() {
                continue;
            }
            raws.push(src.read_message(rec.uid)?);
            let kws: Vec<String> = src.user_flags().iter().enumerate().filter(|(i, _)| rec.has_user_flag(*i)).map(|(_, n)| n.clone()).collect();
            metas.push((rec.uid, rec.system_flags, kws, rec.internaldate, src.paths().message(rec.uid)));
        }
        if metas.is_empty() {
            return Ok(());
        }
        let kw: Vec<Vec<&str>> = metas.iter().map(|m| m.2.iter().map(String::as_str).collect()).collect();
        let msgs: Vec<mailbox::NewMessage> = metas
            .iter()
            .zip(&raws)
            .zip(&kw)
            .map(|((m, raw), k)| mailbox::NewMessage { raw, flags: m.1, keywords: k, internaldate: m.3, parsed: None, link_from: Some(m.4.as_path()) })
            .collect();
        store.append(to, &mut dst, &msgs, true)?;
        let uids: Vec<mailbox::Uid> = metas.iter().map(|m| m.0).collect();
        store.expunge(inbox, &mut src, &uids)?;
        Ok(())
    })();
    match r {
        Ok(()) => {
            s.updates(conn, true);
            done(conn, tag)
        }
        Err(e) => store_no(conn, tag, &e),
    }
}

// ---- LIST, LSUB ----

/// IMAP wildcard match: `*` matches anything, `%` anything but the separator.
pub fn wild(pat: &[u8], name: &[u8], sep: u8) -> bool {
    // Dynamic programming over (pattern, name) positions: linear in their product.
    let (m, n) = (pat.len(), name.len());
    let mut cur = vec![false; n + 1];
    cur[0] = true;
    for i in 0..m {
        let mut next = vec![false; n + 1];
        let c = pat[i];
        for j in 0..=n {
            if !cur[j] && !(c == b'*' || c == b'%') {
                continue;
            }
            match c {
                b'*' => {
                    if cur[j] {
                        for k in next.iter_mut().skip(j) {
                            *k = true;
                        }
                        break;
                    }
                }
                b'%' => {
                    if cur[j] {
                        next[j] = true;
                        let mut k = j;
                        while k < n && name[k] != sep {
                            k += 1;
                            next[k] = true;
                        }
                    }
                }
                _ => {
                    if cur[j] && j < n && name[j] == c {
                        next[j + 1] = true;
                    }
                }
            }
        }
        cur = next;
    }
    cur[n]
}

#[derive(Default, Clone)]
struct Info {
    int: Option<InternalName>,
    selectable: bool,
    children: bool,
    uses: String,
    subscribed: bool,
    /// A mailbox below it is subscribed (LSUB's \Noselect parents, CHILDINFO).
    subscribed_below: bool,
}

fn list(s: &mut Session, conn: &mut Conn, tag: &str, p: &mut Parser, lsub: bool) -> PResult<()> {
    p.sp()?;
    let (mut sel_subscribed, mut sel_special, mut recursive) = (false, false, false);
    if !lsub && p.eat(b'(') {
        while !p.eat(b')') {
            match p.keyword()?.as_str() {
                "SUBSCRIBED" => sel_subscribed = true,
                "SPECIAL-USE" => sel_special = true,
                "RECURSIVEMATCH" => recursive = true,
                "REMOTE" => {}
                other => return Err(format!("Unknown LIST selection option {other}")),
            }
            let _ = p.eat(b' ');
        }
        // RFC 5258 3: RECURSIVEMATCH needs a selection option it can apply to.
        if recursive && !sel_subscribed && !sel_special {
            return Err("Invalid combination of selection options".into());
        }
        p.sp()?;
    }
    let reference = p.astring_text()?;
    p.sp()?;
    let mut patterns = Vec::new();
    if !lsub && p.eat(b'(') {
        while !p.eat(b')') {
            patterns.push(p.list_mailbox()?);
            let _ = p.eat(b' ');
        }
    } else {
        patterns.push(p.list_mailbox()?);
    }
    let (mut ret_subscribed, mut ret_status, mut ret_metadata, mut ret_myrights) = (false, None, None, false);
    if !lsub && p.eat(b' ') {
        if !p.word("RETURN") {
            return Err("Expected RETURN".into());
        }
        p.sp()?;
        p.expect(b'(')?;
        while !p.eat(b')') {
            match p.keyword()?.as_str() {
                "SUBSCRIBED" => ret_subscribed = true,
                // Special-use and children attributes are always shown.
                "SPECIAL-USE" | "CHILDREN" => {}
                "STATUS" => {
                    p.sp()?;
                    ret_status = Some(status_items(p)?);
                }
                "METADATA" => ret_metadata = Some(crate::metadata::parse_list_option(p)?),
                "MYRIGHTS" => ret_myrights = true,
                other => return Err(format!("Unknown LIST return option {other}")),
            }
            let _ = p.eat(b' ');
        }
    }
    p.end()?;
    let sep = s.ns.sep();
    let cmd = if lsub { "LSUB" } else { "LIST" };
    if patterns.len() == 1 && patterns[0].is_empty() {
        // The hierarchy delimiter and root.
        let root = match reference.find(sep) {
            Some(i) => reference[..=i].to_string(),
            None => String::new(),
        };
        conn.write_fmt(format_args!("* {cmd} (\\Noselect) \"{sep}\" {}\r\n", quoted(&root)));
        done(conn, tag);
        return Ok(());
    }
    let store = s.store();
    let subs: HashSet<String> = store.list.subscriptions(s.userid()).unwrap_or_default().into_iter().collect();
    let mut names: BTreeMap<String, Info> = BTreeMap::new();
    // A domain's users walk only their domain's names (the others are sealed off by
    // the rights check below in any case).
    let prefix = if store.is_global_admin(s.userid()) { String::new() } else { store.ns.user_domain(s.userid()).map(|d| format!("{d}!")).unwrap_or_default() };
    let all = store.list.list(&prefix).map_err(|e| format!("mailbox list: {e}"))?;
    for (n, e) in all {
        if !e.is_normal() {
            continue;
        }
        let int = InternalName(n);
        // Cyrus's DELETED hierarchy (mailboxes deleted under Cyrus and taken over)
        // is for administrators to restore from, as in Cyrus.
        if !s.admin && int.0.split_once('!').map_or(int.0.as_str(), |(_, l)| l).starts_with(DELETED_PREFIX) {
            continue;
        }
        let r = store.rights(s.userid(), &int, &e);
        if !r.has('l') {
            continue;
        }
        let ext = s.external(&int);
        // A special use is the owner's own view of a personal mailbox (as in Cyrus,
        // where it is the owner's private annotation).
        let owner = store.ns.owner(&int);
        let uses = if owner.is_none() || owner.as_deref() == Some(s.userid()) {
            store.list.annotation(&int.0, SPECIAL_USE, "").ok().flatten().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default()
        } else {
            String::new()
        };
        let subscribed = subs.contains(&int.0);
        names.insert(ext, Info { int: Some(int), selectable: true, children: false, uses, subscribed, subscribed_below: false });
    }
    // LSUB lists subscriptions, existing or not.
    if lsub || sel_subscribed {
        for int in &subs {
            let ext = s.external(&InternalName(int.clone()));
            names.entry(ext).or_insert_with(|| Info { int: None, selectable: false, subscribed: true, ..Default::default() }).subscribed = true;
        }
    }
    // Parents: mark children, add missing ones as \Noselect.
    let keys: Vec<(String, bool)> = names.iter().map(|(k, i)| (k.clone(), i.subscribed)).collect();
    for (k, sub) in keys {
        let mut cut = k.as_str();
        while let Some(i) = cut.rfind(sep) {
            cut = &k[..i];
            let e = names.entry(cut.to_string()).or_insert_with(|| Info { int: None, selectable: false, ..Default::default() });
            e.children = true;
            e.subscribed_below |= sub;
        }
    }
    let mut out: Vec<u8> = Vec::new();
    for (ext, info) in &names {
        // A parent that is not a mailbox is listed (\Noselect) only for a `%` pattern
        // (RFC 3501 6.3.8; Cyrus lists none for `*`).
        let synthetic = info.int.is_none() && info.children;
        let full_match = patterns.iter().any(|pat| {
            if synthetic && !pat.contains('%') {
                return false;
            }
            let canon = format!("{reference}{pat}");
            // INBOX matches without regard to case.
            let canon = if canon.len() >= 5 && canon.is_char_boundary(5) && canon[..5].eq_ignore_ascii_case("INBOX") { format!("INBOX{}", &canon[5..]) } else { canon };
            wild(canon.as_bytes(), ext.as_bytes(), sep as u8)
        });
        if !full_match {
            continue;
        }
        // Not subscribed itself, but something below is: LSUB with `%` shows it as
        // \Noselect (RFC 3501 6.3.9), LIST (SUBSCRIBED RECURSIVEMATCH) with CHILDINFO
        // (RFC 5258 3.5).
        let percent = patterns.iter().any(|p| p.contains('%'));
        let sub_parent = !info.subscribed && info.subscribed_below && ((lsub && percent) || (sel_subscribed && recursive));
        if (lsub || sel_subscribed) && !info.subscribed && !sub_parent {
            continue;
        }
        // LSUB leaves out a subscription to a mailbox that is gone (as Cyrus does).
        if lsub && info.subscribed && info.int.is_none() && !info.children {
            continue;
        }
        if sel_special && info.uses.is_empty() && !(recursive && sub_parent) {
            continue;
        }
        if !info.selectable && !lsub && !info.children {
            // A subscription to a mailbox that does not exist.
            if !sel_subscribed {
                continue;
            }
        }
        let mut attrs: Vec<&str> = Vec::new();
        if lsub {
            if !info.selectable || sub_parent {
                attrs.push("\\Noselect");
            }
            // In LSUB, as Cyrus has it, \HasChildren is "has subscribed children".
            if info.subscribed_below {
                attrs.push("\\HasChildren");
            }
        } else {
            if info.int.is_none() && sel_subscribed {
                attrs.push("\\NonExistent");
            } else if !info.selectable {
                attrs.push("\\Noselect");
            }
            attrs.push(if info.children { "\\HasChildren" } else { "\\HasNoChildren" });
            if (ret_subscribed || sel_subscribed) && info.subscribed {
                attrs.push("\\Subscribed");
            }
        }
        attrs.extend(info.uses.split_whitespace());
        let childinfo = if sub_parent && !lsub { " (CHILDINFO (\"SUBSCRIBED\"))" } else { "" };
        out.extend_from_slice(format!("* {cmd} ({}) \"{sep}\" {}{childinfo}\r\n", attrs.join(" "), astring_out(ext)).as_bytes());
        if let (Some(items), Some(int), true) = (&ret_status, &info.int, info.selectable) {
            if let Ok(text) = status(s, int, items) {
                out.extend_from_slice(format!("* STATUS {} ({text})\r\n", astring_out(ext)).as_bytes());
            }
        }
        if let (true, Some(int), true) = (ret_myrights, &info.int, info.selectable) {
            // RFC 8440.
            if let Ok((_, r)) = s.rights(int) {
                out.extend_from_slice(format!("* MYRIGHTS {} {}\r\n", astring_out(ext), crate::access::rights_text(r)).as_bytes());
            }
        }
        if let (Some((entries, maxsize)), Some(int), true) = (&ret_metadata, &info.int, info.selectable) {
            out.extend_from_slice(&crate::metadata::list_line(s, int, ext, entries, *maxsize));
        }
    }
    conn.write(&out);
    done(conn, tag);
    Ok(())
}

// ---- STATUS ----

fn status_items(p: &mut Parser) -> PResult<Vec<String>> {
    p.expect(b'(')?;
    let mut v = Vec::new();
    while !p.eat(b')') {
        let k = p.keyword()?;
        if !matches!(k.as_str(), "MESSAGES" | "RECENT" | "UIDNEXT" | "UIDVALIDITY" | "UNSEEN" | "SIZE" | "HIGHESTMODSEQ" | "DELETED" | "MAILBOXID") {
            return Err(format!("Invalid STATUS item {}", k.chars().take(30).collect::<String>()));
        }
        v.push(k);
        let _ = p.eat(b' ');
    }
    if v.is_empty() {
        return Err("Missing STATUS items".into());
    }
    Ok(v)
}

fn status(s: &Session, int: &InternalName, items: &[String]) -> Result<String, StoreError> {
    let store = s.store();
    let (entry, rights) = s.rights(int)?;
    if !rights.has('r') {
        return Err(if rights.has('l') { StoreError::Denied(int.0.clone()) } else { StoreError::NotFound(int.0.clone()) });
    }
    let mb = Mailbox::open(&store.paths(int, &entry)?)?;
    let h = mb.header().clone();
    let owner_seen = store.ns.owner(int).as_deref() == Some(s.userid());
    let needs_scan = items.iter().any(|i| i == "RECENT" || (i == "UNSEEN" && !owner_seen));
    let (mut recent, mut unseen) = (0u32, h.exists.saturating_sub(h.seen));
    if needs_scan {
        let seen = if owner_seen { None } else { Some(store.list.seen(s.userid(), &entry.uniqueid).unwrap_or_default()) };
        let mut un = 0;
        for r in mb.records() {
            let r = r?;
            if r.is_expunged() {
                continue;
            }
            if r.uid.0 > h.recent_uid {
                recent += 1;
            }
            let is_seen = match &seen {
                None => r.has(mailbox::flag::SEEN),
                Some(set) => set.contains(r.uid.0),
            };
            if !is_seen {
                un += 1;
            }
        }
        unseen = un;
    }
    // The selected mailbox: this session's own view of \Recent.
    if let Some(sel) = s.sel.as_ref().filter(|x| x.name == *int) {
        recent = sel.uids.iter().filter(|u| sel.recent.contains(**u)).count() as u32;
    }
    let mut parts = Vec::new();
    for i in items {
        if i == "MAILBOXID" {
            parts.push(format!("MAILBOXID ({})", entry.uniqueid));
            continue;
        }
        let v: u64 = match i.as_str() {
            "MESSAGES" => u64::from(h.exists),
            "RECENT" => u64::from(recent),
            "UIDNEXT" => u64::from(h.last_uid) + 1,
            "UIDVALIDITY" => u64::from(h.uidvalidity),
            "UNSEEN" => u64::from(unseen),
            "HIGHESTMODSEQ" => h.highestmodseq.max(1),
            "DELETED" => u64::from(h.deleted),
            _ => h.quota_used,
        };
        parts.push(format!("{i} {v}"));
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wild(b"*", b"a/b/c", b'/'));
        assert!(wild(b"%", b"abc", b'/'));
        assert!(!wild(b"%", b"a/b", b'/'));
        assert!(wild(b"a/%", b"a/b", b'/'));
        assert!(wild(b"a*c", b"a/b/c", b'/'));
        assert!(!wild(b"a%c", b"a/b/c", b'/'));
        assert!(wild(b"INBOX", b"INBOX", b'/'));
        assert!(!wild(b"INBOX", b"INBOX/x", b'/'));
        assert!(wild(b"%/%", b"user/fred", b'/'));
    }
}
