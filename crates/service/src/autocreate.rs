//! Users appear as Cyrus makes them: an INBOX created at first login (imapd, pop3d,
//! timsieved, when `autocreate_quota` is 0 or more) or at first delivery (lmtpd, with
//! `autocreate_post` too), in the user's domain, with the `autocreate_*` options of
//! Cyrus 3.x: quota, folders with their special uses (`xlist-FLAG`), extra ACL
//! entries, subscriptions (own and shared folders) and a first Sieve script.
//!
//! As in Cyrus: admins, `proxyservers` and `anonymous` never get an INBOX, only users
//! of `autocreate_users` do, and a part that fails (a folder, a subscription, the
//! script) is logged and skipped without undoing the INBOX. Every step is logged as
//! `autocreate: ...`.

use conf::Config;
use mboxlist::{Acl, InternalName, Rights, Store, StoreError};

/// The special-use annotation, as imapd keeps it (RFC 6154 through METADATA).
const SPECIAL_USE: &str = "/specialuse";

fn bar_list(cfg: &Config, name: &str) -> Vec<String> {
    cfg.get_str(name).unwrap_or("").split('|').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// At login: makes `userid`'s INBOX if it has none and `autocreate_quota` asks for it.
/// Returns whether one was made.
pub fn at_login(cfg: &Config, store: &Store, userid: &str) -> bool {
    cfg.get_int("autocreate_quota") >= 0 && user(cfg, store, userid)
}

/// At delivery: the same, with `autocreate_post` on too.
pub fn at_delivery(cfg: &Config, store: &Store, userid: &str) -> bool {
    cfg.get_bool("autocreate_post") && at_login(cfg, store, userid)
}

fn may_have_one(cfg: &Config, store: &Store, userid: &str) -> bool {
    if matches!(userid, "anonymous" | "anyone") || store.is_admin(userid) || cfg.get_list("proxyservers").iter().any(|p| p == userid) {
        return false;
    }
    let allowed = cfg.get_list("autocreate_users");
    allowed.iter().any(|a| a == "anyone" || a == userid)
}

fn user(cfg: &Config, store: &Store, userid: &str) -> bool {
    let inbox = store.ns.inbox(userid);
    match store.list.lookup(&inbox.0) {
        Ok(None) => {}
        _ => return false,
    }
    if !may_have_one(cfg, store, userid) {
        log::debug!("autocreate: {userid} is not of autocreate_users; no INBOX made");
        return false;
    }
    match store.create(&inbox, None, None) {
        Ok(_) => {}
        // Another session of the same user made it first.
        Err(StoreError::Exists(_)) => return false,
        Err(e) => {
            log::error!("autocreate: INBOX of {userid} failed: {e}");
            return false;
        }
    }
    let _ = store.list.subscribe(userid, &inbox.0, true);
    let (kib, msgs) = (cfg.get_int("autocreate_quota"), cfg.get_int("autocreate_quota_messages"));
    if kib > 0 || msgs > 0 {
        let storage = (kib > 0).then_some(kib as u64);
        let messages = (msgs > 0).then_some(msgs as u64);
        if let Err(e) = store.list.set_quota_limits(&inbox.0, storage, messages) {
            log::error!("autocreate: quota of {userid} failed: {e}");
        }
    }
    log::info!("autocreate: User {userid}, INBOX was successfully created");
    folders(cfg, store, userid, &inbox);
    shared_subscriptions(cfg, store, userid);
    sieve_script(cfg, userid);
    true
}

fn folders(cfg: &Config, store: &Store, userid: &str, inbox: &InternalName) {
    let subscribe = bar_list(cfg, "autocreate_subscribe_folders");
    let uses: Vec<(String, String)> = cfg.prefixed("xlist-");
    let acls: Vec<(String, String, String)> = cfg
        .get_all("autocreate_acl")
        .into_iter()
        .filter_map(|line| {
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some(f), Some(id), Some(r), None) => Some((f.to_string(), id.to_string(), r.to_string())),
                _ => {
                    log::warn!("autocreate: ignoring invalid autocreate_acl: {line}");
                    None
                }
            }
        })
        .collect();
    let (mut made, mut subscribed) = (0, 0);
    for folder in bar_list(cfg, "autocreate_inbox_folders") {
        let name = match store.ns.to_internal(userid, &format!("INBOX{}{folder}", store.ns.sep())) {
            Ok(n) if n.0.starts_with(&format!("{}.", inbox.0)) => n,
            _ => {
                log::warn!("autocreate: User {userid}, subfolder {folder}: not a valid folder name");
                continue;
            }
        };
        if let Err(e) = store.create(&name, None, None) {
            log::warn!("autocreate: User {userid}, subfolder {folder} creation failed: {e}");
            continue;
        }
        made += 1;
        if subscribe.contains(&folder) && store.list.subscribe(userid, &name.0, true).is_ok() {
            subscribed += 1;
        }
        for (flag, _) in uses.iter().filter(|(_, f)| f.trim() == folder) {
            let value = format!("\\{}{}", flag[..1].to_ascii_uppercase(), &flag[1..]);
            if let Err(e) = store.list.set_annotation(&name.0, SPECIAL_USE, "", Some(value.as_bytes())) {
                log::warn!("autocreate: User {userid}, special use {value} of {folder} failed: {e}");
            }
        }
        for (_, id, rights) in acls.iter().filter(|(f, _, _)| *f == folder) {
            set_acl(store, userid, &name, id, rights);
        }
    }
    if made > 0 {
        log::info!("autocreate: User {userid}, Inbox subfolders, created {made}, subscribed {subscribed}");
    }
}

