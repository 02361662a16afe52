//! Readers of the files Cyrus IMAPd 2.4 through 3.6 writes, so that a site can be
//! taken over without Cyrus running (`cyr_takeover`). Every reader only reads: none
//! writes or locks a Cyrus file. Layouts were learnt from Cyrus's source and checked
//! against files written by Debian's Cyrus 3.6.1.
//!
//! - [`kv`]: the key-value databases (twoskip, skiplist, flat), detected by magic;
//! - [`dlist`]: the `%(K v ...)` text values of 2.5+ databases and headers;
//! - [`index`]: `cyrus.index` of minor versions 10, 12, 13, 14-17, CRCs checked;
//! - [`header`]: `cyrus.header`, the old three-line form and the 3.6 dlist line.

pub mod dlist;
pub mod header;
pub mod index;
pub mod kv;

/// What went wrong reading a Cyrus file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

pub(crate) fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

pub(crate) fn be64(b: &[u8], o: usize) -> u64 {
    (u64::from(be32(b, o)) << 32) | u64::from(be32(b, o + 4))
}
