//! The one table of every imapd.conf option the suite reads.
//!
//! Each entry gives the name, the type (which fixes how a value is checked when the
//! file is loaded), the default as it would be written in imapd.conf, and a one-line
//! description. `man/imapd.conf.5` is generated from this table (`cargo run -p conf
//! --bin gen-imapd-conf-man`) and a test fails when the two disagree.
//!
//! A name ending in `-` is a prefix: `partition-` stands for `partition-NAME`.
//! Add an option here in the same commit as the code that reads it.

/// How an option's value is written and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Str,
    /// yes/no, on/off, true/false, t/f, 1/0.
    Bool,
    /// A signed decimal integer.
    Int,
    /// A number with units d, h, m, s (summed: `1h30m`); a bare number is in the
    /// given default unit (`'s'`, `'m'`, `'h'` or `'d'`).
    Duration(char),
    /// One of the listed words (compared without case).
    Enum(&'static [&'static str]),
    /// Whitespace-separated words, each one of the listed ones (empty list: any word).
    List(&'static [&'static str]),
}

/// One row of the table.
#[derive(Debug)]
pub struct OptDef {
    pub name: &'static str,
    pub kind: Kind,
    /// The default, written as in imapd.conf; `None` means no default (unset).
    pub default: Option<&'static str>,
    pub desc: &'static str,
}

impl OptDef {
    /// True for a prefix entry such as `partition-`.
    pub fn is_prefix(&self) -> bool {
        self.name.ends_with('-') || self.name.ends_with('_')
    }
}

const FACILITIES: &[&str] = &[
    "DAEMON", "MAIL", "NEWS", "USER", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4",
    "LOCAL5", "LOCAL6", "LOCAL7",
];

const TLS_VERSIONS: &[&str] = &["tls1_0", "tls1_1", "tls1_2", "tls1_3"];

const META_FILES: &[&str] = &[
    "header", "index", "cache", "expunge", "squat", "annotations", "lock", "dav",
    "archivecache",
];

/// The words `sieve_extensions` takes: Cyrus 3.6's (with its aliases), and the names of
/// the extensions Cyrus enables along with another word (`reject` also gives
/// `ereject`, `notify` also `enotify`).
const SIEVE_EXTENSION_WORDS: &[&str] = &[
    "fileinto", "reject", "ereject", "vacation", "vacation-seconds", "notify", "enotify",
    "include", "envelope", "environment", "body", "relational", "regex", "subaddress",
    "copy", "date", "index", "imap4flags", "imapflags", "mailbox", "mboxmetadata",
    "servermetadata", "variables", "editheader", "extlists", "duplicate", "ihave", "fcc",
    "special-use", "redirect-dsn", "redirect-deliverby", "mailboxid", "encoded-character",
    "vnd.cyrus.log", "x-cyrus-log", "vnd.cyrus.jmapquery", "x-cyrus-jmapquery",
    "vnd.cyrus.imip", "snooze", "vnd.cyrus.snooze", "x-cyrus-snooze",
];

mod table;
pub use table::OPTIONS;

/// Older names accepted for an option: (old, new). A `*` in the old name stands for a
/// service name, which becomes the new name's service prefix.
pub const ALIASES: &[(&str, &str)] = &[
    ("tls_ca_file", "tls_client_ca_file"),
    ("tls_ca_path", "tls_client_ca_dir"),
    ("tls_cert_file", "tls_server_cert"),
    ("tls_cipher_list", "tls_ciphers"),
    ("tls_key_file", "tls_server_key"),
    ("tls_*_cert_file", "tls_server_cert"),
    ("tls_*_key_file", "tls_server_key"),
];

/// The table row for `name`: an exact name, or a prefix entry that `name` starts with
/// (with a non-empty rest).
pub fn lookup(name: &str) -> Option<&'static OptDef> {
    OPTIONS.iter().find(|d| {
        if d.is_prefix() {
            name.len() > d.name.len() && name.starts_with(d.name)
        } else {
            d.name == name
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in OPTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} then {}", w[0].name, w[1].name);
        }
    }

    #[test]
    fn defaults_parse_as_their_type() {
        for d in OPTIONS {
            if let Some(v) = d.default {
                crate::value::check(d.kind, v).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            }
        }
    }

    #[test]
    fn prefix_lookup() {
        assert_eq!(lookup("partition-default").unwrap().name, "partition-");
        assert!(lookup("partition-").is_none());
        assert_eq!(lookup("metapartition-fast").unwrap().name, "metapartition-");
        assert!(lookup("nosuch").is_none());
    }
}
