//! MIME header field syntax: Content-Type, Content-Disposition,
//! Content-Transfer-Encoding, Content-Language (RFC 2045, 2183, 3282) and RFC 2231
//! parameter continuations.
//!
//! Read as Cyrus reads them, since BODYSTRUCTURE shows the result: a field whose
//! type, subtype or disposition holds a control, 8-bit or tspecial octet, or with
//! junk after it, is ignored as a whole (either token may be empty); parameters are
//! read leniently (see [`params`]); names (type, subtype, attribute, disposition,
//! encoding, language) are uppercased, quoted values are unescaped with their folds
//! removed, unquoted ones kept as written. RFC 2231 sections `name*0`, `name*1*` ...
//! are joined into one `NAME` or, if any section is extended, `NAME*` whose value
//! stays in its `charset'lang'%XX` form; sections past 99 are left alone.

use std::collections::HashMap;

use crate::cursor::{Cursor, is_space};

/// RFC 2045 tspecials.
const TSPECIALS: &[u8] = b"()<>@,;:\\\"/[]?=";

/// Highest RFC 2231 section number joined, as Cyrus.
const MAX_SECTION: usize = 99;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Param {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContentType {
    pub media: Vec<u8>,
    pub subtype: Vec<u8>,
    pub params: Vec<Param>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Disposition {
    pub kind: Vec<u8>,
    pub params: Vec<Param>,
}

/// `type/subtype *(; param)`, or `None` if the field is not valid. Either token may
/// be empty (`/plain`, `text/;`), as Cyrus takes them.
pub(crate) fn content_type(value: &[u8]) -> Option<ContentType> {
    let mut c = Cursor::new(value);
    c.skip_cfws();
    if c.at_end() {
        return None;
    }
    let media = raw_token(&mut c, b"/")?;
    c.skip_cfws();
    if c.next() != Some(b'/') {
        return None;
    }
    c.skip_cfws();
    if c.at_end() {
        return None;
    }
    let subtype = raw_token(&mut c, b";")?;
    let params = params_after(&mut c)?;
    Some(ContentType { media: upper(media), subtype: upper(subtype), params })
}

/// `disposition *(; param)`, or `None` if the field is not valid (the disposition
/// may be empty).
pub(crate) fn disposition(value: &[u8]) -> Option<Disposition> {
    let mut c = Cursor::new(value);
    c.skip_cfws();
    if c.at_end() {
        return None;
    }
    let kind = raw_token(&mut c, b";")?;
    let params = params_after(&mut c)?;
    Some(Disposition { kind: upper(kind), params })
}

/// The encoding token, uppercased, or `None` if the field is not one token.
pub(crate) fn transfer_encoding(value: &[u8]) -> Option<Vec<u8>> {
    let mut c = Cursor::new(value);
    c.skip_cfws();
    let tok = token(&mut c, b"")?;
    c.skip_cfws();
    c.at_end().then(|| upper(tok))
}

/// The language tags, uppercased. Reading stops at the first tag with anything but
/// letters and `-` in it (Cyrus keeps the tags before it).
pub(crate) fn languages(value: &[u8]) -> Vec<Vec<u8>> {
    let mut c = Cursor::new(value);
    let mut out = Vec::new();
    loop {
        c.skip_cfws();
        if c.at_end() {
            return out;
        }
        let start = c.pos;
        while let Some(b) = c.peek() {
            if is_space(b) || b == b',' || b == b'(' {
                break;
            }
            if b != b'-' && !b.is_ascii_alphabetic() {
                return out;
            }
            c.pos += 1;
        }
        let tag = &value[start..c.pos];
        c.skip_cfws();
        if !c.at_end() && c.next() != Some(b',') {
            return out;
        }
        if !tag.is_empty() {
            out.push(upper(tag));
        }
    }
}

/// A non-empty token up to whitespace, `(`, one of `stops` or the end; `None` if
/// it is empty or holds a control, 8-bit or tspecial octet.
fn token<'a>(c: &mut Cursor<'a>, stops: &[u8]) -> Option<&'a [u8]> {
    raw_token(c, stops).filter(|t| !t.is_empty())
}

