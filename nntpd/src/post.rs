//! POST, IHAVE, CHECK and TAKETHIS (RFC 3977 6.3, RFC 4644): an article is read to
//! its end (dot-stuffing undone, bounded by `maxmessagesize`), given the headers
//! Cyrus adds (Path, Message-ID and Date when missing, To/Reply-To per
//! `newspostuser`/`newsaddheaders`; an incoming Xref dropped), and filed into each
//! served group its Newsgroups header names that exists and allows the poster `p`,
//! once per Message-ID (the deliver database, which also keeps its number for
//! retrieval by message id and Xref; an article already here is answered as received
//! and not stored again, as Cyrus does). A reply of success means the article is on
//! disk in every group. A connection lost mid-article leaves nothing behind.
//! Control messages go to `control.TYPE` when that group exists; `cancel` removes the
//! article where the newsmaster has the `t` right, or everywhere for its own poster.
//! A filed article is then offered to the `newspeer` peers (see [`crate::feed`]).

use crate::article;
use crate::groups::News;
use crate::session::{Flow, Session};
use mailbox::{NewMessage, Uid};
use mboxlist::InternalName;
use service::{Conn, ReadError};

/// Longest article line kept (RFC 5536 wants 998 octets; longer ones fail the article).
const MAX_ARTICLE_LINE: usize = 64 * 1024;
/// Largest article held when `maxmessagesize` sets no limit.
const HARD_LIMIT: usize = 256 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Post,
    Ihave,
    Check,
    Takethis,
}

impl Kind {
    /// Cyrus's post_codes: (ok, continue, do-not-send, failed).
    fn codes(self) -> (u32, u32, u32, u32) {
        match self {
            Kind::Post => (240, 340, 440, 441),
            Kind::Ihave => (235, 335, 435, 437),
            Kind::Check => (0, 238, 438, 0),
            Kind::Takethis => (239, 0, 0, 439),
        }
    }
}

pub fn command(s: &mut Session, conn: &mut Conn, cmd: &str, args: &[&str]) -> Flow {
    let kind = match cmd {
        "POST" => Kind::Post,
        "IHAVE" => Kind::Ihave,
        "CHECK" => Kind::Check,
        _ => Kind::Takethis,
    };
    let (ok, cont, no, fail) = kind.codes();
    let id = match (kind, args) {
        (Kind::Post, []) => None,
        (Kind::Post, _) => {
            conn.write(b"501 Unexpected extra argument\r\n");
            return Flow::Go;
        }
        (_, [id]) if id.starts_with('<') && id.ends_with('>') && id.len() > 2 => Some(id.to_string()),
        (_, []) => {
            conn.write(b"501 Missing argument\r\n");
            return Flow::Go;
        }
        _ => {
            conn.write(b"501 Bad message-id\r\n");
            return Flow::Go;
        }
    };
    let known = id.as_deref().is_some_and(|i| have(s, i));
    if let (true, Some(i)) = (known, &id) {
        log::info!("dupelim: news article id {i} already present");
    }
    let shown = id.clone().unwrap_or_default();
    match kind {
        Kind::Check => {
            conn.write_fmt(format_args!("{} {shown} {}\r\n", if known { no } else { cont }, if known { "Do not send article" } else { "Send article" }));
            return Flow::Go;
        }
        Kind::Ihave if known => {
            conn.write_fmt(format_args!("{no} {shown} Do not send article\r\n"));
            return Flow::Go;
        }
        Kind::Post => conn.write(b"340 Send article to be posted\r\n"),
        Kind::Ihave => conn.write_fmt(format_args!("{cont} {shown} Send article\r\n")),
        Kind::Takethis => {}
    }
    if conn.flush().is_err() {
        return Flow::Quit;
    }
    let limit = match s.w.config.get_int("maxmessagesize") {
        n if n > 0 => (n as usize).min(HARD_LIMIT),
        _ => HARD_LIMIT,
    };
    let article = match read_article(conn, limit) {
        Ok(a) => a,
        Err(None) => return Flow::Quit,
        Err(Some(why)) => {
            conn.write_fmt(format_args!("{fail} {shown} Failed receiving article ({why})\r\n"));
            return Flow::Go;
        }
    };
    if kind == Kind::Takethis && known {
        conn.write_fmt(format_args!("{fail} {shown} Failed receiving article (Duplicate message)\r\n"));
        return Flow::Go;
    }
    match file(s, &article, id.as_deref()) {
        Ok(msgid) => {
            let shown = if kind == Kind::Post { msgid } else { shown };
            conn.write_fmt(format_args!("{ok} {shown} Article received ok\r\n"));
        }
        Err(why) => {
            conn.write_fmt(format_args!("{fail} {shown} Failed receiving article ({why})\r\n"));
        }
    }
    Flow::Go
}

