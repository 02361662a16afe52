//! METADATA (RFC 5464) and LIST-METADATA (RFC 9590): GETMETADATA and SETMETADATA on
//! mailboxes and the server (mailbox ""), and the `* METADATA` lines LIST's
//! `RETURN (METADATA ...)` adds. Which entries exist and the limits are
//! [`mboxlist::metadata`]'s; the values are in the mailbox list's annotations
//! database, set all-or-nothing in one transaction.
//!
//! Rights as Cyrus checks them: reading needs `l` and `r` on the mailbox; setting a
//! private value needs `l`, a shared one `l`, `r`, `w` and the entry's extra rights;
//! on the server anyone keeps private values and only admins set shared ones.

use crate::parse::{PResult, Parser, astring_out};
use crate::reply::{no, ok};
use crate::state::Session;
use mboxlist::metadata::{Definitions, Refusal, Scope, split};
use mboxlist::{InternalName, StoreError};
use service::Conn;
use std::sync::OnceLock;

/// Where a mailbox's special use is kept: the owner's, stored as the shared value
/// of this entry (CREATE (USE ...) and LIST read it there), shown in METADATA as
/// `/private/specialuse`.
pub(crate) const SPECIAL_USE: &str = "/specialuse";
/// The special uses of RFC 6154.
pub(crate) const SPECIAL_USES: &[&str] = &["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"];

fn defs(s: &Session) -> &'static Definitions {
    static DEFS: OnceLock<Definitions> = OnceLock::new();
    DEFS.get_or_init(|| {
        let (d, problems) = Definitions::load(&s.w.config);
        for p in problems {
            log::error!("annotation_definitions: {p}");
        }
        d
    })
}

/// GETMETADATA depth.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    Zero,
    One,
    Infinity,
}

/// The target of a command: the server or a mailbox the user may see.
struct Target {
    /// "" for the server.
    name: InternalName,
    entry: Option<mboxlist::Entry>,
    rights: mboxlist::Rights,
    owner: bool,
}

impl Target {
    fn scope(&self) -> Scope {
        if self.entry.is_some() { Scope::Mailbox } else { Scope::Server }
    }
}

fn target(s: &Session, mbox: &str) -> Result<Target, String> {
    if mbox.is_empty() {
        return Ok(Target { name: InternalName(String::new()), entry: None, rights: mboxlist::Rights::default(), owner: false });
    }
    let name = s.internal(mbox).map_err(|e| format!("[CANNOT] {e}"))?;
    match s.rights(&name) {
        Ok((_, r)) if !r.has('l') => Err("[NONEXISTENT] Mailbox does not exist".into()),
        Ok((e, r)) => {
            let owner = s.store().ns.owner(&name).as_deref() == Some(s.userid());
            Ok(Target { name, entry: Some(e), rights: r, owner })
        }
        Err(StoreError::NotFound(_)) => Err("[NONEXISTENT] Mailbox does not exist".into()),
        Err(e) => Err(format!("{e}")),
    }
}

/// [`target`], or None once the NO is sent.
fn target_or_no(s: &Session, conn: &mut Conn, tag: &str, mbox: &str) -> Option<Target> {
    target(s, mbox).map_err(|e| no(conn, tag, &e)).ok()
}

/// A GETMETADATA or SETMETADATA command as written.
enum Command {
    Get { maxsize: Option<u64>, depth: Depth, mbox: String, entries: Vec<(bool, String, String)> },
    Set { mbox: String, items: Vec<(bool, String, Option<Vec<u8>>)> },
}

