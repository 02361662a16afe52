//! SEARCH keys (RFC 3501 6.4.4) and ESEARCH return options (RFC 4731).
//!
//! Header keys (SUBJECT, FROM, TO, CC, BCC, HEADER) are answered from the cache;
//! BODY and TEXT read the message file and decode its text parts. Strings match as
//! case-insensitive substrings of the decoded text.

use crate::parse::{MAX_DEPTH, PResult, Parser, SeqSet, compact, quoted};
use crate::selected::{Selected, system_flag};
use mailbox::{Record, flag};
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub enum Key {
    All,
    Seq(SeqSet),
    Uid(SeqSet),
    /// A system flag set (true) or not set (false).
    Flag(u32, bool),
    Keyword(String, bool),
    New,
    Old,
    Recent(bool),
    Larger(u64),
    Smaller(u64),
    /// Internal date: before / on / since a day (days since the epoch).
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    Field(Field, String),
    Header(String, String),
    Body(String),
    Text(String),
    /// RFC 7162 3.1.5: modseq at least this (the entry name and type are accepted
    /// and, as every flag shares the message's modseq, do not narrow it).
    Modseq(u64),
    /// RFC 8514: save date before, on, since a day.
    SavedBefore(i64),
    SavedOn(i64),
    SavedSince(i64),
    /// RFC 8474 (THREADID matches nothing: no conversations are kept).
    EmailId(String),
    /// RFC 5032 WITHIN: internal date more than / at most this many seconds ago.
    Older(u64),
    Younger(u64),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
}

#[derive(Debug, Clone, Copy)]
pub enum Field {
    Subject,
    From,
    To,
    Cc,
    Bcc,
}

/// ESEARCH return options.
#[derive(Debug, Default, Clone)]
pub struct Return {
    pub min: bool,
    pub max: bool,
    pub count: bool,
    pub all: bool,
    /// RFC 5182: keep the result as `$`.
    pub save: bool,
}

fn text(p: &mut Parser) -> PResult<String> {
    p.sp()?;
    let v = p.astring()?;
    Ok(String::from_utf8_lossy(&v).to_lowercase())
}

/// Parses the search program: keys separated by spaces to the end (an implicit AND).
pub fn parse_program(p: &mut Parser) -> PResult<Key> {
    let mut keys = vec![parse_key(p, 0)?];
    while !p.at_end() {
        p.sp()?;
        keys.push(parse_key(p, 0)?);
    }
    Ok(if keys.len() == 1 { keys.pop().unwrap_or(Key::All) } else { Key::And(keys) })
}

