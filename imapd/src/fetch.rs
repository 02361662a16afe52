//! FETCH (RFC 3501 6.4.5, 7.4.2): the data items, parsed once per command, and each
//! message's response built in one buffer.
//!
//! FLAGS, UID, INTERNALDATE and RFC822.SIZE come from the index record; ENVELOPE,
//! BODY, BODYSTRUCTURE and the top-level header (HEADER, HEADER.FIELDS, RFC822.HEADER)
//! from the cache; only sections of the body open the message file.

use crate::parse::{PResult, Parser};
use mailbox::Record;
use message::SectionKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sect {
    /// `[]` or `[n]`
    Body,
    Header,
    Fields { not: bool, names: Vec<String> },
    Text,
    Mime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Uid,
    Flags,
    /// RFC 7162: `MODSEQ (n)`.
    Modseq,
    InternalDate,
    Size,
    Envelope,
    BodyNoExt,
    BodyStructure,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    Section { peek: bool, part: Vec<u32>, sect: Sect, partial: Option<(u64, u64)> },
    /// RFC 3516: `BINARY[part]<partial>`, the part with its transfer encoding undone.
    Binary { peek: bool, part: Vec<u32>, partial: Option<(u64, u64)> },
    BinarySize { part: Vec<u32> },
    /// RFC 8474 OBJECTID: the message's id (from its GUID, as Cyrus forms it) and
    /// its thread's (NIL: the store keeps no conversations).
    EmailId,
    ThreadId,
    /// RFC 8514: when the message was put in this mailbox.
    SaveDate,
    /// RFC 8970: the start of the message's text.
    Preview,
}

impl Item {
    /// Whether fetching it sets \Seen.
    pub fn sets_seen(&self) -> bool {
        matches!(self, Item::Rfc822 | Item::Rfc822Text | Item::Section { peek: false, .. } | Item::Binary { peek: false, .. })
    }
}

/// Parses the FETCH attribute list (after the sequence set and a space).
pub fn parse_items(p: &mut Parser) -> PResult<Vec<Item>> {
    let mut items = Vec::new();
    if p.eat(b'(') {
        loop {
            items.push(parse_item(p)?);
            if p.eat(b')') {
                break;
            }
            p.sp()?;
        }
    } else {
        let save = p.pos;
        let k = p.keyword()?;
        match k.as_str() {
            "ALL" => items.extend([Item::Flags, Item::InternalDate, Item::Size, Item::Envelope]),
            "FAST" => items.extend([Item::Flags, Item::InternalDate, Item::Size]),
            "FULL" => items.extend([Item::Flags, Item::InternalDate, Item::Size, Item::Envelope, Item::BodyNoExt]),
            _ => {
                p.pos = save;
                items.push(parse_item(p)?);
            }
        }
    }
    Ok(items)
}

fn parse_item(p: &mut Parser) -> PResult<Item> {
    let k = p.keyword()?;
    Ok(match k.as_str() {
        "UID" => Item::Uid,
        "FLAGS" => Item::Flags,
        "MODSEQ" => Item::Modseq,
        "EMAILID" => Item::EmailId,
        "THREADID" => Item::ThreadId,
        "SAVEDATE" => Item::SaveDate,
        "PREVIEW" => {
            // (LAZY) changes nothing: the preview is always made at once.
            let save = p.pos;
            if !(p.eat(b' ') && p.eat(b'(') && p.word("LAZY") && p.eat(b')')) {
                p.pos = save;
            }
            Item::Preview
        }
        "INTERNALDATE" => Item::InternalDate,
        "RFC822.SIZE" => Item::Size,
        "ENVELOPE" => Item::Envelope,
        "BODYSTRUCTURE" => Item::BodyStructure,
        "RFC822" => Item::Rfc822,
        "RFC822.HEADER" => Item::Rfc822Header,
        "RFC822.TEXT" => Item::Rfc822Text,
        "BODY" | "BODY.PEEK" if p.peek() == Some(b'[') => {
            p.pos += 1;
            let (part, sect) = parse_section(p)?;
            p.expect(b']')?;
            let partial = parse_partial(p)?;
            Item::Section { peek: k == "BODY.PEEK", part, sect, partial }
        }
        "BODY" => Item::BodyNoExt,
        "BINARY" | "BINARY.PEEK" | "BINARY.SIZE" => {
            p.expect(b'[')?;
            let mut part = Vec::new();
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                let n = p.number32()?;
                if n == 0 || part.len() >= crate::parse::MAX_DEPTH {
                    return Err("Invalid part number".into());
                }
                part.push(n);
                if !p.eat(b'.') {
                    break;
                }
            }
            p.expect(b']')?;
            if k == "BINARY.SIZE" {
                Item::BinarySize { part }
            } else {
                Item::Binary { peek: k == "BINARY.PEEK", partial: parse_partial(p)?, part }
            }
        }
        other => return Err(format!("Invalid fetch attribute {}", other.chars().take(30).collect::<String>())),
    })
}