/// Whether an article with this Message-ID is in a served group (or was cancelled).
fn have(s: &mut Session, msgid: &str) -> bool {
    s.db.find_for(msgid, "shared:").unwrap_or_default().iter().any(|r| {
        r.recipient.strip_prefix("shared:").is_some_and(|m| s.news.group_of(m).is_some() || m.is_empty())
    })
}

/// Reads a dot-terminated article; `Err(None)` when the connection is gone,
/// `Err(Some(why))` when it was read to its end but cannot be taken.
fn read_article(conn: &mut Conn, limit: usize) -> Result<Vec<u8>, Option<String>> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut why: Option<String> = None;
    loop {
        match conn.read_line(&mut line, MAX_ARTICLE_LINE) {
            Ok(()) => {}
            Err(ReadError::TooLong) => {
                why.get_or_insert_with(|| "Line too long".into());
                continue;
            }
            Err(_) => return Err(None),
        }
        if line == b"." {
            break;
        }
        let body = line.strip_prefix(b".").unwrap_or(&line);
        if why.is_none() {
            if out.len() + body.len() + 2 > limit {
                why = Some("Message too large".into());
                out = Vec::new();
            } else {
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    match why {
        Some(w) => Err(Some(w)),
        None => Ok(out),
    }
}

/// The first value of a header, unfolded.
fn get(fields: &[(&[u8], &[u8])], name: &str) -> Option<String> {
    fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| article::clean(v)).filter(|v| !v.is_empty())
}

/// Stores the article; returns its Message-ID.
fn file(s: &mut Session, raw: &[u8], offered: Option<&str>) -> Result<String, String> {
    let store = s.store.expect("checked at start");
    let hl = mailbox::cache::header_len(raw);
    let (head, body) = raw.split_at(hl);
    if hl == raw.len() && !raw.is_empty() && !head.ends_with(b"\r\n\r\n") {
        return Err("Message has no header/body separator".into());
    }
    let fields = message::header_fields(head);
    if fields.is_empty() {
        return Err("Message has no header".into());
    }
    if head.contains(&0) {
        return Err("Message contains NUL characters".into());
    }
    let who = s.who().to_string();
    let now = crate::reader::now();
    let msgid = match (get(&fields, "Message-ID"), offered) {
        (Some(m), Some(o)) if m != o => return Err(format!("Message-ID {m} is not {o}")),
        (Some(m), _) => m,
        (None, Some(o)) => o.to_string(),
        (None, None) => {
            use std::sync::atomic::{AtomicU32, Ordering};
            static COUNT: AtomicU32 = AtomicU32::new(0);
            format!("<cmu-nntpd-{}-{now}-{}@{}>", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed), s.servername)
        }
    };
    if !msgid.starts_with('<') || !msgid.ends_with('>') || msgid.len() > 250 || msgid.contains(char::is_whitespace) {
        return Err("Bad Message-ID".into());
    }
    if have(s, &msgid) {
        // Already here: taken as received, nothing stored again (as Cyrus).
        log::info!("dupelim: news article id {msgid} already present");
        return Ok(msgid);
    }
    let control = get(&fields, "Control");
    let groups: Vec<(String, InternalName)> = match &control {
        Some(c) => {
            let kind: String = c.split_whitespace().next().unwrap_or("").chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let name = format!("control.{kind}");
            s.news.mailbox_of(&name).filter(|m| store.lookup(m).is_ok()).map(|m| vec![(name, m)]).unwrap_or_default()
        }
        None => {
            let ng = get(&fields, "Newsgroups").ok_or("No Newsgroups header")?;
            let mut v: Vec<(String, InternalName)> = Vec::new();
            for g in ng.split([',', ' ', '\t']).filter(|g| !g.is_empty()).take(100) {
                if let Some(m) = s.news.mailbox_of(g).filter(|m| store.lookup(m).is_ok()) {
                    if !v.iter().any(|(n, _)| n == g) {
                        v.push((g.to_string(), m));
                    }
                }
            }
            if v.is_empty() {
                return Err("Mailbox does not exist".into());
            }
            v
        }
    };
    for (_, m) in &groups {
        let e = store.lookup(m).map_err(|e| e.to_string())?;
        if !store.rights(&who, m, &e).has('p') {
            return Err("Permission denied".into());
        }
    }
    let article = rewrite(s, head, body, &fields, &msgid, now, control.is_none());
    let parsed = message::parse(&article);
    let mut staged: Option<mboxlist::store::Staged> = None;
    let mut filed = 0;
    for (_, m) in &groups {
        let key = News::dup_key(m);
        if s.db.check(&msgid, &key).ok().flatten().is_some() {
            continue;
        }
        let (e, mut mb) = store.open_mailbox(m).map_err(|e| e.to_string())?;
        if staged.is_none() && groups.len() > 1 {
            staged = store.stage(&e.partition, &article).ok();
        }
        let nm = NewMessage { raw: &article, flags: 0, keywords: &[], internaldate: now, parsed: Some(&parsed), link_from: staged.as_ref().map(|s| s.path.as_path()) };
        let uids = store.append(m, &mut mb, &[nm], false).map_err(|e| match e {
            mboxlist::StoreError::OverQuota(_) => "Over quota".to_string(),
            other => other.to_string(),
        })?;
        if let Some(u) = uids.first() {
            if let Err(e) = s.db.mark_uid(&msgid, &key, now as u64, u.0) {
                log::warn!("cannot record article {msgid} in {}: {e}", m.0);
            }
        }
        filed += 1;
        log::info!("Delivered: {msgid} to mailbox: {}", m.0);
    }
    if let Some(c) = &control {
        control_message(s, c, &fields);
    } else if filed > 0 {
        news2mail(s, &groups, &article);
    }
    if filed > 0 {
        feed_peers(s, &groups, &article, &msgid);
    }
    Ok(msgid)
}

