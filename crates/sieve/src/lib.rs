//! Sieve (RFC 5228) and the extensions Cyrus 3.6 offers: a parser with exact RFC
//! lexing, a checked script form, and an interpreter that takes a message, its
//! envelope and the recipient and returns the actions to carry out. Nothing here
//! sends mail or touches a mailbox: lmtpd carries the actions out, timsieved stores
//! and checks scripts ([`store`]).
//!
//! ```
//! let exts = sieve::Extensions::all();
//! let script = sieve::compile(b"require \"fileinto\";\nif header :contains \"subject\" \"spam\" { fileinto \"Junk\"; }", &exts)?;
//! assert_eq!(script.requires(), ["fileinto"]);
//! let e = sieve::compile(b"keep", &exts).unwrap_err();
//! assert_eq!((e.line, e.column), (1, 5));
//! # Ok::<(), sieve::CompileError>(())
//! ```

mod address;
mod ast;
mod compile;
mod date;
mod grammar;
pub mod headers;
mod interp;
mod lexer;
mod matching;
pub mod notify;
pub mod store;
pub mod vacation;
mod variables;

pub use compile::{Script, compile};
pub use interp::{Action, Envelope, FileInto, Host, Input, Limits, NotifyAction, Outcome, RuntimeError, VacationReply, execute};

/// Every extension the engine implements, as named on ManageSieve's SIEVE line.
pub const EXTENSIONS: &[&str] = &[
    "comparator-i;ascii-numeric",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
    "comparator-i;unicode-casemap",
    "encoded-character",
    "fileinto",
    "reject",
    "ereject",
    "envelope",
    "body",
    "relational",
    "subaddress",
    "regex",
    "copy",
    "imap4flags",
    "vacation",
    "vacation-seconds",
    "include",
    "variables",
    "date",
    "index",
    "mailbox",
    "mboxmetadata",
    "servermetadata",
    "duplicate",
    "editheader",
    "environment",
    "ihave",
    "enotify",
    "extlists",
    "special-use",
    "fcc",
    "mailboxid",
    "redirect-dsn",
    "redirect-deliverby",
];

/// The extensions a site allows (`sieve_extensions`); scripts may `require` only these.
#[derive(Clone, Debug)]
pub struct Extensions {
    allowed: Vec<&'static str>,
}

impl Extensions {
    /// Every extension the engine implements.
    pub fn all() -> Extensions {
        Extensions { allowed: EXTENSIONS.to_vec() }
    }

    /// From the value of `sieve_extensions` (space-separated names, Cyrus's words:
    /// `reject` also allows `ereject`, `notify` allows `enotify`, `imapflags` is
    /// `imap4flags`); `None` allows all. Comparators and encoded-character are part of
    /// the language and always allowed.
    pub fn from_config(list: Option<&str>) -> Extensions {
        let Some(list) = list else { return Extensions::all() };
        let words: Vec<String> = list.split_whitespace().map(|w| w.to_ascii_lowercase()).collect();
        let allowed = EXTENSIONS
            .iter()
            .copied()
            .filter(|e| {
                e.starts_with("comparator-")
                    || *e == "encoded-character"
                    || words.iter().any(|w| {
                        w == e || (w == "notify" && *e == "enotify") || (w == "reject" && *e == "ereject") || (w == "imapflags" && *e == "imap4flags")
                    })
            })
            .collect();
        Extensions { allowed }
    }

    pub fn allows(&self, name: &str) -> bool {
        self.allowed.iter().any(|e| e.eq_ignore_ascii_case(name))
    }

    /// The SIEVE capability line's value (without the comparators that are implied).
    pub fn capability(&self) -> String {
        self.allowed.iter().filter(|e| !matches!(**e, "comparator-i;octet" | "comparator-i;ascii-casemap")).copied().collect::<Vec<_>>().join(" ")
    }
}

/// A compile (parse or check) error, with the position where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for CompileError {}

