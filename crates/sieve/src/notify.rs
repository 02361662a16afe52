//! Notification methods (enotify, RFC 5435): only `mailto` (RFC 5436), which is what
//! Cyrus offers. A `mailto:` URI is parsed into its recipients and headers here;
//! lmtpd builds and sends the message.

use message::percent_decode;

/// A parsed `mailto:` URI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mailto {
    pub to: Vec<String>,
    /// Header fields given in the URI (`?subject=...&cc=...`), decoded; `body` apart.
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Headers a mailto URI may not set (RFC 5436 §2.2).
const UNSAFE: &[&str] = &["from", "received", "return-path", "auto-submitted", "message-id", "date", "sender", "resent-from", "mime-version", "content-type", "content-transfer-encoding"];

/// Parses a `mailto:` URI; `None` if it is not one or names no valid recipient.
pub fn parse_mailto(uri: &str) -> Option<Mailto> {
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("mailto") {
        return None;
    }
    let (to_part, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut m = Mailto::default();
    for a in to_part.split(',').filter(|a| !a.is_empty()) {
        m.to.push(percent_decode(a)?);
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k)?.to_ascii_lowercase();
        let v = percent_decode(v)?;
        match k.as_str() {
            "to" => m.to.extend(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty())),
            "body" => m.body = Some(v),
            k if UNSAFE.contains(&k) => {}
            _ => m.headers.push((k, v)),
        }
    }
    if m.to.is_empty() || !m.to.iter().all(|a| crate::address::valid_redirect(a)) {
        return None;
    }
    Some(m)
}

/// Whether `uri` is a method this server can notify through (valid_notify_method).
pub fn valid_method(uri: &str) -> bool {
    parse_mailto(uri).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailto() {
        let m = parse_mailto("mailto:alm@example.com?subject=Hi%20there&importance=high&from=evil@x").unwrap();
        assert_eq!(m.to, vec!["alm@example.com"]);
        assert_eq!(m.headers, vec![("subject".into(), "Hi there".into()), ("importance".into(), "high".into())]);
        assert!(parse_mailto("xmpp:a@b").is_none());
        assert!(parse_mailto("mailto:").is_none());
        assert!(parse_mailto("mailto:a@b,c@d").unwrap().to.len() == 2);
    }
}
