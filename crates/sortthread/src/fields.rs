//! The header fields SORT and THREAD read, found in a message's header block (the
//! cache keeps it, so nothing here opens a message file), and the sort values
//! derived from them.

use crate::collate::casemap;

/// Raw values (folded, as stored) of the fields SORT and THREAD use. A repeated
/// field counts by its last occurrence, as the ENVELOPE has it, except References,
/// which counts by its first, as Cyrus reads it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fields<'a> {
    pub subject: Option<&'a [u8]>,
    pub from: Option<&'a [u8]>,
    pub to: Option<&'a [u8]>,
    pub cc: Option<&'a [u8]>,
    pub message_id: Option<&'a [u8]>,
    pub in_reply_to: Option<&'a [u8]>,
    pub references: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    /// One pass over a header block. A line that starts with a space or tab
    /// continues the field before it; a field's value runs from after its colon to
    /// the end of its last line (folds kept, final line break not), as
    /// [`message::header_fields`] gives it. Lines are found with memchr and only
    /// the names of the fields wanted are compared: SORT and THREAD read every
    /// message's header, and most of a header is Received lines.
    pub fn read(block: &'a [u8]) -> Fields<'a> {
        const NAMES: [&[u8]; 7] = [b"subject", b"from", b"to", b"cc", b"message-id", b"in-reply-to", b"references"];
        const REFERENCES: usize = 6;
        let mut v: [Option<&'a [u8]>; 7] = [None; 7];
        // The field being read: its slot and where its value starts.
        let mut open: Option<(usize, usize)> = None;
        let mut pos = 0;
        while pos < block.len() {
            let end = memchr::memchr(b'\n', &block[pos..]).map_or(block.len(), |i| pos + i + 1);
            let line = &block[pos..end];
            if !matches!(line[0], b' ' | b'\t') {
                if let Some((slot, start)) = open.take() {
                    v[slot] = Some(trim_eol(&block[start..pos]));
                }
                // The longest name wanted is 11 characters: a colon further on ends
                // some other field's name.
                let name_end = line.iter().take(16).position(|&c| c == b':').unwrap_or(0);
                let name = line[..name_end].trim_ascii_end();
                if let Some(i) = NAMES.iter().position(|n| n.len() == name.len() && n.eq_ignore_ascii_case(name))
                    && !(i == REFERENCES && v[i].is_some())
                {
                    open = Some((i, pos + name_end + 1));
                }
            }
            pos = end;
        }
        if let Some((slot, start)) = open {
            v[slot] = Some(trim_eol(&block[start..]));
        }
        let [subject, from, to, cc, message_id, in_reply_to, references] = v;
        Fields { subject, from, to, cc, message_id, in_reply_to, references }
    }

    /// The message's own id (Message-ID), as THREAD reads it.
    pub fn own_id(&self) -> Option<Vec<u8>> {
        crate::msgid::first(&message::unfold_value(self.message_id?)).map(|c| c.into_owned())
    }

    /// The ids of the message's ancestors, oldest first: References, or when that
    /// names none, the first id of In-Reply-To (RFC 5256 REFERENCES step 1).
    pub fn reference_ids(&self) -> Vec<Vec<u8>> {
        if let Some(r) = self.references {
            let mut v = message::unfold_value(r);
            for c in v.iter_mut() {
                if *c == b'\t' || *c == b'\r' || *c == b'\n' {
                    *c = b' ';
                }
            }
            let ids: Vec<Vec<u8>> = crate::msgid::all(&v).into_iter().map(|c| c.into_owned()).collect();
            if !ids.is_empty() {
                return ids;
            }
        }
        self.in_reply_to.and_then(|v| crate::msgid::first(&message::unfold_value(v)).map(|c| c.into_owned())).into_iter().collect()
    }
}

/// `value` without the line break that ends it (and, at the end of the header, the
/// empty line).
fn trim_eol(mut value: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = value {
        value = rest;
    }
    value
}

/// The FROM, TO and CC sort value (RFC 5256): the addr-mailbox of the first address
/// (for group syntax, the group's name), under i;unicode-casemap; empty when there
/// is none.
pub fn mailbox_key(value: Option<&[u8]>) -> String {
    let first = value.and_then(message::first_address);
    casemap(first.and_then(|a| a.mailbox).as_deref().unwrap_or("")).into_owned()
}

/// The DISPLAYFROM and DISPLAYTO sort value (RFC 5957): the display name of the
/// first address, RFC 2047-decoded, or where it has none the addr-spec
/// (`mailbox@host`; the mailbox alone for a group), under i;unicode-casemap.
pub fn display_key(value: Option<&[u8]>) -> String {
    let Some(a) = value.and_then(message::first_address) else { return String::new() };
    let shown = match (a.name, a.mailbox, a.host) {
        (Some(n), _, _) if !n.is_empty() => n,
        (_, Some(m), Some(h)) => format!("{m}@{h}"),
        (_, Some(m), None) => m,
        _ => String::new(),
    };
    casemap(&shown).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_ids() {
        let block = b"Message-ID: <old@x>\r\nReferences: <a@x>\r\n <b@x>\r\nReferences: <c@x>\r\nMessage-ID:\r\n <me@x>\r\nIn-Reply-To: <b@x>\r\nSubject: hi\r\n\r\n";
        let f = Fields::read(block);
        assert_eq!(f.own_id(), Some(b"<me@x>".to_vec()));
        assert_eq!(f.reference_ids(), vec![b"<a@x>".to_vec(), b"<b@x>".to_vec()]);
        assert_eq!(f.subject, Some(&b" hi"[..]));
        // The same values as message::header_fields gives.
        for (name, value) in message::header_fields(block) {
            if name.eq_ignore_ascii_case(b"subject") {
                assert_eq!(f.subject, Some(value));
            }
        }
        let odd = b"Subject : a\r\n\tb\r\nX-Subject: no\r\n to: no\r\nCc:\r\n\r\n";
        let g = Fields::read(odd);
        assert_eq!((g.subject, g.to, g.cc), (Some(&b" a\r\n\tb"[..]), None, Some(&b""[..])));
        assert_eq!(Fields::read(b"From: x@y").from, Some(&b" x@y"[..]));
        let f = Fields::read(b"In-Reply-To: <p@x> <q@x>\r\nReferences: none here\r\n\r\n");
        assert_eq!(f.reference_ids(), vec![b"<p@x>".to_vec()]);
        assert_eq!(Fields::read(b"\r\n").reference_ids(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn address_keys() {
        assert_eq!(mailbox_key(Some(b" Alice Smith <alice@example.org>, bob@x")), "ALICE");
        assert_eq!(mailbox_key(Some(b" undisclosed-recipients:;")), "UNDISCLOSED-RECIPIENTS");
        assert_eq!(mailbox_key(None), "");
        assert_eq!(display_key(Some(b" Alice Smith <alice@example.org>")), "ALICE SMITH");
        assert_eq!(display_key(Some(b" <carol@example.org>")), "CAROL@EXAMPLE.ORG");
        assert_eq!(display_key(Some(b" =?UTF-8?Q?Andr=C3=A9?= <a@x>")), casemap("André"));
        assert_eq!(display_key(Some(b" \"Zed, Z.\" <z@x>")), "ZED, Z.");
        assert_eq!(display_key(Some(b" dave@x (Dave Comment)")), "DAVE COMMENT");
        assert_eq!(display_key(Some(b" friends: ;")), "FRIENDS");
        assert_eq!(display_key(Some(b"")), "");
    }
}
