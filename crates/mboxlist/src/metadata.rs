//! METADATA entries (RFC 5464) as Cyrus defines them: which entries exist, who may
//! set them, what values they take, and the limits. The values themselves live in
//! the `annotations` database ([`crate::seen`]) under Cyrus's key layout — mailbox
//! name ("" for the server), the entry without its `/private` or `/shared` prefix,
//! and the userid for a private value or "" for the shared one — so values taken
//! over from Cyrus's annotations.db read back unchanged.
//!
//! As in Cyrus, only defined entries may be set unless `annotation_allow_undefined`
//! is on: Cyrus's own (`/comment`, `/specialuse`, `/vendor/cmu/cyrus-imapd/...`) and
//! those of the `annotation_definitions` file (Cyrus's format: `name, scope,
//! attrib-type, proxy-type, attrib-names, acl`). Sizes are bounded by
//! `annotation_maxsize` per value and `annotation_maxentries` values per mailbox and
//! user (suite options: Cyrus bounds them only through the X-ANNOTATION-STORAGE quota).

use conf::Config;

/// Server or mailbox entries (message annotations are not kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Server,
    Mailbox,
}

/// What a value must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Boolean,
    Int,
    Uint,
}

/// One defined entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// Without /private or /shared, lower case: `/comment`.
    pub name: String,
    pub scope: Scope,
    pub shared: bool,
    pub private: bool,
    pub kind: Kind,
    /// Rights needed beyond RFC 5464's to set a shared value.
    pub extra_rights: String,
    /// The server computes it (partition, size ...): read-only.
    pub computed: bool,
}

/// An entry name split: `/private/comment` is (true, "/comment"); the bare
/// `/private` is (true, "").
pub fn split(name: &str) -> Option<(bool, String)> {
    let lower = name.to_ascii_lowercase();
    let (private, rest) = if let Some(r) = lower.strip_prefix("/private") {
        (true, r)
    } else if let Some(r) = lower.strip_prefix("/shared") {
        (false, r)
    } else {
        return None;
    };
    if !(rest.is_empty() || rest.starts_with('/')) || !valid(name) {
        return None;
    }
    Some((private, rest.to_string()))
}

/// RFC 5464 3.2: entry names are ASCII without controls, `*`, `%`, `//`, or a
/// trailing `/`.
fn valid(name: &str) -> bool {
    name.len() <= 1024
        && name.bytes().all(|c| (0x21..0x7f).contains(&c) && c != b'*' && c != b'%')
        && !name.contains("//")
        && !name.ends_with('/')
}

/// Why a value may not be set.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not defined, read-only, or not the user's to set.
    Denied,
    /// Value not of the entry's kind.
    BadValue(String),
    /// Larger than `annotation_maxsize` (the limit).
    TooLarge(usize),
    /// More than `annotation_maxentries` values.
    TooMany,
}

const VENDOR: &str = "/vendor/cmu/cyrus-imapd/";

/// Cyrus 3.6's built-in entries: (name, scope, shared, private, kind, computed).
const BUILTIN: &[(&str, Scope, bool, bool, Kind, bool)] = &[
    ("/comment", Scope::Mailbox, true, true, Kind::Text, false),
    ("/sort", Scope::Mailbox, true, true, Kind::Text, false),
    ("/thread", Scope::Mailbox, true, true, Kind::Text, false),
    ("/check", Scope::Mailbox, true, true, Kind::Boolean, false),
    ("/checkperiod", Scope::Mailbox, true, true, Kind::Uint, false),
    ("/specialuse", Scope::Mailbox, false, true, Kind::Text, false),
    ("expire", Scope::Mailbox, true, false, Kind::Uint, false),
    ("archive", Scope::Mailbox, true, false, Kind::Uint, false),
    ("delete", Scope::Mailbox, true, false, Kind::Uint, false),
    ("news2mail", Scope::Mailbox, true, false, Kind::Text, false),
    ("pop3showafter", Scope::Mailbox, true, false, Kind::Text, false),
    ("sieve", Scope::Mailbox, true, false, Kind::Text, false),
    ("sharedseen", Scope::Mailbox, true, false, Kind::Boolean, false),
    ("squat", Scope::Mailbox, true, false, Kind::Boolean, false),
    ("sortorder", Scope::Mailbox, true, true, Kind::Text, false),
    ("duplicatedeliver", Scope::Mailbox, true, false, Kind::Boolean, false),
    ("pop3newuidl", Scope::Mailbox, true, false, Kind::Boolean, false),
    ("partition", Scope::Mailbox, true, false, Kind::Text, true),
    ("uniqueid", Scope::Mailbox, true, false, Kind::Text, true),
    ("size", Scope::Mailbox, true, false, Kind::Uint, true),
    ("/comment", Scope::Server, true, true, Kind::Text, false),
    ("/admin", Scope::Server, true, false, Kind::Text, false),
    ("/motd", Scope::Server, true, false, Kind::Text, false),
    ("shutdown", Scope::Server, true, false, Kind::Text, false),
    ("expire", Scope::Server, true, false, Kind::Uint, false),
    ("squat", Scope::Server, true, false, Kind::Boolean, false),
];