fn set_acl(store: &Store, userid: &str, name: &InternalName, id: &str, rights: &str) {
    let (Ok(id), Ok(r)) = (store.acl_identifier(name, id, true), Rights::parse(rights)) else {
        log::warn!("autocreate_acl {}: ignoring invalid identifier or rights '{id} {rights}'", name.0);
        return;
    };
    let mut acl = store.lookup(name).ok().and_then(|e| Acl::parse(&e.acl).ok()).unwrap_or_default();
    acl.set(&id, r);
    if let Err(e) = store.set_acl(name, &acl) {
        log::error!("autocreate_acl {}: unable to set {id} {rights} for {userid}: {e}", name.0);
    }
}

fn shared_subscriptions(cfg: &Config, store: &Store, userid: &str) {
    let visible = |name: &InternalName| store.lookup(name).is_ok_and(|e| store.rights(userid, name, &e).has('l'));
    let mut want: Vec<InternalName> = Vec::new();
    if cfg.get_bool("autocreate_subscribe_sharedfolders_all") {
        let prefix = store.ns.user_domain(userid).map(|d| format!("{d}!")).unwrap_or_default();
        for (n, e) in store.list.list(&prefix).unwrap_or_default() {
            let name = InternalName(n);
            if e.is_normal() && store.ns.owner(&name).is_none() && store.reaches(userid, &name) {
                want.push(name);
            }
        }
    }
    for folder in bar_list(cfg, "autocreate_subscribe_sharedfolders") {
        match store.ns.to_internal(userid, &folder) {
            Ok(n) if store.ns.owner(&n).is_none() => want.push(n),
            _ => log::warn!("autocreate: User {userid}, {folder} is not a shared folder"),
        }
    }
    for name in want {
        if visible(&name) && store.list.subscribe(userid, &name.0, true).is_ok() {
            log::info!("autocreate: User {userid}, subscription to {} succeeded", name.0);
        } else {
            log::warn!("autocreate: User {userid}, subscription to {} failed (no such folder or no l right)", name.0);
        }
    }
}

fn sieve_script(cfg: &Config, userid: &str) {
    let Some(path) = cfg.get_str("autocreate_sieve_script").filter(|p| !p.is_empty()) else { return };
    let result = (|| -> Result<String, String> {
        let source = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let name = std::path::Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("default").to_string();
        let exts = sieve::Extensions::from_config(cfg.get_str("sieve_extensions"));
        sieve::compile(&source, &exts).map_err(|e| format!("{path}: line {}: {}", e.line, e.message))?;
        let dir = sieve::store::ScriptDir::for_user(cfg, userid).map_err(|e| e.to_string())?;
        if dir.active_name().is_some() {
            return Err("a default script already exists".into());
        }
        dir.put(&name, &source).map_err(|e| e.to_string())?;
        dir.set_active(Some(&name)).map_err(|e| e.to_string())?;
        Ok(name)
    })();
    match result {
        Ok(name) => log::info!("autocreate: User {userid}, default sieve script {name} creation succeeded"),
        Err(e) => log::warn!("autocreate: User {userid}, default sieve script creation failed: {e}"),
    }
}
