//! RFC 5322 address lists as IMAP ENVELOPE wants them: `(name adl mailbox host)`.
//!
//! The reading follows Cyrus's parseaddr, so that our ENVELOPE matches what Cyrus
//! sent for the same header: the name is the display phrase with quotes and
//! backslash-escapes removed and runs of whitespace and comments made one space, or
//! for a bare `user@host (Comment)` the trailing comment; a mailbox without `@host`
//! gets the host `unspecified-domain`; whitespace and comments inside a domain are
//! dropped (the obsolete `example . com` form); a route `<@a,@b:user@host>` gives
//! adl `@a,@b`; a group gives a start `(NIL NIL "name" NIL)` and an end
//! `(NIL NIL NIL NIL)`, the end added if the header forgot the `;`. A quoted string
//! that never closes ends the list there. Every step consumes input, so the work is
//! linear in the length of the header.

use crate::cursor::{Cursor, is_space};
use crate::imap;

/// Host Cyrus reports for an address written without one.
pub(crate) const UNSPECIFIED_DOMAIN: &[u8] = b"unspecified-domain";

/// One ENVELOPE address; `host == None` marks group syntax (RFC 3501 7.4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Address {
    pub name: Option<Vec<u8>>,
    pub adl: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
}

impl Address {
    fn new(name: Vec<u8>, adl: Vec<u8>, mailbox: Vec<u8>, host: Vec<u8>) -> Address {
        let host = if host.is_empty() { UNSPECIFIED_DOMAIN.to_vec() } else { host };
        Address { name: non_empty(name), adl: non_empty(adl), mailbox: Some(mailbox), host: Some(host) }
    }

    fn group_start(name: Vec<u8>) -> Address {
        Address { name: None, adl: None, mailbox: Some(name), host: None }
    }

    fn group_end() -> Address {
        Address { name: None, adl: None, mailbox: None, host: None }
    }
}

fn non_empty(v: Vec<u8>) -> Option<Vec<u8>> {
    (!v.is_empty()).then_some(v)
}

/// Writes an address list: `((...)(...))`, or `NIL` when empty.
pub(crate) fn write_list(out: &mut Vec<u8>, list: &[Address]) {
    imap::list(out, list, b"", |out, a| {
        out.push(b'(');
        imap::nstring(out, a.name.as_deref());
        out.push(b' ');
        imap::nstring(out, a.adl.as_deref());
        out.push(b' ');
        imap::nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        imap::nstring(out, a.host.as_deref());
        out.push(b')');
    });
}

/// Parses an unfolded address-list header value.
pub(crate) fn parse_list(value: &[u8]) -> Vec<Address> {
    let mut c = Cursor::new(value);
    let mut out = Vec::new();
    let mut in_group = false;
    loop {
        let specials: &[u8] = if in_group { b",@<;" } else { b",@<:" };
        let (phrase, mut tok) = c.phrase(specials);
        match tok {
            Some(b':') => {
                out.push(Address::group_start(phrase));
                in_group = true;
            }
            Some(b'@') => {
                let (host, comment, t) = c.domain(true);
                out.push(Address::new(comment.unwrap_or_default(), Vec::new(), phrase, host));
                tok = t;
                if tok == Some(b';') {
                    out.push(Address::group_end());
                    in_group = false;
                }
            }
            Some(b'<') => tok = c.angle_addr(phrase, &mut out),
            _ => {
                // ',' ';' or the end: a bare word is a mailbox without a host.
                if !phrase.is_empty() {
                    out.push(Address::new(Vec::new(), Vec::new(), phrase, Vec::new()));
                }
                if tok == Some(b';') {
                    out.push(Address::group_end());
                    in_group = false;
                }
            }
        }
        if tok.is_none() {
            break;
        }
    }
    if in_group {
        out.push(Address::group_end());
    }
    out
}

