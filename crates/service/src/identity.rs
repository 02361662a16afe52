//! From an authenticated identity to the session's userid, in every daemon: the one
//! place where Cyrus's login rules are applied after libsasl2 has checked the
//! credentials (LOGIN/USER-PASS through `sasl_checkpass`, AUTHENTICATE/AUTH through an
//! exchange).
//!
//! - The authorisation id is made canonical ([`mboxlist::Namespace::canonical_userid`]:
//!   the domain lowered, `defaultdomain` dropped, hostile characters refused), with
//!   `virtdomains: on` taking the domain of the address the client connected to when
//!   the id has none.
//! - `loginrealms` (Cyrus's semantics): an authentication id `user@realm` of a realm
//!   not listed is a refused cross-realm login, unless virtdomains is set and the list
//!   is empty.
//! - Acting as another user (a SASL authorisation id that differs from the
//!   authentication id) is for global admins, for an admin of the same domain, and for
//!   `proxyservers`; never across domains otherwise.
//!
//! - A user `cyr_deny` denied the service (its cyrus.conf name) is refused.
//!
//! Every refusal is one log line `badlogin: PEER MECH USER REASON`, the form Cyrus
//! logs and fail2ban-style tools match.

use crate::conn::{Addr, Conn};
use crate::worker::Worker;
use mboxlist::Store;

/// Why a login is refused (said in the log; the client hears only that it failed).
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub String);

/// The domain of the local address `conn` came in on, for `virtdomains: on`: its
/// reverse name without the first label (`mail.example.org` → `example.org`).
pub(crate) fn local_domain(w: &Worker, conn: &Conn) -> Option<String> {
    let on = w.config.get_str("virtdomains").is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "yes" | "1"));
    let Addr::Inet(a) = &conn.local else { return None };
    if !on {
        return None;
    }
    let host = reverse_name(a)?;
    host.split_once('.').map(|(_, d)| d.to_ascii_lowercase()).filter(|d| !d.is_empty())
}

fn reverse_name(a: &std::net::SocketAddr) -> Option<String> {
    use nix::sys::socket::{SockaddrLike, SockaddrStorage};
    let sa = SockaddrStorage::from(*a);
    let mut host = [0u8; 1025];
    // SAFETY: sa holds a sockaddr of sa.len() bytes; host is a writable buffer of the
    // given size; NI_NAMEREQD makes a missing name an error instead of the address.
    // (nix has no getnameinfo.)
    let r = unsafe {
        libc::getnameinfo(sa.as_ptr(), sa.len(), host.as_mut_ptr().cast(), host.len() as u32, std::ptr::null_mut(), 0, libc::NI_NAMEREQD)
    };
    if r != 0 {
        return None;
    }
    let name = std::ffi::CStr::from_bytes_until_nul(&host).ok()?;
    Some(name.to_string_lossy().into_owned())
}

/// Whether the realm of authentication id `authid` may log in (`loginrealms`).
fn realm_allowed(w: &Worker, virtdomains: bool, authid: &str) -> bool {
    let realms = w.config.get_list("loginrealms");
    let Some((_, realm)) = authid.rsplit_once('@') else { return true };
    if virtdomains && realms.is_empty() {
        return true;
    }
    realms.iter().any(|r| r.eq_ignore_ascii_case(realm))
}

/// The userid of a session whose credentials libsasl2 accepted: `authid` is who
/// authenticated, `authzid` who they act as (the same for a plain login).
pub fn userid(w: &Worker, conn: &Conn, store: &Store, authid: &str, authzid: &str) -> Result<String, Refused> {
    let ns = &store.ns;
    if !realm_allowed(w, ns.virtdomains, authid) {
        return Err(Refused(format!("cross-realm login {authid} denied")));
    }
    // `%` for `@` is read before a password is checked (a login is canonical before
    // libsasl2 sees it); in an id libsasl2 already accepted it would turn one user
    // into another (`bob%victim.test` is not bob@victim.test's password).
    if authid.contains('%') || authzid.contains('%') {
        return Err(Refused("'%' in an authenticated id".into()));
    }
    let here = local_domain(w, conn);
    let who = ns.canonical_userid(authid, here.as_deref()).map_err(|e| Refused(e.to_string()))?;
    let user = ns.canonical_userid(authzid, here.as_deref()).map_err(|e| Refused(e.to_string()))?;
    if matches!(user.as_str(), "anyone") {
        return Err(Refused("'anyone' cannot log in".into()));
    }
    // cyr_deny: a denied user is refused on the services named (admins are exempt,
    // as in Cyrus; the denial of the user acted as counts).
    if !store.is_admin(&who) {
        if let Ok(Some(d)) = store.list.denial(&user) {
            if d.covers(&w.service) {
                return Err(Refused(format!("user '{user}' denied access to service '{}': {}", w.service, d.message)));
            }
        }
    }
    if who == user {
        return Ok(user);
    }
    let proxy = w.config.get_list("proxyservers").iter().any(|p| *p == who);
    let admin_here = store.is_global_admin(&who) || (store.is_admin(&who) && ns.user_domain(&who) == ns.user_domain(&user));
    if proxy || admin_here {
        log::info!("proxy authorisation: {who} acts as {user}");
        return Ok(user);
    }
    Err(Refused(format!("{who} may not act as {user}")))
}

/// Logs a refused login in the form fail2ban-style tools match.
pub fn log_refusal(conn: &Conn, mech: &str, who: &str, why: &str) {
    log::info!("badlogin: {} {mech} {who} {why}", conn.peer);
    metrics::inc(metrics::Slot::AUTH_NO);
}

/// How much longer each failed login of a connection waits before its answer.
pub const FAIL_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// A refused login: counted in the connection's `failures`, logged
/// ([`log_refusal`]), then answered (by the caller) after a delay that grows by
/// [`FAIL_DELAY`] with each failure, up to ten times that.
pub fn refuse_login(conn: &Conn, failures: &mut u32, mech: &str, who: &str, why: &str) {
    *failures += 1;
    log_refusal(conn, mech, who, why);
    std::thread::sleep(FAIL_DELAY * (*failures).min(10));
}
