//! User ids and the domains they live in.
//!
//! With `virtdomains`, every user and every mailbox belongs to one domain: a userid
//! `fred@example.org` owns `example.org!user.fred`, and a mailbox name without `!` is
//! in the default domain (`defaultdomain`, whose users have no domain part). Domains
//! are sealed from each other: a user reaches only names of their own domain (the
//! namespace builds no other, and [`crate::Store::rights`] grants nothing across a
//! domain, so `anyone` in an ACL means anyone of the mailbox's domain, as in Cyrus).
//! An admin listed with a domain (`admin@example.org` in `admins`) administers only
//! that domain; an admin without one administers every domain.
//!
//! [`Namespace::canonical_userid`] is the one place a login or authorisation id
//! becomes a userid, in every daemon, as Cyrus's `canonify_userid` and auth_unix's
//! character map do it.

use crate::names::{InternalName, Namespace};

/// Longest userid accepted (Cyrus's auth_unix keeps 80 bytes).
pub const MAX_USERID: usize = 80;

/// Why a userid was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadUser(pub String);

impl std::fmt::Display for BadUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid userid: {}", self.0)
    }
}

/// Characters Cyrus's auth_unix allows in a userid: printable ASCII but
/// `% & * / : ?` (so no wildcard, path or LDAP filter character reaches a backend).
fn allowed(c: u8) -> bool {
    (0x20..0x7f).contains(&c) && !b"%&*/:?".contains(&c)
}

/// A domain as mailbox names keep it: lower case ASCII letters, digits, `-` and
/// dots between non-empty labels (an IDN in its punycode `xn--` form).
pub fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
        && d.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// The domain part of an internal name (`None`: the default domain).
pub fn name_domain(name: &str) -> Option<&str> {
    name.split_once('!').map(|(d, _)| d)
}

impl Namespace {
    /// The domain `userid` lives in as names keep it: `None` for the default domain
    /// (no domain part, or `defaultdomain`) and whenever virtdomains is off.
    pub fn user_domain(&self, userid: &str) -> Option<String> {
        if !self.virtdomains {
            return None;
        }
        let (_, d) = userid.rsplit_once('@')?;
        let d = d.to_ascii_lowercase();
        if self.defaultdomain.as_deref() == Some(d.as_str()) { None } else { Some(d) }
    }

    /// Whether `name` is in `userid`'s domain.
    pub fn same_domain(&self, userid: &str, name: &InternalName) -> bool {
        self.user_domain(userid).as_deref() == name_domain(&name.0)
    }

    /// A login, SASL authorisation id or ACL identifier made a userid, or refused:
    /// - with virtdomains, the last `@` (or `%`, as Cyrus reads it) ends the local
    ///   part; the domain is lowered, checked ([`valid_domain`]) and dropped when it is
    ///   `defaultdomain`; a userid without a domain gets `local_domain` when given
    ///   (`virtdomains: on`, the domain of the address the client connected to);
    /// - the local part must be non-empty, made of [`allowed`] characters, with no
    ///   `@` left in it under virtdomains, and lowered with `username_tolower`;
    /// - the whole is at most [`MAX_USERID`] bytes, and its INBOX must be a valid
    ///   mailbox name (no `..`, no `.` alone).
    ///
    /// `anyone`, `anybody` and `anonymous` come back as `anyone` and `anonymous`.
    pub fn canonical_userid(&self, raw: &str, local_domain: Option<&str>) -> Result<String, BadUser> {
        if raw.len() > MAX_USERID {
            return Err(BadUser(format!("longer than {MAX_USERID} bytes")));
        }
        if let Some(c) = raw.bytes().find(|&c| !allowed(c) && !(self.virtdomains && c == b'%')) {
            return Err(BadUser(format!("character 0x{c:02x} is not allowed")));
        }
        let (local, domain) = match raw.rfind(['@', '%']) {
            Some(i) if self.virtdomains => (&raw[..i], Some(raw[i + 1..].to_ascii_lowercase())),
            _ => (raw, None),
        };
        if local.is_empty() || local.trim() != local {
            return Err(BadUser("empty local part or surrounding spaces".into()));
        }
        if self.virtdomains && local.contains(['@', '%']) {
            return Err(BadUser("more than one domain separator".into()));
        }
        let lower = local.to_ascii_lowercase();
        if matches!(lower.as_str(), "anyone" | "anybody") {
            return Ok("anyone".into());
        }
        if lower == "anonymous" {
            return Ok("anonymous".into());
        }
        let local = if self.username_tolower { lower } else { local.to_string() };
        let domain = match domain {
            Some(d) if !valid_domain(&d) => return Err(BadUser(format!("bad domain '{d}' (an international domain is given in its xn-- form)"))),
            Some(d) => Some(d),
            None => local_domain.filter(|_| self.virtdomains).map(str::to_ascii_lowercase).filter(|d| valid_domain(d)),
        };
        let userid = match domain {
            Some(d) if self.defaultdomain.as_deref() != Some(d.as_str()) => format!("{local}@{d}"),
            _ => local,
        };
        crate::names::validate(&self.inbox(&userid).0).map_err(|e| BadUser(e.0))?;
        Ok(userid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn virt() -> Namespace {
        Namespace { virtdomains: true, defaultdomain: Some("main.test".into()), username_tolower: true, ..Default::default() }
    }

    #[test]
    fn canonical_userids() {
        let n = virt();
        let c = |s: &str| n.canonical_userid(s, None);
        assert_eq!(c("Fred@Example.ORG").unwrap(), "fred@example.org");
        assert_eq!(c("fred%example.org").unwrap(), "fred@example.org");
        assert_eq!(c("fred@main.test").unwrap(), "fred");
        assert_eq!(c("fred@MAIN.test").unwrap(), "fred");
        assert_eq!(c("j.smith@xn--bcher-kva.example").unwrap(), "j.smith@xn--bcher-kva.example");
        assert_eq!(c("Anyone@example.org").unwrap(), "anyone");
        assert_eq!(c("anonymous").unwrap(), "anonymous");
        assert_eq!(n.canonical_userid("fred", Some("Tenant.Test")).unwrap(), "fred@tenant.test");
        assert_eq!(n.canonical_userid("fred@a.test", Some("b.test")).unwrap(), "fred@a.test");
        for bad in [
            "", "@example.org", "fred@@example.org", "fred@", "fred@exa mple.org", "fred@-x.org", "fred@a..org", "*)(uid=*", "fred*", "a/b", "..", "a\0b",
            "fred\r\n", "fred@bücher.example", "fréd", " fred", "x:y", "fred?", &"a".repeat(81),
        ] {
            assert!(c(bad).is_err(), "{bad:?} accepted as {:?}", c(bad));
        }
        let plain = Namespace::default();
        assert_eq!(plain.canonical_userid("Fred@Example.ORG", None).unwrap(), "Fred@Example.ORG");
        assert!(plain.canonical_userid("fred%x", None).is_err());
    }

    #[test]
    fn domains_of_users_and_names() {
        let n = virt();
        assert_eq!(n.user_domain("fred@a.test").as_deref(), Some("a.test"));
        assert_eq!(n.user_domain("fred@main.test"), None);
        assert_eq!(n.user_domain("fred"), None);
        assert!(n.same_domain("fred@a.test", &InternalName("a.test!user.bob".into())));
        assert!(!n.same_domain("fred@a.test", &InternalName("user.bob".into())));
        assert!(!n.same_domain("fred", &InternalName("a.test!shared".into())));
        assert!(Namespace::default().same_domain("fred@a.test", &InternalName("user.bob".into())));
    }
}