impl Cursor<'_> {
    /// A phrase up to one of `specials` (returned) or the end (`None`). An unclosed
    /// quoted string gives an empty phrase and the end of the whole list.
    fn phrase(&mut self, specials: &[u8]) -> (Vec<u8>, Option<u8>) {
        self.skip_cfws();
        let mut out = Vec::new();
        loop {
            let Some(b) = self.next() else {
                trim_end(&mut out, b" ");
                return (out, None);
            };
            if b == b'"' {
                if !self.quoted(&mut out) {
                    self.pos = self.s.len();
                    return (Vec::new(), None);
                }
            } else if is_space(b) || b == b'(' {
                self.back();
                self.skip_cfws();
                out.push(b' ');
            } else if specials.contains(&b) {
                trim_end(&mut out, b" ");
                return (out, Some(b));
            } else {
                out.push(b);
            }
        }
    }

    /// The rest of a quoted string into `out`; false if it never closes. Control
    /// characters other than TAB are dropped, as Cyrus does.
    fn quoted(&mut self, out: &mut Vec<u8>) -> bool {
        while let Some(mut b) = self.next() {
            if b == b'\r' || b == b'\n' {
                b = b' ';
            } else if b.is_ascii_control() && b != b'\t' {
                continue;
            }
            if b == b'"' {
                return true;
            }
            if b == b'\\' {
                match self.next() {
                    Some(n) => b = n,
                    None => return false,
                }
            }
            out.push(b);
        }
        false
    }

    /// A domain up to a character that cannot be in one (returned). With
    /// `want_comment`, a comment right after the domain is returned as well.
    fn domain(&mut self, want_comment: bool) -> (Vec<u8>, Option<Vec<u8>>, Option<u8>) {
        self.skip_cfws();
        let mut out = Vec::new();
        let mut comment = None;
        loop {
            let b = self.next();
            match b {
                Some(b) if b.is_ascii_alphanumeric() || b"-[]:@".contains(&b) || b > 127 => {
                    out.push(b);
                    comment = None;
                }
                Some(b'.') => {
                    if out.last().is_some_and(|&l| l != b'.') {
                        out.push(b'.');
                    }
                    comment = None;
                }
                Some(b'(') if want_comment => comment = Some(self.comment()),
                Some(b'(') => {
                    self.back();
                    self.skip_cfws();
                }
                Some(b) if is_space(b) => {}
                _ => {
                    trim_end(&mut out, b".");
                    return (out, comment, b);
                }
            }
        }
    }

    /// A source route (`@a,@b`) up to the character that ends it (returned).
    fn route(&mut self) -> (Vec<u8>, Option<u8>) {
        self.skip_cfws();
        let mut out = Vec::new();
        loop {
            let b = self.next();
            match b {
                Some(b) if b.is_ascii_alphanumeric() || b"-[],@".contains(&b) => out.push(b),
                Some(b'.') => {
                    if out.last().is_some_and(|&l| l != b'.') {
                        out.push(b'.');
                    }
                }
                Some(b) if is_space(b) || b == b'(' => {
                    self.back();
                    self.skip_cfws();
                }
                _ => {
                    trim_end(&mut out, b".,@");
                    return (out, b);
                }
            }
        }
    }

    /// `<[route:]mailbox@host>` after its `<`, with `phrase` as the name; returns the
    /// token that ends it (`>` or the end).
    fn angle_addr(&mut self, phrase: Vec<u8>, out: &mut Vec<Address>) -> Option<u8> {
        let (mut mailbox, tok) = self.phrase(b"@>");
        if tok != Some(b'@') {
            out.push(Address::new(phrase, Vec::new(), mailbox, Vec::new()));
            return tok;
        }
        let mut route = Vec::new();
        if mailbox.is_empty() {
            self.back(); // the '@' starts the route
            let (r, tok) = self.route();
            if tok != Some(b':') {
                out.push(Address::new(phrase, r, Vec::new(), Vec::new()));
                return self.skip_past(tok, b'>');
            }
            route = r;
            let (m, tok) = self.phrase(b"@>");
            if tok != Some(b'@') {
                out.push(Address::new(phrase, route, m, Vec::new()));
                return tok;
            }
            mailbox = m;
        }
        let (host, _, tok) = self.domain(false);
        out.push(Address::new(phrase, route, mailbox, host));
        self.skip_past(tok, b'>')
    }

    /// Consumes up to and including `stop`, starting from the already read `tok`.
    fn skip_past(&mut self, mut tok: Option<u8>, stop: u8) -> Option<u8> {
        while tok.is_some_and(|t| t != stop) {
            tok = self.next();
        }
        tok
    }
}

fn trim_end(v: &mut Vec<u8>, set: &[u8]) {
    while v.last().is_some_and(|b| set.contains(b)) {
        v.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &str) -> String {
        let mut out = Vec::new();
        write_list(&mut out, &parse_list(v.as_bytes()));
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn plain_forms() {
        assert_eq!(env("fred@example.com"), r#"((NIL NIL "fred" "example.com"))"#);
        assert_eq!(env("Fred Bloggs <fred@example.com>"), r#"(("Fred Bloggs" NIL "fred" "example.com"))"#);
        assert_eq!(env("\"Bloggs, Fred\" <fred@example.com>"), r#"(("Bloggs, Fred" NIL "fred" "example.com"))"#);
        assert_eq!(env("fred@example.com (Fred  Bloggs)"), r#"(("Fred  Bloggs" NIL "fred" "example.com"))"#);
        assert_eq!(env("a@b, c@d"), r#"((NIL NIL "a" "b")(NIL NIL "c" "d"))"#);
        assert_eq!(env(""), "NIL");
        assert_eq!(env(" , ,"), "NIL");
    }

    #[test]
    fn odd_forms() {
        assert_eq!(env("fred"), r#"((NIL NIL "fred" "unspecified-domain"))"#);
        assert_eq!(env("<@a.org,@b.org:fred@c.org>"), r#"((NIL "@a.org,@b.org" "fred" "c.org"))"#);
        assert_eq!(env("fred @ example . com"), r#"((NIL NIL "fred" "example.com"))"#);
        assert_eq!(env("\"unclosed <a@b>"), "NIL");
        assert_eq!(env("Joe (the man) Smith <j@x>"), r#"(("Joe Smith" NIL "j" "x"))"#);
    }

    #[test]
    fn groups() {
        assert_eq!(env("undisclosed-recipients:;"), r#"((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))"#);
        assert_eq!(
            env("Friends: a@b, C <c@d>; e@f"),
            r#"((NIL NIL "Friends" NIL)(NIL NIL "a" "b")("C" NIL "c" "d")(NIL NIL NIL NIL)(NIL NIL "e" "f"))"#
        );
        assert_eq!(env("Open: a@b"), r#"((NIL NIL "Open" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))"#);
    }
}