fn parse(name: &str, p: &mut Parser) -> PResult<Command> {
    p.sp()?;
    if name == "GETMETADATA" {
        let (mut maxsize, mut depth) = (None, Depth::Zero);
        if p.eat(b'(') {
            while !p.eat(b')') {
                match p.keyword()?.as_str() {
                    "MAXSIZE" => {
                        p.sp()?;
                        maxsize = Some(p.number()?);
                    }
                    "DEPTH" => {
                        p.sp()?;
                        depth = match p.keyword()?.as_str() {
                            "0" => Depth::Zero,
                            "1" => Depth::One,
                            "INFINITY" => Depth::Infinity,
                            _ => return Err("Invalid DEPTH".into()),
                        };
                    }
                    other => return Err(format!("Invalid GETMETADATA option {}", other.chars().take(30).collect::<String>())),
                }
                let _ = p.eat(b' ');
            }
            p.sp()?;
        }
        let mbox = p.mailbox()?;
        p.sp()?;
        let entries = entry_list(p)?;
        p.end()?;
        return Ok(Command::Get { maxsize, depth, mbox, entries });
    }
    let mbox = p.mailbox()?;
    p.sp()?;
    p.expect(b'(')?;
    let mut items: Vec<(bool, String, Option<Vec<u8>>)> = Vec::new();
    loop {
        let e = p.astring_text()?;
        let (private, entry) = split(&e).ok_or("Entry must begin with /shared or /private")?;
        p.sp()?;
        let value = if p.word("NIL") {
            None
        } else {
            let _ = p.eat(b'~'); // literal8 (RFC 3516): a value may hold any octet
            Some(p.string().map_err(|_| "Missing metadata value")?.into_owned())
        };
        items.push((private, entry, value));
        if items.len() > 1000 {
            return Err("Too many entries".into());
        }
        if p.eat(b')') {
            break;
        }
        p.sp()?;
    }
    p.end()?;
    Ok(Command::Set { mbox, items })
}

/// Checks the syntax of a GETMETADATA or SETMETADATA command (for the fuzz target).
pub fn syntax(name: &str, p: &mut Parser) -> PResult<()> {
    parse(name, p).map(|_| ())
}

pub(crate) fn command(s: &mut Session, conn: &mut Conn, tag: &str, name: &str, p: &mut Parser) -> PResult<()> {
    match parse(name, p)? {
        Command::Get { maxsize, depth, mbox, entries } => {
            let Some(t) = target_or_no(s, conn, tag, &mbox) else { return Ok(()) };
            let mut longest = 0usize;
            let line = get(s, &t, &mbox, &entries, depth, maxsize, &mut longest);
            conn.write(&line);
            if longest > 0 {
                ok(conn, tag, &format!("[METADATA LONGENTRIES {longest}] Completed"));
            } else {
                ok(conn, tag, "Completed");
            }
        }
        Command::Set { mbox, items } => {
            let Some(t) = target_or_no(s, conn, tag, &mbox) else { return Ok(()) };
            match set(s, &t, &items) {
                Ok(()) => ok(conn, tag, "Completed"),
                Err(Refusal::Denied) => no(conn, tag, "[NOPERM] Permission denied"),
                Err(Refusal::TooLarge(n)) => no(conn, tag, &format!("[METADATA MAXSIZE {n}] Value too large")),
                Err(Refusal::TooMany) => no(conn, tag, "[METADATA TOOMANY] Too many metadata entries"),
                Err(Refusal::BadValue(m)) => no(conn, tag, &format!("Invalid metadata value: {m}")),
            }
        }
    }
    Ok(())
}

/// `entry` or `(entry entry ...)`.
fn entry_list(p: &mut Parser) -> PResult<Vec<(bool, String, String)>> {
    let mut out = Vec::new();
    let mut one = |p: &mut Parser| -> PResult<()> {
        let e = p.astring_text()?;
        let (private, entry) = split(&e).ok_or("Entry must begin with /shared or /private")?;
        out.push((private, entry, e));
        Ok(())
    };
    if p.eat(b'(') {
        loop {
            one(p)?;
            if p.eat(b')') {
                break;
            }
            p.sp()?;
        }
    } else {
        one(p)?;
    }
    if out.len() > 1000 {
        return Err("Too many entries".into());
    }
    Ok(out)
}

/// Reading a mailbox's values needs `l` and `r`, or being an admin of its domain (as
/// in Cyrus, whose admins read annotations without the read right).
fn may_read(s: &Session, t: &Target) -> bool {
    t.entry.is_none() || (t.rights.has('l') && t.rights.has('r')) || s.administers(&t.name)
}

