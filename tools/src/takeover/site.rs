//! The Cyrus site's mailbox list: `mailboxes.db` in the forms Cyrus writes (2.4
//! `type partition acl`; 2.5–3.4 dlist values keyed by internal name; 3.6 `N<dbname>`
//! and `I<uniqueid>` records), or the text `ctl_mboxlist -d` prints (3.6's JSON-like
//! form, or older `name TAB value` lines).

use cyrusdb::dlist::{self, Value};
use cyrusdb::kv::Pairs;

/// What kind of mailbox an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Email,
    /// Cyrus 3.6's `#sieve` mailbox: its messages are the user's scripts.
    Sieve,
    Netnews,
    /// Calendars, address books and the like, which the suite does not serve.
    Other(char),
}

/// One mailbox of the Cyrus site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CyrusMailbox {
    /// Internal name, `.`-separated, `domain!` first (as this suite keeps names).
    pub name: String,
    pub uniqueid: String,
    pub partition: String,
    /// `id\trights\t...`.
    pub acl: String,
    pub uidvalidity: u32,
    /// Files under `partition/uuid/a/b/UNIQUEID` (Cyrus 3.6 without legacy dirs).
    pub by_id: bool,
    pub kind: Kind,
    /// Why the entry is not taken over (deleted, remote, a placeholder...).
    pub skip: Option<&'static str>,
}

/// 3.6 `dbname` (domain `\x1D`, components `\x1F`) to an internal name.
pub fn dbname_to_internal(db: &[u8]) -> String {
    let (domain, rest) = match db.iter().position(|&b| b == 0x1d) {
        Some(p) => (Some(String::from_utf8_lossy(&db[..p]).into_owned()), &db[p + 1..]),
        None => (None, db),
    };
    let local: Vec<String> = rest.split(|&b| b == 0x1f).map(|c| String::from_utf8_lossy(c).replace('.', "^")).collect();
    let local = local.join(".");
    match domain {
        Some(d) => format!("{d}!{local}"),
        None => local,
    }
}

fn acl_string(v: Option<&Value>) -> String {
    let mut s = String::new();
    for (id, rights) in v.map(Value::pairs).unwrap_or_default() {
        s.push_str(&String::from_utf8_lossy(id));
        s.push('\t');
        s.push_str(&rights.text().unwrap_or_default());
        s.push('\t');
    }
    s
}

/// The kind and skip reason of a type string: 3.6 `e`, `el`, `f`, `ei` ... (first
/// character the kind, then flags), 2.5–3.4 flag letters alone.
fn classify(t: &str, v36: bool) -> (Kind, bool, Option<&'static str>) {
    let (kind_char, flags) = if v36 { (t.chars().next().unwrap_or('e'), t.get(1..).unwrap_or("")) } else { ('e', t) };
    let mut kind = match kind_char {
        'e' => Kind::Email,
        'f' => Kind::Sieve,
        'n' => Kind::Netnews,
        c => Kind::Other(c),
    };
    if !v36 {
        for c in t.chars() {
            match c {
                'n' => kind = Kind::Netnews,
                'c' | 'a' | 'b' | 's' | 'p' => kind = Kind::Other(c),
                _ => {}
            }
        }
    }
    // `d` is the tombstone Cyrus leaves at a deleted mailbox's old name (no files);
    // the mailbox itself, moved into the DELETED hierarchy, is an ordinary entry an
    // admin may still restore, and is taken over like the others.
    let skip = if flags.contains('d') {
        Some("the tombstone of a deleted mailbox (its files are under DELETED.*)")
    } else if flags.contains('r') {
        Some("on another server (remote entry of a Murder)")
    } else if flags.contains('z') {
        Some("a reserved name (a create or rename in progress under Cyrus)")
    } else if flags.contains('m') {
        Some("being moved between servers")
    } else if flags.contains('i') {
        Some("an intermediate placeholder without files")
    } else {
        None
    };
    // 3.6: no `l` means the mailbox's files are found by its id.
    let by_id = v36 && !flags.contains('l');
    (kind, by_id, skip)
}

fn from_dlist(name: String, v: &Value, v36: bool) -> CyrusMailbox {
    let text = |k: &str| v.get(k).and_then(Value::text).unwrap_or_default();
    let (kind, by_id, skip) = classify(&text("T"), v36);
    CyrusMailbox {
        name,
        uniqueid: text("I"),
        partition: if text("P").is_empty() { "default".into() } else { text("P") },
        acl: acl_string(v.get("A")),
        uidvalidity: v.get("V").and_then(Value::num).unwrap_or(0) as u32,
        by_id,
        kind,
        skip,
    }
}