fn parse_key(p: &mut Parser, depth: usize) -> PResult<Key> {
    if depth > MAX_DEPTH {
        return Err("Search program nested too deeply".into());
    }
    if p.eat(b'(') {
        let mut keys = vec![parse_key(p, depth + 1)?];
        while !p.eat(b')') {
            p.sp()?;
            keys.push(parse_key(p, depth + 1)?);
        }
        return Ok(Key::And(keys));
    }
    if p.at_seqset() {
        return Ok(Key::Seq(p.seqset()?));
    }
    let k = p.keyword()?;
    let flag_key = |name: &str, set: bool| -> PResult<Key> {
        Ok(Key::Flag(system_flag(name).ok_or("bad flag")?, set))
    };
    Ok(match k.as_str() {
        "ALL" => Key::All,
        "ANSWERED" => flag_key("\\Answered", true)?,
        "DELETED" => flag_key("\\Deleted", true)?,
        "DRAFT" => flag_key("\\Draft", true)?,
        "FLAGGED" => flag_key("\\Flagged", true)?,
        "SEEN" => flag_key("\\Seen", true)?,
        "UNANSWERED" => flag_key("\\Answered", false)?,
        "UNDELETED" => flag_key("\\Deleted", false)?,
        "UNDRAFT" => flag_key("\\Draft", false)?,
        "UNFLAGGED" => flag_key("\\Flagged", false)?,
        "UNSEEN" => flag_key("\\Seen", false)?,
        "NEW" => Key::New,
        "MODSEQ" => {
            p.sp()?;
            if p.peek() == Some(b'"') {
                // entry-name entry-type-req
                p.string()?;
                p.sp()?;
                let t = p.keyword()?;
                if !matches!(t.as_str(), "PRIV" | "SHARED" | "ALL") {
                    return Err("Invalid MODSEQ entry type".into());
                }
                p.sp()?;
            }
            let n = p.number()?;
            if n > i64::MAX as u64 {
                return Err("Invalid mod-sequence".into());
            }
            Key::Modseq(n)
        }
        "OLDER" | "YOUNGER" => {
            p.sp()?;
            let n = p.number32()?;
            if n == 0 {
                return Err("Invalid interval".into());
            }
            if k == "OLDER" { Key::Older(n.into()) } else { Key::Younger(n.into()) }
        }
        "OLD" => Key::Old,
        "RECENT" => Key::Recent(true),
        "KEYWORD" | "UNKEYWORD" => {
            p.sp()?;
            let f = p.flag()?;
            if f.starts_with('\\') {
                return Err("Invalid keyword".into());
            }
            Key::Keyword(f, k == "KEYWORD")
        }
        "LARGER" | "SMALLER" => {
            p.sp()?;
            let n = p.number()?;
            if k == "LARGER" { Key::Larger(n) } else { Key::Smaller(n) }
        }
        "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" | "SAVEDBEFORE" | "SAVEDON" | "SAVEDSINCE" => {
            p.sp()?;
            let d = p.date()?;
            match k.as_str() {
                "BEFORE" => Key::Before(d),
                "ON" => Key::On(d),
                "SINCE" => Key::Since(d),
                "SENTBEFORE" => Key::SentBefore(d),
                "SENTON" => Key::SentOn(d),
                "SAVEDBEFORE" => Key::SavedBefore(d),
                "SAVEDON" => Key::SavedOn(d),
                "SAVEDSINCE" => Key::SavedSince(d),
                _ => Key::SentSince(d),
            }
        }
        // RFC 8514: every mailbox keeps save dates.
        "SAVEDATESUPPORTED" => Key::All,
        "EMAILID" | "THREADID" => {
            p.sp()?;
            let id = String::from_utf8_lossy(p.atom()?).into_owned();
            if k == "EMAILID" { Key::EmailId(id) } else { Key::Not(Box::new(Key::All)) }
        }
        "SUBJECT" => Key::Field(Field::Subject, text(p)?),
        "FROM" => Key::Field(Field::From, text(p)?),
        "TO" => Key::Field(Field::To, text(p)?),
        "CC" => Key::Field(Field::Cc, text(p)?),
        "BCC" => Key::Field(Field::Bcc, text(p)?),
        "HEADER" => {
            p.sp()?;
            let name = p.astring_text()?;
            Key::Header(name, text(p)?)
        }
        "BODY" => Key::Body(text(p)?),
        "TEXT" => Key::Text(text(p)?),
        "UID" => {
            p.sp()?;
            Key::Uid(p.seqset()?)
        }
        "NOT" => {
            p.sp()?;
            Key::Not(Box::new(parse_key(p, depth + 1)?))
        }
        "OR" => {
            p.sp()?;
            let a = parse_key(p, depth + 1)?;
            p.sp()?;
            let b = parse_key(p, depth + 1)?;
            Key::Or(Box::new(a), Box::new(b))
        }
        other => return Err(format!("Invalid search criterion {}", other.chars().take(30).collect::<String>())),
    })
}

/// `RETURN (...)` after SEARCH, if present; `CHARSET x` handled by the caller.
pub fn parse_return(p: &mut Parser) -> PResult<Option<Return>> {
    if !p.word("RETURN") {
        return Ok(None);
    }
    p.sp()?;
    p.expect(b'(')?;
    let mut r = Return::default();
    if !p.eat(b')') {
        loop {
            match p.keyword()?.as_str() {
                "MIN" => r.min = true,
                "MAX" => r.max = true,
                "COUNT" => r.count = true,
                "ALL" => r.all = true,
                "SAVE" => r.save = true,
                other => return Err(format!("Unknown RETURN option {other}")),
            }
            if p.eat(b')') {
                break;
            }
            p.sp()?;
        }
    }
    if !(r.min || r.max || r.count || r.all || r.save) {
        r.all = true;
    }
    p.sp()?;
    Ok(Some(r))
}

/// Whether a search charset is one the server takes (strings are matched as UTF-8).
pub fn charset_ok(cs: &str) -> bool {
    cs.eq_ignore_ascii_case("UTF-8") || cs.eq_ignore_ascii_case("US-ASCII")
}

/// The NO text for any other charset (RFC 3501 7.1).
pub const BADCHARSET: &str = "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset";