/// `<start.length>` after a section, if there.
fn parse_partial(p: &mut Parser) -> PResult<Option<(u64, u64)>> {
    if !p.eat(b'<') {
        return Ok(None);
    }
    let start = p.number()?;
    p.expect(b'.')?;
    let len = p.number()?;
    if len == 0 {
        return Err("Invalid partial length".into());
    }
    p.expect(b'>')?;
    Ok(Some((start, len)))
}

fn parse_section(p: &mut Parser) -> PResult<(Vec<u32>, Sect)> {
    let mut part = Vec::new();
    while p.peek().is_some_and(|c| c.is_ascii_digit()) {
        let n = p.number32()?;
        if n == 0 {
            return Err("Invalid part number".into());
        }
        part.push(n);
        if part.len() > crate::parse::MAX_DEPTH {
            return Err("Section nesting too deep".into());
        }
        if !p.eat(b'.') {
            return Ok((part, Sect::Body));
        }
    }
    if p.peek() == Some(b']') {
        if !part.is_empty() {
            return Err("Invalid section".into());
        }
        return Ok((part, Sect::Body));
    }
    let k = p.keyword()?;
    let sect = match k.as_str() {
        "HEADER" => Sect::Header,
        "TEXT" => Sect::Text,
        "MIME" if !part.is_empty() => Sect::Mime,
        "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
            p.sp()?;
            p.expect(b'(')?;
            let mut names = Vec::new();
            loop {
                let n = p.astring_text()?;
                // Field names as RFC 5322 allows them, less the IMAP specials, so
                // that the echoed section is an atom list.
                if n.is_empty() || n.bytes().any(|c| c <= b' ' || c == b':' || c >= 0x7f || b"\"()\\]{%*".contains(&c)) {
                    return Err("Invalid header field name".into());
                }
                names.push(n);
                if p.eat(b')') {
                    break;
                }
                p.sp()?;
            }
            Sect::Fields { not: k == "HEADER.FIELDS.NOT", names }
        }
        _ => return Err("Invalid section".into()),
    };
    Ok((part, sect))
}

/// The section's name as echoed in the response (`BODY[1.HEADER.FIELDS (SUBJECT)]`).
fn section_label(part: &[u32], sect: &Sect, partial: Option<(u64, u64)>) -> String {
    let mut s = String::from("BODY[");
    s.push_str(&part.iter().map(u32::to_string).collect::<Vec<_>>().join("."));
    let suffix = match sect {
        Sect::Body => String::new(),
        Sect::Header => "HEADER".into(),
        Sect::Text => "TEXT".into(),
        Sect::Mime => "MIME".into(),
        Sect::Fields { not, names } => format!("HEADER.FIELDS{} ({})", if *not { ".NOT" } else { "" }, names.iter().map(|n| n.to_ascii_uppercase()).collect::<Vec<_>>().join(" ")),
    };
    if !part.is_empty() && !suffix.is_empty() {
        s.push('.');
    }
    s.push_str(&suffix);
    s.push(']');
    if let Some((start, _)) = partial {
        s.push_str(&format!("<{start}>"));
    }
    s
}

