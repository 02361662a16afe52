//! nntpd: NNTP (RFC 3977 and its extensions) over the mail store, as Cyrus's nntpd.
//! See nntpd(8).

pub mod article;
pub mod feed;
pub mod groups;
pub mod post;
pub mod reader;
pub mod session;