/// The article as stored: its own headers less Path, Xref, To and Reply-To, then
/// Path (ours first), Message-ID and Date when it had none, To and Reply-To (with
/// the groups' post addresses per newsaddheaders), then the body.
fn rewrite(s: &Session, head: &[u8], body: &[u8], fields: &[(&[u8], &[u8])], msgid: &str, now: i64, add: bool) -> Vec<u8> {
    let cfg = &s.w.config;
    let mut out = Vec::with_capacity(head.len() + body.len() + 256);
    for (n, v) in fields {
        if [&b"Path"[..], b"Xref", b"To", b"Reply-To"].iter().any(|k| n.eq_ignore_ascii_case(k)) {
            continue;
        }
        out.extend_from_slice(n);
        out.extend_from_slice(b":");
        out.extend_from_slice(v);
        if !v.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    let path = match get(fields, "Path") {
        Some(p) => format!("{}!{p}", s.servername),
        None => format!("{}!{}", s.servername, s.who()),
    };
    out.extend_from_slice(format!("Path: {path}\r\n").as_bytes());
    if get(fields, "Message-ID").is_none() {
        out.extend_from_slice(format!("Message-ID: {msgid}\r\n").as_bytes());
    }
    if get(fields, "Date").is_none() {
        out.extend_from_slice(format!("Date: {}\r\n", rfc5322_date(now)).as_bytes());
    }
    let postuser = cfg.get_str("newspostuser").filter(|u| !u.is_empty() && add);
    let adds = cfg.get_str("newsaddheaders").unwrap_or("to").to_ascii_lowercase();
    let domain = cfg.get_str("defaultdomain").filter(|d| !d.is_empty());
    let post_addrs = |groups: &str| -> String {
        let user = postuser.unwrap_or_default();
        groups
            .split([',', ' ', '\t'])
            .filter(|g| !g.is_empty())
            .map(|g| match domain {
                Some(d) => format!("{user}+{g}@{d}"),
                None => format!("{user}+{g}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let newsgroups = get(fields, "Newsgroups").unwrap_or_default();
    let join = |old: Option<String>, new: String| match old {
        Some(o) if !new.is_empty() => format!("{o}, {new}"),
        Some(o) => o,
        None => new,
    };
    let to_old = get(fields, "To");
    let to = if postuser.is_some() && adds.split_whitespace().any(|a| a == "to") { join(to_old, post_addrs(&newsgroups)) } else { to_old.unwrap_or_default() };
    if !to.is_empty() {
        out.extend_from_slice(format!("To: {to}\r\n").as_bytes());
    }
    let rt_old = get(fields, "Reply-To");
    let rt = if postuser.is_some() && adds.split_whitespace().any(|a| a == "replyto") {
        match get(fields, "Followup-To") {
            Some(f) if f.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case("poster")) => rt_old.or_else(|| get(fields, "From")).unwrap_or_default(),
            Some(f) => join(rt_old, post_addrs(&f)),
            None => join(rt_old, post_addrs(&newsgroups)),
        }
    } else {
        rt_old.unwrap_or_default()
    };
    if !rt.is_empty() {
        out.extend_from_slice(format!("Reply-To: {rt}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn rfc5322_date(t: i64) -> String {
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let tt = t as libc::time_t;
    // SAFETY: gmtime_r fills tm from tt.
    unsafe { libc::gmtime_r(&tt, &mut tm) };
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[tm.tm_wday.clamp(0, 6) as usize],
        tm.tm_mday,
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// `cancel <message-id>`: the article is expunged from each served group where the
/// newsmaster has the `t` right, or from every group when the canceller is the one
/// who posted it here (the last element of the Path we gave it). Its Message-ID stays
/// known, so a feed offering it later is told not to send it.
fn control_message(s: &mut Session, control: &str, _fields: &[(&[u8], &[u8])]) {
    let mut words = control.split_whitespace();
    if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("cancel")) {
        log::info!("control message '{control}' filed, not acted on (only cancel is)");
        return;
    }
    let Some(target) = words.next().filter(|t| t.starts_with('<') && t.ends_with('>')) else { return };
    let store = s.store.expect("checked at start");
    let master = s.w.config.get_str("newsmaster").unwrap_or("news").to_string();
    let mut done = 0;
    for rec in s.db.find_for(target, "shared:").unwrap_or_default() {
        let (Some(mbox), Some(uid)) = (rec.recipient.strip_prefix("shared:"), rec.uid) else { continue };
        if s.news.group_of(mbox).is_none() {
            continue;
        }
        let name = InternalName(mbox.to_string());
        let Ok((e, mut mb)) = store.open_mailbox(&name) else { continue };
        let poster = s.userid.as_deref().is_some_and(|u| {
            mb.find(Uid(uid)).ok().flatten().and_then(|i| mb.record(i).ok()).is_some_and(|r| {
                let block = mb.cache_entry(&r).ok().and_then(mailbox::cache::header_block).unwrap_or_default();
                article::header(block, "Path").is_some_and(|p| p.rsplit('!').next() == Some(u))
            })
        });
        if !poster && !store.rights(&master, &name, &e).has('t') {
            log::info!("cancel of {target} in {mbox} refused: neither its poster nor allowed to the newsmaster");
            continue;
        }
        match store.expunge(&name, &mut mb, &[Uid(uid)]) {
            Ok(_) => done += 1,
            Err(e) => log::error!("cancel of {target} in {mbox}: {e}"),
        }
    }
    let _ = s.db.mark(target, "shared:", crate::reader::now() as u64);
    log::info!("control message 'cancel {target}' succeeded: {done} article(s) removed");
}

/// news2mail: a copy to the address in each group's `/vendor/cmu/cyrus-imapd/news2mail`
/// annotation, through sendmail, with Newsgroups renamed X-Newsgroups and Path and
/// Xref left out (as Cyrus).
fn news2mail(s: &Session, groups: &[(String, InternalName)], article: &[u8]) {
    let store = s.store.expect("checked at start");
    let rcpts: Vec<String> = groups
        .iter()
        .filter_map(|(_, m)| store.list.annotation(&m.0, "/vendor/cmu/cyrus-imapd/news2mail", "").ok().flatten())
        .map(|v| String::from_utf8_lossy(&v).trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    if rcpts.is_empty() {
        return;
    }
    let hl = mailbox::cache::header_len(article);
    let mut msg = Vec::with_capacity(article.len() + 64);
    let mut has_to = false;
    for (n, v) in message::header_fields(&article[..hl]) {
        if n.eq_ignore_ascii_case(b"Path") || n.eq_ignore_ascii_case(b"Xref") || n.len() >= 13 && n[..13].eq_ignore_ascii_case(b"NNTP-Posting-") {
            continue;
        }
        if n.eq_ignore_ascii_case(b"Newsgroups") {
            msg.extend_from_slice(b"X-");
        }
        if n.eq_ignore_ascii_case(b"To") {
            has_to = true;
            msg.extend_from_slice(format!("To: {},", rcpts.join(", ")).as_bytes());
            msg.extend_from_slice(v);
        } else {
            msg.extend_from_slice(n);
            msg.extend_from_slice(b":");
            msg.extend_from_slice(v);
        }
        if !v.ends_with(b"\n") {
            msg.extend_from_slice(b"\r\n");
        }
    }
    if !has_to {
        msg.extend_from_slice(format!("To: {}\r\n", rcpts.join(", ")).as_bytes());
    }
    msg.extend_from_slice(b"\r\n");
    msg.extend_from_slice(&article[hl..]);
    let sendmail = s.w.config.get_str("sendmail").unwrap_or("/usr/lib/sendmail");
    service::sendmail::send(sendmail, "news2mail", &[], "<>", &rcpts, &msg);
}

/// Offers the stored article to the `newspeer` peers that want it.
fn feed_peers(s: &Session, groups: &[(String, InternalName)], article: &[u8], msgid: &str) {
    let Some(spec) = s.w.config.get_str("newspeer").filter(|p| !p.trim().is_empty()) else { return };
    let hl = mailbox::cache::header_len(article);
    let path = get(&message::header_fields(&article[..hl]), "Path").unwrap_or_default();
    let names: Vec<String> = groups.iter().map(|(g, _)| g.clone()).collect();
    for peer in crate::feed::peers(spec) {
        if !peer.wants(&path, &names) {
            continue;
        }
        match peer.send(msgid, article) {
            Ok(()) => log::info!("fed {msgid} to {}", peer.host),
            Err(e) => log::error!("feeding {msgid} to {}: {e}", peer.host),
        }
    }
}
