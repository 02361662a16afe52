//! The part tree of a message: one recursive pass from the stored bytes.
//!
//! Each entity (the message, a MIME part, the message inside a message/rfc822 part)
//! gets its header range, body range and [`Info`]. Work is bounded whatever the
//! input: nesting deeper than [`MAX_DEPTH`] and parts beyond [`MAX_PARTS`] are not
//! parsed but kept as opaque APPLICATION/OCTET-STREAM leaves (parts past the limit
//! merged into the last one that fits), so the scans cost at most `MAX_DEPTH` passes
//! over the bytes. A multipart without a boundary parameter, or whose boundary
//! never opens a part, becomes a TEXT/PLAIN leaf holding its whole body, so the
//! text stays readable (Cyrus shows it as an empty text part instead).

use std::ops::Range;

use crate::boundary;
use crate::envelope;
use crate::header::{self, Known};
use crate::info::{DefaultType, Info};
use crate::lines;

/// Deepest nesting of multiparts and message/rfc822 parts that is parsed.
pub const MAX_DEPTH: usize = 64;
/// Most entities (the message itself included) one message is parsed into.
pub const MAX_PARTS: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Part {
    /// The header (for a MIME part its MIME header), with the empty line ending it.
    pub header: Range<usize>,
    /// Everything after the header, up to the line break before the next delimiter.
    pub body: Range<usize>,
    pub info: Info,
    /// LFs in the body, for TEXT/* and MESSAGE/RFC822 (else 0).
    pub lines: u64,
    pub kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Leaf,
    Multipart(Vec<Part>),
    /// message/rfc822: the ENVELOPE of the enclosed message and its top entity.
    Message { envelope: Vec<u8>, root: Box<Part> },
}

impl Part {
    /// Stops being parsed inside; its body runs to `end`.
    fn make_opaque(&mut self, end: usize) {
        self.body.end = end.max(self.body.start);
        self.info.make_opaque();
        self.kind = Kind::Leaf;
        self.lines = 0;
    }
}

/// The top entity of `raw`.
pub(crate) fn parse(raw: &[u8]) -> Part {
    Parser { raw, parts: 0 }.entity(0..raw.len(), 0, DefaultType::Text)
}

struct Parser<'a> {
    raw: &'a [u8],
    parts: usize,
}

impl Parser<'_> {
    fn entity(&mut self, range: Range<usize>, depth: usize, default: DefaultType) -> Part {
        self.parts += 1;
        let header = header::split(self.raw, range.clone());
        let body = header.end..range.end.max(header.end);
        let mut info = Info::from_header(&Known::collect(&self.raw[header.clone()]), default);
        let may_nest = depth < MAX_DEPTH && self.parts < MAX_PARTS;
        let kind = if (info.is_multipart() || info.is_message()) && !may_nest {
            info.make_opaque();
            Kind::Leaf
        } else if info.is_multipart() {
            match self.children(&info, body.clone(), depth) {
                Some(children) => Kind::Multipart(children),
                None => {
                    info.set_type(DefaultType::Text);
                    Kind::Leaf
                }
            }
        } else if info.is_message() {
            let root = self.entity(body.clone(), depth + 1, DefaultType::Text);
            let envelope = envelope::build(&Known::collect(&self.raw[root.header.clone()]));
            Kind::Message { envelope, root: Box::new(root) }
        } else {
            Kind::Leaf
        };
        let counted = info.is_text() || matches!(kind, Kind::Message { .. });
        let lines = if counted { lines::count(&self.raw[body.clone()]) } else { 0 };
        Part { header, body, info, lines, kind }
    }

    fn children(&mut self, info: &Info, body: Range<usize>, depth: usize) -> Option<Vec<Part>> {
        let boundary = info.param(b"BOUNDARY").filter(|b| !b.is_empty())?;
        let default = if info.subtype == b"DIGEST" { DefaultType::Message } else { DefaultType::Text };
        let split = boundary::split(self.raw, body, boundary, MAX_PARTS - self.parts)?;
        let rest_end = split.parts.last().map_or(0, |r| r.end);
        let mut children: Vec<Part> = Vec::with_capacity(split.parts.len());
        for range in split.parts {
            if self.parts >= MAX_PARTS {
                // Budget used up inside earlier siblings: the rest joins the last one.
                if let Some(last) = children.last_mut() {
                    last.make_opaque(rest_end);
                }
                return Some(children);
            }
            children.push(self.entity(range, depth + 1, default));
        }
        if let Some(last) = children.last_mut().filter(|_| split.capped) {
            last.make_opaque(rest_end);
        }
        Some(children)
    }
}
