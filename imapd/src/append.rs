//! APPEND with MULTIAPPEND (RFC 3502: several messages, all or none), CATENATE
//! (RFC 4469: a message built from literals and IMAP URLs to messages or parts the
//! user may read) and literal8 (RFC 3516).
//!
//! Every message of the command is put together and checked first; then they go
//! into the mailbox in one batch (one quota charge, one index commit), so that a
//! failure at any point leaves nothing appended.

use crate::messages::allowed_flags;
use crate::parse::{PResult, Parser, compact};
use crate::selected::system_flag;
use crate::reply::{no, ok, store_no};
use crate::state::Session;
use mailbox::{NewMessage, flag};
use message::SectionKind;
use service::Conn;

/// Most messages one APPEND may carry, and most parts of one CATENATE.
const MAX_MESSAGES: usize = 1000;
const MAX_PARTS: usize = 1000;

/// One part of a CATENATE list as written.
enum Piece {
    Text(Vec<u8>),
    Url(String),
}

/// One message of the command as written.
struct Draft {
    flags: Vec<String>,
    date: Option<i64>,
    pieces: Vec<Piece>,
}

fn parse_message(p: &mut Parser) -> PResult<Draft> {
    let mut flags = Vec::new();
    if p.peek() == Some(b'(') {
        flags = p.flag_list(false)?;
        p.sp()?;
    }
    let mut date = None;
    if p.peek() == Some(b'"') {
        date = Some(p.date_time()?);
        p.sp()?;
    }
    let mut pieces = Vec::new();
    if p.word("UTF8") {
        // RFC 6855 4: `UTF8 (~{n}...)`, a message with UTF-8 headers.
        p.sp()?;
        p.expect(b'(')?;
        let _ = p.eat(b'~');
        pieces.push(Piece::Text(p.string()?.into_owned()));
        p.expect(b')')?;
    } else if p.word("CATENATE") {
        p.sp()?;
        p.expect(b'(')?;
        loop {
            match p.keyword()?.as_str() {
                "TEXT" => {
                    p.sp()?;
                    let _ = p.eat(b'~');
                    if p.peek() != Some(b'{') {
                        return Err("CATENATE TEXT must be a literal".into());
                    }
                    pieces.push(Piece::Text(p.string()?.into_owned()));
                }
                "URL" => {
                    p.sp()?;
                    pieces.push(Piece::Url(p.astring_text()?));
                }
                other => return Err(format!("Invalid CATENATE part {}", other.chars().take(20).collect::<String>())),
            }
            if pieces.len() > MAX_PARTS {
                return Err("Too many CATENATE parts".into());
            }
            if p.eat(b')') {
                break;
            }
            p.sp()?;
        }
    } else {
        // A literal8 (RFC 3516 4.4) is taken as the message as well.
        let _ = p.eat(b'~');
        pieces.push(Piece::Text(p.string()?.into_owned()));
    }
    Ok(Draft { flags, date, pieces })
}

/// Checks the syntax of one message of an APPEND (for the fuzz target).
pub fn message_syntax(p: &mut Parser) -> PResult<()> {
    parse_message(p).map(|_| ())
}


/// A CATENATE URL: `[imap://[user@]host[:port]]/mailbox[;UIDVALIDITY=n]/;UID=n
/// [/;SECTION=s][/;PARTIAL=o[.l]]`, as (mailbox, uidvalidity, uid, section, partial).
#[derive(Debug, PartialEq, Eq)]
pub struct ImapUrl {
    pub mailbox: String,
    pub uidvalidity: Option<u32>,
    pub uid: u32,
    pub section: Option<String>,
    pub partial: Option<(u64, Option<u64>)>,
}

pub fn parse_url(url: &str) -> Option<ImapUrl> {
    let path = match url.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("imap://") => &url[url[7..].find('/')? + 7..],
        _ => url,
    };
    // Cyrus takes a path without its leading slash too.
    let path = path.strip_prefix('/').unwrap_or(path);
    // URLAUTH pieces (;EXPIRE=, ;URLAUTH=) are not supported.
    if path.to_ascii_uppercase().contains(";URLAUTH=") {
        return None;
    }
    let mut parts = path.split("/;");
    let first = parts.next()?;
    let (mbox, validity) = match first.find(";UIDVALIDITY=").or_else(|| first.to_ascii_uppercase().find(";UIDVALIDITY=")) {
        Some(i) => (&first[..i], Some(first[i + 13..].parse::<u32>().ok()?)),
        None => (first, None),
    };
    let mbox = message::percent_decode(mbox.strip_suffix('/').unwrap_or(mbox))?;
    let mut u = ImapUrl { mailbox: mbox, uidvalidity: validity, uid: 0, section: None, partial: None };
    for piece in parts {
        let (k, v) = piece.split_once('=')?;
        match k.to_ascii_uppercase().as_str() {
            "UID" if u.uid == 0 => u.uid = v.parse().ok().filter(|&n| n > 0)?,
            "SECTION" if u.section.is_none() && u.uid > 0 => u.section = Some(message::percent_decode(v)?),
            "PARTIAL" if u.partial.is_none() && u.uid > 0 => {
                u.partial = Some(match v.split_once('.') {
                    Some((o, l)) => (o.parse().ok()?, Some(l.parse().ok().filter(|&n| n > 0)?)),
                    None => (v.parse().ok()?, None),
                })
            }
            _ => return None,
        }
    }
    (u.uid > 0).then_some(u)
}

