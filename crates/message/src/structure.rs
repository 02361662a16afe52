//! The part tree of a message, split where Cyrus 3.6 splits it: one pass over the
//! lines of the stored bytes.
//!
//! Each entity (the message, a MIME part, the message inside a message/rfc822 part)
//! gets its header range, body range and [`Info`]. The rules, where RFC 2045/2046
//! leave room or say nothing about broken mail:
//!
//! - A header ends after its first empty line; a line that is no field is part of the
//!   header (RFC 5322 has no such line; Cyrus reads it so). A delimiter line of any
//!   pending boundary ([`boundary::Pending`]) also ends it, without the line break
//!   before the delimiter; such a part has an empty body (a multipart no parts, a
//!   message/rfc822 an empty default part).
//! - A body runs to the line break before the next delimiter of any pending
//!   boundary, or to the end of the message. The break after a close delimiter
//!   belongs to the multipart it closes (and so to the part around it).
//! - A multipart's parts start after each delimiter; its preamble and epilogue are no
//!   parts. When a delimiter of an enclosing multipart ends a part, the innermost
//!   multipart goes on with a new part; a close delimiter ends its multipart and all
//!   those inside it. The message ending inside multiparts ends them all.
//! - A multipart whose boundary never occurs has one part, empty, at the end of the
//!   message. A multipart with no boundary parameter, or with no part at all, is a
//!   zero-part multipart: IMAP cannot show one, so it appears as an empty TEXT/PLAIN
//!   part (`("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 ...)`, no
//!   extension data) whose BODY[n] and TEXT are empty; its bytes stay in BODY[] and
//!   in the message/rfc822 part around it.
//!
//! Sizes are the octets of the body range; line counts are Cyrus's: a leaf's LFs in
//! its body, a message/rfc822 part's the lines of the enclosed header and body, where
//! a multipart counts every delimiter line (even one without a line end) and the line
//! break before it.
//!
//! Work is bounded whatever the input: nesting deeper than [`MAX_DEPTH`] is not
//! parsed (an opaque APPLICATION/OCTET-STREAM leaf), and once [`MAX_PARTS`] entities
//! are made the last part takes the rest of the message as an opaque leaf. At most
//! `MAX_DEPTH` boundaries are pending, so each line costs at most that many compares.

use std::ops::Range;

use crate::boundary::{self, Pending};
use crate::envelope;
use crate::header::Known;
use crate::info::{DefaultType, Info};
use crate::lines::{self, before_break, lines};

/// Deepest nesting of multiparts and message/rfc822 parts that is parsed.
pub const MAX_DEPTH: usize = 64;
/// Most entities (the message itself included) one message is parsed into.
pub const MAX_PARTS: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Part {
    /// The header (for a MIME part its MIME header), with the empty line ending it.
    pub header: Range<usize>,
    /// The body as BODY[n] serves it (see the module doc).
    pub body: Range<usize>,
    pub info: Info,
    /// The line count BODYSTRUCTURE shows, for TEXT/* and MESSAGE/RFC822 (else 0).
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

/// The top entity of `raw`.
pub(crate) fn parse(raw: &[u8]) -> Part {
    Parser { raw, pos: 0, pending: Pending::default(), parts: 0 }.entity(0, DefaultType::Text).part
}

/// The delimiter line that ended an entity, with the line break before it: the
/// lines it adds to an enclosing multipart.
#[derive(Clone, Copy, Debug)]
struct Tail {
    lines: u64,
}

/// An entity as read, with what an enclosing entity adds up.
struct Scanned {
    part: Part,
    header_lines: u64,
    /// The content's lines and end as counted into an enclosing message/rfc822 part
    /// (beyond `part.body` for a zero-part multipart).
    content_lines: u64,
    content_end: usize,
    tail: Option<Tail>,
}

impl Scanned {
    fn new(part: Part, header_lines: u64, content: Content) -> Scanned {
        Scanned { part, header_lines, content_lines: content.lines, content_end: content.end, tail: content.tail }
    }

    /// Lines from the header to the end of the delimiter that ended this entity.
    fn all_lines(&self) -> u64 {
        self.header_lines + self.content_lines + self.tail.map_or(0, |t| t.lines)
    }
}

/// A body read by [`Parser::content`].
struct Content {
    end: usize,
    lines: u64,
    tail: Option<Tail>,
}

struct Parser<'a> {
    raw: &'a [u8],
    pos: usize,
    pending: Pending,
    parts: usize,
}

