//! ctl_mboxlist: dumps the mailbox list as text (`-d`) and loads such a dump (`-u`),
//! so a list can be moved between machines or repaired by hand.
//!
//! One mailbox a line: `name TAB partition TAB uniqueid TAB uidvalidity TAB acl`,
//! where acl is Cyrus's stored form (identifiers and rights, each followed by TAB).
//! A mailbox whose directory is by mailbox id has `;by-id` after its uidvalidity, so
//! that a dump loaded again finds its files where they are.

use clap::Parser;
use mboxlist::list::{Entry, mbtype};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Dump or load the mailbox list (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "ctl_mboxlist", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Dump the list to standard output (or -f file).
    #[arg(short = 'd', conflicts_with = "undump")]
    dump: bool,
    /// Load entries from standard input (or -f file), adding or replacing them.
    #[arg(short = 'u')]
    undump: bool,
    /// Only mailboxes on this partition (with -d).
    #[arg(short = 'p', value_name = "partition")]
    partition: Option<String>,
    /// File to dump to or load from.
    #[arg(short = 'f', value_name = "file")]
    file: Option<PathBuf>,
}

const PROG: &str = "ctl_mboxlist";
/// Follows the uidvalidity of a mailbox whose directory is by mailbox id.
const BY_ID_MARK: &str = ";by-id";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let fail = |m: String| -> ! { service::worker::fatal(PROG, 1, &m) };
    if args.dump {
        let list = store.list.list("").unwrap_or_else(|e| fail(e));
        let mut out: Box<dyn Write> = match &args.file {
            Some(f) => Box::new(std::fs::File::create(f).unwrap_or_else(|e| fail(format!("{}: {e}", f.display())))),
            None => Box::new(std::io::stdout().lock()),
        };
        for (name, e) in list {
            if !e.is_normal() || args.partition.as_ref().is_some_and(|p| *p != e.partition) {
                continue;
            }
            let layout = if e.is_by_id() { BY_ID_MARK } else { "" };
            writeln!(out, "{name}\t{}\t{}\t{}{layout}\t{}", e.partition, e.uniqueid, e.uidvalidity, e.acl).unwrap_or_else(|e| fail(e.to_string()));
        }
    } else if args.undump {
        let input: Box<dyn BufRead> = match &args.file {
            Some(f) => Box::new(std::io::BufReader::new(std::fs::File::open(f).unwrap_or_else(|e| fail(format!("{}: {e}", f.display()))))),
            None => Box::new(std::io::stdin().lock()),
        };
        let mut n = 0;
        for (i, line) in input.lines().enumerate() {
            let line = line.unwrap_or_else(|e| fail(e.to_string()));
            if line.trim().is_empty() {
                continue;
            }
            let mut f = line.splitn(5, '\t');
            let (Some(name), Some(partition), Some(uniqueid), Some(uv)) = (f.next(), f.next(), f.next(), f.next()) else {
                fail(format!("line {}: expected name, partition, uniqueid, uidvalidity and acl separated by tabs", i + 1));
            };
            let (uv, by_id) = match uv.strip_suffix(BY_ID_MARK) {
                Some(u) => (u, mbtype::BY_ID),
                None => (uv, 0),
            };
            let uidvalidity = uv.parse().unwrap_or_else(|_| fail(format!("line {}: bad uidvalidity '{uv}'", i + 1)));
            let acl = f.next().unwrap_or("").to_string();
            mboxlist::Acl::parse(&acl).unwrap_or_else(|e| fail(format!("line {}: {e}", i + 1)));
            mboxlist::names::validate(name).unwrap_or_else(|e| fail(format!("line {}: {e}", i + 1)));
            let e = Entry { mbtype: mbtype::NORMAL | by_id, partition: partition.into(), uniqueid: uniqueid.into(), uidvalidity, acl };
            let r = if store.list.lookup(name).ok().flatten().is_some() { store.list.update(name, &e) } else { store.list.insert(name, &e) };
            r.unwrap_or_else(|e| fail(format!("line {}: {e}", i + 1)));
            n += 1;
        }
        log::info!("ctl_mboxlist -u: loaded {n} entries");
    } else {
        eprintln!("{PROG}: give -d (dump) or -u (undump)");
        std::process::exit(service::exit::USAGE);
    }
}
