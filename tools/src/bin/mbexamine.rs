//! mbexamine: prints what a mailbox's index and cache hold for each message, without
//! opening the message files: the index header, then per record its UID, dates,
//! sizes, flags, modseq, and the cached ENVELOPE, BODY and BODYSTRUCTURE.

use clap::Parser;
use mailbox::flag;
use std::io::Write;
use std::path::PathBuf;

/// Examine a mailbox's index and cache (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "mbexamine", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Only the message with this UID.
    #[arg(short = 'u', value_name = "uid")]
    uid: Option<u32>,
    /// Only the message with this sequence number.
    #[arg(short = 's', value_name = "seqno")]
    seqno: Option<usize>,
    #[arg(required = true)]
    mailboxes: Vec<String>,
}

const PROG: &str = "mbexamine";

fn flags(f: u32) -> String {
    let names = [(flag::ANSWERED, "\\Answered"), (flag::FLAGGED, "\\Flagged"), (flag::DELETED, "\\Deleted"), (flag::DRAFT, "\\Draft"), (flag::SEEN, "\\Seen"), (flag::EXPUNGED, "[Expunged]"), (flag::UNLINKED, "[Unlinked]")];
    names.iter().filter(|(b, _)| f & b != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(" ")
}

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for m in &args.mailboxes {
        let r = tools::mailbox_arg(&store, m).and_then(|n| store.open_mailbox(&n).map_err(|e| e.to_string()));
        let (_, mb) = match r {
            Ok(x) => x,
            Err(e) => {
                eprintln!("{PROG}: {m}: {e}");
                failed = true;
                continue;
            }
        };
        let h = mb.header();
        let _ = writeln!(
            out,
            "Mailbox {} uniqueid {} uidvalidity {} uidnext {} exists {} highestmodseq {} quota_used {}",
            mb.name(),
            mb.uniqueid(),
            h.uidvalidity,
            mb.uidnext(),
            h.exists,
            h.highestmodseq,
            h.quota_used
        );
        let mut seq = 0usize;
        for rec in mb.records() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{PROG}: {m}: {e}");
                    failed = true;
                    continue;
                }
            };
            if !rec.is_expunged() {
                seq += 1;
            }
            if args.uid.is_some_and(|u| u != rec.uid.0) || args.seqno.is_some_and(|s| rec.is_expunged() || s != seq) {
                continue;
            }
            let uf: Vec<&str> = mb.user_flags().iter().enumerate().filter(|(i, _)| rec.has_user_flag(*i)).map(|(_, n)| n.as_str()).collect();
            let _ = writeln!(
                out,
                "{seq:06} UID:{} INT_DATE:{} SENTDATE:{} SIZE:{} HEADER_SIZE:{} MODSEQ:{} FLAGS:({}) USER_FLAGS:({})",
                rec.uid.0,
                rec.internaldate,
                rec.sentdate,
                rec.size,
                rec.header_size,
                rec.modseq.0,
                flags(rec.system_flags),
                uf.join(" ")
            );
            match mb.cache_entry(&rec).ok().and_then(mailbox::cache::structure) {
                Some(s) => {
                    for (label, bytes) in [("Envel", s.envelope()), ("Body", s.body()), ("BdyStr", s.bodystructure())] {
                        let _ = write!(out, " {label}>{{{}}}\n", bytes.len());
                        let _ = out.write_all(bytes);
                        let _ = out.write_all(b"\n");
                    }
                }
                None => {
                    let _ = writeln!(out, " cache entry damaged (run reconstruct)");
                    failed = true;
                }
            }
        }
    }
    std::process::exit(i32::from(failed));
}
