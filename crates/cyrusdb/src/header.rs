//! `cyrus.header`: after three magic lines, either the old text form (2.x to 3.4)
//! ```text
//! QUOTAROOT \t UNIQUEID
//! FLAG0 SP FLAG1 SP ... SP
//! ID \t RIGHTS \t ID \t RIGHTS \t
//! ```
//! or, from Cyrus 3.6, one dlist line `%(T type N name I uniqueid Q quotaroot A %(id
//! rights ...) U (flag0 NIL flag2 ...))`. User flag n is the n-th name; an empty
//! slot (an empty token, or NIL) keeps its position.

use crate::{Error, dlist, err};

const MAGIC: &[u8] = b"\xa1\x02\x8b\x0dCyrus mailbox header\n\"The best thing about this system was that it had lots of goals.\"\n\t--Jim Morris on Andrew\n";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub name: Option<String>,
    pub quotaroot: Option<String>,
    pub uniqueid: Option<String>,
    pub user_flags: Vec<Option<String>>,
    pub acl: Vec<(String, String)>,
}

pub fn read(b: &[u8]) -> Result<Header, Error> {
    let Some(rest) = b.strip_prefix(MAGIC) else { return err("cyrus.header: wrong magic") };
    if rest.first() == Some(&b'%') {
        let line = rest.split(|&c| c == b'\n').next().unwrap_or_default();
        let v = dlist::parse(line)?;
        let text = |k: &str| v.get(k).and_then(dlist::Value::text).filter(|s| !s.is_empty());
        return Ok(Header {
            name: text("N"),
            quotaroot: text("Q"),
            uniqueid: text("I"),
            user_flags: v.get("U").map(|u| u.items().iter().map(|f| f.text().filter(|s| !s.is_empty())).collect()).unwrap_or_default(),
            acl: v.get("A").map(|a| a.pairs().iter().map(|(k, r)| (String::from_utf8_lossy(k).into_owned(), r.text().unwrap_or_default())).collect()).unwrap_or_default(),
        });
    }
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    let (quotaroot, uniqueid) = match first.split_once('\t') {
        Some((q, u)) => (q, Some(u)),
        None => (first, None),
    };
    let flags_line = lines.next().unwrap_or("");
    let mut user_flags: Vec<Option<String>> = flags_line.split(' ').map(|f| (!f.is_empty()).then(|| f.to_string())).collect();
    // Every name is followed by a space: the last token is the empty rest.
    if flags_line.ends_with(' ') || flags_line.is_empty() {
        user_flags.pop();
    }
    let acl_line = lines.next().unwrap_or("");
    let parts: Vec<&str> = acl_line.split('\t').collect();
    let acl = parts.chunks(2).filter(|c| c.len() == 2 && !c[0].is_empty()).map(|c| (c[0].to_string(), c[1].to_string())).collect();
    Ok(Header {
        name: None,
        quotaroot: (!quotaroot.is_empty()).then(|| quotaroot.to_string()),
        uniqueid: uniqueid.filter(|u| !u.is_empty()).map(str::to_string),
        user_flags,
        acl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(b"user.fred\t4d2a6c3e1f\n$Work  Junk \nfred\tlrswipkxtecda\tanyone\tlrs\t\n");
        let h = read(&old).unwrap();
        assert_eq!(h.quotaroot.as_deref(), Some("user.fred"));
        assert_eq!(h.uniqueid.as_deref(), Some("4d2a6c3e1f"));
        assert_eq!(h.user_flags, vec![Some("$Work".into()), None, Some("Junk".into())]);
        assert_eq!(h.acl, vec![("fred".into(), "lrswipkxtecda".into()), ("anyone".into(), "lrs".into())]);
        let mut new = MAGIC.to_vec();
        new.extend_from_slice(b"%(T e N user.fred.Sent I xtbcz3811ht2q5ijm3o2bmhv Q user.fred A %(fred lrswipkxtecdan bob lrs) U ($Label1 NIL $x))\n");
        let h = read(&new).unwrap();
        assert_eq!(h.name.as_deref(), Some("user.fred.Sent"));
        assert_eq!(h.user_flags, vec![Some("$Label1".into()), None, Some("$x".into())]);
        assert_eq!(h.acl.len(), 2);
        assert!(read(b"garbage").is_err());
    }
}
