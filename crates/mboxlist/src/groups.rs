//! Groups in ACLs: an identifier `group:NAME` grants (or, as `-group:NAME`, takes
//! away) rights from every member of the group, as in Cyrus. With `auth_mech: unix`
//! (the default, as in Cyrus) the members are those of the system group database
//! (getgrent: /etc/group, or NSS): a user whose primary group it is (getpwnam), or who
//! is listed as a member under its full userid (`fred`, or `fred@example.org` with
//! virtdomains). Lookups are cached per process for [`TTL`], so a long session sees
//! a membership change within that time.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a user's groups are kept before they are read again.
pub const TTL: Duration = Duration::from_secs(60);

/// The group identifiers (`group:NAME`) of users, by `auth_mech`.
pub struct Groups {
    unix: bool,
    cache: Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

impl Groups {
    pub fn from_config(cfg: &conf::Config) -> Groups {
        let mech = cfg.get_str("auth_mech").unwrap_or("unix");
        let unix = mech.eq_ignore_ascii_case("unix");
        if !unix {
            log::warn!("auth_mech: {mech} is not built; group: identifiers of ACLs match nobody");
        }
        Groups { unix, cache: Mutex::new(HashMap::new()) }
    }

    /// `userid`'s groups as ACL identifiers (`group:staff`).
    pub fn of(&self, userid: &str) -> Vec<String> {
        if !self.unix || matches!(userid, "anyone" | "anonymous") {
            return Vec::new();
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, g)) = cache.get(userid) {
            if at.elapsed() < TTL {
                return g.clone();
            }
        }
        let g = unix_groups(userid);
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(userid.to_string(), (Instant::now(), g.clone()));
        g
    }
}

/// The primary group of `user` in the password database, if it is there.
fn primary_gid(user: &CStr) -> Option<libc::gid_t> {
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r writes into pw and buf (of the given size) and sets out.
    let r = unsafe { libc::getpwnam_r(user.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    (r == 0 && !out.is_null()).then_some(pw.pw_gid)
}

/// Serialises the getgrent walk (its cursor is process-wide).
static GRENT: Mutex<()> = Mutex::new(());

fn unix_groups(userid: &str) -> Vec<String> {
    let Ok(user) = CString::new(userid) else { return Vec::new() };
    let primary = primary_gid(&user);
    let _walk = GRENT.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::new();
    // SAFETY: setgrent/getgrent/endgrent walk the group database; each entry's strings
    // are read before the next call, under the lock above.
    unsafe {
        libc::setgrent();
        loop {
            let g = libc::getgrent();
            if g.is_null() {
                break;
            }
            let g = &*g;
            let mut member = primary == Some(g.gr_gid);
            let mut m = g.gr_mem;
            while !member && !m.is_null() && !(*m).is_null() {
                member = CStr::from_ptr(*m).to_bytes() == userid.as_bytes();
                m = m.add(1);
            }
            if member {
                out.push(format!("group:{}", CStr::from_ptr(g.gr_name).to_string_lossy()));
            }
        }
        libc::endgrent();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_in_group_root() {
        let g = Groups { unix: true, cache: Mutex::new(HashMap::new()) };
        assert!(g.of("root").contains(&"group:root".to_string()), "{:?}", g.of("root"));
        assert!(g.of("no-such-user-here").is_empty());
    }
}
