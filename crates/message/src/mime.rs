//! MIME header field syntax: Content-Type, Content-Disposition,
//! Content-Transfer-Encoding, Content-Language (RFC 2045, 2183, 3282) and RFC 2231
//! parameter continuations.
//!
//! Read as Cyrus reads them, since BODYSTRUCTURE shows the result: a field that does
//! not parse (no `/`, a tspecial or 8-bit octet in a token, junk after the value) is
//! ignored as a whole; a malformed parameter is skipped up to the next `;` or fold;
//! names (type, subtype, attribute, disposition, encoding, language) are uppercased,
//! values are kept as written with quotes and backslash-escapes removed. RFC 2231
//! sections `name*0`, `name*1*` ... are joined into one `NAME` or, if any section is
//! extended, `NAME*` whose value stays in its `charset'lang'%XX` form; sections past
//! 99 are left alone.

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

/// `type/subtype *(; param)`, or `None` if the field is not valid.
pub(crate) fn content_type(value: &[u8]) -> Option<ContentType> {
    let mut c = Cursor::new(value);
    c.skip_cfws();
    let media = token(&mut c, b"/")?;
    c.skip_cfws();
    if c.next() != Some(b'/') {
        return None;
    }
    c.skip_cfws();
    let subtype = token(&mut c, b";")?;
    let params = params_after(&mut c)?;
    Some(ContentType { media: upper(media), subtype: upper(subtype), params })
}

/// `disposition *(; param)`, or `None` if the field is not valid.
pub(crate) fn disposition(value: &[u8]) -> Option<Disposition> {
    let mut c = Cursor::new(value);
    c.skip_cfws();
    let kind = token(&mut c, b";")?;
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

/// As [`token`], but an empty token is allowed (a parameter value may be empty).
fn raw_token<'a>(c: &mut Cursor<'a>, stops: &[u8]) -> Option<&'a [u8]> {
    let start = c.pos;
    while let Some(b) = c.peek() {
        if is_space(b) || b == b'(' || stops.contains(&b) {
            break;
        }
        if !(0x20..0x7f).contains(&b) || TSPECIALS.contains(&b) {
            return None;
        }
        c.pos += 1;
    }
    Some(&c.s[start..c.pos])
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

/// `attribute=value` pairs separated by `;`.
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
    let Some(name) = token(c, b"=") else { return Step::Skip };
    c.skip_cfws();
    if c.at_end() {
        return Step::End;
    }
    if c.next() != Some(b'=') {
        return Step::Skip;
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
        Some(_) => match raw_token(c, b";") {
            Some(v) => v.to_vec(),
            None => return Step::Skip,
        },
    };
    c.skip_cfws();
    match c.next() {
        None | Some(b';') => Step::Param(Param { name: upper(name), value }),
        Some(_) => Step::Skip,
    }
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
