//! Who may do what, and how much: the ACL commands (RFC 4314: SETACL, DELETEACL,
//! GETACL, LISTRIGHTS, MYRIGHTS, with RIGHTS=kxten and the obsolete c and d) and the
//! QUOTA commands (RFC 9208: GETQUOTA, GETQUOTAROOT, SETQUOTA for admins).

use crate::parse::{PResult, Parser, astring_out};
use crate::reply::{done, no, store_no};
use crate::state::Session;
use mboxlist::{Acl, InternalName, Rights, StoreError};
use service::Conn;

// ---- ACL (RFC 4314) ----

pub(crate) fn acl(s: &mut Session, conn: &mut Conn, tag: &str, name: &str, p: &mut Parser) -> PResult<()> {
    p.sp()?;
    let mbox = p.mailbox()?;
    let (id, rights_arg) = match name {
        "SETACL" => {
            p.sp()?;
            let id = p.astring_text()?;
            p.sp()?;
            (Some(id), Some(p.astring_text()?))
        }
        "DELETEACL" | "LISTRIGHTS" => {
            p.sp()?;
            (Some(p.astring_text()?), None)
        }
        _ => (None, None),
    };
    p.end()?;
    let int = match s.internal(&mbox) {
        Ok(n) => n,
        Err(e) => {
            no(conn, tag, &format!("[CANNOT] {e}"));
            return Ok(());
        }
    };
    let (entry, mine) = match s.rights(&int) {
        Ok(x) => x,
        Err(e) => {
            store_no(conn, tag, &e);
            return Ok(());
        }
    };
    let store = s.store();
    let shown = astring_out(&mbox);
    if name == "MYRIGHTS" {
        if mine.is_empty() {
            no(conn, tag, "[NONEXISTENT] Mailbox does not exist");
        } else {
            conn.write_fmt(format_args!("* MYRIGHTS {shown} {}\r\n", rights_text(mine)));
            done(conn, tag);
        }
        return Ok(());
    }
    if !mine.has('a') {
        no(conn, tag, if mine.has('l') { "[NOPERM] Permission denied" } else { "[NONEXISTENT] Mailbox does not exist" });
        return Ok(());
    }
    let mut acl = match Acl::parse(&entry.acl) {
        Ok(a) => a,
        Err(e) => {
            // Never rewrite an ACL we cannot read whole: entries would be lost.
            log::error!("{}: stored ACL unreadable ({e}); ACL commands refused", int.0);
            no(conn, tag, "[SERVERBUG] The stored ACL cannot be read; see the log");
            return Ok(());
        }
    };
    match name {
        "GETACL" => {
            let mut line = format!("* ACL {shown}");
            for (who, r) in &acl.0 {
                line.push_str(&format!(" {} {}", astring_out(who), rights_text(*r)));
            }
            conn.write_fmt(format_args!("{line}\r\n"));
            done(conn, tag);
        }
        "LISTRIGHTS" => {
            let id = id.unwrap_or_default();
            // As Cyrus: the owner always has lkxan (and c, the old name of k); every
            // other right, and the ten user-defined ones, may be granted.
            let owner = store.ns.owner(&int);
            let required = if owner.as_deref() == Some(id.as_str()) { "lkxcan" } else { "" };
            let optional: Vec<String> = "lrswipkxtecdan".chars().filter(|c| !required.contains(*c)).map(String::from).collect();
            conn.write_fmt(format_args!(
                "* LISTRIGHTS {shown} {} {} {} 0 1 2 3 4 5 6 7 8 9\r\n",
                astring_out(&id),
                if required.is_empty() { "\"\"".to_string() } else { required.to_string() },
                optional.join(" ")
            ));
            done(conn, tag);
        }
        _ => {
            let granting = rights_arg.as_deref().is_some_and(|t| !t.trim_start_matches(['+', '-']).is_empty());
            let id = match store.acl_identifier(&int, &id.unwrap_or_default(), granting) {
                Ok(id) => id,
                Err(e) => {
                    no(conn, tag, &format!("Invalid identifier: {}", e.0));
                    return Ok(());
                }
            };
            let new = match rights_arg {
                None => Rights::default(),
                Some(text) => {
                    let (mode, letters) = match text.chars().next() {
                        Some('+') => (1, &text[1..]),
                        Some('-') => (-1, &text[1..]),
                        _ => (0, text.as_str()),
                    };
                    let letters = expand_legacy(letters);
                    let r = match Rights::parse(&letters) {
                        Ok(r) => r,
                        Err(c) => {
                            conn.write_fmt(format_args!("{tag} BAD Invalid right '{c}'\r\n"));
                            return Ok(());
                        }
                    };
                    let cur = acl.0.iter().find(|(w, _)| *w == id).map(|(_, r)| *r).unwrap_or_default();
                    match mode {
                        1 => cur.union(r),
                        -1 => cur.minus(r),
                        _ => r,
                    }
                }
            };
            acl.set(&id, new);
            match store.set_acl(&int, &acl) {
                Ok(()) => {
                    let userid = s.userid().to_string();
                    if let Some(sel) = s.sel.as_mut().filter(|x| x.name == int) {
                        if let Ok(e) = store.lookup(&int) {
                            sel.rights = store.rights(&userid, &int, &e);
                        }
                    }
                    done(conn, tag)
                }
                Err(e) => store_no(conn, tag, &e),
            }
        }
    }
    Ok(())
}

/// RFC 4314 2.1.1: the obsolete `c` means `k` and `d` means `x`, `t` and `e` (both are
/// also kept, as Cyrus does, so that old clients see them again).
fn expand_legacy(letters: &str) -> String {
    let mut s = letters.to_string();
    if letters.contains('c') {
        s.push('k');
    }
    if letters.contains('d') {
        s.push_str("xte");
    }
    s
}