impl Parser<'_> {
    fn entity(&mut self, depth: usize, default: DefaultType) -> Scanned {
        self.parts += 1;
        let (header, tail) = self.header();
        let header_lines = lines::count(&self.raw[header.clone()]);
        let mut info = Info::from_header(&Known::collect(&self.raw[header.clone()]), default);
        let start = self.pos;
        if tail.is_some() {
            return self.cut_short(header, header_lines, info, tail);
        }
        let nests = info.is_multipart() || info.is_message();
        if nests && (depth >= MAX_DEPTH || self.parts >= MAX_PARTS) {
            info.make_opaque();
        }
        let (kind, content) = if info.is_multipart() {
            match self.multipart(&info, depth) {
                (Some(children), content) => (Kind::Multipart(children), content),
                (None, content) => return Scanned::new(zero_part(header, start), header_lines, content),
            }
        } else if info.is_message() {
            let inner = self.entity(depth + 1, DefaultType::Text);
            let envelope = envelope::build(&Known::collect(&self.raw[inner.part.header.clone()]));
            let content = Content { end: inner.content_end, lines: inner.header_lines + inner.content_lines, tail: inner.tail };
            (Kind::Message { envelope, root: Box::new(inner.part) }, content)
        } else {
            (Kind::Leaf, self.content())
        };
        let shown = info.is_text() || matches!(kind, Kind::Message { .. });
        let part = Part { header, body: start..content.end, info, lines: if shown { content.lines } else { 0 }, kind };
        Scanned::new(part, header_lines, content)
    }

    /// An entity whose header a delimiter ended: no content.
    fn cut_short(&self, header: Range<usize>, header_lines: u64, info: Info, tail: Option<Tail>) -> Scanned {
        let at = header.end;
        let kind = if info.is_message() {
            let root = Part { header: at..at, body: at..at, info: Info::default_text(), lines: 0, kind: Kind::Leaf };
            Kind::Message { envelope: envelope::build(&Known::default()), root: Box::new(root) }
        } else {
            Kind::Leaf
        };
        let part = if info.is_multipart() {
            zero_part(header, at)
        } else {
            Part { header, body: at..at, info, lines: 0, kind }
        };
        Scanned::new(part, header_lines, Content { end: at, lines: 0, tail })
    }

    /// Reads a header: to just after its empty line, to the end, or up to the line
    /// break before a delimiter (which is consumed and returned).
    fn header(&mut self) -> (Range<usize>, Option<Tail>) {
        let start = self.pos;
        for line in lines(self.raw, start..self.raw.len()) {
            self.pos = line.end;
            if line.start == line.content_end {
                return (start..line.end, None);
            }
            if self.pending.delimiter(&self.raw[line.start..line.end]) {
                let end = before_break(self.raw, line.start, start);
                return (start..end, Some(Tail { lines: 1 + u64::from(end < line.start) }));
            }
        }
        (start..self.pos, None)
    }

    /// Reads a body up to the line break before a delimiter (which is consumed and
    /// returned) or to the end.
    fn content(&mut self) -> Content {
        let start = self.pos;
        for line in lines(self.raw, start..self.raw.len()) {
            self.pos = line.end;
            if self.pending.delimiter(&self.raw[line.start..line.end]) {
                let end = before_break(self.raw, line.start, start);
                let tail = Tail { lines: 1 + u64::from(end < line.start) };
                return Content { end, lines: lines::count(&self.raw[start..end]), tail: Some(tail) };
            }
        }
        Content { end: self.pos, lines: lines::count(&self.raw[start..self.pos]), tail: None }
    }

    /// The parts of a multipart (`None` for a zero-part one) and its content.
    fn multipart(&mut self, info: &Info, depth: usize) -> (Option<Vec<Part>>, Content) {
        let Some(b) = boundary::of(&info.params) else { return (None, self.content()) };
        let default = if info.subtype == b"DIGEST" { DefaultType::Message } else { DefaultType::Text };
        self.pending.push(b);
        let mark = self.pending.len();
        let preamble = self.content();
        let mut lines = preamble.lines + preamble.tail.map_or(0, |t| t.lines);
        let mut end = preamble.end;
        let mut children: Vec<Scanned> = Vec::new();
        while self.pending.len() == mark {
            if let Some(last) = children.last_mut().filter(|_| self.parts >= MAX_PARTS) {
                self.take_rest(last);
                break;
            }
            let child = self.entity(depth + 1, default);
            if self.pos >= self.raw.len() && child.tail.is_none() {
                self.pending.clear();
            }
            children.push(child);
        }
        let tail = if self.pending.len() + 1 == mark {
            // Closed by its own delimiter (or the message ended): the epilogue follows.
            lines += children.iter().map(Scanned::all_lines).sum::<u64>();
            let epilogue = self.content();
            lines += epilogue.lines;
            end = epilogue.end;
            epilogue.tail
        } else if let Some(last) = children.last_mut() {
            // An enclosing delimiter ended the last part: it ends this multipart too.
            let tail = last.tail.take();
            lines += children.iter().map(Scanned::all_lines).sum::<u64>();
            end = children.last().map_or(end, |c| c.content_end);
            tail
        } else {
            lines = preamble.lines;
            preamble.tail
        };
        let content = Content { end, lines, tail };
        let parts: Vec<Part> = children.into_iter().map(|c| c.part).collect();
        ((!parts.is_empty()).then_some(parts), content)
    }

    /// Past [`MAX_PARTS`]: `last` becomes an opaque leaf holding the rest of the
    /// message, which ends every pending multipart.
    fn take_rest(&mut self, last: &mut Scanned) {
        let end = self.raw.len();
        let p = &mut last.part;
        p.body.end = end;
        p.info.make_opaque();
        p.kind = Kind::Leaf;
        p.lines = 0;
        last.content_lines = lines::count(&self.raw[p.body.clone()]);
        last.content_end = end;
        last.tail = None;
        self.pos = end;
        self.pending.clear();
    }
}

/// How a zero-part multipart is shown (see the module doc).
fn zero_part(header: Range<usize>, at: usize) -> Part {
    Part { header, body: at..at, info: Info::default_text(), lines: 0, kind: Kind::Leaf }
}
