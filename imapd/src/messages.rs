//! The commands on the messages of the selected mailbox: FETCH, STORE, SEARCH,
//! EXPUNGE (and CLOSE's silent expunge), APPEND, COPY and MOVE. The session, its
//! states and the mailbox commands are in [`crate::session`] and [`crate::folders`].

use crate::fetch::{self, Item};
use crate::parse::{self, PResult, Parser, compact};
use crate::search;
use crate::sync;
use crate::selected::{Selected, system_flag};
use crate::reply::{no, ok, store_no};
use crate::state::Session;
use mailbox::{FlagOp, NewMessage, flag};
use mboxlist::{InternalName, Store, StoreError};
use service::Conn;

/// Messages COPY and MOVE read into memory at a time.
const COPY_BATCH: usize = 256;

impl Session<'_> {
    /// Message numbers of a set; a message number past the last message is refused
    /// with NO (as Cyrus answers), except as the far end of a range (1:4294967295 is
    /// every message). Returns None when the NO was sent.
    pub(crate) fn msns(&self, conn: &mut Conn, tag: &str, set: &parse::SeqSet, uid: bool) -> Option<Vec<u32>> {
        let sel = self.sel.as_ref()?;
        if !uid && !set.is_saved() {
            let n = u64::from(sel.exists());
            let end = |x: u64| if x == parse::STAR { n } else { x };
            if set.0.iter().any(|&(a, b)| end(a).min(end(b)) > n || (n == 0 && (a == parse::STAR || b == parse::STAR))) {
                no(conn, tag, "Invalid message sequence number");
                return None;
            }
        }
        Some(sel.resolve(set, uid))
    }

    pub(crate) fn fetch(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser, uid: bool) -> PResult<()> {
        p.sp()?;
        let set = p.seqset()?;
        p.sp()?;
        let mut items = fetch::parse_items(p)?;
        let mods = if p.eat(b' ') { sync::parse_fetch_mods(p)? } else { Default::default() };
        p.end()?;
        if mods.vanished && !(uid && self.mode.qresync) {
            return Err("VANISHED needs UID FETCH and QRESYNC enabled".into());
        }
        if mods.changedsince.is_some() && !items.contains(&Item::Modseq) {
            items.push(Item::Modseq);
        }
        if items.contains(&Item::Modseq) {
            self.enable_condstore();
        }
        if uid && !items.contains(&Item::Uid) {
            items.insert(0, Item::Uid);
        }
        let Some(mut msns) = self.msns(conn, tag, &set, uid) else { return Ok(()) };
        let store = self.store();
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        if let Some(since) = mods.changedsince {
            if mods.vanished {
                let gone = sync::vanished_since(sel, &set.resolve(sel.mb.header().last_uid), since).map_err(|e| e.to_string())?;
                sync::write_vanished(conn, &gone, true);
            }
            msns.retain(|&m| sel.record(m).is_ok_and(|r| r.modseq.0 > since));
        }
        // \Seen first, in one write, for the messages a non-PEEK item reads.
        let sets_seen = items.iter().any(Item::sets_seen) && !sel.readonly && sel.rights.has('s');
        let mut newly_seen = std::collections::HashSet::new();
        if sets_seen {
            let mut unseen = Vec::new();
            for &m in &msns {
                if let Ok(r) = sel.record(m) {
                    if !sel.is_seen(&r) {
                        unseen.push(r.uid);
                    }
                }
            }
            if !unseen.is_empty() {
                newly_seen.extend(unseen.iter().map(|u| u.0));
                set_seen(store, sel, &unseen, FlagOp::Add);
            }
        }
        let wants_flags = items.contains(&Item::Flags);
        let mut out = Vec::with_capacity(4096);
        let mut failed = false;
        let mut unknown_cte = false;
        for &msn in &msns {
            let rec = match sel.record(msn) {
                Ok(r) => r,
                Err(e) => {
                    log::error!("{}: {e}", sel.name.0);
                    failed = true;
                    continue;
                }
            };
            let mb = &sel.mb;
            let read_payload = || mb.cache_entry(&rec).ok();
            let read_raw = || mb.read_message(rec.uid).ok();
            let mut src = fetch::Source { rec: &rec, payload: None, read_payload: &read_payload, parsed: None, raw: None, read_raw: &read_raw, unknown_cte: false };
            let flags = sel.flags_text(&rec);
            out.clear();
            out.extend_from_slice(format!("* {msn} FETCH (").as_bytes());
            let mut first = true;
            if !fetch::write_items(&mut out, &items, &mut src, &flags, &mut first) {
                failed = true;
            }
            unknown_cte |= src.unknown_cte;
            if !wants_flags && newly_seen.contains(&rec.uid.0) {
                out.extend_from_slice(format!(" FLAGS {flags}").as_bytes());
                // CONDSTORE: a FETCH that changed flags says with what modseq.
                if sel.mode.condstore && !items.contains(&Item::Modseq) {
                    out.extend_from_slice(format!(" MODSEQ ({})", rec.modseq.0).as_bytes());
                }
            }
            out.extend_from_slice(b")\r\n");
            conn.write(&out);
        }
        // Expunges wait (RFC 3501 7.4.1) unless this is UID FETCH.
        self.updates(conn, false);
        if unknown_cte {
            no(conn, tag, "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
        } else if failed {
            no(conn, tag, "[SERVERBUG] Some messages could not be read");
        } else {
            ok(conn, tag, "Completed");
        }
        Ok(())
    }

    pub(crate) fn store_flags(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser, uid: bool) -> PResult<()> {
        p.sp()?;
        let set = p.seqset()?;
        p.sp()?;
        let unchangedsince = if p.peek() == Some(b'(') {
            let n = sync::parse_store_mods(p)?;
            p.sp()?;
            Some(n)
        } else {
            None
        };
        let op_word = p.keyword()?;
        let (op, silent) = match op_word.as_str() {
            "FLAGS" => (FlagOp::Replace, false),
            "FLAGS.SILENT" => (FlagOp::Replace, true),
            "+FLAGS" => (FlagOp::Add, false),
            "+FLAGS.SILENT" => (FlagOp::Add, true),
            "-FLAGS" => (FlagOp::Remove, false),
            "-FLAGS.SILENT" => (FlagOp::Remove, true),
            _ => return Err("Invalid STORE data item".into()),
        };
        p.sp()?;
        let flags = p.flag_list(true)?;
        p.end()?;
        if unchangedsince.is_some() {
            self.enable_condstore();
        }
        let Some(msns) = self.msns(conn, tag, &set, uid) else { return Ok(()) };
        let store = self.store();
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        if sel.readonly {
            no(conn, tag, "[READ-ONLY] Mailbox is read-only");
            return Ok(());
        }
        let mut sys = 0u32;
        let mut kws: Vec<String> = Vec::new();
        for f in &flags {
            if f.starts_with('\\') {
                match system_flag(f) {
                    Some(b) => sys |= b,
                    None if f.eq_ignore_ascii_case("\\Recent") => return Err("\\Recent cannot be stored".into()),
                    None => return Err(format!("Invalid system flag {f}")),
                }
            } else {
                kws.push(f.clone());
            }
        }
        // Rights (RFC 4314): flags the user may not change are left alone.
        let r = sel.rights;
        sys = allowed_flags(sys, r);
        if !r.has('w') {
            kws.clear();
        }
        let mut uids = Vec::with_capacity(msns.len());
        // UNCHANGEDSINCE: messages changed after it are left alone and named in
        // [MODIFIED] (checked again under the lock below).
        let mut modified: Vec<u32> = Vec::new();
        for &m in &msns {
            match sel.record(m) {
                Ok(r) if unchangedsince.is_some_and(|n| r.modseq.0 > n) => modified.push(if uid { r.uid.0 } else { m }),
                Ok(r) => uids.push(r.uid),
                Err(e) => log::error!("{}: {e}", sel.name.0),
            }
        }
        let kw_refs: Vec<&str> = kws.iter().map(String::as_str).collect();
        let index_sys = if sel.seen_db.is_some() { sys & !flag::SEEN } else { sys };
        // The seen database for non-owners.
        if sel.seen_db.is_some() && r.has('s') {
            let seen_op = match op {
                FlagOp::Replace => Some(if sys & flag::SEEN != 0 { FlagOp::Add } else { FlagOp::Remove }),
                _ if sys & flag::SEEN != 0 => Some(op),
                _ => None,
            };
            if let Some(o) = seen_op {
                set_seen(store, sel, &uids, o);
            }
        }
        let result = (|| {
            let mut w = sel.mb.lock()?;
            let mut late = Vec::new();
            if let Some(n) = unchangedsince {
                let mut cursor = 0;
                uids.retain(|&u| match w.mailbox().seek(u, &mut cursor) {
                    Ok(Some((_, r))) if r.modseq.0 > n => {
                        late.push(u.0);
                        false
                    }
                    _ => true,
                });
            }
            let before = w.mailbox().header().highestmodseq;
            let changed = if op == FlagOp::Replace && (!r.has('s') || !r.has('t') || !r.has('w') || sel.seen_db.is_some()) {
                // Replace only what the user may change: remove the rest of the
                // changeable flags, then add.
                let mut removable = 0;
                if r.has('w') {
                    removable |= flag::ANSWERED | flag::FLAGGED | flag::DRAFT;
                }
                if r.has('t') {
                    removable |= flag::DELETED;
                }
                if r.has('s') && sel.seen_db.is_none() {
                    removable |= flag::SEEN;
                }
                let all_kw: Vec<String> = if r.has('w') { w.mailbox().user_flags().to_vec() } else { vec![] };
                let all_kw: Vec<&str> = all_kw.iter().map(String::as_str).filter(|k| !kw_refs.iter().any(|x| x.eq_ignore_ascii_case(k))).collect();
                let mut c = w.store(&uids, FlagOp::Remove, removable & !index_sys, &all_kw)?;
                c.extend(w.store(&uids, FlagOp::Add, index_sys, &kw_refs)?);
                c
            } else {
                w.store(&uids, op, index_sys, &kw_refs)?
            };
            let after = w.mailbox().header().highestmodseq;
            let changed: std::collections::HashSet<u32> = changed.iter().map(|r| r.uid.0).collect();
            Ok::<_, mailbox::Error>((before, after, changed, late))
        })();
        let changed = match result {
            Ok((before, after, changed, late)) => {
                sel.own_write(before, after);
                modified.extend(late.iter().map(|&u| if uid { u } else { sel.msn_of(u).unwrap_or(0) }));
                changed
            }
            Err(e) => {
                store_no(conn, tag, &StoreError::from(e));
                return Ok(());
            }
        };
        // Updates first: new keywords must be announced before the FETCHes use them.
        self.updates(conn, false);
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        modified.sort_unstable();
        for &m in &msns {
            let Ok(rec) = sel.record(m) else { continue };
            if modified.binary_search(&if uid { rec.uid.0 } else { m }).is_ok() {
                continue;
            }
            if !silent {
                conn.write(sel.fetch_flags_line(m, &rec, uid).as_bytes());
            } else if sel.mode.condstore && changed.contains(&rec.uid.0) {
                // .SILENT still tells a CONDSTORE client the new modseq (RFC 7162 3.1.3).
                conn.write_fmt(format_args!("* {m} FETCH (UID {} MODSEQ ({}))\r\n", rec.uid.0, rec.modseq.0));
            }
        }
        self.updates(conn, false);
        if modified.is_empty() {
            ok(conn, tag, "Completed");
        } else {
            ok(conn, tag, &format!("[MODIFIED {}] Conditional STORE failed", compact(&modified)));
        }
        Ok(())
    }

    pub(crate) fn search(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser, uid: bool) -> PResult<()> {
        p.sp()?;
        let ret = search::parse_return(p)?;
        if p.word("CHARSET") {
            p.sp()?;
            if !search::charset_ok(&p.astring_text()?) {
                no(conn, tag, search::BADCHARSET);
                return Ok(());
            }
            p.sp()?;
        }
        let mut prog = search::parse_program(p)?;
        p.end()?;
        // IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 7.3.4).
        let ret = if ret.is_none() && self.mode.rev2 { Some(search::Return { all: true, ..Default::default() }) } else { ret };
        let with_modseq = self.prepare_program(&mut prog);
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        let found = search::hits(sel, &prog);
        let top_modseq = found.iter().map(|(_, r)| r.modseq.0).max().unwrap_or(0);
        let nums: Vec<u32> = found.iter().map(|(m, r)| if uid { r.uid.0 } else { *m }).collect();
        if let Some(r) = ret.as_ref().filter(|r| r.save) {
            // RFC 5182 2.4: with MIN and/or MAX only those are kept.
            let uids: Vec<u32> = found.iter().map(|(_, r)| r.uid.0).collect();
            sel.saved = if (r.min || r.max) && !r.all && !r.count {
                let mut v: Vec<u32> = Vec::new();
                if r.min {
                    v.extend(uids.first());
                }
                if r.max {
                    v.extend(uids.last());
                }
                v.dedup();
                v
            } else {
                uids
            };
        }
        match ret {
            // SAVE alone: no ESEARCH at all.
            Some(r) if r.save && !(r.min || r.max || r.count || r.all) => {}
            None => {
                let mut line = String::from("* SEARCH");
                for x in &nums {
                    line.push(' ');
                    line.push_str(&x.to_string());
                }
                if with_modseq && !nums.is_empty() {
                    line.push_str(&format!(" (MODSEQ {top_modseq})"));
                }
                line.push_str("\r\n");
                conn.write(line.as_bytes());
            }
            Some(r) => conn.write(search::esearch(tag, uid, &r, &nums, with_modseq.then_some(top_modseq)).as_bytes()),
        }
        self.updates(conn, false);
        ok(conn, tag, "Completed");
        Ok(())
    }

    /// Expunges the \Deleted messages of the selected mailbox (only those in `only`
    /// when given). Returns the UIDs expunged.
    pub(crate) fn expunge_deleted(&mut self, only: Option<&[u32]>) -> Result<Vec<mailbox::Uid>, StoreError> {
        let store = self.store();
        let Some(sel) = self.sel.as_mut() else { return Ok(vec![]) };
        if sel.readonly || !sel.rights.has('e') {
            return Err(StoreError::Denied(sel.name.0.clone()));
        }
        let mut uids = Vec::new();
        for i in 0..sel.mb.len() {
            let r = sel.mb.record(i)?;
            if !r.is_expunged() && r.has(flag::DELETED) && only.is_none_or(|o| o.binary_search(&r.uid.0).is_ok()) {
                uids.push(r.uid);
            }
        }
        if uids.is_empty() {
            return Ok(uids);
        }
        store.expunge(&sel.name, &mut sel.mb, &uids)
    }

    pub(crate) fn expunge(&mut self, conn: &mut Conn, tag: &str, set: Option<&parse::SeqSet>) {
        let only = match set {
            Some(s) => {
                let sel = self.sel.as_ref();
                let max = sel.map_or(0, |x| x.max_uid());
                let ranges = s.resolve(max);
                let mut v: Vec<u32> = match sel {
                    Some(x) if s.is_saved() => x.saved.clone(),
                    Some(x) => x.uids.iter().copied().filter(|&u| ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))).collect(),
                    None => Vec::new(),
                };
                v.sort_unstable();
                Some(v)
            }
            None => None,
        };
        match self.expunge_deleted(only.as_deref()) {
            Ok(_) => {
                self.updates(conn, true);
                ok(conn, tag, "Completed");
            }
            Err(StoreError::Denied(_)) => {
                let ro = self.sel.as_ref().is_some_and(|s| s.readonly);
                no(conn, tag, if ro { "[READ-ONLY] Mailbox is read-only" } else { "[NOPERM] Permission denied" });
            }
            Err(e) => store_no(conn, tag, &e),
        }
    }

    // ---- COPY, MOVE (APPEND is in crate::append) ----

    /// The mailbox an APPEND, COPY or MOVE puts messages into, if it exists and the
    /// user has `i` there; otherwise the NO is sent (`[TRYCREATE]` when it is missing).
    pub(crate) fn insert_target(&self, conn: &mut Conn, tag: &str, mbox: &str) -> Option<(InternalName, mboxlist::Entry)> {
        let name = match self.internal(mbox) {
            Ok(n) => n,
            Err(e) => {
                no(conn, tag, &format!("[CANNOT] {e}"));
                return None;
            }
        };
        match self.rights(&name) {
            Ok((e, r)) if r.has('i') => Some((name, e)),
            Ok((_, r)) if r.has('l') => {
                no(conn, tag, "[NOPERM] Permission denied");
                None
            }
            Ok(_) => {
                // Not even visible: as if it did not exist.
                no(conn, tag, "[TRYCREATE] Mailbox does not exist");
                None
            }
            Err(StoreError::NotFound(_)) => {
                no(conn, tag, "[TRYCREATE] Mailbox does not exist");
                None
            }
            Err(e) => {
                store_no(conn, tag, &e);
                None
            }
        }
    }

    pub(crate) fn copy(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser, uid: bool, mv: bool) -> PResult<()> {
        p.sp()?;
        let set = p.seqset()?;
        p.sp()?;
        let mbox = p.mailbox()?;
        p.end()?;
        let Some(msns) = self.msns(conn, tag, &set, uid) else { return Ok(()) };
        let Some((name, dentry)) = self.insert_target(conn, tag, &mbox) else { return Ok(()) };
        let drights = self.store().rights(self.userid(), &name, &dentry);
        let store = self.store();
        let userid = self.userid().to_string();
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        if mv && (sel.readonly || !sel.rights.has('e') || !sel.rights.has('t')) {
            no(conn, tag, "[NOPERM] Permission denied: cannot expunge from this mailbox");
            return Ok(());
        }
        if msns.is_empty() {
            ok(conn, tag, "Completed");
            return Ok(());
        }
        let dest_owner_is_user = store.ns.owner(&name).as_deref() == Some(userid.as_str());
        // A move within one quota root does not grow its usage: never refused for quota.
        let src_root = store.list.quota_root_of(&sel.name.0).ok().flatten();
        let dst_root = store.list.quota_root_of(&name.0).ok().flatten();
        let force = mv && src_root == dst_root;
        let same_mailbox = name == sel.name;
        // The quota is checked for the whole set before anything is copied, so that a
        // COPY is refused whole; the batches below are then charged as they go.
        if !force {
            if let Some(q) = dst_root.as_deref().and_then(|r| store.list.quota(r).ok().flatten()) {
                let mut bytes = 0i64;
                for &m in &msns {
                    bytes += sel.record(m).map(|r| i64::from(r.size)).unwrap_or(0);
                }
                if q.would_exceed(bytes, msns.len() as i64) {
                    service::metrics::inc(service::metrics::Slot::QUOTA_REFUSED);
                    no(conn, tag, "[OVERQUOTA] Over quota");
                    return Ok(());
                }
            }
        }
        let mut dest = if same_mailbox {
            None
        } else {
            match store.open_mailbox(&name) {
                Ok((_, mb)) => Some(mb),
                Err(e) => {
                    store_no(conn, tag, &e);
                    return Ok(());
                }
            }
        };
        // In batches, so that memory stays bounded whatever the set: each batch's
        // bytes are read (for the new cache entries and checksums), its files linked.
        let mut metas = Vec::with_capacity(msns.len());
        let mut new_uids = Vec::with_capacity(msns.len());
        for chunk in msns.chunks(COPY_BATCH) {
            let mut raws = Vec::with_capacity(chunk.len());
            let first = metas.len();
            for &m in chunk {
                let rec = match sel.record(m) {
                    Ok(r) => r,
                    Err(e) => {
                        no(conn, tag, &format!("[SERVERBUG] {e}"));
                        return Ok(());
                    }
                };
                let raw = match sel.mb.read_message(rec.uid) {
                    Ok(r) => r,
                    Err(e) => {
                        no(conn, tag, &format!("[SERVERBUG] {e}"));
                        return Ok(());
                    }
                };
                let kws: Vec<String> = sel.mb.user_flags().iter().enumerate().filter(|(i, _)| rec.has_user_flag(*i)).map(|(_, n)| n.clone()).collect();
                let parsed = sel.mb.cache_entry(&rec).ok().and_then(mailbox::cache::structure);
                metas.push((rec.uid, sel.sys_flags(&rec), kws, rec.internaldate, parsed, sel.mb.paths().message(rec.uid)));
                raws.push(raw);
            }
            let batch = &metas[first..];
            let kw_refs: Vec<Vec<&str>> = batch.iter().map(|m| m.2.iter().map(String::as_str).collect()).collect();
            let msgs: Vec<NewMessage> = batch
                .iter()
                .zip(&raws)
                .zip(&kw_refs)
                .map(|((m, raw), kws)| NewMessage {
                    raw,
                    flags: if dest_owner_is_user { allowed_flags(m.1, drights) } else { allowed_flags(m.1, drights) & !flag::SEEN },
                    keywords: if drights.has('w') { kws } else { &[] },
                    internaldate: m.3,
                    parsed: m.4.as_ref(),
                    link_from: Some(m.5.as_path()),
                })
                .collect();
            let result = match dest.as_mut() {
                Some(dmb) => store.append(&name, dmb, &msgs, true),
                None => store.append(&name, &mut sel.mb, &msgs, true),
            };
            match result {
                Ok(u) => new_uids.extend(u),
                Err(e) => {
                    store_no(conn, tag, &e);
                    return Ok(());
                }
            }
        }
        // \Seen for a non-owner destination lives in the seen database.
        let seen_uids: Vec<u32> = metas.iter().zip(&new_uids).filter(|(m, _)| m.1 & flag::SEEN != 0 && drights.has('s')).map(|(_, u)| u.0).collect();
        if !dest_owner_is_user && !seen_uids.is_empty() {
            let mut s = store.list.seen(&userid, &dentry.uniqueid).unwrap_or_default();
            for u in seen_uids {
                s.insert(u);
            }
            let _ = store.list.set_seen(&userid, &dentry.uniqueid, &s);
        }
        let src: Vec<u32> = metas.iter().map(|m| m.0.0).collect();
        let dst: Vec<u32> = new_uids.iter().map(|u| u.0).collect();
        let uidvalidity = dentry.uidvalidity;
        let code = format!("[COPYUID {uidvalidity} {} {}]", compact(&src), compact(&dst));
        if mv {
            let uids: Vec<mailbox::Uid> = metas.iter().map(|m| m.0).collect();
            if let Err(e) = store.expunge(&sel.name.clone(), &mut sel.mb, &uids) {
                log::error!("MOVE: copied to {} but not expunged from {}: {e}", name.0, sel.name.0);
                no(conn, tag, "[SERVERBUG] Messages were copied but could not be removed");
                return Ok(());
            }
            conn.write_fmt(format_args!("* OK {code} Moved\r\n"));
            self.updates(conn, true);
            ok(conn, tag, "Completed");
        } else {
            self.updates(conn, uid);
            ok(conn, tag, &format!("{code} Completed"));
        }
        Ok(())
    }
}