/// As [`token`], but an empty token is allowed.
fn raw_token<'a>(c: &mut Cursor<'a>, stops: &[u8]) -> Option<&'a [u8]> {
    let start = c.pos;
    while let Some(b) = c.peek() {
        if is_space(b) || b == b'(' || stops.contains(&b) {
            break;
        }
        if !token_octet(b) {
            return None;
        }
        c.pos += 1;
    }
    Some(&c.s[start..c.pos])
}

/// Octets allowed in a type, subtype or attribute (DEL is, as in Cyrus).
fn token_octet(b: u8) -> bool {
    (0x20..0x80).contains(&b) && !TSPECIALS.contains(&b)
}

/// After the main token: the end, or `;` and parameters; `None` for anything else.
fn params_after(c: &mut Cursor<'_>) -> Option<Vec<Param>> {
    c.skip_cfws();
    match c.next() {
        None => Some(Vec::new()),
        Some(b';') => Some(fold_sections(params(c))),
        Some(_) => None,
    }
}

/// `attribute=value` pairs separated by `;`, read as Cyrus reads them: the
/// attribute may be empty; an unquoted value runs to `;` or `(` with spaces,
/// tspecials, 8-bit octets and folds kept (trailing blanks dropped), a control octet
/// spoils it; after the value only `;` or the end may follow. A malformed parameter
/// is skipped to the next `;` or line break. An unclosed quote, or a value missing
/// at the end of the field, ends the list.
fn params(c: &mut Cursor<'_>) -> Vec<Param> {
    let mut out = Vec::new();
    loop {
        c.skip_cfws();
        if c.at_end() {
            return out;
        }
        match param(c) {
            Step::Param(p) => out.push(p),
            Step::Skip => skip_param(c),
            Step::End => return out,
        }
    }
}

enum Step {
    Param(Param),
    Skip,
    End,
}

fn param(c: &mut Cursor<'_>) -> Step {
    let Some(name) = raw_token(c, b"=") else { return Step::Skip };
    c.skip_cfws();
    match c.next() {
        None => return Step::End,
        Some(b'=') => {}
        Some(_) => return Step::Skip,
    }
    c.skip_cfws();
    let value = match c.peek() {
        None => return Step::End,
        Some(b'"') => {
            c.pos += 1;
            match quoted(c) {
                Some(v) => v,
                None => return Step::End,
            }
        }
        Some(_) => match unquoted(c) {
            Some(v) => v,
            None => return Step::Skip,
        },
    };
    c.skip_cfws();
    match c.next() {
        None | Some(b';') => Step::Param(Param { name: upper(name), value }),
        Some(_) => Step::Skip,
    }
}

/// An unquoted value (see [`params`]); `None` if a control octet spoils it. An
/// empty one takes the `;` or `(` that ends it (Cyrus: so `a=; b=c` loses both).
fn unquoted(c: &mut Cursor<'_>) -> Option<Vec<u8>> {
    let start = c.pos;
    let mut end = start;
    while let Some(b) = c.peek() {
        match b {
            b';' | b'(' => break,
            b'\r' | b'\n' => {
                let fold = if b == b'\r' { c.s.get(c.pos + 1) == Some(&b'\n') } else { true };
                let brk = if b == b'\r' { 2 } else { 1 };
                if !(fold && matches!(c.s.get(c.pos + brk), Some(b' ' | b'\t'))) {
                    break;
                }
                c.pos += brk;
                continue;
            }
            b' ' | b'\t' => {}
            0x80.. => end = c.pos + 1,
            ..0x20 => return None,
            _ => end = c.pos + 1,
        }
        c.pos += 1;
    }
    if end == start {
        c.pos = start + usize::from(c.pos < c.s.len());
        return Some(c.s[start..c.pos].to_vec());
    }
    c.pos = end;
    Some(c.s[start..end].to_vec())
}