/// The messages of the selected mailbox that `prog` matches, in sequence order, with
/// their records.
pub fn hits(sel: &mut Selected, prog: &Key) -> Vec<(u32, Record)> {
    let n = sel.exists();
    let max_uid = sel.max_uid();
    let keywords = sel.mb.user_flags().to_vec();
    let mut out = Vec::new();
    for msn in 1..=n {
        let Ok(rec) = sel.record(msn) else { continue };
        if !matches!(prog, Key::All) {
            let mb = &sel.mb;
            let read_payload = || mb.cache_entry(&rec).ok();
            let read_raw = || mb.read_message(rec.uid).ok();
            let mut c = Candidate::new(msn, &rec, sel.sys_flags(&rec), sel.recent.contains(rec.uid.0), n, max_uid, &keywords, &read_payload, &read_raw);
            if !matches(prog, &mut c) {
                continue;
            }
        }
        out.push((msn, rec));
    }
    out
}

/// The `* ESEARCH` response (RFC 4731) to the command tagged `tag` for `nums`, which
/// are in ascending order for SEARCH and in sort order for SORT (RFC 5267: MIN and MAX
/// are then the first and last sorted, and ALL keeps the order, ranges only where it
/// ascends by one).
/// `modseq`: the highest modseq of the results when the program had a MODSEQ key
/// (RFC 7162 3.1.5), sent when there are results.
pub fn esearch(tag: &str, uid: bool, r: &Return, nums: &[u32], modseq: Option<u64>) -> String {
    let mut line = format!("* ESEARCH (TAG {})", quoted(tag));
    if uid {
        line.push_str(" UID");
    }
    if let (Some(first), Some(last)) = (nums.first(), nums.last()) {
        if r.min {
            line.push_str(&format!(" MIN {first}"));
        }
        if r.max {
            line.push_str(&format!(" MAX {last}"));
        }
        if r.all {
            line.push_str(&format!(" ALL {}", compact(nums)));
        }
    }
    if r.count {
        line.push_str(&format!(" COUNT {}", nums.len()));
    }
    if let (Some(m), false) = (modseq, nums.is_empty()) {
        line.push_str(&format!(" MODSEQ {m}"));
    }
    line.push_str("\r\n");
    line
}

/// The header block of a message: from the cache, or where its cache entry cannot
/// be read, from the message file.
pub fn header_block<'m>(mb: &'m mailbox::Mailbox, rec: &Record) -> Cow<'m, [u8]> {
    if let Some(h) = mb.cache_entry(rec).ok().and_then(mailbox::cache::header_block) {
        return Cow::Borrowed(h);
    }
    match mb.read_message(rec.uid) {
        Ok(mut raw) => {
            raw.truncate(mailbox::cache::header_len(&raw));
            Cow::Owned(raw)
        }
        Err(_) => Cow::Borrowed(b""),
    }
}

/// What a message offers to the matcher; expensive parts loaded on demand.
pub struct Candidate<'a> {
    pub msn: u32,
    pub rec: &'a Record,
    pub sys: u32,
    pub recent: bool,
    pub max_msn: u32,
    pub max_uid: u32,
    pub keywords: &'a [String],
    payload: Option<Option<&'a [u8]>>,
    read_payload: &'a dyn Fn() -> Option<&'a [u8]>,
    pub read_raw: &'a dyn Fn() -> Option<Vec<u8>>,
    parsed: Option<Option<message::Cached>>,
    raw: Option<Option<Vec<u8>>>,
    body_text: Option<String>,
}

