//! CONDSTORE and QRESYNC (RFC 7162): what the client asked for (the session's
//! [`Enabled`]), the SELECT, FETCH and STORE modifiers, and the answers that bring a
//! resynchronising client up to date (VANISHED (EARLIER) and the changed FETCHes).
//!
//! Every record carries the modseq of its last change and expunged records stay in
//! the index with theirs until `cyr_expire -X` removes them with their files (the
//! header's `deletedmodseq` says up to where), so "what changed since N" is one pass
//! over the index; only a client older than that gets every gone UID it knew.
//! \Seen of a user who is not the mailbox's owner lives in the seen database, which
//! keeps no modseq: those changes are not reported by CHANGEDSINCE (as with Cyrus
//! before 2.5's seen modseqs).

use crate::parse::{PResult, Parser, SeqSet, compact};
use crate::selected::Selected;
use service::Conn;

/// What the session turned on (RFC 5161 ENABLE; RFC 7162 3.1: any
/// CONDSTORE-enabling command turns on CONDSTORE for the rest of the session, only
/// ENABLE the others).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enabled {
    pub condstore: bool,
    pub qresync: bool,
    /// UTF8=ACCEPT (RFC 6855), or IMAP4rev2: mailbox names in UTF-8 on the wire.
    pub utf8: bool,
    /// IMAP4rev2 (RFC 9051): no \Recent, SEARCH answered with ESEARCH.
    pub rev2: bool,
}

/// `(QRESYNC (uidvalidity modseq [known-uids [(seq-match uid-match)]]))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known_uids: Option<SeqSet>,
    pub seq_match: Option<(SeqSet, SeqSet)>,
}

/// SELECT/EXAMINE parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SelectParams {
    pub condstore: bool,
    pub qresync: Option<Qresync>,
}

/// A mod-sequence value, 0..2^63-1 (RFC 7162 7; 0 as Cyrus takes it).
fn modseq(p: &mut Parser) -> PResult<u64> {
    let n = p.number()?;
    if n > i64::MAX as u64 {
        return Err("Invalid mod-sequence".into());
    }
    Ok(n)
}

/// Parses ` (CONDSTORE)` / ` (QRESYNC (...))` after the mailbox name (the space is
/// already eaten).
pub fn parse_select_params(p: &mut Parser) -> PResult<SelectParams> {
    let mut out = SelectParams::default();
    p.expect(b'(')?;
    loop {
        let k = p.keyword()?;
        match k.as_str() {
            "CONDSTORE" if !out.condstore => out.condstore = true,
            "QRESYNC" if out.qresync.is_none() => {
                p.sp()?;
                p.expect(b'(')?;
                let uidvalidity = p.number32()?;
                if uidvalidity == 0 {
                    return Err("Invalid UIDVALIDITY".into());
                }
                p.sp()?;
                let modseq = modseq(p)?;
                let mut q = Qresync { uidvalidity, modseq, known_uids: None, seq_match: None };
                if p.eat(b' ') {
                    if p.peek() != Some(b'(') {
                        q.known_uids = Some(p.seqset()?);
                        let _ = p.eat(b' ');
                    }
                    if p.eat(b'(') {
                        let seqs = p.seqset()?;
                        p.sp()?;
                        let uids = p.seqset()?;
                        p.expect(b')')?;
                        q.seq_match = Some((seqs, uids));
                    }
                }
                p.expect(b')')?;
                out.qresync = Some(q);
            }
            _ => return Err(format!("Invalid SELECT parameter {}", k.chars().take(30).collect::<String>())),
        }
        if p.eat(b')') {
            break;
        }
        p.sp()?;
    }
    Ok(out)
}

/// FETCH modifiers: `(CHANGEDSINCE n [VANISHED])`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FetchMods {
    pub changedsince: Option<u64>,
    pub vanished: bool,
}

pub fn parse_fetch_mods(p: &mut Parser) -> PResult<FetchMods> {
    let mut m = FetchMods::default();
    p.expect(b'(')?;
    loop {
        let k = p.keyword()?;
        match k.as_str() {
            "CHANGEDSINCE" if m.changedsince.is_none() => {
                p.sp()?;
                m.changedsince = Some(modseq(p)?);
            }
            "VANISHED" if !m.vanished => m.vanished = true,
            _ => return Err(format!("Invalid FETCH modifier {}", k.chars().take(30).collect::<String>())),
        }
        if p.eat(b')') {
            break;
        }
        p.sp()?;
    }
    if m.vanished && m.changedsince.is_none() {
        return Err("VANISHED needs CHANGEDSINCE".into());
    }
    Ok(m)
}

/// STORE modifier: `(UNCHANGEDSINCE n)`.
pub fn parse_store_mods(p: &mut Parser) -> PResult<u64> {
    p.expect(b'(')?;
    let k = p.keyword()?;
    if k != "UNCHANGEDSINCE" {
        return Err(format!("Invalid STORE modifier {}", k.chars().take(30).collect::<String>()));
    }
    p.sp()?;
    let n = modseq(p)?;
    p.expect(b')')?;
    Ok(n)
}