/// The rest of a quoted string, unescaped, folds removed; `None` if it never closes.
fn quoted(c: &mut Cursor<'_>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match c.next()? {
            b'"' => return Some(out),
            b'\\' => out.push(c.next()?),
            b'\r' | b'\n' => {}
            b => out.push(b),
        }
    }
}

/// Skips a malformed parameter: to just after the next `;`, or to the next fold.
fn skip_param(c: &mut Cursor<'_>) {
    while let Some(b) = c.peek() {
        if b == b'\r' || b == b'\n' {
            return;
        }
        c.pos += 1;
        if b == b';' {
            return;
        }
    }
}

fn upper(s: &[u8]) -> Vec<u8> {
    s.to_ascii_uppercase()
}

/// `NAME*0` or `NAME*0*`: the base name and whether the section is extended.
fn initial_section(name: &[u8]) -> Option<(&[u8], bool)> {
    if let Some(base) = name.strip_suffix(b"*0*") {
        return Some((base, true));
    }
    name.strip_suffix(b"*0").map(|base| (base, false))
}

/// Joins RFC 2231 continuations (see the module doc).
fn fold_sections(mut params: Vec<Param>) -> Vec<Param> {
    if !params.iter().any(|p| initial_section(&p.name).is_some()) {
        return params;
    }
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    for (i, p) in params.iter().enumerate() {
        index.entry(p.name.clone()).or_insert(i);
    }
    let mut dead = vec![false; params.len()];
    let mut joined = Vec::new();
    for i in 0..params.len() {
        let Some((base, mut extended)) = initial_section(&params[i].name) else { continue };
        if dead[i] {
            continue;
        }
        let mut value = params[i].value.clone();
        for section in 1..=MAX_SECTION {
            let mut simple = base.to_vec();
            simple.extend_from_slice(format!("*{section}").as_bytes());
            let mut ext = simple.clone();
            ext.push(b'*');
            let found = [(simple, false), (ext, true)]
                .into_iter()
                .find_map(|(n, is_ext)| index.get(&n).filter(|&&j| !dead[j] && j != i).map(|&j| (j, is_ext)));
            let Some((j, is_ext)) = found else { break };
            match (extended, is_ext) {
                (true, false) => value.extend(pct_encode(&params[j].value)),
                (false, true) => {
                    let mut v = b"''".to_vec();
                    v.extend(pct_encode(&value));
                    v.extend_from_slice(&params[j].value);
                    value = v;
                    extended = true;
                }
                _ => value.extend_from_slice(&params[j].value),
            }
            dead[j] = true;
        }
        let mut name = base.to_vec();
        if extended {
            name.push(b'*');
        }
        joined.push((i, name, value));
    }
    for (i, name, value) in joined {
        params[i] = Param { name, value };
    }
    params.into_iter().zip(dead).filter(|(_, d)| !d).map(|(p, _)| p).collect()
}