/// The header fields of `block` whose names are (or with `not`, are not) in `names`,
/// each with its continuation lines, followed by the empty line.
pub fn filter_fields(block: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            if keep {
                out.extend_from_slice(line);
            }
            continue;
        }
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let name = name.trim_ascii_end();
        let listed = names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name));
        keep = line.contains(&b':') && (listed != not);
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What one message's FETCH needs from the store, loaded on first use.
pub struct Source<'m> {
    pub rec: &'m Record,
    /// The cache entry, checked on first use (FLAGS and UID never need it).
    pub payload: Option<Option<&'m [u8]>>,
    pub read_payload: &'m dyn Fn() -> Option<&'m [u8]>,
    pub parsed: Option<message::Cached>,
    pub raw: Option<Vec<u8>>,
    pub read_raw: &'m dyn Fn() -> Option<Vec<u8>>,
    /// A BINARY item met a transfer encoding it cannot undo (the FETCH then ends
    /// with NO [UNKNOWN-CTE]).
    pub unknown_cte: bool,
}

impl<'m> Source<'m> {
    fn payload(&mut self) -> Option<&'m [u8]> {
        if self.payload.is_none() {
            self.payload = Some((self.read_payload)());
        }
        self.payload.flatten()
    }

    fn parsed(&mut self) -> Option<&message::Cached> {
        if self.parsed.is_none() {
            self.parsed = self.payload().and_then(mailbox::cache::structure);
            if self.parsed.is_none() {
                // A damaged cache entry: parse the file instead.
                let raw = self.raw()?.to_vec();
                self.parsed = Some(message::parse(&raw));
            }
        }
        self.parsed.as_ref()
    }

    fn raw(&mut self) -> Option<&[u8]> {
        if self.raw.is_none() {
            self.raw = (self.read_raw)();
        }
        self.raw.as_deref()
    }

    fn header_block(&mut self) -> Option<Vec<u8>> {
        if let Some(h) = self.payload().and_then(mailbox::cache::header_block) {
            return Some(h.to_vec());
        }
        let raw = self.raw()?;
        Some(raw[..mailbox::cache::header_len(raw)].to_vec())
    }
}

