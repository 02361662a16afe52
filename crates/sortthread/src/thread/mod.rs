//! THREAD (RFC 5256 section 3 and Cyrus 3.6's REFS): ORDEREDSUBJECT, REFERENCES and
//! REFS over a set of messages, and the THREAD response's wire form.
//!
//! Feed the messages in sequence order to a [`Threader`] (what the sort needs, and
//! the ids read from Message-ID, References and In-Reply-To; ids are interned, so a
//! message costs its ids once), then [`Threader::thread`] returns a [`Forest`] whose
//! [`Forest::write`] is the response body: `(1 2)(3 (4)(5))`.
//!
//! Each algorithm follows Cyrus 3.6's `index.c`, so that a mailbox threads alike on
//! both servers, and each is bounded on hostile mail: ids are looked up in hash
//! maps; the loop checks of REFERENCES step 1 use a link-cut tree (module `lct`)
//! instead of walking the tree; pruning, sorting and writing are iterative, so a
//! thread 100 000 messages deep needs no deep stack. The work is O((messages + ids)
//! log n).
//!
//! - ORDEREDSUBJECT: messages sorted by (base subject, date, sequence); each run of
//!   one subject is a thread whose first message is the parent of the others; the
//!   threads and the children sorted by (date, sequence).
//! - REFERENCES: steps 1 to 6 of RFC 5256, in Cyrus's reading (module `link` for
//!   steps 1 to 3, `forest` for 4 to 6).
//! - REFS (draft-ietf-morg-inthread, as Cyrus implements it): steps 1 to 3 of
//!   REFERENCES, no subject grouping; the threads ordered by the latest internal
//!   date among their messages, the children by (sent date, internal date,
//!   sequence).

mod forest;
mod lct;
mod link;

use std::collections::HashMap;

pub use forest::{Forest, push_number};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    OrderedSubject,
    References,
    Refs,
}

impl Algorithm {
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name.to_ascii_uppercase().as_str() {
            "ORDEREDSUBJECT" => Algorithm::OrderedSubject,
            "REFERENCES" => Algorithm::References,
            "REFS" => Algorithm::Refs,
            _ => return None,
        })
    }

    /// Whether the algorithm reads Message-ID, References and In-Reply-To.
    pub fn needs_ids(self) -> bool {
        self != Algorithm::OrderedSubject
    }
}

/// What threading needs of one message besides its ids.
#[derive(Clone, Debug, Default)]
pub struct ThreadMsg {
    pub seq: u32,
    /// The number the response shows: the sequence number, or the UID for UID THREAD.
    pub id: u32,
    /// The sent date, or the internal date when there is none.
    pub date: i64,
    /// The internal date.
    pub arrival: i64,
    /// The base subject's i;unicode-casemap form.
    pub subject: String,
    /// Extracting the base subject removed a reply or forward marker.
    pub is_refwd: bool,
}

/// Collects messages (in sequence order) and threads them.
#[derive(Default)]
pub struct Threader {
    msgs: Vec<ThreadMsg>,
    /// Each message's own interned id, if it has one.
    own: Vec<Option<u32>>,
    /// The interned reference ids of message i are refs[ref_start[i]..ref_start[i + 1]].
    refs: Vec<u32>,
    ref_start: Vec<usize>,
    ids: HashMap<Box<[u8]>, u32>,
}

impl Threader {
    pub fn new() -> Threader {
        Threader { ref_start: vec![0], ..Default::default() }
    }

    fn intern(&mut self, id: &[u8]) -> u32 {
        if let Some(&n) = self.ids.get(id) {
            return n;
        }
        let n = self.ids.len() as u32;
        self.ids.insert(id.into(), n);
        n
    }

    /// Adds the next message: its own Message-ID and the ids of its ancestors, oldest
    /// first (see [`crate::Fields::own_id`] and [`crate::Fields::reference_ids`]).
    pub fn push<I, R>(&mut self, msg: ThreadMsg, own: Option<&[u8]>, refs: I)
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        let own = own.map(|id| self.intern(id));
        for r in refs {
            let n = self.intern(r.as_ref());
            self.refs.push(n);
        }
        self.ref_start.push(self.refs.len());
        self.own.push(own);
        self.msgs.push(msg);
    }

    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub fn thread(self, alg: Algorithm) -> Forest {
        match alg {
            Algorithm::OrderedSubject => forest::ordered_subject(self.msgs),
            Algorithm::References => {
                let mut f = link::link_and_prune(&self.msgs, &self.own, &self.refs, &self.ref_start, self.ids.len());
                f.msgs = self.msgs;
                f.references();
                f
            }
            Algorithm::Refs => {
                let mut f = link::link_and_prune(&self.msgs, &self.own, &self.refs, &self.ref_start, self.ids.len());
                f.msgs = self.msgs;
                f.refs();
                f
            }
        }
    }
}

#[cfg(test)]
mod tests;
