//! Variables (RFC 5229): `${name}` expansion, match variables `${0}`..`${9}`,
//! `set` modifiers, the `global` namespace of include (RFC 6609), and the
//! encoded-character substitution of RFC 5228 §2.4.2.4 done at compile time.

use crate::ast::Modifier;
use std::collections::HashMap;

/// Longest value a variable holds; longer values are cut (RFC 5229 §3 allows it),
/// so that `set "x" "${x}${x}"` repeated cannot exhaust memory.
pub const MAX_VALUE: usize = 64 * 1024;
/// Most variables a script may set.
pub const MAX_VARIABLES: usize = 1024;

#[derive(Default, Debug, Clone)]
pub struct Vars {
    pub local: HashMap<String, String>,
    /// Match variables of the last successful `:matches` / `:regex`.
    pub matched: Vec<String>,
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_VALUE {
        let mut cut = MAX_VALUE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

fn identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_') && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Expands `${...}` in `text`. `lookup` answers namespaced and global names
/// (`global.x`, `env.x` ...); local and match variables come from `vars`. Unknown
/// variables are empty; anything that is not a well-formed reference stays as written.
pub fn expand(text: &str, vars: &Vars, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        let lower = name.to_ascii_lowercase();
        let value = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            Some(name.parse::<usize>().ok().and_then(|i| vars.matched.get(i).cloned()).unwrap_or_default())
        } else if name.split('.').all(identifier) {
            Some(if lower.contains('.') { lookup(&lower).unwrap_or_default() } else { vars.local.get(&lower).cloned().or_else(|| lookup(&lower)).unwrap_or_default() })
        } else {
            None
        };
        match value {
            Some(v) => {
                out.push_str(&v);
                rest = &after[end + 1..];
            }
            None => {
                // Not a reference: keep "${" and go on after it.
                out.push_str("${");
                rest = after;
            }
        }
        if out.len() > MAX_VALUE {
            return truncate(out);
        }
    }
    out.push_str(rest);
    truncate(out)
}

/// Applies `set` modifiers (already in precedence order).
pub fn apply_modifiers(mut v: String, mods: &[Modifier]) -> String {
    for m in mods {
        v = match m {
            Modifier::Lower => v.to_lowercase(),
            Modifier::Upper => v.to_uppercase(),
            Modifier::LowerFirst => first_char(&v, |c| c.to_lowercase().collect()),
            Modifier::UpperFirst => first_char(&v, |c| c.to_uppercase().collect()),
            Modifier::QuoteWildcard => quote(&v, "*?\\"),
            Modifier::QuoteRegex => quote(&v, "\\^$.[]()|*+?{}"),
            Modifier::EncodeUrl => encode_url(&v),
            Modifier::Length => v.chars().count().to_string(),
        };
    }
    truncate(v)
}

fn first_char(v: &str, f: impl Fn(char) -> String) -> String {
    let mut c = v.chars();
    match c.next() {
        Some(first) => f(first) + c.as_str(),
        None => String::new(),
    }
}

fn quote(v: &str, special: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 5435 §4.2 `:encodeurl`: everything but unreserved characters percent-encoded.
pub fn encode_url(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `${hex: 41 42}` and `${unicode: 263a}` replaced by their characters; a malformed
/// sequence is left as written (RFC 5228 §2.4.2.4).
pub fn decode_encoded_characters(s: &str) -> String {
    if !s.contains("${") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let decoded = after.find('}').and_then(|end| {
            let inner = &after[..end];
            let (kind, body) = inner.split_once(':')?;
            let kind = kind.trim_start().to_ascii_lowercase();
            let words = body.split_ascii_whitespace();
            let text = match kind.as_str() {
                "hex" => {
                    let bytes = words.map(|w| if w.len() <= 2 { u8::from_str_radix(w, 16).ok() } else { None }).collect::<Option<Vec<u8>>>()?;
                    String::from_utf8(bytes).ok()?
                }
                "unicode" => words.map(|w| u32::from_str_radix(w, 16).ok().and_then(char::from_u32)).collect::<Option<String>>()?,
                _ => return None,
            };
            Some((text, end))
        });
        match decoded {
            Some((text, end)) => {
                out.push_str(&text);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let mut v = Vars::default();
        v.local.insert("company".into(), "ACME".into());
        v.matched = vec!["all".into(), "one".into()];
        let none = |_: &str| None;
        assert_eq!(expand("${Company} ${1} ${2} ${nope} ${bad-name} ${", &v, &none), "ACME one   ${bad-name} ${");
        assert_eq!(expand("${global.x}", &v, &|n| (n == "global.x").then(|| "G".into())), "G");
        assert_eq!(expand("${${company}}", &v, &none), "${ACME}", "RFC 5229 §3: no recursive expansion");
    }

    #[test]
    fn modifiers() {
        use Modifier::*;
        assert_eq!(apply_modifiers("juMBlEd lETteRS".into(), &[Lower, UpperFirst]), "Jumbled letters");
        assert_eq!(apply_modifiers("Ya*?".into(), &[QuoteWildcard, Length]), "6");
        assert_eq!(apply_modifiers("a b&c".into(), &[EncodeUrl]), "a%20b%26c");
    }

    #[test]
    fn encoded_character() {
        assert_eq!(decode_encoded_characters("${hex:40}x${unicode: 263a 20}"), "@x\u{263a} ");
        assert_eq!(decode_encoded_characters("${hex:zz} ${HEX: 61 62}"), "${hex:zz} ab");
        assert_eq!(decode_encoded_characters("$${hex:24}{hex:24}"), "$${hex:24}", "RFC 5228 example");
    }
}