/// The system flags of `sys` that `rights` allow setting (RFC 4314 4): \Seen needs
/// `s`, \Deleted `t`, the others `w`.
pub(crate) fn allowed_flags(sys: u32, rights: mboxlist::Rights) -> u32 {
    let mut f = sys & flag::IMAP;
    if !rights.has('s') {
        f &= !flag::SEEN;
    }
    if !rights.has('t') {
        f &= !flag::DELETED;
    }
    if !rights.has('w') {
        f &= flag::SEEN | flag::DELETED;
    }
    f
}

/// Adds or removes \Seen for `uids` as this user keeps it.
fn set_seen(store: &Store, sel: &mut Selected, uids: &[mailbox::Uid], op: FlagOp) {
    if sel.seen_db.is_some() {
        // Another session of this user may have changed the set: start from the stored one.
        if let Ok(fresh) = store.list.seen(&sel.userid, &sel.uniqueid) {
            sel.seen_db = Some(fresh);
        }
    }
    if let Some(s) = sel.seen_db.as_mut() {
        for u in uids {
            if op == FlagOp::Remove {
                s.remove(u.0);
            } else {
                s.insert(u.0);
            }
        }
        if let Err(e) = sel.save_seen(store) {
            log::error!("seen database: {e}");
        }
        return;
    }
    let r = sel.mb.lock().and_then(|mut w| {
        let before = w.mailbox().header().highestmodseq;
        w.store(uids, op, flag::SEEN, &[])?;
        Ok((before, w.mailbox().header().highestmodseq))
    });
    match r {
        Ok((b, a)) => sel.own_write(b, a),
        Err(e) => log::error!("{}: setting \\Seen failed: {e}", sel.name.0),
    }
}