pub(crate) fn rights_text(r: Rights) -> String {
    let mut s = r.to_string();
    // Clients of RFC 2086 look for c and d: shown when their modern rights are there.
    if r.has('k') && !s.contains('c') {
        s.push('c');
    }
    if r.has('x') && r.has('t') && r.has('e') && !s.contains('d') {
        s.push('d');
    }
    let order = mboxlist::acl::ALL_RIGHTS;
    let mut v: Vec<char> = s.chars().collect();
    v.sort_by_key(|c| order.find(*c).unwrap_or(99));
    v.dedup();
    v.into_iter().collect()
}

// ---- QUOTA (RFC 9208) ----

/// How quota roots are named to clients: as the user sees that mailbox (`INBOX` for
/// one's own root, `user/fred` for an admin), as Cyrus does.
fn root_external(s: &Session, root: &str) -> String {
    s.external(&InternalName(root.to_string()))
}

fn root_internal(s: &Session, ext: &str) -> Result<InternalName, String> {
    s.internal(ext)
}

fn quota_line(s: &Session, root: &str) -> Option<String> {
    let q = s.store().list.quota(root).ok()??;
    let mut parts = Vec::new();
    if let Some(l) = q.storage_limit_kib {
        parts.push(format!("STORAGE {} {l}", q.storage_used / 1024));
    }
    if let Some(l) = q.message_limit {
        parts.push(format!("MESSAGE {} {l}", q.message_used));
    }
    Some(format!("* QUOTA {} ({})\r\n", astring_out(&root_external(s, root)), parts.join(" ")))
}

pub(crate) fn quota(s: &mut Session, conn: &mut Conn, tag: &str, name: &str, p: &mut Parser) -> PResult<()> {
    p.sp()?;
    let arg = p.astring_text()?;
    let mut limits = None;
    if name == "SETQUOTA" {
        p.sp()?;
        p.expect(b'(')?;
        let (mut storage, mut messages) = (None, None);
        while !p.eat(b')') {
            let res = p.keyword()?;
            p.sp()?;
            let n = p.number()?;
            match res.as_str() {
                "STORAGE" => storage = Some(n),
                "MESSAGE" => messages = Some(n),
                _ => {
                    no(conn, tag, &format!("[CANNOT] Unsupported quota resource {res}"));
                    return Ok(());
                }
            }
            let _ = p.eat(b' ');
        }
        limits = Some((storage, messages));
    }
    p.end()?;
    let store = s.store();
    match name {
        "GETQUOTAROOT" => {
            let int = match s.internal(&arg) {
                Ok(n) => n,
                Err(e) => {
                    no(conn, tag, &format!("[CANNOT] {e}"));
                    return Ok(());
                }
            };
            match s.rights(&int) {
                Ok((_, r)) if !r.is_empty() => {}
                Ok(_) => {
                    no(conn, tag, "[NONEXISTENT] Mailbox does not exist");
                    return Ok(());
                }
                Err(e) => {
                    store_no(conn, tag, &e);
                    return Ok(());
                }
            }
            let root = store.list.quota_root_of(&int.0).ok().flatten();
            match &root {
                Some(r) => conn.write_fmt(format_args!("* QUOTAROOT {} {}\r\n", astring_out(&arg), astring_out(&root_external(s, r)))),
                None => conn.write_fmt(format_args!("* QUOTAROOT {}\r\n", astring_out(&arg))),
            }
            if let Some(line) = root.as_deref().and_then(|r| quota_line(s, r)) {
                conn.write(line.as_bytes());
            }
            done(conn, tag);
        }
        "GETQUOTA" => {
            let int = match root_internal(s, &arg) {
                Ok(n) => n,
                Err(e) => {
                    no(conn, tag, &format!("[CANNOT] {e}"));
                    return Ok(());
                }
            };
            let own = store.ns.owner(&int).as_deref() == Some(s.userid());
            if !s.administers(&int) && !own {
                no(conn, tag, "[NOPERM] Permission denied");
                return Ok(());
            }
            match quota_line(s, &int.0) {
                Some(line) => {
                    conn.write(line.as_bytes());
                    done(conn, tag);
                }
                None => no(conn, tag, "[NONEXISTENT] Quota root does not exist"),
            }
        }
        _ => {
            let int = match root_internal(s, &arg) {
                Ok(n) => n,
                Err(e) => {
                    no(conn, tag, &format!("[CANNOT] {e}"));
                    return Ok(());
                }
            };
            if !s.administers(&int) {
                no(conn, tag, "[NOPERM] Only administrators may set quotas");
                return Ok(());
            }
            if store.list.lookup(&int.0).ok().flatten().is_none() {
                no(conn, tag, "[NONEXISTENT] Mailbox does not exist");
                return Ok(());
            }
            let (storage, messages) = limits.unwrap_or((None, None));
            let existed = store.list.quota(&int.0).ok().flatten().is_some();
            if let Err(e) = store.list.set_quota_limits(&int.0, storage, messages) {
                store_no(conn, tag, &StoreError::Internal(e));
                return Ok(());
            }
            if !existed && (storage.is_some() || messages.is_some()) {
                // A new root: count what is already under it.
                if let Ok((b, m)) = store.usage_of_root(&int.0) {
                    let _ = store.list.quota_set_usage(&int.0, b, m);
                }
            }
            if let Some(line) = quota_line(s, &int.0) {
                conn.write(line.as_bytes());
            }
            done(conn, tag);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_rights() {
        assert_eq!(rights_text(Rights::parse("lrswipkxtea").unwrap()), "lrswipkxtecda");
        assert_eq!(expand_legacy("lrc"), "lrck");
    }
}