/// `1.2`, `1.2.MIME`, `HEADER`, `TEXT`, `1.HEADER`, `1.TEXT` as (part, kind).
fn parse_section(s: &str) -> Option<(Vec<u32>, SectionKind)> {
    let mut part = Vec::new();
    let mut kind = SectionKind::Body;
    for (i, w) in s.split('.').enumerate() {
        if let Ok(n) = w.parse::<u32>() {
            if n == 0 || kind != SectionKind::Body || part.len() != i {
                return None;
            }
            part.push(n);
            continue;
        }
        kind = match w.to_ascii_uppercase().as_str() {
            "HEADER" => SectionKind::Header,
            "TEXT" => SectionKind::Text,
            "MIME" if !part.is_empty() => SectionKind::Mime,
            _ => return None,
        };
    }
    Some((part, kind))
}

impl Session<'_> {
    /// The bytes a CATENATE URL names, if this user may read them.
    fn url_bytes(&self, url: &str) -> Option<Vec<u8>> {
        let u = parse_url(url)?;
        let ext = if u.mailbox.is_ascii() { u.mailbox.clone() } else { mboxlist::names::encode_mutf7(&u.mailbox) };
        let name = self.internal(&ext).ok()?;
        let (_, rights) = self.rights(&name).ok()?;
        if !rights.has('r') {
            return None;
        }
        let (_, mb) = self.store().open_mailbox(&name).ok()?;
        if u.uidvalidity.is_some_and(|v| v != mb.header().uidvalidity) {
            return None;
        }
        let i = mb.find(mailbox::Uid(u.uid)).ok()??;
        if mb.record(i).ok()?.is_expunged() {
            return None;
        }
        let raw = mb.read_message(mailbox::Uid(u.uid)).ok()?;
        let mut data = match &u.section {
            None => raw,
            Some(s) => {
                let (part, kind) = parse_section(s)?;
                let range = message::parse(&raw).section(&part, kind)?;
                raw.get(range)?.to_vec()
            }
        };
        if let Some((off, len)) = u.partial {
            let s = (off as usize).min(data.len());
            let e = len.map_or(data.len(), |l| s.saturating_add(l as usize).min(data.len()));
            data = data[s..e].to_vec();
        }
        Some(data)
    }

    pub(crate) fn append(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser) -> PResult<()> {
        p.sp()?;
        let mbox = p.mailbox()?;
        p.sp()?;
        let mut drafts = vec![parse_message(p)?];
        while p.eat(b' ') {
            if drafts.len() >= MAX_MESSAGES {
                return Err("Too many messages in one APPEND".into());
            }
            drafts.push(parse_message(p)?);
        }
        p.end()?;
        if let Some((uidvalidity, uids)) = self.append_drafts(conn, tag, &mbox, &drafts) {
            self.updates(conn, true);
            ok(conn, tag, &format!("[APPENDUID {uidvalidity} {}] Completed", compact(&uids)));
        }
        Ok(())
    }

    /// REPLACE (RFC 8508): the new message goes in (as APPEND), then the old one
    /// is expunged; if the first fails, the second does not happen.
    pub(crate) fn replace(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser, uid: bool) -> PResult<()> {
        p.sp()?;
        let set = p.seqset()?;
        if !set.is_saved() && !(set.0.len() == 1 && set.0[0].0 == set.0[0].1) {
            return Err("REPLACE takes one message".into());
        }
        p.sp()?;
        let mbox = p.mailbox()?;
        p.sp()?;
        let draft = parse_message(p)?;
        p.end()?;
        let Some(msns) = self.msns(conn, tag, &set, uid) else { return Ok(()) };
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        let [msn] = msns[..] else {
            no(conn, tag, "REPLACE takes exactly one message");
            return Ok(());
        };
        if sel.readonly || !sel.rights.has('e') || !sel.rights.has('t') {
            no(conn, tag, "[NOPERM] Permission denied: cannot expunge from this mailbox");
            return Ok(());
        }
        let old = match sel.record(msn) {
            Ok(r) => r.uid,
            Err(e) => {
                no(conn, tag, &format!("[SERVERBUG] {e}"));
                return Ok(());
            }
        };
        let Some((uidvalidity, uids)) = self.append_drafts(conn, tag, &mbox, std::slice::from_ref(&draft)) else { return Ok(()) };
        conn.write_fmt(format_args!("* OK [APPENDUID {uidvalidity} {}] Replacement message ready\r\n", compact(&uids)));
        let store = self.store();
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        if let Err(e) = store.expunge(&sel.name.clone(), &mut sel.mb, &[old]) {
            log::error!("REPLACE: appended to {mbox} but not expunged from {}: {e}", sel.name.0);
            no(conn, tag, "[SERVERBUG] The new message is in, the old one could not be removed");
            return Ok(());
        }
        self.updates(conn, true);
        ok(conn, tag, "Replace completed");
        Ok(())
    }

    /// Puts the drafts together and appends them to `mbox` in one batch: the
    /// UIDVALIDITY and new UIDs, or None when the NO was sent.
    fn append_drafts(&mut self, conn: &mut Conn, tag: &str, mbox: &str, drafts: &[Draft]) -> Option<(u32, Vec<u32>)> {
        let (name, entry) = self.insert_target(conn, tag, mbox)?;
        let rights = self.store().rights(self.userid(), &name, &entry);
        // Put every message together first.
        let mut raws: Vec<Vec<u8>> = Vec::with_capacity(drafts.len());
        for d in drafts {
            let mut msg = Vec::new();
            for piece in &d.pieces {
                match piece {
                    Piece::Text(t) => msg.extend_from_slice(t),
                    Piece::Url(u) => match self.url_bytes(u) {
                        Some(b) => msg.extend_from_slice(&b),
                        None => {
                            no(conn, tag, &format!("[BADURL {}] Invalid or inaccessible URL", crate::parse::astring_out(u)));
                            return None;
                        }
                    },
                }
                if msg.len() as u64 > self.max_message {
                    no(conn, tag, "[TOOBIG] Message too large");
                    return None;
                }
            }
            if msg.is_empty() {
                no(conn, tag, "Message has no header or body");
                return None;
            }
            if msg.contains(&0) {
                no(conn, tag, "Message contains NUL characters");
                return None;
            }
            raws.push(msg);
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let store = self.store();
        let owner = store.ns.owner(&name).as_deref() == Some(self.userid());
        let mut kw_lists: Vec<Vec<&str>> = Vec::with_capacity(drafts.len());
        let mut sys_flags = Vec::with_capacity(drafts.len());
        let mut seen_elsewhere = Vec::new();
        for (i, d) in drafts.iter().enumerate() {
            let mut sys = 0u32;
            let mut kws = Vec::new();
            for f in &d.flags {
                match system_flag(f) {
                    Some(b) => sys |= b,
                    None if f.starts_with('\\') => {}
                    None => kws.push(f.as_str()),
                }
            }
            if !rights.has('w') {
                kws.clear();
            }
            sys = allowed_flags(sys, rights);
            // \Seen of someone who is not the owner is theirs alone (the seen database).
            if !owner && sys & flag::SEEN != 0 {
                sys &= !flag::SEEN;
                seen_elsewhere.push(i);
            }
            kw_lists.push(kws);
            sys_flags.push(sys);
        }
        let (entry, mut mb) = match store.open_mailbox(&name) {
            Ok(x) => x,
            Err(e) => {
                store_no(conn, tag, &e);
                return None;
            }
        };
        let nms: Vec<NewMessage> = drafts
            .iter()
            .enumerate()
            .map(|(i, d)| NewMessage { raw: &raws[i], flags: sys_flags[i], keywords: &kw_lists[i], internaldate: d.date.unwrap_or(now), parsed: None, link_from: None })
            .collect();
        match store.append(&name, &mut mb, &nms, false) {
            Ok(uids) => {
                if !seen_elsewhere.is_empty() {
                    let mut s = store.list.seen(self.userid(), &entry.uniqueid).unwrap_or_default();
                    for &i in &seen_elsewhere {
                        s.insert(uids[i].0);
                    }
                    let _ = store.list.set_seen(self.userid(), &entry.uniqueid, &s);
                }
                Some((mb.header().uidvalidity, uids.iter().map(|u| u.0).collect()))
            }
            Err(e) => {
                store_no(conn, tag, &e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("/INBOX;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2.MIME/;PARTIAL=0.1024").unwrap();
        assert_eq!(u, ImapUrl { mailbox: "INBOX".into(), uidvalidity: Some(385759045), uid: 20, section: Some("1.2.MIME".into()), partial: Some((0, Some(1024))) });
        let u = parse_url("imap://fred@mail.example.com/Drafts%20x/;UID=3").unwrap();
        assert_eq!((u.mailbox.as_str(), u.uid, u.uidvalidity), ("Drafts x", 3, None));
        assert_eq!(parse_url("INBOX/;UID=1").unwrap().mailbox, "INBOX");
        for bad in ["/INBOX", "/INBOX/;UID=0", "/INBOX/;UID=1/;FOO=2", "/INBOX;UIDVALIDITY=x/;UID=1", "/INBOX/;UID=1;URLAUTH=anonymous:internal:abc"] {
            assert!(parse_url(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_section("1.2.MIME"), Some((vec![1, 2], SectionKind::Mime)));
        assert_eq!(parse_section("TEXT"), Some((vec![], SectionKind::Text)));
        assert!(parse_section("MIME").is_none() && parse_section("1.X").is_none() && parse_section("HEADER.1").is_none());
    }
}
