//! The decoded text of a message's TEXT/* leaves, for SEARCH BODY and TEXT.
//!
//! Each leaf's body is taken from the stored bytes by its range, its transfer
//! encoding (base64, quoted-printable) undone and its charset converted to UTF-8
//! (see [`crate::charset`]). A leaf that needs neither is lent out, not copied. Only
//! TEXT/* leaves count, those inside attached messages included; headers are the
//! caller's to search (HEADER range), and HTML is searched as written, tags and all.

use std::borrow::Cow;

use crate::charset;
use crate::section::Node;

/// Iterator over the decoded text of each TEXT/* leaf, in message order.
pub struct TextParts<'m, 'r> {
    nodes: std::slice::Iter<'m, Node>,
    raw: &'r [u8],
}

impl<'m, 'r> TextParts<'m, 'r> {
    pub(crate) fn new(nodes: &'m [Node], raw: &'r [u8]) -> Self {
        TextParts { nodes: nodes.iter(), raw }
    }
}

impl<'r> Iterator for TextParts<'_, 'r> {
    type Item = Cow<'r, str>;

    fn next(&mut self) -> Option<Cow<'r, str>> {
        for node in self.nodes.by_ref() {
            let Some(coding) = &node.text else { continue };
            // A raw message shorter than the cached ranges (the wrong file) yields
            // nothing for the parts it lacks rather than a panic.
            let Some(body) = self.raw.get(node.body()) else { continue };
            let octets = coding.transfer.decode(body);
            return Some(charset::to_utf8(octets, coding.charset.as_deref()));
        }
        None
    }
}
