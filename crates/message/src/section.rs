//! Where each FETCH BODY[section] lies in the stored message (RFC 3501 6.4.5).
//!
//! The part tree is kept flat, in pre-order: each node has its header and body
//! range and the size of its subtree, so a child is found by skipping subtrees. A
//! message/rfc822 node has exactly one child, the top entity of the enclosed message
//! (whose header is that message's header).
//!
//! Numbering: part 1 of a message that is not multipart is its body; the parts of a
//! multipart are numbered from 1; the numbers below a message/rfc822 part number the
//! parts of the enclosed message in the same way. `HEADER` and `TEXT` exist for the
//! message itself (no part number) and for message/rfc822 parts; `MIME` only with a
//! part number (for part 1 of a non-multipart message it is the message header, as in
//! Cyrus). `HEADER.FIELDS` and `.NOT` select from the `HEADER` range.
//!
//! Invariants, checked by [`Sections::is_valid`] before a cached table is used:
//! every range lies within `0..size` with `header_start <= body_start <= body_end`; a
//! leaf has no children, a message node exactly one, a multipart at least one, and
//! the children of a node tile its subtree.

use std::ops::Range;

use crate::structure::{Kind, Part};
use crate::transfer::Transfer;

/// Which piece of a part FETCH BODY[...] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// No suffix: the whole message (`BODY[]`) or the body of part `n` (`BODY[n]`).
    Body,
    /// `HEADER`, and the base of `HEADER.FIELDS` / `HEADER.FIELDS.NOT`.
    Header,
    /// `TEXT`: the body of the message or of the message in an rfc822 part.
    Text,
    /// `n.MIME`: the MIME header of part `n`.
    Mime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Leaf,
    Multipart,
    Message,
}

/// How a TEXT/* leaf is decoded for search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TextCoding {
    pub transfer: Transfer,
    pub charset: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    pub header_start: usize,
    pub body_start: usize,
    pub body_end: usize,
    pub kind: NodeKind,
    /// Nodes in this subtree, the node itself included.
    pub subtree: usize,
    pub text: Option<TextCoding>,
}

impl Node {
    pub(crate) fn header(&self) -> Range<usize> {
        self.header_start..self.body_start
    }

    pub(crate) fn body(&self) -> Range<usize> {
        self.body_start..self.body_end
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sections {
    /// Size of the whole message.
    pub size: usize,
    pub nodes: Vec<Node>,
}

impl Sections {
    pub(crate) fn from_tree(root: &Part, size: usize) -> Sections {
        let mut nodes = Vec::new();
        flatten(root, &mut nodes);
        Sections { size, nodes }
    }

    /// The byte range of a section, or `None` if the message has no such section.
    pub(crate) fn resolve(&self, part: &[u32], kind: SectionKind) -> Option<Range<usize>> {
        let Some((&first, rest)) = part.split_first() else {
            let root = self.nodes.first()?;
            return match kind {
                SectionKind::Body => Some(0..self.size),
                SectionKind::Header => Some(root.header()),
                SectionKind::Text => Some(root.body()),
                SectionKind::Mime => None,
            };
        };
        let mut at = self.numbered(0, first)?;
        for &n in rest {
            at = match self.nodes[at].kind {
                NodeKind::Multipart => self.child(at, n)?,
                NodeKind::Message => self.numbered(at + 1, n)?,
                NodeKind::Leaf => return None,
            };
        }
        let node = &self.nodes[at];
        match kind {
            SectionKind::Body => Some(node.body()),
            SectionKind::Mime => Some(node.header()),
            SectionKind::Header | SectionKind::Text => {
                let inner = (node.kind == NodeKind::Message).then(|| &self.nodes[at + 1])?;
                Some(if kind == SectionKind::Header { inner.header() } else { inner.body() })
            }
        }
    }

    /// Part `n` of the message whose top entity is node `top`.
    fn numbered(&self, top: usize, n: u32) -> Option<usize> {
        match self.nodes.get(top)?.kind {
            NodeKind::Multipart => self.child(top, n),
            _ => (n == 1).then_some(top),
        }
    }

    /// Child `n` (from 1) of node `at`.
    fn child(&self, at: usize, n: u32) -> Option<usize> {
        let end = at + self.nodes[at].subtree;
        let mut i = at + 1;
        for _ in 1..n {
            if i >= end {
                return None;
            }
            i += self.nodes.get(i)?.subtree;
        }
        (n >= 1 && i < end).then_some(i)
    }

    /// Whether the invariants in the module doc hold (for tables read from a cache).
    pub(crate) fn is_valid(&self) -> bool {
        let len = self.nodes.len();
        if self.nodes.first().is_none_or(|r| r.subtree != len) {
            return false;
        }
        self.nodes.iter().enumerate().all(|(i, n)| {
            let ranges = n.header_start <= n.body_start && n.body_start <= n.body_end && n.body_end <= self.size;
            let fits = n.subtree >= 1 && i + n.subtree <= len;
            ranges && fits && self.children_tile(i, n)
        })
    }

    fn children_tile(&self, i: usize, n: &Node) -> bool {
        let end = i + n.subtree;
        let mut j = i + 1;
        let mut count = 0;
        while j < end {
            match self.nodes.get(j) {
                Some(c) if c.subtree >= 1 => j += c.subtree,
                _ => return false,
            }
            count += 1;
        }
        j == end
            && match n.kind {
                NodeKind::Leaf => count == 0,
                NodeKind::Message => count == 1,
                NodeKind::Multipart => count >= 1,
            }
    }
}

fn flatten(part: &Part, nodes: &mut Vec<Node>) {
    let at = nodes.len();
    let (kind, text) = match &part.kind {
        Kind::Leaf if part.info.is_text() => {
            let coding = TextCoding {
                transfer: Transfer::from_name(part.info.encoding.as_deref()),
                charset: part.info.param(b"CHARSET").map(<[u8]>::to_vec),
            };
            (NodeKind::Leaf, Some(coding))
        }
        Kind::Leaf => (NodeKind::Leaf, None),
        Kind::Multipart(_) => (NodeKind::Multipart, None),
        Kind::Message { .. } => (NodeKind::Message, None),
    };
    nodes.push(Node {
        header_start: part.header.start,
        body_start: part.body.start,
        body_end: part.body.end,
        kind,
        subtree: 1,
        text,
    });
    match &part.kind {
        Kind::Leaf => {}
        Kind::Multipart(children) => children.iter().for_each(|c| flatten(c, nodes)),
        Kind::Message { root, .. } => flatten(root, nodes),
    }
    nodes[at].subtree = nodes.len() - at;
}
