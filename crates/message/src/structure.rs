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
//!
//! One Cyrus quirk is kept on purpose, so that sizes match it byte for byte: when a
//! nested multipart's close delimiter is followed at once by the enclosing delimiter,
//! the line break between them stays in the nested part (and in the message/rfc822
//! part around it), although RFC 2046 gives it to the enclosing delimiter.

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
    /// A multipart whose close delimiter ends its range (see [`boundary::Split`]).
    close_at_end: bool,
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

    /// Whether the last text of this part is a close delimiter without its line break.
    fn ends_with_close(&self) -> bool {
        match &self.kind {
            Kind::Multipart(_) => self.close_at_end,
            Kind::Message { root, .. } => root.ends_with_close(),
            Kind::Leaf => false,
        }
    }

    /// Moves the end of the body (and of an enclosed message's) to `end`, which adds
    /// one line break.
    fn take_break(&mut self, end: usize) {
        self.body.end = end;
        if let Kind::Message { root, .. } = &mut self.kind {
            self.lines += 1;
            root.take_break(end);
        }
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
        let mut close_at_end = false;
        let kind = if (info.is_multipart() || info.is_message()) && !may_nest {
            info.make_opaque();
            Kind::Leaf
        } else if info.is_multipart() {
            match self.children(&info, body.clone(), depth) {
                Some((children, at_end)) => {
                    close_at_end = at_end;
                    Kind::Multipart(children)
                }
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
        Part { header, body, info, lines, kind, close_at_end }
    }

    /// The parts of a multipart, and whether its close delimiter ends its body.
    fn children(&mut self, info: &Info, body: Range<usize>, depth: usize) -> Option<(Vec<Part>, bool)> {
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
                return Some((children, false));
            }
            let mut child = self.entity(range, depth + 1, default);
            if child.ends_with_close() {
                let end = child.body.end;
                let brk = [&b"\r\n"[..], b"\n"].into_iter().find(|b| self.raw[end..].starts_with(b));
                if let Some(brk) = brk {
                    child.take_break(end + brk.len());
                }
            }
            children.push(child);
        }
        if let Some(last) = children.last_mut().filter(|_| split.capped) {
            last.make_opaque(rest_end);
        }
        Some((children, split.close_at_end))
    }
}
