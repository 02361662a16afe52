//! Cyrus's dlist text (imap/dlist.c): `%(KEY value KEY value)` key-value lists, `(a b)`
//! lists, atoms, `"quoted"` strings, `{N}` / `{N+}` literals and `NIL`. Cyrus 2.5+
//! writes mailboxes.db values, quota values and (3.6) cyrus.header in it.

use crate::{Error, err};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Atom(Vec<u8>),
    Nil,
    List(Vec<Value>),
    KvList(Vec<(Vec<u8>, Value)>),
}

impl Value {
    /// The text of an atom or string (`None` for NIL and lists).
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Atom(a) => Some(String::from_utf8_lossy(a).into_owned()),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(a) => Some(a),
            _ => None,
        }
    }

    pub fn num(&self) -> Option<u64> {
        self.text()?.parse().ok()
    }

    /// The value of `key` in a key-value list.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::KvList(kv) => kv.iter().find(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes())).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::List(v) => v,
            _ => &[],
        }
    }

    pub fn pairs(&self) -> &[(Vec<u8>, Value)] {
        match self {
            Value::KvList(v) => v,
            _ => &[],
        }
    }
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 32;

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

/// Parses one dlist value (leading and trailing blanks allowed).
pub fn parse(s: &[u8]) -> Result<Value, Error> {
    let mut p = P { s, i: 0 };
    p.skip_sp();
    let v = p.value(0)?;
    p.skip_sp();
    if p.i != s.len() && !s[p.i..].iter().all(|b| b.is_ascii_whitespace()) {
        return err(format!("dlist: text after the value at {}", p.i));
    }
    Ok(v)
}

impl P<'_> {
    fn skip_sp(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\r' | b'\n' | b'\t') {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return err("dlist: nested too deep");
        }
        match self.s.get(self.i) {
            None => err("dlist: unexpected end"),
            Some(b'%') if self.s.get(self.i + 1) == Some(&b'(') => {
                self.i += 2;
                let mut kv = Vec::new();
                loop {
                    self.skip_sp();
                    if self.s.get(self.i) == Some(&b')') {
                        self.i += 1;
                        return Ok(Value::KvList(kv));
                    }
                    let key = match self.value(depth + 1)? {
                        Value::Atom(a) => a,
                        _ => return err("dlist: a key that is not an atom"),
                    };
                    self.skip_sp();
                    let v = self.value(depth + 1)?;
                    kv.push((key, v));
                }
            }
            Some(b'(') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_sp();
                    if self.s.get(self.i) == Some(&b')') {
                        self.i += 1;
                        return Ok(Value::List(items));
                    }
                    if self.i >= self.s.len() {
                        return err("dlist: unclosed list");
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.s.get(self.i) {
                        None => return err("dlist: unclosed string"),
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(Value::Atom(out));
                        }
                        Some(b'\\') => {
                            if let Some(&c) = self.s.get(self.i + 1) {
                                out.push(c);
                            }
                            self.i += 2;
                        }
                        Some(&c) => {
                            out.push(c);
                            self.i += 1;
                        }
                    }
                }
            }
            Some(b'{') => {
                let close = self.s[self.i..].iter().position(|&c| c == b'}').ok_or_else(|| Error("dlist: bad literal".into()))? + self.i;
                let n: usize = std::str::from_utf8(&self.s[self.i + 1..close])
                    .ok()
                    .map(|t| t.trim_end_matches('+'))
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| Error("dlist: bad literal length".into()))?;
                let mut start = close + 1;
                if self.s.get(start) == Some(&b'\r') {
                    start += 1;
                }
                if self.s.get(start) == Some(&b'\n') {
                    start += 1;
                }
                let v = self.s.get(start..start + n).ok_or_else(|| Error("dlist: literal runs past the end".into()))?.to_vec();
                self.i = start + n;
                Ok(Value::Atom(v))
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && !matches!(self.s[self.i], b' ' | b')' | b'\r' | b'\n') {
                    self.i += 1;
                }
                let a = &self.s[start..self.i];
                if a.is_empty() {
                    return err(format!("dlist: unexpected '{}'", self.s[start] as char));
                }
                Ok(if a.eq_ignore_ascii_case(b"NIL") { Value::Nil } else { Value::Atom(a.to_vec()) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_db_values() {
        let v = parse(b"%(T e I t904ma1mbajzel1p0lumls0w P default V 1796399005 C 1 F 5 M 1796399004 A %(fred lrswipkxtecdan bob lrs) H ())").unwrap();
        assert_eq!(v.get("T").unwrap().text().unwrap(), "e");
        assert_eq!(v.get("V").unwrap().num(), Some(1796399005));
        assert_eq!(v.get("A").unwrap().pairs().len(), 2);
        assert!(v.get("H").unwrap().items().is_empty());
        let v = parse(b"%(T e N \"user.fred.a b\" U ($Label1 NIL \\Seen) Q {3+}\r\nabc)").unwrap();
        assert_eq!(v.get("N").unwrap().text().unwrap(), "user.fred.a b");
        assert_eq!(v.get("U").unwrap().items()[1], Value::Nil);
        assert_eq!(v.get("Q").unwrap().text().unwrap(), "abc");
        let q = parse(b"%(S (828 10000) M (3 100) AS (12) NF (4) MODSEQ 9)").unwrap();
        assert_eq!(q.get("S").unwrap().items()[1].num(), Some(10000));
        assert!(parse(b"%(A").is_err());
        assert!(parse(&b"(".repeat(100)).is_err());
    }
}
