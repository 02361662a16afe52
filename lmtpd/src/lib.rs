//! lmtpd as a library (the binary serves it; the fuzz targets reach its parsers).
//! Modules: [`address`] (MAIL/RCPT arguments), [`data`] (DATA and BDAT, trace headers,
//! 8-bit policy), [`deliver`] (recipients to mailboxes, storing, duplicates, quota),
//! [`filter`] (Sieve at delivery), [`session`] (the protocol). See lmtpd(8).

pub mod address;
pub mod data;
pub mod deliver;
pub mod filter;
pub mod session;
