//! `cyrus.header`: the mailbox's name, unique id and user flag (keyword) names.
//!
//! A small text file, replaced whole and atomically (written to a temporary name,
//! fsynced, renamed, directory fsynced) under the mailbox lock:
//! ```text
//! MSUITHDR 1
//! <name>\t<uniqueid>
//! <flag0> <flag1> ...
//! ```
//! Bit n of a record's user flags is the n-th name on the third line (at most 128).

use std::io::Write;
use std::path::Path;

const MAGIC: &str = "MSUITHDR 1";
/// Most user flags a mailbox can define (four 32-bit words in each record).
pub const MAX_USER_FLAGS: usize = 128;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxHeader {
    pub name: String,
    pub uniqueid: String,
    pub user_flags: Vec<String>,
}

impl MailboxHeader {
    pub fn read(path: &Path) -> Result<MailboxHeader, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(format!("{}: not a mailbox header of this suite", path.display()));
        }
        let (name, uniqueid) = lines
            .next()
            .and_then(|l| l.split_once('\t'))
            .ok_or_else(|| format!("{}: no name line", path.display()))?;
        let user_flags = lines.next().unwrap_or("").split_whitespace().map(str::to_string).collect();
        Ok(MailboxHeader { name: name.to_string(), uniqueid: uniqueid.to_string(), user_flags })
    }

    /// Replaces the file atomically and durably.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        self.write_with(path, true)
    }

    /// Replaces the file atomically; durably only with `sync` (a bulk import syncs
    /// the whole filesystem once at its end instead).
    pub fn write_with(&self, path: &Path, sync: bool) -> Result<(), String> {
        let tmp = path.with_extension("NEW");
        let body = format!("{MAGIC}\n{}\t{}\n{}\n", self.name, self.uniqueid, self.user_flags.join(" "));
        let r = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(body.as_bytes())?;
            if sync {
                f.sync_all()?;
            }
            std::fs::rename(&tmp, path)?;
            if sync { crate::fsync_dir(path.parent().unwrap_or(Path::new("."))) } else { Ok(()) }
        })();
        r.map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Bit number of a user flag, by name (case-insensitive, as IMAP keywords are).
    pub fn flag_index(&self, name: &str) -> Option<usize> {
        self.user_flags.iter().position(|f| f.eq_ignore_ascii_case(name))
    }
}