/// 2.4's `mbtype partition acl`.
fn from_v24(name: String, value: &[u8]) -> CyrusMailbox {
    let text = String::from_utf8_lossy(value);
    let mut parts = text.splitn(3, ' ');
    let mbtype: u32 = parts.next().unwrap_or("0").parse().unwrap_or(0);
    let partition = parts.next().unwrap_or("default").to_string();
    let acl = parts.next().unwrap_or("").to_string();
    let skip = if mbtype & 1 != 0 {
        Some("on another server (remote entry of a Murder)")
    } else if mbtype & 2 != 0 {
        Some("a reserved name (a create or rename in progress under Cyrus)")
    } else {
        None
    };
    CyrusMailbox {
        name,
        uniqueid: String::new(),
        partition: partition.split('!').next_back().unwrap_or("default").to_string(),
        acl,
        uidvalidity: 0,
        by_id: false,
        kind: if mbtype & 4 != 0 { Kind::Netnews } else { Kind::Email },
        skip,
    }
}

/// The mailboxes of a `mailboxes.db` read by [`cyrusdb::kv::read`].
pub fn from_db(pairs: &Pairs) -> Result<Vec<CyrusMailbox>, String> {
    let v36 = pairs.iter().any(|(k, v)| k.first() == Some(&b'I') && dlist::parse(v).is_ok_and(|d| d.get("N").is_some()));
    let mut out = Vec::new();
    for (k, v) in pairs {
        if v36 {
            let Some(db) = k.strip_prefix(b"N") else { continue };
            let d = dlist::parse(v).map_err(|e| format!("mailboxes.db entry {}: {e}", String::from_utf8_lossy(k)))?;
            out.push(from_dlist(dbname_to_internal(db), &d, true));
        } else {
            if k.first() == Some(&b'$') {
                continue; // $RACL and other bookkeeping keys
            }
            let name = String::from_utf8_lossy(k).into_owned();
            if v.first() == Some(&b'%') {
                let d = dlist::parse(v).map_err(|e| format!("mailboxes.db entry {name}: {e}"))?;
                out.push(from_dlist(name, &d, false));
            } else {
                out.push(from_v24(name, v));
            }
        }
    }
    Ok(out)
}

/// The text of `ctl_mboxlist -d`: 3.6's `{ "NAME": {"name": ..., "mbtype": ...,
/// "acl": {...}, "uniqueid": ...}, ... }`, or older versions' `NAME TAB VALUE` lines.
pub fn from_dump(text: &str) -> Result<Vec<CyrusMailbox>, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        let j = json::parse(trimmed)?;
        let mut out = Vec::new();
        for (name, o) in j.object().ok_or("ctl_mboxlist -d: not an object")? {
            let s = |k: &str| o.get(k).and_then(json::Json::string).unwrap_or_default();
            let mut acl = String::new();
            if let Some(a) = o.get("acl").and_then(json::Json::object) {
                for (id, r) in a {
                    acl.push_str(&format!("{id}\t{}\t", r.string().unwrap_or_default()));
                }
            }
            let (kind, by_id, skip) = classify(&s("mbtype"), true);
            let partition = s("partition");
            out.push(CyrusMailbox {
                name: name.clone(),
                uniqueid: s("uniqueid"),
                partition: if partition.is_empty() { "default".into() } else { partition },
                acl,
                uidvalidity: s("uidvalidity").parse().unwrap_or(0),
                by_id,
                kind,
                skip,
            });
        }
        return Ok(out);
    }
    let mut pairs = Pairs::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line.split_once('\t').ok_or_else(|| format!("ctl_mboxlist -d: a line without a TAB: {line}"))?;
        pairs.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
    }
    from_db(&pairs)
}

/// Just enough JSON for `ctl_mboxlist -d`: objects, arrays, strings, numbers.
mod json {
    #[derive(Debug, Clone)]
    pub enum Json {
        Str(String),
        Other,
        Obj(Vec<(String, Json)>),
    }

    impl Json {
        pub fn object(&self) -> Option<&[(String, Json)]> {
            match self {
                Json::Obj(v) => Some(v),
                _ => None,
            }
        }
        pub fn get(&self, k: &str) -> Option<&Json> {
            self.object()?.iter().find(|(n, _)| n == k).map(|(_, v)| v)
        }
        pub fn string(&self) -> Option<String> {
            match self {
                Json::Str(s) => Some(s.clone()),
                _ => None,
            }
        }
    }

