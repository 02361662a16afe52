//! Mailbox names: the internal form and what clients see.
//!
//! Internally a name is `user.fred.Sent`, `shared.folder`, or with `virtdomains`
//! `example.org!user.fred.Sent`; the separator is always `.`. What a client sees
//! depends on the namespace options:
//! - `unixhierarchysep: yes`: the separator shown is `/`, and a `.` inside a client's
//!   name is stored as `^` (as Cyrus does);
//! - `altnamespace: yes`: a user's folders are shown at the top level beside INBOX
//!   (`Sent`, not `INBOX.Sent`), other users under `userprefix`, shared folders under
//!   `sharedprefix`;
//! - `virtdomains`: a userid `fred@example.org` owns `example.org!user.fred`.
//!
//! Every name that reaches the store has been through [`validate`]: no empty part,
//! no `.` or `..` part (so no path can climb out of its partition), no `/`, no control
//! character, valid modified UTF-7 (RFC 3501 5.1.3), and a bounded length.

/// Longest internal name accepted, in bytes.
pub const MAX_NAME: usize = 490;

/// A name as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InternalName(pub String);

/// How names are shown, from imapd.conf.
#[derive(Clone, Debug)]
pub struct Namespace {
    pub unixhierarchysep: bool,
    pub altnamespace: bool,
    pub virtdomains: bool,
    pub userprefix: String,
    pub sharedprefix: String,
    /// With virtdomains, the domain whose users have no domain part internally
    /// (`fred@defaultdomain` owns `user.fred`, as a spool from before virtdomains).
    pub defaultdomain: Option<String>,
    /// `username_tolower`: userids are lowered (see [`Namespace::canonical_userid`]).
    pub username_tolower: bool,
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace {
            unixhierarchysep: false,
            altnamespace: false,
            virtdomains: false,
            userprefix: "Other Users".into(),
            sharedprefix: "Shared Folders".into(),
            defaultdomain: None,
            username_tolower: false,
        }
    }
}

/// Why a name was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadName(pub String);

impl std::fmt::Display for BadName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid mailbox name: {}", self.0)
    }
}

/// Checks modified UTF-7 (RFC 3501 5.1.3): `&` starts a base64 run ended by `-`, `&-`
/// is `&`, a run decodes to whole UTF-16 code units that are not printable ASCII.
/// UTF-8 to IMAP's modified UTF-7 (RFC 3501 §5.1.3), for names given in UTF-8
/// (Sieve fileinto with `sieve_utf8fileinto`).
pub fn encode_mutf7(s: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::with_capacity(s.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for c in bytes.chunks(3) {
            let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..=c.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out.push('-');
        run.clear();
    };
    for ch in s.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut run, &mut out);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            run.extend(ch.encode_utf16(&mut [0; 2]).iter());
        }
    }
    flush(&mut run, &mut out);
    out
}

