//! RFC 5322 / MIME parsing done once per message, at delivery or APPEND, into
//! everything IMAP needs later without reopening the message file.
//!
//! ```
//! let raw = b"From: Fred <fred@example.com>\r\nSubject: hi\r\n\r\nHello\r\n";
//! let msg = message::parse(raw);
//! assert_eq!(msg.envelope(),
//!     &b"(NIL \"hi\" ((\"Fred\" NIL \"fred\" \"example.com\")) ((\"Fred\" NIL \"fred\" \"example.com\")) \
//!        ((\"Fred\" NIL \"fred\" \"example.com\")) NIL NIL NIL NIL NIL)"[..]);
//! assert_eq!(msg.section(&[1], message::SectionKind::Body), Some(46..53));
//! let cached = message::Cached::from_cache(&msg.to_cache())?;  // what the mailbox cache keeps
//! assert_eq!(cached, msg);
//! # Ok::<(), message::CacheError>(())
//! ```
//!
//! [`parse`] never fails and never panics: broken mail is read the way Cyrus reads
//! it, and its work is bounded ([`MAX_DEPTH`], [`MAX_PARTS`],
//! single linear passes otherwise). The input is the stored octets, CRLF line ends
//! expected and bare LF tolerated. Where RFC 3501 leaves room, the wire forms follow
//! Cyrus IMAPd, whose clients this suite serves; each module says where, and
//! tests/cyrus.rs holds cases checked byte for byte against Cyrus 3.6.1, and
//! tests/test_mime_parity.py compares every section of two corpora over IMAP. Broken
//! MIME splits as Cyrus splits it (crate::structure says how), so that a client that
//! cached Cyrus's answers, and a mailbox taken over from Cyrus, sees the same parts.
//!
//! A [`Message`] owns only derived data (a few hundred bytes for most mail), so a
//! message rebuilt from its cache record is the same value: [`Cached`] is
//! [`Message`]. Section contents and search text take the raw bytes as an argument.

mod address;
mod bodystructure;
mod boundary;
pub mod cache;
mod charset;
mod cursor;
mod date;
mod envelope;
mod header;
mod imap;
mod info;
mod lines;
mod mime;
mod rfc2047;
mod search;
mod section;
mod structure;
mod transfer;

use std::ops::Range;

pub use cache::CacheError;
pub use date::parse_date;
pub use rfc2047::decode_header;
pub use search::TextParts;
pub use section::SectionKind;
pub use structure::{MAX_DEPTH, MAX_PARTS};

use header::{Known, unfold};
use section::Sections;

/// A message as parsed once: IMAP wire forms, section table, search fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub(crate) envelope: Vec<u8>,
    pub(crate) body: Vec<u8>,
    pub(crate) bodystructure: Vec<u8>,
    pub(crate) sections: Sections,
    pub(crate) fields: SearchFields,
}

/// A message rebuilt from its cache record by [`Message::from_cache`]; it answers
/// everything a freshly parsed one does.
pub type Cached = Message;

/// Header fields SEARCH compares against, decoded to UTF-8 ([`decode_header`]);
/// `None` where the header lacks the field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchFields {
    pub subject: Option<String>,
    /// The From field as written, decoded: display names and addresses together.
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub bcc: Option<String>,
    /// Message-ID, unfolded, not decoded.
    pub message_id: Option<String>,
    /// The Date field in seconds since the epoch ([`parse_date`]).
    pub date: Option<i64>,
}

/// The fields of a header block in order, as (name, raw value) with the value's folds
/// kept; for readers that need every field (Sieve), not only the ones IMAP keeps.
pub fn header_fields(block: &[u8]) -> Vec<(&[u8], &[u8])> {
    header::fields(block).into_iter().map(|f| (f.name, f.value)).collect()
}

/// Appends `text` line by line with CRLF ends and a leading `.` doubled, as a
/// dot-terminated data block needs (SMTP/LMTP DATA, NNTP multi-line blocks, RFC 3977
/// 3.1.1); a last line without its end gets one. The caller adds the final `.` line.
pub fn dot_stuff(out: &mut Vec<u8>, text: &[u8]) {
    for line in text.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// Undoes %XX escapes (RFC 3986 2.1) of a URL component — mailto: (Sieve's
/// notify) and imap: (CATENATE) URLs — and reads the octets as UTF-8; `None` for a
/// bad escape or octets that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    String::from_utf8(percent_octets(s.as_bytes())?).ok()
}

