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

#[cfg(test)]
mod tests {
    /// Arbitrary bytes (pseudo-random, biased to the characters the parsers look
    /// for) through every entry point: no panic, and threading keeps every message.
    #[test]
    fn arbitrary_headers() {
        let alphabet = b"<>@\"\\[]:( )fwdFWDre\r\n\t xa=?Q_\xc3\xa9";
        let mut seed = 7u64;
        let mut next = |m: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize % m
        };
        let names = ["Subject: ", "From: ", "To: ", "Cc: ", "Message-ID: ", "References: ", "In-Reply-To: ", " ", ""];
        let mut t = crate::Threader::new();
        for k in 0..3000u32 {
            let mut block = Vec::new();
            for _ in 0..next(6) {
                block.extend_from_slice(names[next(names.len())].as_bytes());
                for _ in 0..next(40) {
                    block.push(alphabet[next(alphabet.len())]);
                }
                block.extend_from_slice(b"\r\n");
            }
            let f = crate::Fields::read(&block);
            let crit = crate::sort::parse_criteria(["SUBJECT", "FROM", "TO", "CC", "DISPLAYFROM", "DISPLAYTO"]).unwrap();
            let mut v = crate::sort::SortValues::default();
            v.read_header(&f, &crit);
            let b = crate::BaseSubject::from_header(f.subject.unwrap_or_default());
            let m = crate::ThreadMsg { seq: k + 1, id: k + 1, subject: b.key(), is_refwd: b.is_refwd, ..Default::default() };
            t.push(m, f.own_id().as_deref(), f.reference_ids());
        }
        let mut out = Vec::new();
        t.thread(crate::Algorithm::References).write(&mut out);
        let ids = out.split(|&c| c == b' ' || c == b'(' || c == b')').filter(|w| !w.is_empty()).count();
        assert_eq!(ids, 3000);
    }
}
