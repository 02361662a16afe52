//! BODY and BODYSTRUCTURE (RFC 3501 7.4.2) of a part tree, byte-exact as sent.
//!
//! A leaf: `(type subtype params id description encoding size` then the line count
//! for TEXT/*, or envelope, body and line count for MESSAGE/RFC822, then with
//! extension data `md5 disposition language location)`. A multipart: its parts back
//! to back, then its subtype, then with extension data `params disposition language
//! location)`. Like Cyrus we always send all four extension fields, the language
//! always as a list (`("EN")`), and the encoding 7BIT when none is given.

use crate::imap;
use crate::info::Info;
use crate::mime::{Disposition, Param};
use crate::structure::{Kind, Part};

/// Writes BODYSTRUCTURE when `extended`, else BODY.
pub(crate) fn write(out: &mut Vec<u8>, part: &Part, extended: bool) {
    let info = &part.info;
    out.push(b'(');
    if let Kind::Multipart(children) = &part.kind {
        for child in children {
            write(out, child, extended);
        }
        out.push(b' ');
        imap::string(out, &info.subtype);
        if extended {
            out.push(b' ');
            params(out, &info.params);
            common_extensions(out, info);
        }
        out.push(b')');
        return;
    }
    imap::string(out, &info.media);
    out.push(b' ');
    imap::string(out, &info.subtype);
    out.push(b' ');
    params(out, &info.params);
    out.push(b' ');
    imap::nstring(out, info.id.as_deref());
    out.push(b' ');
    imap::nstring(out, info.description.as_deref());
    out.push(b' ');
    imap::string(out, info.encoding.as_deref().unwrap_or(b"7BIT"));
    out.extend_from_slice(format!(" {}", part.body.len()).as_bytes());
    if let Kind::Message { envelope, root } = &part.kind {
        out.push(b' ');
        out.extend_from_slice(envelope);
        out.push(b' ');
        write(out, root, extended);
        out.extend_from_slice(format!(" {}", part.lines).as_bytes());
    } else if info.is_text() {
        out.extend_from_slice(format!(" {}", part.lines).as_bytes());
    }
    if extended {
        out.push(b' ');
        imap::nstring(out, info.md5.as_deref());
        common_extensions(out, info);
    }
    out.push(b')');
}

/// ` disposition language location`, shared by leaves and multiparts.
fn common_extensions(out: &mut Vec<u8>, info: &Info) {
    out.push(b' ');
    disposition(out, info.disposition.as_ref());
    out.push(b' ');
    imap::list(out, &info.language, b" ", |out, l| imap::string(out, l));
    out.push(b' ');
    imap::nstring(out, info.location.as_deref());
}

fn params(out: &mut Vec<u8>, params: &[Param]) {
    imap::params(out, params.iter().map(|p| (p.name.as_slice(), p.value.as_slice())));
}

fn disposition(out: &mut Vec<u8>, d: Option<&Disposition>) {
    match d {
        Some(d) => {
            out.push(b'(');
            imap::string(out, &d.kind);
            out.push(b' ');
            params(out, &d.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
}