/// A value as the server computes or keeps it.
fn value_of(s: &Session, t: &Target, private: bool, entry: &str) -> Option<Vec<u8>> {
    let store = s.store();
    if let Some(e) = &t.entry {
        let d = defs(s).find(Scope::Mailbox, entry);
        if d.is_some_and(|d| d.computed) && !private {
            return match entry.rsplit('/').next() {
                Some("partition") => Some(e.partition.clone().into_bytes()),
                Some("uniqueid") => Some(e.uniqueid.clone().into_bytes()),
                Some("size") => store.open_mailbox(&t.name).ok().map(|(_, mb)| mb.header().quota_used.to_string().into_bytes()),
                _ => None,
            };
        }
        if entry == SPECIAL_USE {
            return if private && t.owner { store.list.annotation(&t.name.0, SPECIAL_USE, "").ok().flatten() } else { None };
        }
    }
    let userid = if private { s.userid() } else { "" };
    store.list.annotation(&t.name.0, entry, userid).ok().flatten()
}

/// The `* METADATA mbox (...)` line (empty when there is nothing to show).
fn get(s: &Session, t: &Target, mbox: &str, entries: &[(bool, String, String)], depth: Depth, maxsize: Option<u64>, longest: &mut usize) -> Vec<u8> {
    if !may_read(s, t) {
        return Vec::new();
    }
    let mut found: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let stored = if depth == Depth::Zero { Vec::new() } else { s.store().list.annotations(&t.name.0).unwrap_or_default() };
    // As Cyrus answers: every entry named, in each of the kinds (shared, private)
    // named anywhere in the list — asking for /private/a and /shared/b gives
    // /shared/a, /private/a, /shared/b and /private/b.
    let kinds: Vec<bool> = [false, true].into_iter().filter(|k| entries.iter().any(|e| e.0 == *k)).collect();
    let mut named: Vec<&str> = Vec::new();
    for (_, entry, _) in entries {
        if !entry.is_empty() && !named.contains(&entry.as_str()) {
            named.push(entry);
        }
    }
    for entry in named {
        for &private in &kinds {
            let prefix = if private { "/private" } else { "/shared" };
            found.push((format!("{prefix}{entry}"), value_of(s, t, private, entry)));
        }
    }
    for (private, entry, _) in entries {
        let prefix = if *private { "/private" } else { "/shared" };
        if depth == Depth::Zero {
            continue;
        }
        // Entries below: the stored ones and the computed ones.
        let below = |e: &str| e.len() > entry.len() && e.starts_with(entry.as_str()) && e.as_bytes()[entry.len()] == b'/' && (depth == Depth::Infinity || !e[entry.len() + 1..].contains('/'));
        let mut names: Vec<String> = stored.iter().filter(|(e, u, _)| below(e) && (if *private { u == s.userid() } else { u.is_empty() })).map(|(e, _, _)| e.clone()).collect();
        names.extend(defs(s).below(t.scope(), *private, entry).filter(|d| d.computed || d.name == SPECIAL_USE).map(|d| d.name.clone()).filter(|n| below(n)));
        names.sort();
        names.dedup();
        for n in names {
            if let Some(v) = value_of(s, t, *private, &n) {
                found.push((format!("{prefix}{n}"), Some(v)));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|(n, _)| seen.insert(n.to_ascii_lowercase()));
    let mut out = Vec::new();
    for (n, v) in found {
        if let (Some(max), Some(v)) = (maxsize, &v) {
            if v.len() as u64 > max {
                *longest = (*longest).max(v.len());
                continue;
            }
        }
        out.push(b' ');
        out.extend_from_slice(crate::parse::quoted(&n).as_bytes());
        out.push(b' ');
        match v {
            None => out.extend_from_slice(b"NIL"),
            Some(v) => write_value(&mut out, &v),
        }
    }
    if out.is_empty() {
        return out;
    }
    out[0] = b'(';
    let mut line = format!("* METADATA {} ", astring_out(mbox)).into_bytes();
    line.extend_from_slice(&out);
    line.extend_from_slice(b")\r\n");
    line
}

/// A value as a quoted string when it can be one, else a literal (literal8 when it
/// holds a NUL).
fn write_value(out: &mut Vec<u8>, v: &[u8]) {
    if v.len() < 1024 && v.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\') {
        out.push(b'"');
        out.extend_from_slice(v);
        out.push(b'"');
    } else {
        if v.contains(&0) {
            out.push(b'~');
        }
        out.extend_from_slice(format!("{{{}}}\r\n", v.len()).as_bytes());
        out.extend_from_slice(v);
    }
}

/// The rights check of one value (see the module's comment).
fn may_set(s: &Session, t: &Target, private: bool, entry: &str) -> bool {
    // Server entries are for admins of every domain; a mailbox's for its domain's.
    let admin = match &t.entry {
        None => s.admin && s.store().is_global_admin(s.userid()),
        Some(_) => s.administers(&t.name),
    };
    if admin {
        return true;
    }
    match &t.entry {
        None => private,
        Some(_) if entry == SPECIAL_USE => t.owner,
        Some(_) => {
            let extra = defs(s).find(Scope::Mailbox, entry).map(|d| d.extra_rights.as_str()).unwrap_or("");
            t.rights.has('l') && (private || ("rw".chars().chain(extra.chars()).all(|c| t.rights.has(c))))
        }
    }
}

fn set(s: &Session, t: &Target, items: &[(bool, String, Option<Vec<u8>>)]) -> Result<(), Refusal> {
    let d = defs(s);
    let store = s.store();
    let stored = store.list.annotations(&t.name.0).unwrap_or_default();
    let mut writes: Vec<(&str, String, String, Option<&[u8]>)> = Vec::new();
    for (private, entry, value) in items {
        if !may_set(s, t, *private, entry) {
            return Err(Refusal::Denied);
        }
        let userid = if *private { s.userid().to_string() } else { String::new() };
        // Values this user (or the shared set) would keep besides this entry's.
        let others = stored.iter().filter(|(e, u, _)| *u == userid && e != entry).count()
            + writes.iter().filter(|w| w.2 == userid && w.3.is_some() && w.1 != *entry).count();
        d.check(t.scope(), *private, entry, value.as_deref(), others)?;
        if entry == SPECIAL_USE {
            // The owner's special use, kept where CREATE (USE ...) and LIST keep it.
            if let Some(v) = value {
                let text = String::from_utf8_lossy(v);
                if text.split_whitespace().any(|u| !SPECIAL_USES.iter().any(|k| k.eq_ignore_ascii_case(u))) {
                    return Err(Refusal::BadValue("not a special use".into()));
                }
            }
            writes.push((&t.name.0, entry.clone(), String::new(), value.as_deref()));
            continue;
        }
        writes.push((&t.name.0, entry.clone(), userid, value.as_deref()));
    }
    let batch: Vec<(&str, &str, &str, Option<&[u8]>)> = writes.iter().map(|(m, e, u, v)| (*m, e.as_str(), u.as_str(), *v)).collect();
    store.list.set_annotations(&batch).map_err(|e| {
        log::error!("annotations: {e}");
        Refusal::Denied
    })
}

/// The `* METADATA` line LIST's `RETURN (METADATA (...))` adds after a mailbox.
pub(crate) fn list_line(s: &Session, int: &InternalName, ext: &str, entries: &[(bool, String, String)], maxsize: Option<u64>) -> Vec<u8> {
    let Ok((e, r)) = s.rights(int) else { return Vec::new() };
    let owner = s.store().ns.owner(int).as_deref() == Some(s.userid());
    let t = Target { name: int.clone(), entry: Some(e), rights: r, owner };
    let mut longest = 0;
    get(s, &t, ext, entries, Depth::Zero, maxsize, &mut longest)
}

/// Parses LIST's `METADATA [(MAXSIZE n)] (entries)` return option (after the word).
pub(crate) fn parse_list_option(p: &mut Parser) -> PResult<(Vec<(bool, String, String)>, Option<u64>)> {
    p.sp()?;
    let mut maxsize = None;
    if p.eat(b'(') {
        if p.word("MAXSIZE") {
            p.sp()?;
            maxsize = Some(p.number()?);
            p.expect(b')')?;
            p.sp()?;
        } else {
            p.pos -= 1;
        }
    }
    Ok((entry_list(p)?, maxsize))
}
