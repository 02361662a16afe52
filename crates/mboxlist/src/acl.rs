//! Access control lists (RFC 4314), kept as Cyrus keeps them: `id<TAB>rights<TAB>...`.
//!
//! Rights are `lrswipkxtecdan` and the site-defined `0`-`9`; the obsolete `c` and `d` of RFC 2086 are read as
//! `k x` and `t e` (RFC 4314 2.1.1). An identifier starting with `-` holds negative
//! rights, removed from whatever the positive entries grant. `anyone` matches every
//! user (and anonymous), `anonymous` only the anonymous user. Admins (`admins:`)
//! have every right; the owner of a personal mailbox always has `lkxan` besides what
//! the ACL grants (Cyrus's implicit owner rights), so they can never lock themselves
//! out.

use std::fmt;

/// The rights of RFC 4314, in canonical order.
pub const ALL_RIGHTS: &str = "lrswipkxtecdan";
/// Every right character an ACL may hold: RFC 4314's, then the site-defined `0`-`9`
/// (Cyrus's user rights: fud answers only where `anonymous` has `0`). "All rights"
/// means [`ALL_RIGHTS`], as in Cyrus.
const RIGHT_CHARS: &str = "lrswipkxtecdan0123456789";
/// What the owner of a personal mailbox always has.
pub const IMPLICIT_OWNER: &str = "lkxan";

/// A set of rights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rights(u32);

impl Rights {
    pub fn parse(s: &str) -> Result<Rights, char> {
        let mut r = 0u32;
        for c in s.chars() {
            if !RIGHT_CHARS.contains(c) {
                return Err(c);
            }
            r |= bit(c);
            match c {
                'c' => r |= bit('k') | bit('x'),
                'd' => r |= bit('t') | bit('e'),
                _ => {}
            }
        }
        Ok(Rights(r))
    }

    pub fn all() -> Rights {
        Rights::parse(ALL_RIGHTS).unwrap_or_default()
    }

    pub fn has(self, c: char) -> bool {
        self.0 & bit(c) != 0
    }

    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, o: Rights) -> Rights {
        Rights(self.0 | o.0)
    }

    pub fn minus(self, o: Rights) -> Rights {
        Rights(self.0 & !o.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

fn bit(c: char) -> u32 {
    RIGHT_CHARS.find(c).map_or(0, |i| 1 << i)
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in RIGHT_CHARS.chars() {
            if self.has(c) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// An ACL: ordered (identifier, rights) entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl(pub Vec<(String, Rights)>);

impl Acl {
    /// Reads Cyrus's stored form `id\trights\tid\trights\t`.
    pub fn parse(s: &str) -> Result<Acl, String> {
        let mut parts = s.split('\t').filter(|p| !p.is_empty());
        let mut v = Vec::new();
        while let Some(id) = parts.next() {
            let r = parts.next().ok_or_else(|| format!("ACL entry '{id}' has no rights"))?;
            let rights = Rights::parse(r).map_err(|c| format!("ACL entry '{id}': unknown right '{c}'"))?;
            v.push((id.to_string(), rights));
        }
        Ok(Acl(v))
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        self.0.iter().map(|(id, r)| format!("{id}\t{r}\t")).collect()
    }

    /// Sets (replaces) the rights of `id`; empty rights remove the entry.
    pub fn set(&mut self, id: &str, rights: Rights) {
        self.0.retain(|(i, _)| i != id);
        if !rights.is_empty() {
            self.0.push((id.to_string(), rights));
        }
    }

    /// The rights the ACL gives `userid` (admins: see [`crate::Store::rights`]),
    /// a member of `groups` (identifiers `group:NAME`, see [`crate::groups`]); `owner`
    /// is the owner of the mailbox's personal hierarchy, if any. `userid` "anonymous"
    /// is the anonymous user. Negative entries of the user or its groups take away.
    pub fn rights_of(&self, userid: &str, groups: &[String], owner: Option<&str>) -> Rights {
        // `anonymous@domain` is the anonymous user of a domain (an unauthenticated
        // LMTP poster to a mailbox of that domain).
        let anonymous = userid == "anonymous" || userid.starts_with("anonymous@");
        let matches = |id: &str| id == userid || id == "anyone" || (id == "anonymous" && anonymous) || groups.iter().any(|g| g == id);
        let mut pos = Rights::default();
        let mut neg = Rights::default();
        for (id, r) in &self.0 {
            match id.strip_prefix('-') {
                Some(n) if matches(n) => neg = neg.union(*r),
                None if matches(id) => pos = pos.union(*r),
                _ => {}
            }
        }
        let mut r = pos.minus(neg);
        if owner == Some(userid) {
            r = r.union(Rights::parse(IMPLICIT_OWNER).unwrap_or_default());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_parse_and_print() {
        assert_eq!(Rights::parse("lrs").unwrap().to_string(), "lrs");
        assert_eq!(Rights::parse("srl").unwrap().to_string(), "lrs");
        assert_eq!(Rights::parse("c").unwrap().to_string(), "kxc", "RFC 2086 c = k x");
        assert_eq!(Rights::parse("d").unwrap().to_string(), "ted", "RFC 2086 d = t e");
        assert_eq!(Rights::parse("lz"), Err('z'));
        assert_eq!(Rights::all().to_string(), ALL_RIGHTS);
    }

    #[test]
    fn evaluation() {
        let acl = Acl::parse("fred\tlrswipkxtecdan\tanyone\tlr\t-barney\tr\tanonymous\tl\t").unwrap();
        assert_eq!(acl.rights_of("fred", &[], Some("fred")).to_string(), ALL_RIGHTS);
        assert_eq!(acl.rights_of("wilma", &[], Some("fred")).to_string(), "lr");
        assert_eq!(acl.rights_of("barney", &[], Some("fred")).to_string(), "l", "negative rights");
        assert_eq!(acl.rights_of("anonymous", &[], None).to_string(), "lr");
        // The owner keeps lkxan even with an ACL that took everything.
        let acl = Acl::parse("-fred\tlrswipkxtecdan\t").unwrap();
        assert_eq!(acl.rights_of("fred", &[], Some("fred")).to_string(), "lkxan");
        assert!(Acl::parse("fred\t").is_err());
        assert!(Acl::parse("fred\tlq\t").is_err());
    }

    #[test]
    fn set_and_store() {
        let mut acl = Acl::default();
        acl.set("fred", Rights::parse("lrs").unwrap());
        acl.set("anyone", Rights::parse("l").unwrap());
        acl.set("fred", Rights::parse("lrsw").unwrap());
        assert_eq!(acl.to_stored(), "anyone\tl\tfred\tlrsw\t");
        acl.set("anyone", Rights::default());
        assert_eq!(Acl::parse(&acl.to_stored()).unwrap(), acl);
        assert_eq!(acl.0.len(), 1);
    }
}