/// The octets of `%XX`-escaped bytes (URL components, RFC 2231 extended values);
/// `None` for a bad escape.
pub(crate) fn percent_octets(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// An address-list header value as SEARCH FROM/TO/CC/BCC sees it, as ENVELOPE
/// parses it: each mailbox as `name <local@domain>` (name decoded from RFC 2047),
/// comments and routes left out, lower case. Group names are kept as words.
pub fn address_search_text(value: &[u8]) -> String {
    let mut out = String::new();
    for a in address::parse_list(&unfold(value)) {
        if !out.is_empty() {
            out.push_str(", ");
        }
        if let Some(n) = &a.name {
            out.push_str(&decode_header(n));
            out.push(' ');
        }
        match (&a.mailbox, &a.host) {
            (Some(m), Some(h)) => {
                out.push('<');
                out.push_str(&String::from_utf8_lossy(m));
                if h != address::UNSPECIFIED_DOMAIN {
                    out.push('@');
                    out.push_str(&String::from_utf8_lossy(h));
                }
                out.push('>');
            }
            (Some(group), None) => out.push_str(&decode_header(group)),
            _ => {}
        }
    }
    out.to_lowercase()
}

/// The content of a part for BINARY[...] (RFC 3516 4.2): `body` with the
/// Content-Transfer-Encoding of `mime_header` (the part's own header) undone.
/// `Err` names an encoding the server does not know ([UNKNOWN-CTE]).
pub fn binary_content<'r>(mime_header: &[u8], body: &'r [u8]) -> Result<std::borrow::Cow<'r, [u8]>, String> {
    let known = Known::collect(mime_header);
    let cte = known.content_transfer_encoding.map(|v| unfold(v).trim_ascii().to_ascii_uppercase());
    match cte.as_deref() {
        None | Some(b"7BIT" | b"8BIT" | b"BINARY" | b"") => Ok(std::borrow::Cow::Borrowed(body)),
        Some(b"BASE64") => Ok(transfer::Transfer::Base64.decode(body)),
        Some(b"QUOTED-PRINTABLE") => Ok(transfer::Transfer::QuotedPrintable.decode(body)),
        Some(other) => Err(String::from_utf8_lossy(other).into_owned()),
    }
}

/// A header value unfolded: leading blanks and the line ends of folds removed.
pub fn unfold_value(value: &[u8]) -> Vec<u8> {
    unfold(value)
}

/// The mailboxes of an address-list header value (RFC 5322), as (local part, domain)
/// in order; group names are left out, and a mailbox written without a domain has an
/// empty one.
pub fn address_list(value: &[u8]) -> Vec<(String, String)> {
    address::parse_list(&unfold(value))
        .into_iter()
        .filter_map(|a| {
            let host = a.host?;
            let local = String::from_utf8_lossy(a.mailbox.as_deref()?).into_owned();
            let host = if host == b"unspecified-domain" && !value.windows(b"unspecified-domain".len()).any(|w| w.eq_ignore_ascii_case(b"unspecified-domain")) { Vec::new() } else { host };
            Some((local, String::from_utf8_lossy(&host).into_owned()))
        })
        .collect()
}

/// An address-list header value as Cyrus's cache keeps it for its tools (ipurge -n,
/// unexpunge -l): `Name <mailbox@host>` (the name RFC 2047-decoded, quoted unless it is
/// all atext), mailboxes joined by `,`, a group as `name:...;`.
pub fn address_display(value: &[u8]) -> String {
    let mut out = String::new();
    let mut prev = false;
    for a in address::parse_list(&unfold(value)) {
        let text = |v: &Option<Vec<u8>>| v.as_deref().map(|v| String::from_utf8_lossy(v).into_owned());
        if a.host.is_none() {
            match text(&a.mailbox) {
                Some(group) => {
                    if prev {
                        out.push(',');
                    }
                    out.push_str(&rfc2047::decode_header(group.as_bytes()));
                    out.push(':');
                    prev = false;
                }
                None => {
                    out.push(';');
                    prev = true;
                }
            }
            continue;
        }
        if prev {
            out.push(',');
        }
        if let Some(name) = a.name.as_deref() {
            let name = rfc2047::decode_header(name);
            if name.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "!#$%&'*+-/=?^_`{|}~".contains(c)) {
                out.push_str(&name);
            } else {
                out.push('"');
                out.push_str(&name.replace('\\', "\\\\").replace('"', "\\\""));
                out.push('"');
            }
            out.push(' ');
        }
        out.push('<');
        out.push_str(&text(&a.mailbox).unwrap_or_default());
        out.push('@');
        out.push_str(&text(&a.host).unwrap_or_default());
        out.push('>');
        prev = true;
    }
    out
}

/// The first address of an address-list header value, read as ENVELOPE reads it
/// (for group syntax, the group's start: its name as the mailbox and no host); for
/// SORT's FROM, TO, CC and DISPLAY keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirstAddress {
    /// The display name (or, for `user@host (Comment)`, the comment), RFC 2047-decoded.
    pub name: Option<String>,
    pub mailbox: Option<String>,
    pub host: Option<String>,
}

/// The first address of an address-list header value, if it has one.
pub fn first_address(value: &[u8]) -> Option<FirstAddress> {
    let a = address::parse_list(&unfold(value)).into_iter().next()?;
    let text = |v: Option<Vec<u8>>| v.map(|v| String::from_utf8_lossy(&v).into_owned());
    Some(FirstAddress { name: a.name.as_deref().map(decode_header), mailbox: text(a.mailbox), host: text(a.host) })
}

