//! Groups in ACLs: an identifier `group:NAME` grants (or, as `-group:NAME`, takes
//! away) rights from every member of the group, as in Cyrus. With `auth_mech: unix`
//! (the default, as in Cyrus) the members are those of the system group database
//! (/etc/group, or NSS): a user whose primary group it is (getpwnam), or who
//! is listed as a member under its full userid (`fred`, or `fred@example.org` with
//! virtdomains). With `auth_mech: pts` they come from the directory through ptloader
//! (LDAP, `ldap_*` options), cached in the mailbox list's ptscache for
//! `ptscache_timeout`. Lookups are also kept per process for [`TTL`], so a long
//! session sees a membership change within that time.

use crate::MboxList;
use nix::unistd::{Gid, Group, User, getgrouplist};
use std::collections::HashMap;
use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a user's groups are kept in a process before they are read again.
pub const TTL: Duration = Duration::from_secs(60);

/// Where group membership comes from.
enum Mech {
    Unix,
    /// ptloader's socket and how long its answers stay good.
    Pts { sock: PathBuf, timeout: Duration },
    None,
}

/// The group identifiers (`group:NAME`) of users, by `auth_mech`.
pub struct Groups {
    mech: Mech,
    cache: Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

/// Where ptloader listens: `ptloader_sock`, else Cyrus's default under configdirectory.
pub fn ptloader_sock(cfg: &conf::Config) -> PathBuf {
    match cfg.get_str("ptloader_sock") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(cfg.get_str("configdirectory").unwrap_or("/var/lib/cyrus")).join("ptclient/ptsock"),
    }
}

impl Groups {
    pub fn from_config(cfg: &conf::Config) -> Groups {
        let mech = match cfg.get_str("auth_mech").unwrap_or("unix").to_ascii_lowercase().as_str() {
            "unix" => Mech::Unix,
            "pts" => Mech::Pts { sock: ptloader_sock(cfg), timeout: cfg.get_duration("ptscache_timeout") },
            other => {
                log::warn!("auth_mech: {other} is not built; group: identifiers of ACLs match nobody");
                Mech::None
            }
        };
        Groups { mech, cache: Mutex::new(HashMap::new()) }
    }

    /// `userid`'s groups as ACL identifiers (`group:staff`); `list` holds the pts cache.
    pub fn of(&self, userid: &str, list: &MboxList) -> Vec<String> {
        if matches!(self.mech, Mech::None) || matches!(userid, "anyone" | "anonymous") || userid.starts_with("anonymous@") {
            return Vec::new();
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, g)) = cache.get(userid) {
            if at.elapsed() < TTL {
                return g.clone();
            }
        }
        let g = match &self.mech {
            Mech::Pts { sock, timeout } => pts_groups(userid, list, sock, *timeout),
            _ => unix_groups(userid),
        };
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(userid.to_string(), (Instant::now(), g.clone()));
        g
    }
}

impl Groups {
    /// The name of group `name` as its database writes it, if there is such a group:
    /// unix, the system group (getgrnam); pts, the group ptloader finds with
    /// ldap_group_filter (lowercased). Without a group database every name stands.
    pub fn canonical(&self, name: &str) -> Option<String> {
        match &self.mech {
            Mech::Unix => Group::from_name(name).ok().flatten().map(|g| g.name),
            Mech::Pts { sock, .. } => match ask_ptloader(sock, &format!("group:{name}")) {
                Ok(g) => g.first().and_then(|g| g.strip_prefix("group:")).map(str::to_string),
                Err(e) => {
                    log::info!("ptloader: group {name}: {e}");
                    None
                }
            },
            Mech::None => Some(name.to_string()),
        }
    }
}

/// Bounds a question to ptloader (its LDAP searches have their own `ldap_timeout`).
const PTLOADER_WAIT: Duration = Duration::from_secs(15);

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The groups of `userid` from the pts cache, or from ptloader when the cache has
/// none fresh enough. ptloader unreachable or failing: no groups (logged), as Cyrus.
fn pts_groups(userid: &str, list: &MboxList, sock: &std::path::Path, timeout: Duration) -> Vec<String> {
    match list.pts_get(userid) {
        Ok(Some((at, g))) if now().saturating_sub(at) < timeout.as_secs() => return g,
        Ok(_) => {}
        Err(e) => log::warn!("ptscache: {e}"),
    }
    match ask_ptloader(sock, userid) {
        Ok(g) => g,
        Err(e) => {
            log::error!("ptloader: groups of {userid}: {e}; the user is in no group");
            Vec::new()
        }
    }
}

/// One question on ptloader's socket: "USERID\r\n", answered "OK group:a ...\r\n"
/// or "NO reason\r\n" (ptloader has written the cache by then).
pub fn ask_ptloader(sock: &std::path::Path, userid: &str) -> Result<Vec<String>, String> {
    let mut s = UnixStream::connect(sock).map_err(|e| format!("{}: {e}", sock.display()))?;
    s.set_read_timeout(Some(PTLOADER_WAIT)).and_then(|()| s.set_write_timeout(Some(PTLOADER_WAIT))).map_err(|e| e.to_string())?;
    s.write_all(format!("{userid}\r\n").as_bytes()).map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(std::io::Read::take(s, 64 * 1024)).read_line(&mut line).map_err(|e| e.to_string())?;
    match line.trim_end().split_once(' ').unwrap_or((line.trim_end(), "")) {
        ("OK", rest) => Ok(rest.split_whitespace().map(str::to_string).collect()),
        ("NO", why) => Err(why.to_string()),
        _ => Err(format!("unexpected answer {:?}", line.trim_end())),
    }
}

/// The groups of `userid`: its primary group (from the password database, if it is
/// there) and every group that lists it as a member.
fn unix_groups(userid: &str) -> Vec<String> {
    let Ok(user) = CString::new(userid) else { return Vec::new() };
    let primary = User::from_name(userid).ok().flatten().map(|u| u.gid);
    // getgrouplist puts the group it is given first, member or not: a user without
    // a password entry is given group 0, kept below only if it lists the user.
    let Ok(gids) = getgrouplist(&user, primary.unwrap_or(Gid::from_raw(0))) else { return Vec::new() };
    gids.into_iter()
        .filter_map(|gid| Group::from_gid(gid).ok().flatten())
        .filter(|g| Some(g.gid) == primary || g.mem.iter().any(|m| m == userid))
        .map(|g| format!("group:{}", g.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_in_group_root() {
        assert!(unix_groups("root").contains(&"group:root".to_string()), "{:?}", unix_groups("root"));
        assert!(unix_groups("no-such-user-here").is_empty());
    }
}
