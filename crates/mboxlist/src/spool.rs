//! Where a mailbox's directory is under its partition: Cyrus's layouts, so that a
//! spool Cyrus wrote is used where it lies (message files are never moved to take a
//! site over).
//!
//! - **By name** (Cyrus 2.x to 3.4, and 3.6 mailboxes of type `l`): the components of
//!   the internal name, `user/fred/Sent`. With `hashimapspool` a hash directory comes
//!   first, the hash of the second component (the user for a personal mailbox, `box`
//!   for `shared.box`) or of the only one: `f/user/fred/Sent`, `b/shared/box`,
//!   `s/shared`. With virtdomains the domain comes before: `domain/example.org/...`,
//!   and with `hashimapspool` `domain/e/example.org/f/user/fred`. The hash is
//!   [`conf::dir_hash`] (first letter, or `fulldirhash`) of the component with `^`
//!   read as the `.` it stands for, as Cyrus 3 hashes it (so with `fulldirhash`,
//!   `user.j^smith` hashes `j`; Cyrus 2.5 hashed `j^smith`). A component keeps its `^`.
//! - **By id** (Cyrus 3.6's default, `mailbox_legacy_dirs: no`):
//!   `uuid/A/B/UNIQUEID`, A and B the first two characters of the uniqueid, for every
//!   entry flagged [`mbtype::BY_ID`](crate::list::mbtype::BY_ID), whatever the
//!   configuration says. The directory never moves on a rename.
//!
//! The layout depends on options an administrator sets once (as in Cyrus): a changed
//! `hashimapspool` or `fulldirhash` leaves existing mailboxes where the store no longer
//! looks. The suite creates mailboxes by name; only taken-over entries are by id.
//! Not laid out here: Cyrus's `DELETED.` hierarchy (delayed delete), which is not
//! taken over.

use crate::list::Entry;
use crate::names::InternalName;
use conf::{Config, dir_hash};
use std::path::PathBuf;

/// The directory of a partition under which by-id directories are.
const BY_ID_TOP: &str = "uuid";

/// The by-name layout options of imapd.conf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpoolLayout {
    pub hashimapspool: bool,
    pub fulldirhash: bool,
}

impl SpoolLayout {
    pub fn from_config(cfg: &Config) -> SpoolLayout {
        SpoolLayout { hashimapspool: cfg.get_bool("hashimapspool"), fulldirhash: cfg.get_bool("fulldirhash") }
    }

    /// The directory of `e` (named `name`) relative to its partition.
    pub fn relative(&self, name: &InternalName, e: &Entry) -> Result<PathBuf, String> {
        if !e.is_by_id() {
            return Ok(self.by_name(name));
        }
        by_id(&e.uniqueid).ok_or_else(|| format!("{}: uniqueid '{}' cannot name a directory", name.0, e.uniqueid))
    }

    /// The by-name directory of `name`. Safe by construction: a name that passed
    /// [`crate::names::validate`] has no `/`, no empty, `.` or `..` component.
    pub fn by_name(&self, name: &InternalName) -> PathBuf {
        let (mut p, local) = self.domain_part(&name.0);
        let comps: Vec<&str> = local.split('.').collect();
        if self.hashimapspool {
            p.push(self.hash(comps.get(1).unwrap_or(&comps[0])).to_string());
        }
        p.extend(comps);
        p
    }

    /// Whether the by-name directory of `name` is at or below `uuid`, the top of the
    /// by-id directories (a top-level `uuid` without `hashimapspool`, as Cyrus 3.6
    /// would also make it). Such a directory holds other mailboxes' directories, so
    /// the store neither makes, renames nor searches one.
    pub fn in_by_id_tree(&self, name: &InternalName) -> bool {
        self.by_name(name).starts_with(BY_ID_TOP)
    }

    /// The directories below which the by-name mailboxes at or under `name` can be
    /// (for `reconstruct -f`): its own directory; with `hashimapspool` and a name of
    /// one component, that name under every hash directory, because each child is
    /// hashed on its own second component (`shared.box` is `b/shared/box`).
    pub fn roots_below(&self, name: &InternalName) -> Vec<PathBuf> {
        let (base, local) = self.domain_part(&name.0);
        if !self.hashimapspool || local.contains('.') {
            return vec![self.by_name(name)];
        }
        let letters = if self.fulldirhash { 'A'..='W' } else { 'a'..='z' };
        letters.map(|h| base.join(h.to_string()).join(local)).collect()
    }