impl<'a> Candidate<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(msn: u32, rec: &'a Record, sys: u32, recent: bool, max_msn: u32, max_uid: u32, keywords: &'a [String], read_payload: &'a dyn Fn() -> Option<&'a [u8]>, read_raw: &'a dyn Fn() -> Option<Vec<u8>>) -> Self {
        Candidate { msn, rec, sys, recent, max_msn, max_uid, keywords, payload: None, read_payload, read_raw, parsed: None, raw: None, body_text: None }
    }

    fn payload(&mut self) -> Option<&'a [u8]> {
        if self.payload.is_none() {
            self.payload = Some((self.read_payload)());
        }
        self.payload.flatten()
    }

    fn parsed(&mut self) -> Option<&message::Cached> {
        if self.parsed.is_none() {
            let mut p = self.payload().and_then(mailbox::cache::structure);
            if p.is_none() {
                p = self.raw().map(message::parse);
            }
            self.parsed = Some(p);
        }
        self.parsed.as_ref().and_then(|p| p.as_ref())
    }

    fn raw(&mut self) -> Option<&[u8]> {
        if self.raw.is_none() {
            self.raw = Some((self.read_raw)());
        }
        self.raw.as_ref().and_then(|r| r.as_deref())
    }

    fn header(&mut self) -> Vec<u8> {
        if let Some(h) = self.payload().and_then(mailbox::cache::header_block) {
            return h.to_vec();
        }
        match self.raw() {
            Some(r) => r[..mailbox::cache::header_len(r)].to_vec(),
            None => Vec::new(),
        }
    }

    /// The day of the Date field as written, else of the internal date (as Cyrus).
    fn sent_day(&mut self) -> i64 {
        let block = self.header();
        header_values(&block, "date").first().and_then(|v| date_day(v)).unwrap_or_else(|| day(self.rec.internaldate))
    }

    fn body_text(&mut self) -> &str {
        if self.body_text.is_none() {
            let _ = self.parsed();
            let raw = self.raw().map(<[u8]>::to_vec);
            let t = match (self.parsed.as_ref().and_then(|p| p.as_ref()), raw) {
                (Some(p), Some(raw)) => p.body_search_text(&raw).to_lowercase(),
                _ => String::new(),
            };
            self.body_text = Some(t);
        }
        self.body_text.as_deref().unwrap_or("")
    }
}

/// The day (since the epoch) a Date field's value names, as written: RFC 3501 compares
/// sent dates "disregarding time and timezone". `None` when it cannot be read.
fn date_day(v: &str) -> Option<i64> {
    message::parse_date(v.as_bytes())?;
    let toks: Vec<&str> = v.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()).collect();
    let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    for w in toks.windows(3) {
        let (Ok(d), Some(m), Ok(y)) = (w[0].parse::<u32>(), months.iter().position(|m| w[1].as_bytes().get(..3).is_some_and(|b| b.eq_ignore_ascii_case(m.as_bytes()))), w[2].parse::<i64>()) else {
            continue;
        };
        let y = match y {
            0..=49 => 2000 + y,
            50..=999 => 1900 + y,
            _ => y,
        };
        if (1..=31).contains(&d) {
            return Some(crate::parse::days_from_civil(y, m as u32 + 1, d));
        }
    }
    None
}

/// The decoded, lower-cased values of header field `name` in `block`.
fn header_values(block: &[u8], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    for line in block.split_inclusive(|&b| b == b'\n') {
        if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            if let Some(c) = cur.as_mut() {
                c.extend_from_slice(line.trim_ascii_end());
            }
            continue;
        }
        if let Some(c) = cur.take() {
            out.push(message::decode_header(&c).to_lowercase());
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            if line[..colon].trim_ascii_end().eq_ignore_ascii_case(name.as_bytes()) {
                cur = Some(line[colon + 1..].trim_ascii().to_vec());
            }
        }
    }
    if let Some(c) = cur {
        out.push(message::decode_header(&c).to_lowercase());
    }
    out
}

