//! The IMAP ENVELOPE (RFC 3501 7.4.2) of a message header, byte-exact as sent:
//! `(date subject from sender reply-to to cc bcc in-reply-to message-id)`.
//!
//! Strings are the raw field values, not RFC 2047-decoded, with the leading
//! whitespace and the CRLF of each fold removed (as Cyrus); an empty field is `""`,
//! an absent one NIL. Address fields go through [`crate::address`]; Sender and
//! Reply-To fall back to From when absent or empty (RFC 3501). A repeated field
//! counts by its last occurrence, as in Cyrus.

use crate::address::{self, Address};
use crate::header::{Known, unfold};
use crate::imap;

pub(crate) fn build(k: &Known<'_>) -> Vec<u8> {
    let from = addresses(k.from);
    let sender = addresses(k.sender);
    let reply_to = addresses(k.reply_to);
    let mut out = Vec::with_capacity(256);
    out.push(b'(');
    imap::nstring(&mut out, k.date.map(unfold).as_deref());
    out.push(b' ');
    imap::nstring(&mut out, k.subject.map(unfold).as_deref());
    for list in [&from, or_from(&sender, &from), or_from(&reply_to, &from)] {
        out.push(b' ');
        address::write_list(&mut out, list);
    }
    for field in [k.to, k.cc, k.bcc] {
        out.push(b' ');
        address::write_list(&mut out, &addresses(field));
    }
    out.push(b' ');
    imap::nstring(&mut out, k.in_reply_to.map(unfold).as_deref());
    out.push(b' ');
    imap::nstring(&mut out, k.message_id.map(unfold).as_deref());
    out.push(b')');
    out
}

fn addresses(value: Option<&[u8]>) -> Vec<Address> {
    value.map(|v| address::parse_list(&unfold(v))).unwrap_or_default()
}

fn or_from<'a>(list: &'a [Address], from: &'a [Address]) -> &'a [Address] {
    if list.is_empty() { from } else { list }
}