fn literal(out: &mut Vec<u8>, data: &[u8], partial: Option<(u64, u64)>) {
    let data = match partial {
        Some((start, len)) => {
            let s = (start as usize).min(data.len());
            let e = s.saturating_add(len as usize).min(data.len());
            &data[s..e]
        }
        None => data,
    };
    // Nothing goes out as an empty quoted string, as Cyrus sends it.
    if data.is_empty() {
        out.extend_from_slice(b"\"\"");
        return;
    }
    // Content holding a NUL can only go as a literal8 (RFC 3516 4.3).
    let eight = if data.contains(&0) { "~" } else { "" };
    out.extend_from_slice(format!("{eight}{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

/// Appends ` ITEM value` for each item to `out` (the caller writes `* n FETCH (` and
/// the UID). Returns false if the message file could not be read for an item that
/// needs it (the item is then sent as NIL).
pub fn write_items(out: &mut Vec<u8>, items: &[Item], src: &mut Source, flags: &str, first: &mut bool) -> bool {
    let mut ok = true;
    let rec = src.rec;
    for it in items {
        if !*first {
            out.push(b' ');
        }
        *first = false;
        match it {
            Item::Uid => out.extend_from_slice(format!("UID {}", rec.uid.0).as_bytes()),
            Item::Modseq => out.extend_from_slice(format!("MODSEQ ({})", rec.modseq.0).as_bytes()),
            Item::EmailId => out.extend_from_slice(format!("EMAILID ({})", email_id(rec)).as_bytes()),
            Item::ThreadId => out.extend_from_slice(b"THREADID NIL"),
            Item::SaveDate => {
                out.extend_from_slice(b"SAVEDATE \"");
                out.extend_from_slice(crate::parse::format_internaldate(rec.saved()).as_bytes());
                out.push(b'"');
            }
            Item::Preview => {
                out.extend_from_slice(b"PREVIEW ");
                match preview(src) {
                    Some(t) if t.bytes().all(|c| c != b'"' && c != b'\\') => {
                        out.push(b'"');
                        out.extend_from_slice(t.as_bytes());
                        out.push(b'"');
                    }
                    Some(t) => literal(out, t.as_bytes(), None),
                    None => {
                        ok = false;
                        out.extend_from_slice(b"NIL");
                    }
                }
            }
            Item::Flags => {
                out.extend_from_slice(b"FLAGS ");
                out.extend_from_slice(flags.as_bytes());
            }
            Item::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE \"");
                out.extend_from_slice(crate::parse::format_internaldate(rec.internaldate).as_bytes());
                out.push(b'"');
            }
            Item::Size => out.extend_from_slice(format!("RFC822.SIZE {}", rec.size).as_bytes()),
            Item::Envelope | Item::BodyNoExt | Item::BodyStructure => {
                let (label, pick): (&[u8], fn(&message::Cached) -> &[u8]) = match it {
                    Item::Envelope => (b"ENVELOPE ", |m| m.envelope()),
                    Item::BodyNoExt => (b"BODY ", |m| m.body()),
                    _ => (b"BODYSTRUCTURE ", |m| m.bodystructure()),
                };
                out.extend_from_slice(label);
                // Borrowed from the cache when it is sound; else built (parsed).
                if let Some(w) = src.payload().and_then(mailbox::cache::wire_forms) {
                    out.extend_from_slice(match it {
                        Item::Envelope => w.envelope,
                        Item::BodyNoExt => w.body,
                        _ => w.bodystructure,
                    });
                    continue;
                }
                match src.parsed() {
                    Some(m) => out.extend_from_slice(pick(m)),
                    None => {
                        ok = false;
                        out.extend_from_slice(b"NIL");
                    }
                }
            }
            Item::Rfc822Header => {
                out.extend_from_slice(b"RFC822.HEADER ");
                match src.header_block() {
                    Some(h) => literal(out, &h, None),
                    None => {
                        ok = false;
                        out.extend_from_slice(b"NIL");
                    }
                }
            }
            Item::Rfc822 | Item::Rfc822Text => {
                out.extend_from_slice(if *it == Item::Rfc822 { b"RFC822 " } else { b"RFC822.TEXT " });
                let text = *it == Item::Rfc822Text;
                match src.raw() {
                    Some(raw) => {
                        let start = if text { mailbox::cache::header_len(raw) } else { 0 };
                        let raw = raw[start..].to_vec();
                        literal(out, &raw, None);
                    }
                    None => {
                        ok = false;
                        out.extend_from_slice(b"NIL");
                    }
                }
            }
            Item::Binary { part, .. } | Item::BinarySize { part } => {
                let (size_only, partial) = match it {
                    Item::Binary { partial, .. } => (false, partial),
                    _ => (true, &None),
                };
                let label = part.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
                if size_only {
                    out.extend_from_slice(format!("BINARY.SIZE[{label}] ").as_bytes());
                } else {
                    let start = partial.map(|(s, _)| format!("<{s}>")).unwrap_or_default();
                    out.extend_from_slice(format!("BINARY[{label}]{start} ").as_bytes());
                }
                match binary_data(src, part) {
                    Some(Ok(d)) if size_only => out.extend_from_slice(d.len().to_string().as_bytes()),
                    Some(Ok(d)) => literal(out, &d, *partial),
                    Some(Err(())) => {
                        src.unknown_cte = true;
                        out.extend_from_slice(b"NIL");
                    }
                    None if size_only => out.push(b'0'),
                    None => literal(out, b"", None),
                }
            }
            Item::Section { part, sect, partial, .. } => {
                out.extend_from_slice(section_label(part, sect, *partial).as_bytes());
                out.push(b' ');
                let data = section_data(src, part, sect);
                match data {
                    Some(d) => literal(out, &d, *partial),
                    None => {
                        // No such part: empty, as Cyrus answers.
                        if src.raw.is_none() && src.parsed.is_none() {
                            ok = false;
                        }
                        literal(out, b"", None)
                    }
                }
            }
        }
    }
    ok
}

/// RFC 8474 EMAILID as Cyrus forms it: `M` and the first 12 octets of the GUID in hex.
pub fn email_id(rec: &Record) -> String {
    let mut s = String::with_capacity(25);
    s.push('M');
    for b in &rec.guid[..12] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Longest preview, in characters (RFC 8970 3).
const PREVIEW_CHARS: usize = 256;

/// RFC 8970 PREVIEW: the first text part (plain text, else HTML without its tags),
/// white space folded, at most 256 characters; "" when there is no text.
fn preview(src: &mut Source) -> Option<String> {
    let raw = src.raw()?.to_vec();
    let parts = src.parsed()?.leaf_parts(&raw);
    let pick = parts.iter().find(|(t, _)| t == "text/plain").or_else(|| parts.iter().find(|(t, _)| t == "text/html"));
    let Some((media, text)) = pick else { return Some(String::new()) };
    let mut plain = String::with_capacity(text.len().min(4096));
    let mut in_tag = false;
    for c in text.chars() {
        if media == "text/html" {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => {
                    in_tag = false;
                    plain.push(' ');
                    continue;
                }
                _ => {}
            }
            if in_tag {
                continue;
            }
        }
        plain.push(c);
        if plain.len() > 64 * 1024 {
            break;
        }
    }
    let mut out = String::new();
    let mut n = 0;
    for w in plain.split_whitespace() {
        if n > 0 {
            out.push(' ');
            n += 1;
        }
        for c in w.chars().filter(|c| !c.is_control()) {
            if n >= PREVIEW_CHARS {
                return Some(out.trim_end().to_string());
            }
            out.push(c);
            n += 1;
        }
        if n >= PREVIEW_CHARS {
            break;
        }
    }
    Some(out.trim_end().to_string())
}

/// The content of `BINARY[part]`: the whole message for `[]`, else the part's body
/// decoded. `None` when there is no such part, `Err` for an unknown encoding.
fn binary_data(src: &mut Source, part: &[u32]) -> Option<Result<Vec<u8>, ()>> {
    if part.is_empty() {
        return src.raw().map(|r| Ok(r.to_vec()));
    }
    let parsed = src.parsed()?;
    let body = parsed.section(part, SectionKind::Body)?;
    let head = parsed.section(part, SectionKind::Mime)?;
    let raw = src.raw()?;
    let (h, b) = (raw.get(head)?, raw.get(body)?);
    Some(message::binary_content(h, b).map(|c| c.into_owned()).map_err(|_| ()))
}

fn section_data(src: &mut Source, part: &[u32], sect: &Sect) -> Option<Vec<u8>> {
    // The top-level header is in the cache.
    if part.is_empty() {
        match sect {
            Sect::Header => return src.header_block(),
            Sect::Fields { not, names } => return src.header_block().map(|h| filter_fields(&h, names, *not)),
            _ => {}
        }
    }
    let kind = match sect {
        Sect::Body => SectionKind::Body,
        Sect::Header | Sect::Fields { .. } => SectionKind::Header,
        Sect::Text => SectionKind::Text,
        Sect::Mime => SectionKind::Mime,
    };
    let range = src.parsed()?.section(part, kind)?;
    let raw = src.raw()?;
    let bytes = raw.get(range)?;
    Some(match sect {
        Sect::Fields { not, names } => filter_fields(bytes, names, *not),
        _ => bytes.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_and_sections() {
        let mut p = Parser::new(b"(UID BODY.PEEK[1.2.HEADER.FIELDS (From \"Subject\")]<0.10> BODY[] BODY)");
        let items = parse_items(&mut p).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(
            items[1],
            Item::Section { peek: true, part: vec![1, 2], sect: Sect::Fields { not: false, names: vec!["From".into(), "Subject".into()] }, partial: Some((0, 10)) }
        );
        assert!(items[2].sets_seen());
        assert_eq!(items[3], Item::BodyNoExt);
        assert!(parse_items(&mut Parser::new(b"(FLAGS")).is_err());
        assert!(parse_items(&mut Parser::new(b"BODY[0]")).is_err());
        assert!(parse_items(&mut Parser::new(b"BODY[MIME]")).is_err());
        assert_eq!(section_label(&[1, 2], &Sect::Mime, None), "BODY[1.2.MIME]");
        assert_eq!(section_label(&[], &Sect::Body, Some((5, 3))), "BODY[]<5>");
    }

    #[test]
    fn field_filter() {
        let h = b"From: a\r\nSubject: x\r\n  y\r\nTo: b\r\n\r\n";
        assert_eq!(filter_fields(h, &["subject".into()], false), b"Subject: x\r\n  y\r\n\r\n");
        assert_eq!(filter_fields(h, &["subject".into()], true), b"From: a\r\nTo: b\r\n\r\n");
    }
}