fn day(t: i64) -> i64 {
    t.div_euclid(86_400)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Replaces `$` in the program by the saved result (UIDs, ascending).
pub fn substitute_saved(k: &mut Key, saved: &[u32]) {
    match k {
        Key::Seq(s) | Key::Uid(s) if s.is_saved() => {
            *k = if saved.is_empty() {
                Key::Not(Box::new(Key::All))
            } else {
                Key::Uid(crate::parse::SeqSet(saved.iter().map(|&u| (u64::from(u), u64::from(u))).collect()))
            };
        }
        Key::Not(k) => substitute_saved(k, saved),
        Key::Or(a, b) => {
            substitute_saved(a, saved);
            substitute_saved(b, saved);
        }
        Key::And(v) => v.iter_mut().for_each(|k| substitute_saved(k, saved)),
        _ => {}
    }
}

/// Whether the program has a MODSEQ key (the answer then carries the highest
/// modseq found, and CONDSTORE is on from then).
pub fn uses_modseq(k: &Key) -> bool {
    match k {
        Key::Modseq(_) => true,
        Key::Not(k) => uses_modseq(k),
        Key::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        Key::And(v) => v.iter().any(uses_modseq),
        _ => false,
    }
}

pub fn matches(k: &Key, c: &mut Candidate) -> bool {
    match k {
        Key::All => true,
        Key::Seq(s) => s.contains(c.msn, c.max_msn),
        Key::Uid(s) => s.contains(c.rec.uid.0, c.max_uid),
        Key::Flag(f, set) => (c.sys & f != 0) == *set,
        Key::Keyword(name, set) => {
            let has = c.keywords.iter().position(|k| k.eq_ignore_ascii_case(name)).is_some_and(|i| c.rec.has_user_flag(i));
            has == *set
        }
        Key::New => c.recent && c.sys & flag::SEEN == 0,
        Key::Modseq(n) => c.rec.modseq.0 >= *n,
        Key::SavedBefore(d) => day(c.rec.saved()) < *d,
        Key::SavedOn(d) => day(c.rec.saved()) == *d,
        Key::SavedSince(d) => day(c.rec.saved()) >= *d,
        Key::EmailId(id) => crate::fetch::email_id(c.rec) == *id,
        Key::Older(n) => now() - c.rec.internaldate > *n as i64,
        Key::Younger(n) => now() - c.rec.internaldate <= *n as i64,
        Key::Old => !c.recent,
        Key::Recent(set) => c.recent == *set,
        Key::Larger(n) => u64::from(c.rec.size) > *n,
        Key::Smaller(n) => u64::from(c.rec.size) < *n,
        Key::Before(d) => day(c.rec.internaldate) < *d,
        Key::On(d) => day(c.rec.internaldate) == *d,
        Key::Since(d) => day(c.rec.internaldate) >= *d,
        Key::SentBefore(d) => c.sent_day() < *d,
        Key::SentOn(d) => c.sent_day() == *d,
        Key::SentSince(d) => c.sent_day() >= *d,
        Key::Field(Field::Subject, v) => {
            let Some(p) = c.parsed() else { return false };
            p.fields().subject.as_ref().is_some_and(|s| s.to_lowercase().contains(v.as_str()))
        }
        Key::Field(f, v) => {
            // Addresses as ENVELOPE parses them (comments and spaces gone), as Cyrus
            // searches them: `<user (c)@ (c) domain>` is found by `user@domain`.
            let name: &[u8] = match f {
                Field::From => b"from",
                Field::To => b"to",
                Field::Cc => b"cc",
                _ => b"bcc",
            };
            let block = c.header();
            message::header_fields(&block).iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).any(|(_, val)| message::address_search_text(val).contains(v.as_str()))
        }
        Key::Header(name, v) => {
            let block = c.header();
            header_values(&block, name).iter().any(|h| h.contains(v.as_str()))
        }
        Key::Body(v) => c.body_text().contains(v.as_str()),
        Key::Text(v) => {
            let block = c.header();
            let h = message::decode_header(&block).to_lowercase();
            h.contains(v.as_str()) || c.body_text().contains(v.as_str())
        }
        Key::Not(k) => !matches(k, c),
        Key::Or(a, b) => matches(a, c) || matches(b, c),
        Key::And(ks) => ks.iter().all(|k| matches(k, c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs() {
        assert!(parse_program(&mut Parser::new(b"OR (SUBJECT x FROM y) NOT 1:3 UID 5:*")).is_ok());
        let deep = format!("{}ALL{}", "(".repeat(1000), ")".repeat(1000));
        assert!(parse_program(&mut Parser::new(deep.as_bytes())).is_err());
        assert!(parse_program(&mut Parser::new(b"FROBNICATE")).is_err());
        assert!(parse_program(&mut Parser::new(b"(ALL")).is_err());
        assert!(parse_program(&mut Parser::new(b"SINCE 1-Feb-1994 LARGER 10")).is_ok());
    }

    #[test]
    fn header_lookup() {
        let h = b"Subject: =?utf-8?q?caf=C3=A9?=\r\n folded\r\nX-Y: z\r\n\r\n";
        assert_eq!(header_values(h, "subject"), vec!["café folded".to_string()]);
        assert_eq!(header_values(h, "x-y"), vec!["z".to_string()]);
        assert_eq!(date_day("Sat, 05 Jul 2003 23:30:00 -0700"), Some(crate::parse::days_from_civil(2003, 7, 5)));
        assert_eq!(date_day("1 Jan 2020"), Some(crate::parse::days_from_civil(2020, 1, 1)));
        assert_eq!(date_day("garbage"), None);
        // A multi-byte character where a month name could start is no panic.
        let _ = date_day("Fri (a\u{e9}) Jan 1 00:00:00 2021");
        let _ = date_day("1 \u{e9}\u{e9} 2021");
    }
}
