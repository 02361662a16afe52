//! The on-disk mailbox: message files `UID.`, `cyrus.header`, and the mmap'd
//! `cyrus.index` and `cyrus.cache` (layout in [`format`]).
//!
//! - [`Mailbox::open`] and its readers ([`Mailbox::record`], [`Mailbox::cache_entry`])
//!   never take a lock and never parse a message file for FLAGS, UID, INTERNALDATE or
//!   RFC822.SIZE.
//! - [`Mailbox::lock`] gives a [`Writer`] for append, flag changes and expunge; an
//!   append is on disk before it returns.
//! - [`Watch`] tells another process that the index changed.
//!
//! ```no_run
//! use mailbox::{Mailbox, NewMessage, Paths};
//! let paths = Paths::single(std::path::Path::new("/var/spool/imap/user/fred"));
//! mailbox::create(&paths, "user.fred", "6f1b0d0c", 1_700_000_000)?;
//! let mut mb = Mailbox::open(&paths)?;
//! let uids = mb.append(&[NewMessage { raw: b"Subject: hi\r\n\r\nhello\r\n", flags: 0, keywords: &[], internaldate: 0, parsed: None, link_from: None }])?;
//! # Ok::<(), mailbox::Error>(())
//! ```

pub mod cache;
pub mod format;
pub mod guard;
pub mod header;
mod mailbox;
pub mod notify;
pub mod reconstruct;
mod write;

pub use format::{IndexHeader, Modseq, Record, Uid, flag};
pub use mailbox::{Error, Mailbox, Paths, is_no_space};
pub use notify::Watch;
pub use reconstruct::{Import, Report, import, reconstruct};
pub use write::{FlagOp, NewMessage, Unsynced, Writer, clean_staged, create, create_dirs_durably, sync_appends};

/// fsync of a directory, so that a rename or a new file in it is durable.
pub fn fsync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
