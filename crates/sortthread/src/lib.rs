//! SORT and THREAD (RFC 5256, with RFC 5957's DISPLAYFROM/DISPLAYTO and Cyrus 3.6's
//! MODSEQ, UID and THREAD=REFS) as pure logic over what a server already holds for
//! each message: index values and the header block. No I/O here; imapd reads the
//! index and cache and writes the responses, and nntpd or Sieve can use the same
//! pieces (base subject, collation, message-id reading).
//!
//! - [`collate`]: i;unicode-casemap (RFC 5051).
//! - [`subject`]: the base subject (RFC 5256 section 2.1).
//! - [`fields`]: the header fields SORT and THREAD read, and the address sort values.
//! - [`msgid`]: message-ids in Message-ID, References and In-Reply-To.
//! - [`sort`]: sort keys, criteria and the comparison.
//! - [`thread`]: ORDEREDSUBJECT, REFERENCES, REFS and the THREAD response.
//!
//! ```
//! use sortthread::{Fields, sort};
//! let block = b"From: Bob <bob@example.org>\r\nSubject: Re: [list] Lunch\r\n\r\n";
//! let crit = sort::parse_criteria(["REVERSE", "SUBJECT"]).unwrap();
//! let mut v = sort::SortValues { seq: 1, ..Default::default() };
//! v.read_header(&Fields::read(block), &crit);
//! assert_eq!(v.subject, "LUNCH");
//! ```

pub mod collate;
pub mod fields;
pub mod msgid;
pub mod sort;
pub mod subject;
pub mod thread;

pub use collate::casemap;
pub use fields::Fields;
pub use subject::BaseSubject;
pub use thread::{Algorithm, Forest, ThreadMsg, Threader, push_number};
