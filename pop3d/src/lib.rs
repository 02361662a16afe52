//! pop3d as a library (the binary serves it; the fuzz targets reach its parser).
//! Modules: [`session`] (the protocol), [`maildrop`] (the locked snapshot of a
//! mailbox). See pop3d(8).

pub mod maildrop;
pub mod session;
