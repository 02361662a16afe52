//! The arguments of MAIL FROM and RCPT TO: a path in angle brackets and ESMTP
//! parameters (RFC 5321 4.1.2, RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8).

/// A parsed `FROM:<path> params` or `TO:<path> params`.
#[derive(Debug, PartialEq, Eq)]
pub struct PathArg {
    /// The address without brackets (empty for the null reverse-path `<>`).
    pub addr: String,
    /// Parameters, keyword uppercased, value as given.
    pub params: Vec<(String, Option<String>)>,
}

impl PathArg {
    pub fn param(&self, key: &str) -> Option<Option<&str>> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_deref())
    }
}

/// Parses what follows `MAIL` or `RCPT`: `FROM:<a@b> SIZE=10` with `prefix` "FROM:".
/// Source routes (`<@x,@y:a@b>`) are accepted and dropped, as RFC 5321 allows.
pub fn parse(rest: &str, prefix: &str) -> Result<PathArg, &'static str> {
    let rest = rest.trim_start();
    if !rest.as_bytes().get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes())) {
        return Err("Syntax error in parameters");
    }
    let rest = rest[prefix.len()..].trim_start();
    let Some(rest) = rest.strip_prefix('<') else { return Err("Syntax error: address must be in <>") };
    // The address ends at the first '>' outside a quoted local part.
    let mut in_q = false;
    let mut esc = false;
    let mut end = None;
    for (i, c) in rest.char_indices() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' if in_q => esc = true,
            '"' => in_q = !in_q,
            '>' if !in_q => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let end = end.ok_or("Syntax error: no closing >")?;
    let mut addr = &rest[..end];
    if addr.starts_with('@') {
        addr = addr.split_once(':').map_or("", |(_, a)| a);
    }
    if addr.chars().any(|c| c.is_control()) {
        return Err("Syntax error: control character in address");
    }
    let mut params = Vec::new();
    for p in rest[end + 1..].split_whitespace() {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (p, None),
        };
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("Syntax error in parameters");
        }
        params.push((k.to_ascii_uppercase(), v));
    }
    Ok(PathArg { addr: addr.to_string(), params })
}

/// A recipient split as Cyrus reads it: `user+detail@domain`.
#[derive(Debug, PartialEq, Eq)]
pub struct Recipient {
    pub user: String,
    pub detail: Option<String>,
    pub domain: Option<String>,
}

/// Splits a recipient address; `downcase` lowercases the user part (not the detail).
pub fn split_recipient(addr: &str, downcase: bool) -> Recipient {
    let (local, domain) = match addr.rsplit_once('@') {
        Some((l, d)) => (l, Some(d.to_ascii_lowercase())),
        None => (addr, None),
    };
    let local = local.trim_matches('"');
    let (user, detail) = match local.split_once('+') {
        Some((u, d)) => (u, Some(d.to_string())),
        None => (local, None),
    };
    let user = if downcase { user.to_ascii_lowercase() } else { user.to_string() };
    Recipient { user, detail, domain }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_params() {
        let p = parse("FROM:<a@b.c> SIZE=100 BODY=8BITMIME smtputf8", "FROM:").unwrap();
        assert_eq!(p.addr, "a@b.c");
        assert_eq!(p.param("SIZE"), Some(Some("100")));
        assert_eq!(p.param("SMTPUTF8"), Some(None));
        assert_eq!(parse("from: <>", "FROM:").unwrap().addr, "");
        assert_eq!(parse("TO:<@r1,@r2:x@y>", "TO:").unwrap().addr, "x@y");
        assert_eq!(parse("TO:<\"a>b\"@y>", "TO:").unwrap().addr, "\"a>b\"@y");
        for bad in ["FROM:a@b", "FROM:<a@b", "TO:<a@b>", "FROM:<a\x01b>", "FROM:<a> =x", "", "FRO\u{fffd}:<a>", "\u{fffd}\u{fffd}"] {
            assert!(parse(bad, "FROM:").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn recipients() {
        assert_eq!(split_recipient("Fred+Lists.Rust@Example.ORG", true), Recipient { user: "fred".into(), detail: Some("Lists.Rust".into()), domain: Some("example.org".into()) });
        assert_eq!(split_recipient("fred", false), Recipient { user: "fred".into(), detail: None, domain: None });
        assert_eq!(split_recipient("+shared.news", true), Recipient { user: "".into(), detail: Some("shared.news".into()), domain: None });
    }
}