    /// `domain/[H/]DOMAIN` for a name in a domain, and the rest of the name.
    fn domain_part<'a>(&self, name: &'a str) -> (PathBuf, &'a str) {
        let mut p = PathBuf::new();
        match name.split_once('!') {
            Some((d, local)) => {
                p.push("domain");
                if self.hashimapspool {
                    p.push(self.hash(d).to_string());
                }
                p.push(d);
                (p, local)
            }
            None => (p, name),
        }
    }

    fn hash(&self, component: &str) -> char {
        dir_hash(&component.replace('^', "."), self.fulldirhash)
    }
}

/// The by-id directory `uuid/A/B/UNIQUEID`; `None` for an id that cannot be one
/// directory name (shorter than two characters, or other than letters, digits, `-`
/// and `_`: Cyrus makes `[0-9a-z]` ids, or UUIDs with hyphens).
pub fn by_id(uniqueid: &str) -> Option<PathBuf> {
    let b = uniqueid.as_bytes();
    if b.len() < 2 || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_') {
        return None;
    }
    Some([BY_ID_TOP, &uniqueid[..1], &uniqueid[1..2], uniqueid].iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::mbtype;
    use std::path::Path;

    const PLAIN: SpoolLayout = SpoolLayout { hashimapspool: false, fulldirhash: false };
    const HASHED: SpoolLayout = SpoolLayout { hashimapspool: true, fulldirhash: false };
    const FULL: SpoolLayout = SpoolLayout { hashimapspool: true, fulldirhash: true };

    fn by_name(l: SpoolLayout, name: &str) -> PathBuf {
        l.by_name(&InternalName(name.into()))
    }

    /// Cyrus's dir_hash_c(s, 1), written out again from lib/util.c.
    fn cyrus_full(s: &str) -> char {
        let mut n: u32 = 0;
        for b in s.bytes().take_while(|&b| b != b'.') {
            n = ((n << 3) ^ (n >> 5)) ^ u32::from(b);
        }
        char::from(b'A' + (n % 23) as u8)
    }

    #[test]
    fn plain() {
        assert_eq!(by_name(PLAIN, "user.fred.Sent"), Path::new("user/fred/Sent"));
        assert_eq!(by_name(PLAIN, "user.fred"), Path::new("user/fred"));
        assert_eq!(by_name(PLAIN, "shared.box"), Path::new("shared/box"));
        assert_eq!(by_name(PLAIN, "user.j^smith.a^b"), Path::new("user/j^smith/a^b"), "a component keeps its ^");
        assert_eq!(by_name(PLAIN, "example.org!user.fred"), Path::new("domain/example.org/user/fred"));
        assert_eq!(by_name(PLAIN, "example.com!user.fred.Sent"), Path::new("domain/example.com/user/fred/Sent"));
    }

    #[test]
    fn hashimapspool() {
        // Real paths of a Cyrus 3.6.1 spool with hashimapspool and legacy dirs.
        assert_eq!(by_name(HASHED, "user.fred.Sent"), Path::new("f/user/fred/Sent"));
        assert_eq!(by_name(HASHED, "user.fred.#sieve"), Path::new("f/user/fred/#sieve"));
        assert_eq!(by_name(HASHED, "shared.box"), Path::new("b/shared/box"));
        assert_eq!(by_name(HASHED, "shared"), Path::new("s/shared"), "one component hashes itself");
        assert_eq!(by_name(HASHED, "user"), Path::new("u/user"));
        assert_eq!(by_name(HASHED, "example.com!user.fred"), Path::new("domain/e/example.com/f/user/fred"));
        assert_eq!(by_name(HASHED, "example.com!shared"), Path::new("domain/e/example.com/s/shared"));
        assert_eq!(by_name(HASHED, "user.Fred"), Path::new("f/user/Fred"), "lower-cased");
        assert_eq!(by_name(HASHED, "user.9lives"), Path::new("q/user/9lives"), "q when not a letter");
        assert_eq!(by_name(HASHED, "user.^x"), Path::new("q/user/^x"));
        assert_eq!(by_name(HASHED, "user.&AOk-lan"), Path::new("q/user/&AOk-lan"));
    }

    #[test]
    fn fulldirhash() {
        let f = cyrus_full("fred");
        assert_eq!(by_name(FULL, "user.fred.Sent"), PathBuf::from(format!("{f}/user/fred/Sent")));
        assert_eq!(by_name(FULL, "shared"), PathBuf::from(format!("{}/shared", cyrus_full("shared"))));
        assert_eq!(by_name(FULL, "shared.box"), PathBuf::from(format!("{}/shared/box", cyrus_full("box"))));
        // The domain hash stops at its first dot, as dir_hash_c does.
        let d = cyrus_full("example");
        assert_eq!(by_name(FULL, "example.com!user.fred"), PathBuf::from(format!("domain/{d}/example.com/{f}/user/fred")));
        // A user with a dot: Cyrus 3 hashes the decoded component, up to the dot.
        assert_eq!(by_name(FULL, "user.fred^smith"), PathBuf::from(format!("{f}/user/fred^smith")));
        // fulldirhash without hashimapspool changes nothing in the spool.
        let only_full = SpoolLayout { hashimapspool: false, fulldirhash: true };
        assert_eq!(by_name(only_full, "example.com!user.fred"), Path::new("domain/example.com/user/fred"));
    }

    #[test]
    fn by_id_dirs() {
        let e = Entry { mbtype: mbtype::NORMAL | mbtype::BY_ID, uniqueid: "xtbcz3811ht2q5ijm3o2bmhv".into(), ..Default::default() };
        let n = InternalName("user.fred.Sent".into());
        for l in [PLAIN, HASHED, FULL] {
            assert_eq!(l.relative(&n, &e).unwrap(), Path::new("uuid/x/t/xtbcz3811ht2q5ijm3o2bmhv"));
        }
        assert_eq!(by_id("0a9b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d").unwrap(), Path::new("uuid/0/a/0a9b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d"));
        for bad in ["", "a", "../x", "a/b", "..", "a.b", "ab\0"] {
            assert!(by_id(bad).is_none(), "{bad:?}");
            let e = Entry { uniqueid: bad.into(), ..e.clone() };
            assert!(PLAIN.relative(&n, &e).is_err(), "{bad:?}");
        }
        // Without the flag the same entry is by name.
        let by_name_entry = Entry { mbtype: mbtype::NORMAL, ..e };
        assert_eq!(HASHED.relative(&n, &by_name_entry).unwrap(), Path::new("f/user/fred/Sent"));
    }

    #[test]
    fn by_name_dirs_in_the_by_id_tree() {
        let n = |s: &str| InternalName(s.into());
        for name in ["uuid", "uuid.x", "uuid.x.t.xtbcz3811ht2q5ijm3o2bmhv"] {
            assert!(PLAIN.in_by_id_tree(&n(name)), "{name}");
            assert!(!HASHED.in_by_id_tree(&n(name)), "{name}: u/uuid");
        }
        for name in ["uuidx", "shared.uuid", "example.org!uuid", "user.uuid"] {
            assert!(!PLAIN.in_by_id_tree(&n(name)), "{name}");
        }
    }

    #[test]
    fn roots_below_a_name() {
        let n = |s: &str| InternalName(s.into());
        assert_eq!(PLAIN.roots_below(&n("shared")), vec![PathBuf::from("shared")]);
        assert_eq!(HASHED.roots_below(&n("user.fred")), vec![PathBuf::from("f/user/fred")]);
        let r = HASHED.roots_below(&n("shared"));
        assert_eq!(r.len(), 26);
        assert!(r.contains(&PathBuf::from("b/shared")) && r.contains(&PathBuf::from("s/shared")));
        let r = FULL.roots_below(&n("example.com!user"));
        assert_eq!(r.len(), 23);
        assert_eq!(r[0], PathBuf::from(format!("domain/{}/example.com/A/user", cyrus_full("example"))));
        // Every child's directory is below one of the roots.
        for child in ["shared.box", "shared.sub", "shared.box.deep"] {
            assert!(HASHED.roots_below(&n("shared")).iter().any(|r| by_name(HASHED, child).starts_with(r)), "{child}");
        }
    }
}
