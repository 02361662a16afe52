//! SORT and THREAD (RFC 5256), with ESORT's return options (RFC 5267), SORT=DISPLAY
//! (RFC 5957) and the MODSEQ and UID keys and THREAD=REFS that Cyrus 3.6 offers.
//!
//! The search program is SEARCH's ([`crate::search`]); the ordering and threading
//! are the `sortthread` crate's. Everything is read from the index (dates, size,
//! modseq, UID) and the cache (the header block, for subjects, addresses and
//! message-ids): no message file is opened, unless a cache entry cannot be read.

use crate::parse::{PResult, Parser};
use crate::search::{self, Return};
use crate::reply::{no, ok};
use crate::state::Session;
use mailbox::Record;
use service::Conn;
use sortthread::sort::{self as keys, Criterion, SortValues};
use sortthread::{Algorithm, BaseSubject, Fields, ThreadMsg, Threader, push_number};

/// The sent date of a record, or its internal date where the message has none
/// (RFC 5256 section 2.2).
fn date(rec: &Record) -> i64 {
    if rec.sentdate != 0 { rec.sentdate } else { rec.internaldate }
}

/// `(key key ...)`: the sort criteria.
pub fn parse_criteria(p: &mut Parser) -> PResult<Vec<Criterion>> {
    p.expect(b'(')?;
    let mut words = Vec::new();
    loop {
        words.push(p.keyword()?);
        if p.eat(b')') {
            break;
        }
        p.sp()?;
        if words.len() > 64 {
            return Err("Too many sort criteria".into());
        }
    }
    keys::parse_criteria(words.iter().map(String::as_str))
}

impl Session<'_> {
    /// The charset and search program that end SORT and THREAD; None when the charset
    /// was refused (the NO is sent once the whole command has parsed: a syntax error
    /// is BAD first).
    /// The search program, readied ([`Session::prepare_program`]), and whether it has
    /// a MODSEQ key.
    fn program(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser) -> PResult<Option<(search::Key, bool)>> {
        let charset = p.astring_text()?;
        p.sp()?;
        let mut prog = search::parse_program(p)?;
        p.end()?;
        if !search::charset_ok(&charset) {
            no(conn, tag, search::BADCHARSET);
            return Ok(None);
        }
        let with_modseq = self.prepare_program(&mut prog);
        Ok(Some((prog, with_modseq)))
    }

    /// `SORT [RETURN (...)] (criteria) charset search` and UID SORT.
    pub(crate) fn sort(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser, uid: bool) -> PResult<()> {
        p.sp()?;
        let ret: Option<Return> = search::parse_return(p)?;
        let criteria = parse_criteria(p)?;
        p.sp()?;
        let Some((prog, with_modseq)) = self.program(conn, tag, p)? else { return Ok(()) };
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        let header = criteria.iter().any(|c| c.key.needs_header());
        let mut values: Vec<SortValues> = search::hits(sel, &prog)
            .into_iter()
            .map(|(msn, rec)| {
                let mut v = SortValues {
                    seq: msn,
                    uid: rec.uid.0,
                    arrival: rec.internaldate,
                    date: date(&rec),
                    size: u64::from(rec.size),
                    modseq: rec.modseq.0,
                    ..Default::default()
                };
                if header {
                    v.read_header(&Fields::read(&search::header_block(&sel.mb, &rec)), &criteria);
                }
                v
            })
            .collect();
        keys::sort(&mut values, &criteria);
        let top_modseq = values.iter().map(|v| v.modseq).max().unwrap_or(0);
        let nums: Vec<u32> = values.iter().map(|v| if uid { v.uid } else { v.seq }).collect();
        let out = match ret {
            None => {
                let mut line = Vec::with_capacity(8 + nums.len() * 7);
                line.extend_from_slice(b"* SORT");
                for &n in &nums {
                    line.push(b' ');
                    push_number(&mut line, n);
                }
                if with_modseq && !nums.is_empty() {
                    line.extend_from_slice(format!(" (MODSEQ {top_modseq})").as_bytes());
                }
                line.extend_from_slice(b"\r\n");
                line
            }
            Some(r) => search::esearch(tag, uid, &r, &nums, with_modseq.then_some(top_modseq)).into_bytes(),
        };
        conn.write(&out);
        self.updates(conn, false);
        ok(conn, tag, "Completed");
        Ok(())
    }

    /// `THREAD algorithm charset search` and UID THREAD.
    pub(crate) fn thread(&mut self, conn: &mut Conn, tag: &str, p: &mut Parser, uid: bool) -> PResult<()> {
        p.sp()?;
        let name = p.keyword()?;
        let alg = Algorithm::from_name(&name).ok_or_else(|| format!("Invalid Thread algorithm {}", name.chars().take(40).collect::<String>()))?;
        p.sp()?;
        let Some((prog, _)) = self.program(conn, tag, p)? else { return Ok(()) };
        let sel = self.sel.as_mut().ok_or("No mailbox selected")?;
        let mut threader = Threader::new();
        for (msn, rec) in search::hits(sel, &prog) {
            let block = search::header_block(&sel.mb, &rec);
            let f = Fields::read(&block);
            let subject = BaseSubject::from_header(f.subject.unwrap_or_default());
            let m = ThreadMsg {
                seq: msn,
                id: if uid { rec.uid.0 } else { msn },
                date: date(&rec),
                arrival: rec.internaldate,
                subject: subject.key(),
                is_refwd: subject.is_refwd,
            };
            if alg.needs_ids() {
                threader.push(m, f.own_id().as_deref(), f.reference_ids());
            } else {
                threader.push(m, None, Vec::<Vec<u8>>::new());
            }
        }
        let mut out = Vec::with_capacity(16 + threader.len() * 8);
        out.extend_from_slice(b"* THREAD");
        let forest = threader.thread(alg);
        if !forest.is_empty() {
            out.push(b' ');
            forest.write(&mut out);
        }
        out.extend_from_slice(b"\r\n");
        conn.write(&out);
        self.updates(conn, false);
        ok(conn, tag, "Completed");
        Ok(())
    }
}
