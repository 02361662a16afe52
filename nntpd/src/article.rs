//! What the reader commands send about an article: overview fields and headers from
//! the cache (never the message file), the Xref line from the deliver database (as
//! Cyrus builds it on the fly), and the article itself, dot-stuffed.

use crate::groups::{Group, News};
use deliverdb::DeliverDb;
use mailbox::Record;

/// A header's value from a cached header block, unfolded (line breaks removed, TABs
/// as spaces, as overview lines need), first occurrence.
pub fn header(block: &[u8], name: &str) -> Option<String> {
    let (_, v) = message::header_fields(block).into_iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))?;
    Some(clean(v))
}

/// A raw header value as one overview-safe line.
pub fn clean(v: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(v).chars().filter(|&c| c != '\r' && c != '\n').map(|c| if c == '\t' { ' ' } else { c }).collect();
    text.trim().to_string()
}

/// The cached header block of an article (empty for a damaged cache entry).
pub fn header_block<'a>(g: &'a Group, r: &Record) -> &'a [u8] {
    g.mb.cache_entry(r).ok().and_then(mailbox::cache::header_block).unwrap_or_default()
}

/// The Message-ID of an article, `<0>` when it has none (as Cyrus).
pub fn message_id(g: &Group, r: &Record) -> String {
    header(header_block(g, r), "Message-ID").filter(|m| !m.is_empty()).unwrap_or_else(|| "<0>".into())
}

/// The body's line count: from the cache, or (an entry cached before the count was
/// kept) counted from the message file.
pub fn lines(g: &Group, r: &Record) -> u32 {
    if let Some(n) = g.mb.cache_entry(r).ok().and_then(mailbox::cache::stored_body_lines) {
        return n;
    }
    let raw = g.mb.read_message(r.uid).unwrap_or_default();
    mailbox::cache::body_lines(&raw[mailbox::cache::header_len(&raw)..])
}

/// `servername group:number ...`: every served group the message was filed into with
/// its number (from the deliver database), the current one always included.
pub fn xref(news: &News, db: &mut DeliverDb, servername: &str, g: &Group, uid: u32, msgid: &str) -> String {
    let mut places: Vec<(String, u32)> = Vec::new();
    if msgid != "<0>" {
        for rec in db.find_for(msgid, "shared:").unwrap_or_default() {
            let (Some(mbox), Some(u)) = (rec.recipient.strip_prefix("shared:"), rec.uid) else { continue };
            if let Some(group) = news.group_of(mbox) {
                places.push((group, u));
            }
        }
    }
    if !places.iter().any(|(n, u)| *n == g.name && *u == uid) {
        places.push((g.name.clone(), uid));
    }
    places.sort();
    places.dedup();
    let mut out = servername.to_string();
    for (n, u) in places {
        out.push_str(&format!(" {n}:{u}"));
    }
    out
}

/// One OVER line (RFC 3977 8.3.2): number, Subject, From, Date, Message-ID,
/// References, :bytes, :lines, then Xref as `Xref: ...` (LIST OVERVIEW.FMT's
/// `Xref:full`). :bytes counts the Xref header ARTICLE adds, as Cyrus does.
pub fn overview(news: &News, db: &mut DeliverDb, servername: &str, g: &Group, r: &Record, shown_number: u32) -> String {
    let block = header_block(g, r);
    let field = |n: &str| header(block, n).unwrap_or_default();
    let msgid = header(block, "Message-ID").filter(|m| !m.is_empty()).unwrap_or_else(|| "<0>".into());
    let xref = format!("Xref: {}", xref(news, db, servername, g, r.uid.0, &msgid));
    format!(
        "{shown_number}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{xref}",
        field("Subject"),
        field("From"),
        field("Date"),
        if msgid == "<0>" { String::new() } else { msgid.clone() },
        field("References"),
        r.size as usize + xref.len() + 2,
        lines(g, r)
    )
}

/// Which part of an article ARTICLE/HEAD/BODY/STAT send.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Part {
    All = 0,
    Head = 1,
    Body = 2,
    Stat = 3,
}

/// The article's text for `part`, dot-stuffed and ending with the terminating line;
/// the Xref header goes at the end of the header (as Cyrus adds it), an incoming one
/// having been dropped at posting. `None` when the message file cannot be read.
pub fn text(g: &Group, uid: u32, part: Part, xref_line: &str) -> Option<Vec<u8>> {
    let raw = g.mb.read_message(mailbox::Uid(uid)).ok()?;
    let hl = mailbox::cache::header_len(&raw);
    let (head, body) = raw.split_at(hl);
    // The header without its empty line.
    let head = head.strip_suffix(b"\r\n").or_else(|| head.strip_suffix(b"\n")).unwrap_or(head);
    let mut out = Vec::with_capacity(raw.len() + 128);
    if part != Part::Body {
        message::dot_stuff(&mut out, head);
        out.extend_from_slice(format!("Xref: {xref_line}\r\n").as_bytes());
    }
    if part == Part::All {
        out.extend_from_slice(b"\r\n");
    }
    if part != Part::Head {
        message::dot_stuff(&mut out, body);
    }
    out.extend_from_slice(b".\r\n");
    Some(out)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_and_headers() {
        let mut out = Vec::new();
        message::dot_stuff(&mut out, b"a\r\n.b\r\n..c\nlast");
        assert_eq!(out, b"a\r\n..b\r\n...c\r\nlast\r\n");
        let block = b"Subject: two\r\n\tlines\r\nFrom: x@y\r\n\r\n";
        assert_eq!(header(block, "subject").as_deref(), Some("two lines"));
        assert_eq!(header(block, "References"), None);
    }
}