/// A plain value in RFC 2231 extended form, so that it can join extended sections.
fn pct_encode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for &b in v {
        if b <= b' ' || b >= 0x7f || b"*'%".contains(&b) || TSPECIALS.contains(&b) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: &str) -> Param {
        Param { name: name.into(), value: value.into() }
    }

    #[test]
    fn content_types() {
        let ct = content_type(b" text/plain; charset=\"UTF-8\"; format=flowed").unwrap_or_else(|| panic!());
        assert_eq!(ct.media, b"TEXT");
        assert_eq!(ct.subtype, b"PLAIN");
        assert_eq!(ct.params, vec![p("CHARSET", "UTF-8"), p("FORMAT", "flowed")]);
        let ct = content_type(b"multipart/mixed;\r\n\tboundary=\"=_a b\\\"c\" (comment)").unwrap_or_else(|| panic!());
        assert_eq!(ct.params, vec![p("BOUNDARY", "=_a b\"c")]);
        assert!(content_type(b"text").is_none());
        assert!(content_type(b"text/plain junk").is_none());
        assert!(content_type(b"te\xc3xt/plain").is_none());
        let ct = content_type(b"text/plain; bad; charset=x").unwrap_or_else(|| panic!());
        assert_eq!(ct.params, vec![p("CHARSET", "x")]);
    }

    #[test]
    fn rfc2231() {
        let ct = content_type(b"application/x-stuff; title*0*=us-ascii'en'This%20is; title*1=\" fun\"; title*2*=%2A")
            .unwrap_or_else(|| panic!());
        assert_eq!(ct.params, vec![p("TITLE*", "us-ascii'en'This%20is%20fun%2A")]);
        let ct = content_type(b"a/b; name*1=\"def\"; name*0=\"abc\"").unwrap_or_else(|| panic!());
        assert_eq!(ct.params, vec![p("NAME", "abcdef")]);
    }

    #[test]
    fn lenient_parameters() {
        let params = |v: &[u8]| content_type(v).map(|ct| ct.params).unwrap_or_else(|| panic!());
        assert_eq!(params(b"a/b; name=two words.txt ; x=y\t(c)"), vec![p("NAME", "two words.txt"), p("X", "y")]);
        assert_eq!(params(b"a/b; boundary=----=_Part/a?b@c:d"), vec![p("BOUNDARY", "----=_Part/a?b@c:d")]);
        assert_eq!(params(b"a/b; =v; a==b"), vec![p("", "v"), p("A", "=b")]);
        assert_eq!(params(b"a/b; v=1;\r\n w=2 3\r\n  4"), vec![p("V", "1"), p("W", "2 3\r\n  4")]);
        // A valueless attribute before `;` is skipped alone, after a blank it takes
        // the next parameter with it, as does an empty value.
        assert_eq!(params(b"a/b; bad; c=1"), vec![p("C", "1")]);
        assert_eq!(params(b"a/b; bad ; c=1; d=2"), vec![p("D", "2")]);
        assert_eq!(params(b"a/b; e=; c=1; d=2"), vec![p("D", "2")]);
        assert_eq!(params(b"a/b; c=1; last="), vec![p("C", "1")]);
        assert_eq!(params(b"a/b; f=\"g\" junk; h=i; j=\"open"), vec![p("H", "i")]);
        assert_eq!(params(b"a/b; n=x\x7fy; n\xe9=2; c=\x01; ok=3"), vec![p("N", "x\x7fy"), p("OK", "3")]);
        assert_eq!(content_type(b"/plain").map(|c| (c.media, c.subtype)), Some((vec![], b"PLAIN".to_vec())));
        assert_eq!(content_type(b"text/;a=1").map(|c| c.subtype), Some(vec![]));
        assert!(content_type(b"text/").is_none());
        assert!(content_type(b"  ").is_none());
        assert_eq!(disposition(b"; filename=x").map(|d| d.kind), Some(vec![]));
    }

    #[test]
    fn other_fields() {
        let d = disposition(b"attachment; filename=\"a b.pdf\"").unwrap_or_else(|| panic!());
        assert_eq!(d.kind, b"ATTACHMENT");
        assert_eq!(d.params, vec![p("FILENAME", "a b.pdf")]);
        assert_eq!(transfer_encoding(b" base64 "), Some(b"BASE64".to_vec()));
        assert_eq!(transfer_encoding(b" base64 x"), None);
        assert_eq!(languages(b"en, fr-CA"), vec![b"EN".to_vec(), b"FR-CA".to_vec()]);
        assert_eq!(languages(b"en, es-419"), vec![b"EN".to_vec()]);
    }
}
