//! Addresses as Sieve tests see them (RFC 5228 §2.7.4, subaddress RFC 5233): the
//! mailboxes of a header parsed per RFC 5322 by the message crate, and the parts
//! `:all`, `:localpart`, `:domain`, `:user`, `:detail`.

use crate::ast::AddrPart;

/// The separator between user and detail (Cyrus: `+`).
pub const DETAIL_SEPARATOR: char = '+';

/// The mailboxes of a header value, as `local@domain` pairs.
pub fn from_header(value: &[u8]) -> Vec<(String, String)> {
    message::address_list(value)
}

/// Splits an envelope address (`local@domain`, maybe in angle brackets, maybe empty).
pub fn split(addr: &str) -> (String, String) {
    let a = addr.trim().trim_start_matches('<').trim_end_matches('>');
    match a.rsplit_once('@') {
        Some((l, d)) => (l.to_string(), d.to_string()),
        None => (a.to_string(), String::new()),
    }
}

/// One address part; `None` where the part does not exist (`:detail` without a
/// separator), which makes the test false for that address.
pub fn part(local: &str, domain: &str, part: AddrPart) -> Option<String> {
    match part {
        AddrPart::All if domain.is_empty() => Some(local.to_string()),
        AddrPart::All => Some(format!("{local}@{domain}")),
        AddrPart::Local => Some(local.to_string()),
        AddrPart::Domain => Some(domain.to_string()),
        AddrPart::User => Some(local.split_once(DETAIL_SEPARATOR).map_or(local, |(u, _)| u).to_string()),
        AddrPart::Detail => local.split_once(DETAIL_SEPARATOR).map(|(_, d)| d.to_string()),
    }
}

/// The one mailbox of `s` (`Name <a@b>` or `a@b`), or `None`.
pub fn parse_one(s: &str) -> Option<(String, String)> {
    let v = from_header(s.as_bytes());
    match v.as_slice() {
        [(l, d)] if !l.is_empty() && !d.is_empty() => Some((l.clone(), d.clone())),
        _ => None,
    }
}

/// Whether `s` is an address redirect can send to: one `local@domain`.
pub fn valid_redirect(s: &str) -> bool {
    !s.contains(['\r', '\n', '\0']) && s.len() <= 998 && parse_one(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        assert_eq!(part("ken+sieve", "example.org", AddrPart::User).unwrap(), "ken");
        assert_eq!(part("ken+sieve", "example.org", AddrPart::Detail).unwrap(), "sieve");
        assert_eq!(part("ken", "example.org", AddrPart::Detail), None);
        assert_eq!(part("ken+", "example.org", AddrPart::Detail).unwrap(), "");
        assert_eq!(part("ken", "example.org", AddrPart::All).unwrap(), "ken@example.org");
        assert_eq!(split("<a@b.c>"), ("a".into(), "b.c".into()));
        assert_eq!(split(""), (String::new(), String::new()));
    }

    #[test]
    fn header_addresses() {
        let v = from_header(b"\"Doe, John\" <john@example.com>, undisclosed:;, =?utf-8?q?x?= <x@y.z>,\r\n\tbare");
        assert_eq!(v, vec![("john".into(), "example.com".into()), ("x".into(), "y.z".into()), ("bare".into(), String::new())]);
        assert!(valid_redirect("fred@example.com"));
        assert!(valid_redirect("Fred <fred@example.com>"));
        assert!(!valid_redirect("fred"));
        assert!(!valid_redirect("a@b, c@d"));
    }
}