/// IMAP's modified UTF-7 to UTF-8 (for UTF8=ACCEPT and IMAP4rev2 clients); a name
/// that is not valid modified UTF-7 comes back as it is.
pub fn decode_mutf7(s: &str) -> String {
    if !s.contains('&') || !valid_mutf7(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find('-').unwrap_or(after.len());
        if end == 0 {
            out.push('&');
        } else {
            let units = decode_mutf7_run(after[..end].as_bytes()).unwrap_or_default();
            out.extend(char::decode_utf16(units).map(|r| r.unwrap_or('\u{fffd}')));
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

pub fn valid_mutf7(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(0x20..0x7f).contains(&c) {
            return false;
        }
        if c != b'&' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let Some(len) = b[start..].iter().position(|&x| x == b'-') else { return false };
        let run = &b[start..start + len];
        i = start + len + 1;
        if run.is_empty() {
            continue; // "&-" is "&"
        }
        let Some(units) = decode_mutf7_run(run) else { return false };
        if units.iter().any(|&u| (0x20..0x7f).contains(&u)) {
            return false; // printable ASCII must not be encoded
        }
        if char::decode_utf16(units.iter().copied()).any(|r| r.is_err()) {
            return false;
        }
    }
    true
}

fn decode_mutf7_run(run: &[u8]) -> Option<Vec<u16>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b',' => 63,
            _ => return None,
        } as u32)
    };
    let (mut acc, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for &c in run {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            out.push((acc >> bits) as u16);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding of less than a unit.
    if bits >= 6 || acc != 0 {
        return None;
    }
    Some(out)
}

/// Checks an internal name (see the module doc).
pub fn validate(name: &str) -> Result<(), BadName> {
    if name.is_empty() {
        return Err(BadName("empty name".into()));
    }
    if name.len() > MAX_NAME {
        return Err(BadName(format!("longer than {MAX_NAME} bytes")));
    }
    let local = match name.split_once('!') {
        Some((domain, rest)) => {
            if domain.is_empty() || !domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') || domain.contains("..") {
                return Err(BadName(format!("bad domain '{domain}'")));
            }
            rest
        }
        None => name,
    };
    if name.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'/') {
        return Err(BadName("control character or '/'".into()));
    }
    for part in local.split('.') {
        if part.is_empty() {
            return Err(BadName("empty hierarchy level".into()));
        }
        if part == "^" || part.chars().all(|c| c == '^') && part.len() <= 2 {
            return Err(BadName(format!("'{}' is not a folder name", part.replace('^', "."))));
        }
    }
    if !valid_mutf7(local) {
        return Err(BadName("not valid modified UTF-7".into()));
    }
    Ok(())
}

impl Namespace {
    /// The separator clients see.
    pub fn sep(&self) -> char {
        if self.unixhierarchysep { '/' } else { '.' }
    }