/// UIDs in `set` (ranges of UIDs, `*` = the last UID) expunged with a modseq above
/// `since`, ascending.
pub fn vanished_since(sel: &Selected, set: &[(u32, u32)], since: u64) -> Result<Vec<u32>, mailbox::Error> {
    let mut out = Vec::new();
    if set.is_empty() {
        return Ok(out);
    }
    if since < sel.mb.header().deletedmodseq {
        // Records of expunges after `since` were removed (cyr_expire): every UID of
        // the set that is not a message now may have vanished since (RFC 7162 3.2.5.2
        // lets the server say so of all of them).
        let live: std::collections::HashSet<u32> = sel.mb.records().filter_map(Result::ok).filter(|r| !r.is_expunged()).map(|r| r.uid.0).collect();
        let last = sel.mb.header().last_uid;
        for &(lo, hi) in set {
            out.extend((lo..=hi.min(last)).filter(|u| !live.contains(u)));
        }
        return Ok(out);
    }
    for r in sel.mb.records() {
        let r = r?;
        if r.is_expunged() && r.modseq.0 > since && in_ranges(set, r.uid.0) {
            out.push(r.uid.0);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn in_ranges(set: &[(u32, u32)], n: u32) -> bool {
    let i = set.partition_point(|&(_, hi)| hi < n);
    set.get(i).is_some_and(|&(lo, _)| lo <= n)
}

/// Writes `* VANISHED (EARLIER) uids` (nothing when empty), in lines of bounded length.
pub fn write_vanished(conn: &mut Conn, uids: &[u32], earlier: bool) {
    for chunk in uids.chunks(10_000) {
        let e = if earlier { "(EARLIER) " } else { "" };
        conn.write_fmt(format_args!("* VANISHED {e}{}\r\n", compact(chunk)));
    }
}

/// The answers to SELECT ... (QRESYNC ...) once the mailbox is open, before the
/// tagged OK: the expunged known UIDs and the messages changed since the client's
/// modseq. Nothing when the UIDVALIDITY is not the client's (it must start over).
pub fn qresync_report(sel: &mut Selected, q: &Qresync, conn: &mut Conn) -> Result<(), mailbox::Error> {
    if q.uidvalidity != sel.mb.header().uidvalidity {
        return Ok(());
    }
    let last = sel.mb.header().last_uid;
    let known: Vec<(u32, u32)> = match &q.known_uids {
        Some(s) => s.resolve(last),
        None => vec![(1, last)].into_iter().filter(|_| last > 0).collect(),
    };
    // seq-match: where the client's numbering already disagrees with ours below a
    // point, every known UID from there may have gone; RFC 7162 3.2.5.2 lets the
    // server use all of known-uids instead, which is what this does (exact, since
    // expunged records keep their modseq).
    let gone = vanished_since(sel, &known, q.modseq)?;
    write_vanished(conn, &gone, true);
    let n = sel.exists();
    let mut out = String::new();
    for msn in 1..=n {
        let r = sel.record(msn)?;
        // Only messages the client knows about (as Cyrus: new ones come with EXISTS).
        if r.modseq.0 > q.modseq && in_ranges(&known, r.uid.0) {
            out.push_str(&sel.fetch_flags_line(msn, &r, true));
            if out.len() > 64 * 1024 {
                conn.write(out.as_bytes());
                out.clear();
            }
        }
    }
    conn.write(out.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_params() {
        let mut p = Parser::new(b"(QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:3 4,5:7)))");
        let s = parse_select_params(&mut p).unwrap();
        let q = s.qresync.unwrap();
        assert_eq!((q.uidvalidity, q.modseq), (67890007, 20050715194045000));
        assert_eq!(q.known_uids.unwrap().0.len(), 3);
        assert!(q.seq_match.is_some());
        let s = parse_select_params(&mut Parser::new(b"(QRESYNC (1 2 (1:3 4:6)))")).unwrap();
        assert!(s.qresync.unwrap().known_uids.is_none());
        assert!(parse_select_params(&mut Parser::new(b"(CONDSTORE)")).unwrap().condstore);
        for bad in [&b"(QRESYNC (0 5))"[..], b"(QRESYNC (1 5 0:3))", b"(FOO)", b"(CONDSTORE CONDSTORE)", b"(QRESYNC (1 99999999999999999999))"] {
            assert!(parse_select_params(&mut Parser::new(bad)).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn modifiers() {
        let m = parse_fetch_mods(&mut Parser::new(b"(CHANGEDSINCE 12345 VANISHED)")).unwrap();
        assert_eq!(m, FetchMods { changedsince: Some(12345), vanished: true });
        assert!(parse_fetch_mods(&mut Parser::new(b"(VANISHED)")).is_err());
        assert_eq!(parse_store_mods(&mut Parser::new(b"(UNCHANGEDSINCE 0)")).unwrap(), 0);
        assert!(parse_store_mods(&mut Parser::new(b"(CHANGEDSINCE 5)")).is_err());
        assert!(in_ranges(&[(1, 3), (7, 9)], 8) && !in_ranges(&[(1, 3), (7, 9)], 5));
    }
}