/// The entries of a site and its limits.
#[derive(Debug)]
pub struct Definitions {
    pub list: Vec<Definition>,
    pub allow_undefined: bool,
    pub maxsize: usize,
    pub maxentries: usize,
}

impl Definitions {
    /// Cyrus's entries plus the `annotation_definitions` file's; an unreadable file
    /// or a bad line is an error (the caller logs it and goes on with the rest).
    pub fn load(cfg: &Config) -> (Definitions, Vec<String>) {
        let mut list: Vec<Definition> = BUILTIN
            .iter()
            .map(|&(n, scope, shared, private, kind, computed)| Definition {
                name: if n.starts_with('/') { n.to_string() } else { format!("{VENDOR}{n}") },
                scope,
                shared,
                private,
                kind,
                extra_rights: String::new(),
                computed,
            })
            .collect();
        let mut problems = Vec::new();
        if let Some(path) = cfg.get_str("annotation_definitions") {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    for (i, line) in text.lines().enumerate() {
                        match parse_definition(line) {
                            Ok(Some(d)) => list.push(d),
                            Ok(None) => {}
                            Err(e) => problems.push(format!("{path} line {}: {e}", i + 1)),
                        }
                    }
                }
                Err(e) => problems.push(format!("{path}: {e}")),
            }
        }
        let maxsize = usize::try_from(cfg.get_int("annotation_maxsize")).unwrap_or(0);
        let maxentries = usize::try_from(cfg.get_int("annotation_maxentries")).unwrap_or(0);
        (Definitions { list, allow_undefined: cfg.get_bool("annotation_allow_undefined"), maxsize, maxentries }, problems)
    }

    /// The definition of `entry` (without prefix) in `scope`.
    pub fn find(&self, scope: Scope, entry: &str) -> Option<&Definition> {
        self.list.iter().rev().find(|d| d.scope == scope && d.name == entry)
    }

    /// Defined entries strictly below `prefix` (for DEPTH), of one kind.
    pub fn below<'a>(&'a self, scope: Scope, private: bool, prefix: &'a str) -> impl Iterator<Item = &'a Definition> + 'a {
        self.list.iter().filter(move |d| d.scope == scope && if private { d.private } else { d.shared } && d.name.len() > prefix.len() && d.name.starts_with(prefix) && d.name.as_bytes()[prefix.len()] == b'/')
    }

    /// Whether a value of `entry` may be stored (rights are the caller's business);
    /// `existing` is how many values the mailbox/user pair has besides this one.
    pub fn check(&self, scope: Scope, private: bool, entry: &str, value: Option<&[u8]>, existing: usize) -> Result<(), Refusal> {
        if entry.is_empty() {
            return Err(Refusal::Denied);
        }
        match self.find(scope, entry) {
            Some(d) => {
                if d.computed || !(if private { d.private } else { d.shared }) {
                    return Err(Refusal::Denied);
                }
                if let Some(v) = value {
                    check_kind(d.kind, v)?;
                }
            }
            None if self.allow_undefined => {}
            None => return Err(Refusal::Denied),
        }
        if let Some(v) = value {
            if self.maxsize > 0 && v.len() > self.maxsize {
                return Err(Refusal::TooLarge(self.maxsize));
            }
            if self.maxentries > 0 && existing >= self.maxentries {
                return Err(Refusal::TooMany);
            }
        }
        Ok(())
    }
}

