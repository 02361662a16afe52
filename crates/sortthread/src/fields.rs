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
    /// One pass over a header block.
    pub fn read(block: &'a [u8]) -> Fields<'a> {
        let mut f = Fields::default();
        for (name, value) in message::header_fields(block) {
            let slot = match name.len() {
                2 if name.eq_ignore_ascii_case(b"to") => &mut f.to,
                2 if name.eq_ignore_ascii_case(b"cc") => &mut f.cc,
                4 if name.eq_ignore_ascii_case(b"from") => &mut f.from,
                7 if name.eq_ignore_ascii_case(b"subject") => &mut f.subject,
                10 if name.eq_ignore_ascii_case(b"message-id") => &mut f.message_id,
                10 if name.eq_ignore_ascii_case(b"references") => {
                    f.references.get_or_insert(value);
                    continue;
                }
                11 if name.eq_ignore_ascii_case(b"in-reply-to") => &mut f.in_reply_to,
                _ => continue,
            };
            *slot = Some(value);
        }
        f
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
