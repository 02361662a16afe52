//! Dropping root: master binds its listeners as root if it must, then becomes
//! `cyrus_user`/`cyrus_group` before it starts anything else.

use conf::Config;
use nix::unistd::{Gid, Group, Uid, User, initgroups, setgid, setuid};
use std::ffi::CString;

/// The uid and gid master will run as, from `$CYRUS_USER`/`cyrus_user` and
/// `$CYRUS_GROUP`/`cyrus_group` (default: the user's primary group).
pub fn target(cfg: &Config) -> Result<(String, u32, u32), String> {
    let user = std::env::var("CYRUS_USER")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| cfg.get_str("cyrus_user").map(str::to_string))
        .unwrap_or_else(|| "cyrus".into());
    if user.contains('\0') {
        return Err("bad cyrus_user".into());
    }
    let Ok(Some(pw)) = User::from_name(&user) else {
        return Err(format!("cyrus_user '{user}' does not exist (set cyrus_user in imapd.conf)"));
    };
    let (uid, mut gid) = (pw.uid.as_raw(), pw.gid.as_raw());
    let group = std::env::var("CYRUS_GROUP")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| cfg.get_str("cyrus_group").map(str::to_string));
    if let Some(g) = group {
        if g.contains('\0') {
            return Err("bad cyrus_group".into());
        }
        let Ok(Some(gr)) = Group::from_name(&g) else {
            return Err(format!("cyrus_group '{g}' does not exist"));
        };
        gid = gr.gid.as_raw();
    }
    Ok((user, uid, gid))
}

/// Becomes `user` (uid, gid and supplementary groups). Only when running as root.
pub fn drop_to(user: &str, uid: u32, gid: u32) -> Result<(), String> {
    let cuser = CString::new(user).map_err(|_| "bad user name".to_string())?;
    setgid(Gid::from_raw(gid)).map_err(|e| format!("setgid({gid}): {}", std::io::Error::from(e)))?;
    initgroups(&cuser, Gid::from_raw(gid)).map_err(|e| format!("initgroups({user}): {}", std::io::Error::from(e)))?;
    setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid({uid}): {}", std::io::Error::from(e)))
}
