//! The fields of a header block (a message's or a MIME part's; where the block ends
//! is crate::structure's business), and the fields this crate reads.
//!
//! A line that is neither a field (`name:` with a printable name) nor a continuation
//! (leading SP/HT) belongs to no field and is skipped. Field values are slices of the
//! stored bytes, folding kept.

use crate::lines::lines;

fn is_continuation(text: &[u8]) -> bool {
    matches!(text.first(), Some(b' ' | b'\t'))
}

/// The name of a field line (`name:` or the obsolete `name :`), if it is one.
/// Looks only as far as the colon, so a long line costs no more than its name.
fn field_name(text: &[u8]) -> Option<&[u8]> {
    let mut name_end = None;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b':' => {
                let end = name_end.unwrap_or(i);
                return (end > 0).then(|| &text[..end]);
            }
            b' ' | b'\t' => {
                name_end.get_or_insert(i);
            }
            33..=126 if name_end.is_none() => {}
            _ => return None,
        }
    }
    None
}

/// One field: its name and its raw value (after the colon, folding kept, without
/// the final line break).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    /// Written in the obsolete form with blanks before the colon (`name :`).
    pub spaced: bool,
}

/// The fields of a header block, in order. Continuation lines before the first
/// field, and the empty line at the end, are skipped.
pub(crate) fn fields(block: &[u8]) -> Vec<Field<'_>> {
    let mut out: Vec<Field<'_>> = Vec::new();
    let mut current: Option<(usize, usize, usize)> = None; // name end, value start, value end
    let mut name_start = 0;
    for line in lines(block, 0..block.len()) {
        let text = &block[line.start..line.content_end];
        if is_continuation(text) {
            if let Some(cur) = current.as_mut() {
                cur.2 = line.content_end;
            }
            continue;
        }
        if let Some((name_end, vs, ve)) = current.take() {
            out.push(field(block, name_start..name_end, vs..ve));
        }
        if let Some(name) = field_name(text) {
            let colon = text.iter().position(|&b| b == b':').unwrap_or(name.len());
            name_start = line.start;
            current = Some((line.start + name.len(), line.start + colon + 1, line.content_end));
        }
    }
    if let Some((name_end, vs, ve)) = current {
        out.push(field(block, name_start..name_end, vs..ve));
    }
    out
}

fn field(block: &[u8], name: std::ops::Range<usize>, value: std::ops::Range<usize>) -> Field<'_> {
    Field { spaced: value.start != name.end + 1, name: &block[name], value: &block[value] }
}

/// A value as Cyrus keeps an unstructured field: leading SP/HT dropped, the CRLF
/// (or LF) of each fold removed, the whitespace after it and any trailing space kept.
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    let start = value.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(value.len());
    let value = &value[start..];
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\r' if value.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The fields this crate reads, each the last occurrence in the header: Cyrus lets a
/// repeated field replace the earlier one, and so do we.
#[derive(Default, Debug)]
pub(crate) struct Known<'a> {
    pub date: Option<&'a [u8]>,
    pub subject: Option<&'a [u8]>,
    pub from: Option<&'a [u8]>,
    pub sender: Option<&'a [u8]>,
    pub reply_to: Option<&'a [u8]>,
    pub to: Option<&'a [u8]>,
    pub cc: Option<&'a [u8]>,
    pub bcc: Option<&'a [u8]>,
    pub in_reply_to: Option<&'a [u8]>,
    pub message_id: Option<&'a [u8]>,
    pub content_type: Option<&'a [u8]>,
    pub content_transfer_encoding: Option<&'a [u8]>,
    pub content_id: Option<&'a [u8]>,
    pub content_description: Option<&'a [u8]>,
    pub content_disposition: Option<&'a [u8]>,
    pub content_language: Option<&'a [u8]>,
    pub content_location: Option<&'a [u8]>,
    pub content_md5: Option<&'a [u8]>,
}

impl<'a> Known<'a> {
    /// One pass over the header block `block`. A name written with blanks before its
    /// colon is another name (Cyrus reads the name up to the colon).
    pub(crate) fn collect(block: &'a [u8]) -> Known<'a> {
        let mut k = Known::default();
        for f in fields(block).into_iter().filter(|f| !f.spaced) {
            if let Some(slot) = k.slot(f.name) {
                *slot = Some(f.value);
            }
        }
        k
    }

    fn slot(&mut self, name: &[u8]) -> Option<&mut Option<&'a [u8]>> {
        let table: [(&[u8], &mut Option<&'a [u8]>); 18] = [
            (b"date", &mut self.date),
            (b"subject", &mut self.subject),
            (b"from", &mut self.from),
            (b"sender", &mut self.sender),
            (b"reply-to", &mut self.reply_to),
            (b"to", &mut self.to),
            (b"cc", &mut self.cc),
            (b"bcc", &mut self.bcc),
            (b"in-reply-to", &mut self.in_reply_to),
            (b"message-id", &mut self.message_id),
            (b"content-type", &mut self.content_type),
            (b"content-transfer-encoding", &mut self.content_transfer_encoding),
            (b"content-id", &mut self.content_id),
            (b"content-description", &mut self.content_description),
            (b"content-disposition", &mut self.content_disposition),
            (b"content-language", &mut self.content_language),
            (b"content-location", &mut self.content_location),
            (b"content-md5", &mut self.content_md5),
        ];
        table.into_iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, slot)| slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_folding() {
        let raw = b"Subject: a\r\n  b\r\nX-Y : z\r\n\r\n";
        let f = fields(raw);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, b"Subject");
        assert_eq!(f[0].value, b" a\r\n  b");
        assert_eq!(unfold(f[0].value), b"a  b");
        assert_eq!(f[1].name, b"X-Y");
        assert_eq!(f[1].value, b" z");
    }

    #[test]
    fn spaced_names_are_not_known() {
        let k = Known::collect(b"Content-Type : text/html\r\nSubject:x\r\nContent-ID\t: <a>\r\n\r\n");
        assert_eq!((k.content_type, k.subject, k.content_id), (None, Some(&b"x"[..]), None));
        assert!(fields(b"Content-Type : text/html\r\n")[0].spaced);
    }

    #[test]
    fn last_occurrence_wins() {
        let k = Known::collect(b"Subject: one\r\nsubject: two\r\n\r\n");
        assert_eq!(k.subject, Some(&b" two"[..]));
    }
}