    pub fn parse(s: &str) -> Result<Json, String> {
        let b = s.as_bytes();
        let mut i = 0;
        let v = value(b, &mut i, 0)?;
        Ok(v)
    }

    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }

    fn string(b: &[u8], i: &mut usize) -> Result<String, String> {
        *i += 1;
        let mut out = Vec::new();
        while *i < b.len() {
            match b[*i] {
                b'"' => {
                    *i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    let c = *b.get(*i + 1).ok_or("json: bad escape")?;
                    match c {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = std::str::from_utf8(b.get(*i + 2..*i + 6).ok_or("json: bad escape")?).map_err(|e| e.to_string())?;
                            let ch = char::from_u32(u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?).unwrap_or('?');
                            out.extend_from_slice(ch.to_string().as_bytes());
                            *i += 4;
                        }
                        c => out.push(c),
                    }
                    *i += 2;
                }
                c => {
                    out.push(c);
                    *i += 1;
                }
            }
        }
        Err("json: unclosed string".into())
    }

    fn value(b: &[u8], i: &mut usize, depth: usize) -> Result<Json, String> {
        if depth > 16 {
            return Err("json: nested too deep".into());
        }
        ws(b, i);
        match b.get(*i) {
            Some(b'{') => {
                *i += 1;
                let mut v = Vec::new();
                loop {
                    ws(b, i);
                    match b.get(*i) {
                        Some(b'}') => {
                            *i += 1;
                            return Ok(Json::Obj(v));
                        }
                        Some(b',') => *i += 1,
                        Some(b'"') => {
                            let k = string(b, i)?;
                            ws(b, i);
                            if b.get(*i) != Some(&b':') {
                                return Err("json: ':' expected".into());
                            }
                            *i += 1;
                            let x = value(b, i, depth + 1)?;
                            v.push((k, x));
                        }
                        _ => return Err(format!("json: unexpected byte at {}", *i)),
                    }
                }
            }
            Some(b'[') => {
                *i += 1;
                loop {
                    ws(b, i);
                    match b.get(*i) {
                        Some(b']') => {
                            *i += 1;
                            return Ok(Json::Other);
                        }
                        Some(b',') => *i += 1,
                        Some(_) => {
                            value(b, i, depth + 1)?;
                        }
                        None => return Err("json: unclosed array".into()),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(string(b, i)?)),
            Some(_) => {
                while *i < b.len() && !matches!(b[*i], b',' | b'}' | b']') && !b[*i].is_ascii_whitespace() {
                    *i += 1;
                }
                Ok(Json::Other)
            }
            None => Err("json: unexpected end".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let mut p = Pairs::new();
        p.insert(b"Nuser\x1ffred".to_vec(), b"%(T e I t904 P default V 17 C 1 F 5 M 1 A %(fred lrswipkxtecdan))".to_vec());
        p.insert(b"Nexample.com\x1duser\x1ffred\x1fa.b".to_vec(), b"%(T el I x1 P default V 18 A %(fred@example.com lrs))".to_vec());
        p.insert(b"Nuser\x1ffred\x1f#sieve".to_vec(), b"%(T f I s1 P default V 19 A %(fred lrswipkxtecdan))".to_vec());
        p.insert(b"It904".to_vec(), b"%(T e N user\x1ffred P default V 17 H ())".to_vec());
        let v = from_db(&p).unwrap();
        assert_eq!(v.len(), 3);
        let fred = v.iter().find(|m| m.name == "user.fred").unwrap();
        assert!(fred.by_id && fred.kind == Kind::Email && fred.uidvalidity == 17);
        assert_eq!(fred.acl, "fred\tlrswipkxtecdan\t");
        let dom = v.iter().find(|m| m.name == "example.com!user.fred.a^b").unwrap();
        assert!(!dom.by_id);
        assert_eq!(v.iter().find(|m| m.name.ends_with("#sieve")).unwrap().kind, Kind::Sieve);
        let mut old = Pairs::new();
        old.insert(b"user.barney".to_vec(), b"%(A %(barney lrswipkxtecda) I 4d2a P default V 1234 M 1)".to_vec());
        old.insert(b"user.old".to_vec(), b"0 default old\tlrswipcda\t".to_vec());
        old.insert(b"$RACL".to_vec(), b"x".to_vec());
        let v = from_db(&old).unwrap();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|m| !m.by_id));
        assert_eq!(v.iter().find(|m| m.name == "user.old").unwrap().acl, "old\tlrswipcda\t");
        let dump = r#"{
"user.fred.Sent": {"name": "user.fred.Sent", "mtime": "1796399004", "uidvalidity": "1796399005", "mbtype": "e", "partition": "default", "acl": {"fred": "lrswipkxtecdan", "bob": "lrs"}, "uniqueid": "xtbcz", "name_history": []},
"user.fred": {"name": "user.fred", "uidvalidity": "7", "mbtype": "el", "partition": "p2", "acl": {}, "uniqueid": "u1", "name_history": []}
}"#;
        let v = from_dump(dump).unwrap();
        assert_eq!(v[0].acl, "fred\tlrswipkxtecdan\tbob\tlrs\t");
        assert!(v[0].by_id && !v[1].by_id && v[1].partition == "p2");
    }
}
