//! Dropping root: master binds its listeners as root if it must, then becomes
//! `cyrus_user`/`cyrus_group` before it starts anything else.

use conf::Config;
use std::ffi::CString;

/// The uid and gid master will run as, from `$CYRUS_USER`/`cyrus_user` and
/// `$CYRUS_GROUP`/`cyrus_group` (default: the user's primary group).
pub fn target(cfg: &Config) -> Result<(String, u32, u32), String> {
    let user = std::env::var("CYRUS_USER")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| cfg.get_str("cyrus_user").map(str::to_string))
        .unwrap_or_else(|| "cyrus".into());
    let cuser = CString::new(user.clone()).map_err(|_| "bad cyrus_user".to_string())?;
    // SAFETY: getpwnam returns static storage, read at once.
    let pw = unsafe { libc::getpwnam(cuser.as_ptr()) };
    if pw.is_null() {
        return Err(format!("cyrus_user '{user}' does not exist (set cyrus_user in imapd.conf)"));
    }
    // SAFETY: non-null passwd entry.
    let (uid, mut gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    let group = std::env::var("CYRUS_GROUP")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| cfg.get_str("cyrus_group").map(str::to_string));
    if let Some(g) = group {
        let cg = CString::new(g.clone()).map_err(|_| "bad cyrus_group".to_string())?;
        // SAFETY: getgrnam returns static storage, read at once.
        let gr = unsafe { libc::getgrnam(cg.as_ptr()) };
        if gr.is_null() {
            return Err(format!("cyrus_group '{g}' does not exist"));
        }
        // SAFETY: non-null group entry.
        gid = unsafe { (*gr).gr_gid };
    }
    Ok((user, uid, gid))
}

/// Becomes `user` (uid, gid and supplementary groups). Only when running as root.
pub fn drop_to(user: &str, uid: u32, gid: u32) -> Result<(), String> {
    let cuser = CString::new(user).map_err(|_| "bad user name".to_string())?;
    // SAFETY: plain system calls changing our own credentials, in the right order.
    unsafe {
        if libc::setgid(gid) != 0 {
            return Err(format!("setgid({gid}): {}", std::io::Error::last_os_error()));
        }
        if libc::initgroups(cuser.as_ptr(), gid) != 0 {
            return Err(format!("initgroups({user}): {}", std::io::Error::last_os_error()));
        }
        if libc::setuid(uid) != 0 {
            return Err(format!("setuid({uid}): {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}