    /// Splits a userid into (local part, domain) under `virtdomains`.
    fn split_user<'a>(&self, userid: &'a str) -> (&'a str, Option<&'a str>) {
        if self.virtdomains {
            if let Some((u, d)) = userid.rsplit_once('@') {
                if self.defaultdomain.as_deref().is_some_and(|dd| dd.eq_ignore_ascii_case(d)) {
                    return (u, None);
                }
                return (u, Some(d));
            }
        }
        (userid, None)
    }

    fn with_domain(domain: Option<&str>, local: String) -> String {
        match domain {
            Some(d) => format!("{}!{local}", d.to_ascii_lowercase()),
            None => local,
        }
    }

    /// A client's name part in internal form: separator to `.`, and with the Unix
    /// separator a client's `.` to `^`.
    fn to_internal_part(&self, ext: &str) -> String {
        if self.unixhierarchysep { ext.replace('.', "^").replace('/', ".") } else { ext.to_string() }
    }

    fn to_external_part(&self, int: &str) -> String {
        if self.unixhierarchysep { int.replace('.', "/").replace('^', ".") } else { int.to_string() }
    }

    /// The user's INBOX, internally.
    pub fn inbox(&self, userid: &str) -> InternalName {
        let (u, d) = self.split_user(userid);
        InternalName(Self::with_domain(d, format!("user.{}", u.replace('.', "^"))))
    }

    /// A name as `userid` typed it, in internal form, checked.
    pub fn to_internal(&self, userid: &str, ext: &str) -> Result<InternalName, BadName> {
        let sep = self.sep();
        let (_, domain) = self.split_user(userid);
        let inbox = self.inbox(userid).0;
        let lower = ext.to_ascii_lowercase();
        let name = if lower == "inbox" {
            inbox
        } else if lower.starts_with("inbox") && ext[5..].starts_with(sep) {
            format!("{inbox}.{}", self.to_internal_part(&ext[6..]))
        } else if self.altnamespace && (ext == self.userprefix || ext.starts_with(&format!("{}{sep}", self.userprefix))) {
            let rest = ext.get(self.userprefix.len() + 1..).unwrap_or("");
            Self::with_domain(domain, format!("user.{}", self.to_internal_part(rest)))
        } else if self.altnamespace && (ext == self.sharedprefix || ext.starts_with(&format!("{}{sep}", self.sharedprefix))) {
            let rest = ext.get(self.sharedprefix.len() + 1..).unwrap_or("");
            Self::with_domain(domain, self.to_internal_part(rest))
        } else if self.altnamespace {
            format!("{inbox}.{}", self.to_internal_part(ext))
        } else {
            Self::with_domain(domain, self.to_internal_part(ext))
        };
        validate(&name)?;
        Ok(InternalName(name))
    }

    /// A name as an admin typed it: with virtdomains a trailing `@domain` names
    /// another domain's mailbox (`user.fred@example.org`, as Cyrus's admins write it);
    /// without one the admin's own domain is meant. Whether the admin may act there is
    /// for [`crate::Store::administers`] to say.
    pub fn to_internal_as_admin(&self, userid: &str, ext: &str) -> Result<InternalName, BadName> {
        let Some((name, domain)) = ext.rsplit_once('@').filter(|_| self.virtdomains) else { return self.to_internal(userid, ext) };
        let domain = domain.to_ascii_lowercase();
        if !crate::users::valid_domain(&domain) {
            return Err(BadName(format!("bad domain '{domain}'")));
        }
        let local = userid.rsplit_once('@').map_or(userid, |(l, _)| l);
        let InternalName(int) = self.to_internal(local, name)?;
        let int = match int.split_once('!') {
            Some((_, rest)) => rest.to_string(),
            None => int,
        };
        let full = if self.defaultdomain.as_deref() == Some(domain.as_str()) { int } else { format!("{domain}!{int}") };
        validate(&full)?;
        Ok(InternalName(full))
    }

    /// How `userid` sees an internal name.
    pub fn to_external(&self, userid: &str, int: &InternalName) -> String {
        let sep = self.sep();
        let inbox = self.inbox(userid).0;
        let (_, user_domain) = self.split_user(userid);
        let (domain, local) = match int.0.split_once('!') {
            Some((d, l)) => (Some(d), l),
            None => (None, int.0.as_str()),
        };
        if int.0 == inbox {
            return "INBOX".into();
        }
        if let Some(rest) = int.0.strip_prefix(&format!("{inbox}.")) {
            let rest = self.to_external_part(rest);
            return if self.altnamespace { rest } else { format!("INBOX{sep}{rest}") };
        }
        let shown = self.to_external_part(local);
        // Another domain's mailboxes are shown qualified, as Cyrus does for admins.
        let shown = match domain {
            Some(d) if Some(d) != user_domain.map(|u| u.to_ascii_lowercase()).as_deref() => format!("{shown}@{d}"),
            _ => shown,
        };
        if !self.altnamespace {
            return shown;
        }
        if local.starts_with("user.") {
            format!("{}{sep}{}", self.userprefix, &shown[5..])
        } else {
            format!("{}{sep}{shown}", self.sharedprefix)
        }
    }

    /// The owner's userid of an internal name, if it is in a user's hierarchy.
    pub fn owner(&self, int: &InternalName) -> Option<String> {
        let (domain, local) = match int.0.split_once('!') {
            Some((d, l)) => (Some(d), l),
            None => (None, int.0.as_str()),
        };
        let rest = local.strip_prefix("user.")?;
        let user = rest.split('.').next()?.replace('^', ".");
        Some(match domain {
            Some(d) => format!("{user}@{d}"),
            None => user,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(unix: bool, alt: bool, virt: bool) -> Namespace {
        Namespace { unixhierarchysep: unix, altnamespace: alt, virtdomains: virt, ..Default::default() }
    }

    #[test]
    fn mutf7_encoding() {
        assert_eq!(encode_mutf7("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(encode_mutf7("A&B"), "A&-B");
        assert_eq!(encode_mutf7("日本語"), "&ZeVnLIqe-");
        assert!(valid_mutf7(&encode_mutf7("Ünïcødé ☺ 𝄞")));
    }

    #[test]
    fn mutf7() {
        for ok in ["INBOX", "&2D3eAA-", "Entw&APw-rfe", "&Jjo-!", "a&-b", "&ZeVnLIqe-", "Sent Items"] {
            assert!(valid_mutf7(ok), "{ok}");
        }
        for bad in ["&", "&Jjo", "a&AGE-" /* encodes 'a' */, "&2D0-" /* lone surrogate */, "caf\u{e9}", "x\x01", "&A-"] {
            assert!(!valid_mutf7(bad), "{bad}");
        }
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in ["", "user..fred", ".user", "user.", "user.fred./etc", "user/../../etc/passwd", "a\x00b", "a\rb", "user.fred.^^", "user.^", "../x!user.a", "ex..org!user.a", "&"] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        assert!(validate(&"a".repeat(MAX_NAME + 1)).is_err());
        for good in ["user.fred", "user.fred.Sent", "shared.news", "example.org!user.fred", "user.fred.a^b", "user.fred.Entw&APw-rfe"] {
            assert!(validate(good).is_ok(), "{good}");
        }
        let n = ns(false, false, false);
        assert!(n.to_internal("fred", "INBOX/../../etc").is_err());
        assert!(n.to_internal("fred", "INBOX..x").is_err());
    }

    /// Both directions, for every combination of the three switches.
    #[test]
    fn conversions_round_trip_in_every_namespace() {
        for unix in [false, true] {
            for alt in [false, true] {
                for virt in [false, true] {
                    let n = ns(unix, alt, virt);
                    let sep = n.sep();
                    let user = if virt { "fred@example.org" } else { "fred" };
                    let pre = if virt { "example.org!" } else { "" };
                    let own = |rest: &str| if alt { rest.to_string() } else { format!("INBOX{sep}{rest}") };
                    let other = |u: &str| if alt { format!("Other Users{sep}{u}") } else { format!("user{sep}{u}") };
                    let shared = |s: &str| if alt { format!("Shared Folders{sep}{s}") } else { s.to_string() };
                    let cases = [
                        ("INBOX".to_string(), format!("{pre}user.fred")),
                        (own("Sent"), format!("{pre}user.fred.Sent")),
                        (own(&format!("a{sep}b")), format!("{pre}user.fred.a.b")),
                        (other("barney"), format!("{pre}user.barney")),
                        (shared("news"), format!("{pre}news")),
                    ];
                    for (ext, int) in cases {
                        let got = n.to_internal(user, &ext).unwrap_or_else(|e| panic!("{unix}/{alt}/{virt} {ext}: {e}"));
                        assert_eq!(got.0, int, "to_internal {unix}/{alt}/{virt} {ext}");
                        assert_eq!(n.to_external(user, &got), ext, "to_external {unix}/{alt}/{virt} {int}");
                    }
                    assert_eq!(n.to_internal(user, "inbox").unwrap().0, format!("{pre}user.fred"));
                    assert_eq!(n.owner(&InternalName(format!("{pre}user.fred.Sent"))).as_deref(), Some(user));
                }
            }
        }
    }

    #[test]
    fn default_domain_users_have_no_domain_part() {
        let mut n = ns(false, false, true);
        n.defaultdomain = Some("example.org".into());
        assert_eq!(n.inbox("fred@Example.ORG").0, "user.fred");
        assert_eq!(n.inbox("fred@other.net").0, "other.net!user.fred");
        assert_eq!(n.inbox("fred").0, "user.fred");
    }

    #[test]
    fn dots_in_names_with_unix_separator() {
        let n = ns(true, false, false);
        let i = n.to_internal("fred", "INBOX/v1.2").unwrap();
        assert_eq!(i.0, "user.fred.v1^2");
        assert_eq!(n.to_external("fred", &i), "INBOX/v1.2");
        let i = n.to_internal("j.smith", "INBOX").unwrap();
        assert_eq!(i.0, "user.j^smith");
        assert_eq!(n.owner(&i).as_deref(), Some("j.smith"));
    }

    #[test]
    fn mutf7_round_trip() {
        for name in ["Entw\u{fc}rfe", "a&b", "\u{65e5}\u{672c}\u{8a9e}/x", "plain", "&"] {
            let enc = encode_mutf7(name);
            assert!(valid_mutf7(&enc), "{enc}");
            assert_eq!(decode_mutf7(&enc), name);
        }
        assert_eq!(decode_mutf7("Entw&APw-rfe"), "Entw\u{fc}rfe");
        assert_eq!(decode_mutf7("bad&Zm9v"), "bad&Zm9v");
    }
}