fn check_kind(kind: Kind, v: &[u8]) -> Result<(), Refusal> {
    let s = std::str::from_utf8(v).unwrap_or("");
    let ok = match kind {
        Kind::Text => true,
        Kind::Boolean => s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false"),
        Kind::Int => s.parse::<i64>().is_ok(),
        Kind::Uint => s.parse::<u64>().is_ok(),
    };
    if ok { Ok(()) } else { Err(Refusal::BadValue(format!("value must be {kind:?}").to_lowercase())) }
}

/// One line of an `annotation_definitions` file; `None` for blanks and comments.
fn parse_definition(line: &str) -> Result<Option<Definition>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    if f.len() != 6 {
        return Err("expected name, scope, attrib-type, proxy-type, attrib-names, acl".into());
    }
    let name = f[0].to_ascii_lowercase();
    if !name.starts_with('/') || !valid(&name) || name.starts_with("/private") || name.starts_with("/shared") {
        return Err(format!("bad entry name {}", f[0]));
    }
    let scope = match f[1].to_ascii_lowercase().as_str() {
        "server" => Scope::Server,
        "mailbox" => Scope::Mailbox,
        "message" => return Ok(None),
        s => return Err(format!("bad scope {s}")),
    };
    let kind = match f[2].to_ascii_lowercase().as_str() {
        "string" | "content-type" => Kind::Text,
        "boolean" => Kind::Boolean,
        "int" => Kind::Int,
        "uint" => Kind::Uint,
        t => return Err(format!("bad attrib-type {t}")),
    };
    let (mut shared, mut private) = (false, false);
    for a in f[4].split_whitespace() {
        match a.to_ascii_lowercase().as_str() {
            "value" => (shared, private) = (true, true),
            "value.shared" => shared = true,
            "value.priv" => private = true,
            "size" | "size.shared" | "size.priv" => {}
            x => return Err(format!("bad attrib-name {x}")),
        }
    }
    Ok(Some(Definition { name, scope, shared, private, kind, extra_rights: f[5].to_string(), computed: false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(split("/private/comment"), Some((true, "/comment".into())));
        assert_eq!(split("/Shared/Vendor/X"), Some((false, "/vendor/x".into())));
        assert_eq!(split("/shared"), Some((false, String::new())));
        for bad in ["/comment", "/privatex", "/private/", "/private//a", "/private/a*", "/shared/a%", "/private/a b"] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn definitions_file_and_checks() {
        let d = parse_definition("/vendor/acme/blurdybloop, mailbox, uint, backend, value.shared size, a").unwrap().unwrap();
        assert!(d.shared && !d.private && d.kind == Kind::Uint && d.extra_rights == "a");
        assert!(parse_definition("# x").unwrap().is_none());
        assert!(parse_definition("/x, planet, string, backend, value, ").is_err());
        let defs = Definitions { list: vec![d], allow_undefined: false, maxsize: 10, maxentries: 2 };
        assert_eq!(defs.check(Scope::Mailbox, false, "/vendor/acme/blurdybloop", Some(b"12"), 0), Ok(()));
        assert!(matches!(defs.check(Scope::Mailbox, false, "/vendor/acme/blurdybloop", Some(b"-1"), 0), Err(Refusal::BadValue(_))));
        assert_eq!(defs.check(Scope::Mailbox, true, "/vendor/acme/blurdybloop", Some(b"1"), 0), Err(Refusal::Denied));
        assert_eq!(defs.check(Scope::Mailbox, false, "/undefined", Some(b"1"), 0), Err(Refusal::Denied));
        assert_eq!(defs.check(Scope::Mailbox, false, "/vendor/acme/blurdybloop", Some(b"12345678901"), 0), Err(Refusal::TooLarge(10)));
        assert_eq!(defs.check(Scope::Mailbox, false, "/vendor/acme/blurdybloop", Some(b"1"), 2), Err(Refusal::TooMany));
        assert_eq!(defs.check(Scope::Mailbox, false, "/vendor/acme/blurdybloop", None, 2), Ok(()));
    }
}