/// Parses a stored message (see the crate doc).
pub fn parse(raw: &[u8]) -> Message {
    let root = structure::parse(raw);
    let top = Known::collect(&raw[root.header.clone()]);
    let mut body = Vec::with_capacity(128);
    bodystructure::write(&mut body, &root, false);
    let mut bodystructure = Vec::with_capacity(192);
    bodystructure::write(&mut bodystructure, &root, true);
    let decoded = |v: Option<&[u8]>| v.map(decode_header);
    let fields = SearchFields {
        subject: decoded(top.subject),
        from: decoded(top.from),
        to: decoded(top.to),
        cc: decoded(top.cc),
        bcc: decoded(top.bcc),
        message_id: top.message_id.map(|v| String::from_utf8_lossy(unfold(v).trim_ascii()).into_owned()),
        date: top.date.and_then(parse_date),
    };
    Message {
        envelope: envelope::build(&top),
        body,
        bodystructure,
        sections: Sections::from_tree(&root, raw.len()),
        fields,
    }
}

impl Message {
    /// FETCH ENVELOPE, as sent: `(date subject from ... message-id)`.
    pub fn envelope(&self) -> &[u8] {
        &self.envelope
    }

    /// FETCH BODY (no extension data), as sent.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// FETCH BODYSTRUCTURE (with extension data), as sent.
    pub fn bodystructure(&self) -> &[u8] {
        &self.bodystructure
    }

    /// The byte range in the stored message of `BODY[part.kind]`; `part` is the
    /// section's part number (`[]` for the message itself, `[1, 2]` for `1.2`).
    /// `None` if the message has no such section.
    pub fn section(&self, part: &[u32], kind: SectionKind) -> Option<Range<usize>> {
        self.sections.resolve(part, kind)
    }

    /// Octets of the message header, the empty line after it included (RFC822.HEADER).
    pub fn header_size(&self) -> usize {
        self.sections.nodes.first().map_or(0, |n| n.body_start - n.header_start)
    }

    /// Octets of the whole message (RFC822.SIZE).
    pub fn size(&self) -> usize {
        self.sections.size
    }

    /// Decoded header fields for SEARCH.
    pub fn fields(&self) -> &SearchFields {
        &self.fields
    }

    /// The decoded text of each TEXT/* part of `raw` (the stored message this was
    /// parsed from), for SEARCH BODY/TEXT.
    pub fn text_parts<'m, 'r>(&'m self, raw: &'r [u8]) -> TextParts<'m, 'r> {
        TextParts::new(&self.sections.nodes, raw)
    }

    /// Every leaf part of `raw` with its media type (`type/subtype`, lower case;
    /// `text/plain` where the header names none) and its content with the transfer
    /// encoding undone, TEXT/* converted to UTF-8; for Sieve's `body :content`.
    pub fn leaf_parts<'r>(&self, raw: &'r [u8]) -> Vec<(String, std::borrow::Cow<'r, str>)> {
        let mut out = Vec::new();
        for node in &self.sections.nodes {
            if node.kind != section::NodeKind::Leaf {
                continue;
            }
            let (Some(h), Some(body)) = (raw.get(node.header()), raw.get(node.body())) else { continue };
            let known = Known::collect(h);
            let ctype = known.content_type.and_then(|v| mime::content_type(&unfold(v)));
            let media = ctype.as_ref().map_or_else(
                || "text/plain".to_string(),
                |c| format!("{}/{}", String::from_utf8_lossy(&c.media), String::from_utf8_lossy(&c.subtype)).to_ascii_lowercase(),
            );
            let content = match &node.text {
                Some(coding) => charset::to_utf8(coding.transfer.decode(body), coding.charset.as_deref()),
                None => {
                    let tenc = known.content_transfer_encoding.and_then(mime::transfer_encoding);
                    let decoded = transfer::Transfer::from_name(tenc.as_deref()).decode(body);
                    std::borrow::Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
                }
            };
            out.push((media, content));
        }
        out
    }

    /// [`Message::text_parts`] joined by newlines.
    pub fn search_text(&self, raw: &[u8]) -> String {
        let mut out = String::new();
        for part in self.text_parts(raw) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&part);
        }
        out
    }

    /// What SEARCH BODY looks in, as Cyrus 3.6 reads it: below the top-level header,
    /// each part's header (a MIME header, or the header of an attached message),
    /// RFC 2047-decoded, and the decoded text of each TEXT/* leaf, joined by newlines.
    pub fn body_search_text(&self, raw: &[u8]) -> String {
        let mut out = String::new();
        for (i, node) in self.sections.nodes.iter().enumerate() {
            if i > 0 {
                if let Some(h) = raw.get(node.header()) {
                    out.push_str(&decode_header(h));
                    out.push('\n');
                }
            }
            if let (Some(coding), Some(body)) = (&node.text, raw.get(node.body())) {
                out.push_str(&charset::to_utf8(coding.transfer.decode(body), coding.charset.as_deref()));
                out.push('\n');
            }
        }
        out
    }

    /// The cache record (layout in [`cache`]).
    pub fn to_cache(&self) -> Vec<u8> {
        cache::encode(self)
    }

    /// Rebuilds a message from [`Message::to_cache`] bytes; damaged or foreign bytes
    /// are an error.
    pub fn from_cache(bytes: &[u8]) -> Result<Cached, CacheError> {
        cache::decode(bytes)
    }
}
