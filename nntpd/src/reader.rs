//! The reader commands (RFC 3977 6–8, RFC 2980's XHDR/XOVER/XPAT): GROUP,
//! LISTGROUP, LAST, NEXT, ARTICLE/HEAD/BODY/STAT, OVER, HDR, NEWGROUPS, NEWNEWS and
//! LIST, with Cyrus 3.6's replies. Articles are found by number in the selected group
//! or by message id through the deliver database; rights are read from the ACL at
//! every command, so a group whose `r` right was taken away serves nothing more.

use crate::article::{self, Part};
use crate::groups::Group;
use crate::session::Session;
use mboxlist::wildmat;
use service::Conn;

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// `yyyymmddhhmmss` in UTC (DATE).
pub fn stamp(t: i64) -> String {
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let tt = t as libc::time_t;
    // SAFETY: gmtime_r fills tm from tt.
    unsafe { libc::gmtime_r(&tt, &mut tm) };
    format!("{:04}{:02}{:02}{:02}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
}

/// RFC 3977 7.3 date and time (`yymmdd` or `yyyymmdd`, `hhmmss`, optional `GMT`;
/// without it the server's local time), as Cyrus reads them.
pub fn parse_datetime(date: &str, time: &str, gmt: Option<&str>) -> Option<i64> {
    if !(date.len() == 6 || date.len() == 8) || time.len() != 6 || gmt.is_some_and(|g| !g.eq_ignore_ascii_case("GMT")) {
        return None;
    }
    if !date.bytes().chain(time.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let d: i64 = date.parse().ok()?;
    let t: i64 = time.parse().ok()?;
    let mut year = d / 10000;
    let (mon, mday) = ((d / 100) % 100, d % 100);
    let (hour, min, sec) = (t / 10000, (t / 100) % 100, t % 100);
    if date.len() == 6 {
        // The century: this one, unless that puts the year in the future.
        let this = stamp(now())[..4].parse::<i64>().unwrap_or(2000);
        year += this / 100 * 100;
        if year > this {
            year -= 100;
        }
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if year < 1970 || !(1..=12).contains(&mon) || mday < 1 || mday > days[(mon - 1) as usize] || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = (year - 1900) as i32;
    tm.tm_mon = (mon - 1) as i32;
    tm.tm_mday = mday as i32;
    tm.tm_hour = hour as i32;
    tm.tm_min = min as i32;
    tm.tm_sec = sec as i32;
    tm.tm_isdst = -1;
    // SAFETY: timegm/mktime read the filled tm.
    Some(unsafe { if gmt.is_some() { libc::timegm(&mut tm) } else { libc::mktime(&mut tm) } } as i64)
}

/// What an article argument names.
enum Target {
    Current,
    MsgId(String),
    /// First and last number (inclusive).
    Range(u32, u32),
}

/// Cyrus's parserange: nothing (the current article), `<message-id>` (when
/// `msgid`), a number, or with `range` also `N-` and `N-M`.
fn parse_target(arg: Option<&str>, msgid: bool, range: bool) -> Result<Target, &'static str> {
    const BAD: &str = "501 Bad message-id, message number, or range";
    let Some(a) = arg else { return Ok(Target::Current) };
    if a.starts_with('<') {
        return if msgid && a.ends_with('>') && a.len() > 2 { Ok(Target::MsgId(a.to_string())) } else { Err(BAD) };
    }
    let (lo, hi) = match a.split_once('-') {
        None => (a, Some(a)),
        Some(_) if !range => return Err(BAD),
        Some((lo, "")) => (lo, None),
        Some((lo, hi)) => (lo, Some(hi)),
    };
    let lo: u32 = lo.parse().map_err(|_| BAD)?;
    if lo == 0 {
        return Err(BAD);
    }
    let hi = match hi {
        None => u32::MAX,
        Some(h) => h.parse().map_err(|_| BAD)?,
    };
    Ok(Target::Range(lo, hi))
}

impl Session<'_> {
    /// The selected group with its rights read again; `Err` is the reply.
    fn current_group(&mut self) -> Result<&mut Group, String> {
        let store = self.store.expect("checked at start");
        let who = self.who().to_string();
        let Some(g) = self.group.as_ref() else { return Err("412 No newsgroup selected".into()) };
        match store.lookup(&g.mbox) {
            Ok(e) if store.rights(&who, &g.mbox, &e).has('r') => {}
            Ok(_) => {
                self.group = None;
                return Err("502 Permission denied".into());
            }
            Err(_) => {
                self.group = None;
                return Err("412 No newsgroup selected".into());
            }
        }
        Ok(self.group.as_mut().expect("checked above"))
    }

    /// The group holding `msgid` and its number there, opened apart from the selected
    /// one (a retrieval by message id leaves the current group and article as they
    /// are, as in Cyrus).
    fn find_msgid(&mut self, msgid: &str) -> Option<(Group, u32)> {
        let store = self.store?;
        let who = self.who().to_string();
        for rec in self.db.find_for(msgid, "shared:").ok()? {
            let Some(mbox) = rec.recipient.strip_prefix("shared:") else { continue };
            let Some(name) = self.news.group_of(mbox) else { continue };
            let Ok(g) = Group::open(&self.news, store, &name, &who) else { continue };
            let uid = match rec.uid {
                Some(u) if g.record(u).is_some() => Some(u),
                Some(_) => None,
                // Filed by lmtpd (no number kept): look for it, newest first.
                None => g.uids.iter().rev().copied().find(|&u| g.record(u).is_some_and(|r| article::message_id(&g, &r) == msgid)),
            };
            if let Some(u) = uid {
                return Some((g, u));
            }
        }
        None
    }
}

/// The reader commands; false for a command that is not one of them.
pub fn command(s: &mut Session, conn: &mut Conn, cmd: &str, args: &[&str]) -> bool {
    let reply = match cmd {
        "ARTICLE" => fetch(s, conn, Part::All, args),
        "HEAD" => fetch(s, conn, Part::Head, args),
        "BODY" => fetch(s, conn, Part::Body, args),
        "STAT" => fetch(s, conn, Part::Stat, args),
        "GROUP" => group(s, conn, args, false),
        "LISTGROUP" => group(s, conn, args, true),
        "NEXT" | "LAST" => step(s, cmd == "NEXT", args),
        "OVER" | "XOVER" => over(s, conn, cmd == "OVER", args),
        "HDR" | "XHDR" => hdr(s, conn, if cmd == "HDR" { 225 } else { 221 }, args, None),
        "XPAT" => {
            if args.len() < 3 {
                Err("501 Missing argument".to_string())
            } else {
                let pattern = args[2..].join(" ");
                hdr(s, conn, 221, &args[..2], Some(&pattern))
            }
        }
        "NEWGROUPS" => newgroups(s, conn, args),
        "NEWNEWS" => newnews(s, conn, args),
        _ => return false,
    };
    if let Err(r) = reply {
        conn.write_fmt(format_args!("{r}\r\n"));
    }
    true
}

type Reply = Result<(), String>;

fn extra(args: &[&str], max: usize) -> Reply {
    if args.len() > max { Err("501 Unexpected extra argument".into()) } else { Ok(()) }
}

fn group(s: &mut Session, conn: &mut Conn, args: &[&str], listgroup: bool) -> Reply {
    extra(args, if listgroup { 2 } else { 1 })?;
    let store = s.store.expect("checked at start");
    let who = s.who().to_string();
    let range = if listgroup { parse_target(Some(args.get(1).copied().unwrap_or("1-")), false, true)? } else { Target::Current };
    match args.first() {
        Some(name) => match Group::open(&s.news, store, name, &who) {
            Ok(g) => s.group = Some(g),
            Err(e) => {
                s.group = None;
                return Err(e.text());
            }
        },
        None if listgroup => {
            let g = s.current_group()?;
            g.snapshot()?;
        }
        None => return Err("501 Missing argument".into()),
    }
    let g = s.group.as_mut().expect("opened above");
    let (n, lo, hi) = g.bounds();
    conn.write_fmt(format_args!("211 {n} {lo} {hi} {}\r\n", g.name));
    if let Target::Range(a, b) = range {
        for u in g.range(a, b) {
            conn.write_fmt(format_args!("{u}\r\n"));
        }
        conn.write(b".\r\n");
    }
    Ok(())
}

fn step(s: &mut Session, next: bool, args: &[&str]) -> Reply {
    extra(args, 0)?;
    let g = s.current_group()?;
    let Some(cur) = g.current else { return Err("420 Current article number is invalid".into()) };
    let to = if next {
        (cur + 1 < g.uids.len()).then_some(cur + 1).ok_or("421 No next article in this group")?
    } else {
        cur.checked_sub(1).ok_or("422 No previous article in this group")?
    };
    g.current = Some(to);
    let uid = g.uids[to];
    let msgid = g.record(uid).map(|r| article::message_id(g, &r)).unwrap_or_else(|| "<0>".into());
    Err(format!("223 {uid} {msgid}"))
}

fn fetch(s: &mut Session, conn: &mut Conn, part: Part, args: &[&str]) -> Reply {
    extra(args, 1)?;
    let target = parse_target(args.first().copied(), true, false)?;
    let (g, uid, by_msgid) = match target {
        Target::MsgId(id) => {
            let (g, uid) = s.find_msgid(&id).ok_or("430 No article found with that message-id")?;
            (g, uid, Some(id))
        }
        Target::Current => {
            let g = s.current_group()?;
            let i = g.current.ok_or("420 Current article number is invalid")?;
            let uid = g.uids[i];
            (take_group(s), uid, None)
        }
        Target::Range(n, _) => {
            let g = s.current_group()?;
            if g.record(n).is_none() {
                return Err("423 No such article in this newsgroup".into());
            }
            // A number makes the article current (in the numbers seen at GROUP; a newer
            // article joins them).
            match g.uids.binary_search(&n) {
                Ok(i) => g.current = Some(i),
                Err(i) => {
                    g.uids.insert(i, n);
                    g.current = Some(i);
                }
            }
            (take_group(s), n, None)
        }
    };
    let result = send_article(s, conn, &g, uid, part, by_msgid.as_deref());
    if by_msgid.is_none() {
        s.group = Some(g);
    }
    result
}

/// Moves the selected group out of the session (put back by the caller).
fn take_group(s: &mut Session) -> Group {
    s.group.take().expect("checked by current_group")
}

fn send_article(s: &mut Session, conn: &mut Conn, g: &Group, uid: u32, part: Part, by_msgid: Option<&str>) -> Reply {
    let r = g.record(uid).ok_or("423 No such article in this newsgroup")?;
    let msgid = by_msgid.map(str::to_string).unwrap_or_else(|| article::message_id(g, &r));
    let shown = if by_msgid.is_some() { 0 } else { uid };
    if part == Part::Stat {
        return Err(format!("223 {shown} {msgid}"));
    }
    let xref = article::xref(&s.news, &mut s.db, &s.servername, g, uid, &msgid);
    let text = article::text(g, uid, part, &xref).ok_or("403 Could not read message file")?;
    conn.write_fmt(format_args!("{} {shown} {msgid}\r\n", 220 + part as u32));
    conn.write(&text);
    Ok(())
}

/// The articles an OVER/HDR argument names: (group, number, number shown).
fn selection(s: &mut Session, arg: Option<&str>, msgid_ok: bool) -> Result<(Group, Vec<(u32, u32)>, bool), String> {
    match parse_target(arg, msgid_ok, true)? {
        Target::MsgId(id) => {
            let (g, uid) = s.find_msgid(&id).ok_or("430 No article found with that message-id")?;
            Ok((g, vec![(uid, 0)], true))
        }
        Target::Current => {
            let g = s.current_group()?;
            let i = g.current.ok_or("420 Current article number is invalid")?;
            let uid = g.uids[i];
            Ok((take_group(s), vec![(uid, uid)], false))
        }
        Target::Range(a, b) => {
            let g = s.current_group()?;
            g.snapshot_keep_current()?;
            let list = g.range(a, b).into_iter().map(|u| (u, u)).collect();
            Ok((take_group(s), list, false))
        }
    }
}

impl Group {
    /// Takes new article numbers without moving the current article.
    fn snapshot_keep_current(&mut self) -> Result<(), String> {
        let cur = self.current.map(|i| self.uids[i]);
        self.snapshot()?;
        if let Some(u) = cur {
            self.current = self.uids.binary_search(&u).ok().or(self.current);
        }
        Ok(())
    }
}

/// Sends one line per article of a selection that still exists, after `head`; the
/// selected group is put back; none at all is a 423.
fn listing(
    s: &mut Session,
    conn: &mut Conn,
    head: &str,
    (g, list, by_msgid): (Group, Vec<(u32, u32)>, bool),
    mut line: impl FnMut(&mut Session, &Group, &mailbox::Record, u32) -> Option<String>,
) -> Reply {
    let mut found = 0;
    for (uid, shown) in list {
        let Some(r) = g.record(uid) else { continue };
        if found == 0 {
            conn.write_fmt(format_args!("{head}\r\n"));
        }
        found += 1;
        if let Some(l) = line(s, &g, &r, shown) {
            conn.write_fmt(format_args!("{l}\r\n"));
        }
    }
    if !by_msgid {
        s.group = Some(g);
    }
    if found == 0 {
        return Err("423 No such article(s) in this newsgroup".into());
    }
    conn.write(b".\r\n");
    Ok(())
}

fn over(s: &mut Session, conn: &mut Conn, new_name: bool, args: &[&str]) -> Reply {
    extra(args, 1)?;
    let sel = selection(s, args.first().copied(), new_name)?;
    listing(s, conn, "224 Overview information follows:", sel, |s, g, r, shown| Some(article::overview(&s.news, &mut s.db, &s.servername, g, r, shown)))
}

fn hdr(s: &mut Session, conn: &mut Conn, code: u32, args: &[&str], pattern: Option<&str>) -> Reply {
    let Some(field) = args.first().map(|f| f.to_ascii_lowercase()) else { return Err("501 Missing argument".into()) };
    extra(args, 2)?;
    let sel = selection(s, args.get(1).copied(), true)?;
    listing(s, conn, &format!("{code} Headers follow:"), sel, |s, g, r, shown| {
        let xref = |s: &mut Session| {
            let msgid = article::message_id(g, r);
            article::xref(&s.news, &mut s.db, &s.servername, g, r.uid.0, &msgid)
        };
        let value = match field.as_str() {
            ":bytes" => Some((r.size as usize + xref(s).len() + "Xref: \r\n".len()).to_string()),
            ":lines" => Some(article::lines(g, r).to_string()),
            f if f.starts_with(':') => Some(String::new()),
            "xref" if pattern.is_none() => Some(xref(s)),
            f => article::header(article::header_block(g, r), f),
        };
        match (value, pattern) {
            (Some(v), Some(p)) => wildmat::glob(p.as_bytes(), v.as_bytes(), false).then(|| format!("{shown} {v}")),
            (v, None) => Some(format!("{shown} {}", v.unwrap_or_default())),
            (None, Some(_)) => None,
        }
    })
}

fn when(args: &[&str]) -> Result<i64, String> {
    match args {
        [d, t] => parse_datetime(d, t, None),
        [d, t, g] => parse_datetime(d, t, Some(g)),
        _ => None,
    }
    .ok_or_else(|| "501 Bad date/time".to_string())
}

fn newgroups(s: &mut Session, conn: &mut Conn, args: &[&str]) -> Reply {
    if args.len() < 2 {
        return Err("501 Missing argument".into());
    }
    extra(args, 3)?;
    let since = when(args)?;
    let store = s.store.expect("checked at start");
    conn.write(b"231 List of new newsgroups follows:\r\n");
    // A mailbox's UIDVALIDITY is the time it was made (the store hands out the
    // creation time, or one more than the last it gave).
    for (name, mbox, e) in s.news.all(store) {
        if i64::from(e.uidvalidity) >= since && store.rights(s.who(), &mbox, &e).has('r') {
            if let Ok(g) = Group::open(&s.news, store, &name, s.who()) {
                let (_, lo, hi) = g.bounds();
                let post = if store.rights(s.who(), &mbox, &e).has('p') { 'y' } else { 'n' };
                conn.write_fmt(format_args!("{name} {hi} {lo} {post}\r\n"));
            }
        }
    }
    conn.write(b".\r\n");
    Ok(())
}

fn newnews(s: &mut Session, conn: &mut Conn, args: &[&str]) -> Reply {
    if !s.w.config.get_bool("allownewnews") {
        return Err("503 \"Newnews\" disabled".into());
    }
    if args.len() < 3 {
        return Err("501 Missing argument".into());
    }
    extra(args, 4)?;
    let pattern = args[0];
    if !wildmat::valid(pattern) {
        return Err("501 Bad wildmat".into());
    }
    let since = when(&args[1..])?;
    let store = s.store.expect("checked at start");
    conn.write(b"230 List of new articles follows:\r\n");
    let mut seen = std::collections::HashSet::new();
    for (name, _, _) in s.news.all(store) {
        if !wildmat::wildmat(pattern, &name, false) {
            continue;
        }
        let Ok(g) = Group::open(&s.news, store, &name, s.who()) else { continue };
        for &uid in &g.uids {
            let Some(r) = g.record(uid) else { continue };
            let arrived = if r.savedate > 0 { i64::from(r.savedate) } else { r.internaldate };
            if arrived >= since {
                let id = article::message_id(&g, &r);
                if id != "<0>" && seen.insert(id.clone()) {
                    conn.write_fmt(format_args!("{id}\r\n"));
                }
            }
        }
    }
    conn.write(b".\r\n");
    Ok(())
}

/// LIST and its keywords (RFC 3977 7.6), as Cyrus answers them.
pub fn list(s: &mut Session, conn: &mut Conn, args: &[&str]) {
    if let Err(r) = list_inner(s, conn, args) {
        conn.write_fmt(format_args!("{r}\r\n"));
    }
}

fn list_inner(s: &mut Session, conn: &mut Conn, args: &[&str]) -> Reply {
    extra(args, 2)?;
    let keyword = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_else(|| "ACTIVE".into());
    let pattern = args.get(1).copied().unwrap_or("*");
    if !wildmat::valid(pattern) {
        return Err("501 Bad wildmat".into());
    }
    let store = s.store.expect("checked at start");
    let who = s.who().to_string();
    if keyword != "ACTIVE" {
        if !s.mode.read {
            return Err("502 Permission denied".into());
        }
        if s.userid.is_none() && !s.allow_anonymous {
            return Err("480 Authentication required".into());
        }
    }
    let groups = || s.news.all(store).into_iter().filter(|(n, _, _)| wildmat::wildmat(pattern, n, false));
    match keyword.as_str() {
        "ACTIVE" | "ACTIVE.TIMES" => {
            conn.write(b"215 List of newsgroups follows:\r\n");
            for (name, mbox, e) in groups() {
                let rights = store.rights(&who, &mbox, &e);
                if !rights.has('r') {
                    continue;
                }
                if keyword == "ACTIVE" {
                    let Ok(g) = Group::open(&s.news, store, &name, &who) else { continue };
                    let (_, lo, hi) = g.bounds();
                    conn.write_fmt(format_args!("{name} {hi} {lo} {}\r\n", if rights.has('p') { 'y' } else { 'n' }));
                } else {
                    let master = s.w.config.get_str("newsmaster").unwrap_or("news").to_string();
                    conn.write_fmt(format_args!("{name} {} {master}\r\n", e.uidvalidity));
                }
            }
            conn.write(b".\r\n");
        }
        "HEADERS" => {
            if args.get(1).is_some_and(|a| !a.eq_ignore_ascii_case("MSGID") && !a.eq_ignore_ascii_case("RANGE")) {
                return Err("501 Unexpected extra argument".into());
            }
            conn.write(b"215 Header and metadata list follows:\r\n:\r\n:bytes\r\n:lines\r\n.\r\n");
        }
        "NEWSGROUPS" => {
            conn.write(b"215 List of newsgroups follows:\r\n");
            for (name, mbox, e) in groups() {
                if !store.rights(&who, &mbox, &e).has('l') {
                    continue;
                }
                // As Cyrus: the groups that have a description (the shared /comment).
                if let Ok(Some(d)) = store.list.annotation(&mbox.0, "/comment", "") {
                    conn.write_fmt(format_args!("{name}\t{}\r\n", article::clean(&d)));
                }
            }
            conn.write(b".\r\n");
        }
        "OVERVIEW.FMT" => {
            if args.len() > 1 {
                return Err("501 Unexpected extra argument".into());
            }
            conn.write(b"215 Order of overview fields follows:\r\nSubject:\r\nFrom:\r\nDate:\r\nMessage-ID:\r\nReferences:\r\n");
            // After CAPABILITIES the RFC 3977 names, before it the old XOVER ones.
            conn.write(if s.did_capabilities { &b":bytes\r\n:lines\r\n"[..] } else { &b"Bytes:\r\nLines:\r\n"[..] });
            conn.write(b"Xref:full\r\n.\r\n");
        }
        "DISTRIBUTIONS" | "DISTRIB.PATS" => return Err("503 Unsupported LIST command".into()),
        _ => return Err("501 Unrecognized LIST command".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groups::{News, OpenError};

    #[test]
    fn targets_and_dates() {
        assert!(matches!(parse_target(None, true, true), Ok(Target::Current)));
        assert!(matches!(parse_target(Some("5"), true, true), Ok(Target::Range(5, 5))));
        assert!(matches!(parse_target(Some("5-"), true, true), Ok(Target::Range(5, u32::MAX))));
        assert!(matches!(parse_target(Some("5-9"), true, true), Ok(Target::Range(5, 9))));
        assert!(parse_target(Some("5-9"), true, false).is_err());
        assert!(parse_target(Some("0"), true, true).is_err());
        assert!(parse_target(Some("x"), true, true).is_err());
        assert!(parse_target(Some("<a@b>"), false, true).is_err());
        assert!(matches!(parse_target(Some("<a@b>"), true, false), Ok(Target::MsgId(_))));
        assert_eq!(parse_datetime("20240102", "030405", Some("GMT")), Some(1704164645));
        assert_eq!(parse_datetime("240102", "030405", Some("GMT")), Some(1704164645));
        assert_eq!(parse_datetime("20240230", "000000", Some("GMT")), None);
        assert_eq!(parse_datetime("2024010", "000000", None), None);
        assert_eq!(parse_datetime("20240101", "000000", Some("UTC")), None);
        assert_eq!(stamp(1704164645), "20240102030405");
        let _ = News::dup_key(&mboxlist::InternalName("a".into()));
        let _ = OpenError::NoSuchGroup.text();
    }
}
