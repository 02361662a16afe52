//! chk_cyrus: checks, without changing anything, that every mailbox of the list (or of
//! one partition, or one mailbox) has its directory, index, cache and header, that the
//! index and cache read back whole, and that every message it counts has its file with
//! the recorded size. As Cyrus's tool, progress goes to stderr and the paths that
//! should exist and do not go to stdout (a list for a partial restore from backup);
//! damage that is not a missing file is named on stderr. Exit 1 when anything is
//! wrong (Cyrus exits 0; scripts get the list either way).

use clap::Parser;
use mailbox::flag;
use std::path::{Path, PathBuf};

/// Check the mail store for missing files (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "chk_cyrus", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Only mailboxes on this partition.
    #[arg(short = 'P', value_name = "partition", conflicts_with = "mailbox")]
    partition: Option<String>,
    /// Only this mailbox (internal form: example.org!user.john.Trash).
    #[arg(short = 'M', value_name = "mailbox")]
    mailbox: Option<String>,
}

const PROG: &str = "chk_cyrus";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let boxes = match &args.mailbox {
        Some(m) => {
            let name = tools::mailbox_arg(&store, m).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
            let e = store.lookup(&name).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &format!("{m}: {e}")));
            eprintln!("Examining mailbox: {m}");
            vec![(name.0, e)]
        }
        None => {
            if let Some(p) = &args.partition {
                if cfg.prefixed("partition-").iter().all(|(n, _)| n != p) {
                    service::worker::fatal(PROG, 1, &format!("no partition '{p}' in the configuration"));
                }
                eprintln!("Examining partition: {p}");
            }
            let all = store.list.list("").unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
            all.into_iter().filter(|(_, e)| e.is_normal() && args.partition.as_ref().is_none_or(|p| &e.partition == p)).collect()
        }
    };
    let mut bad = false;
    for (name, e) in boxes {
        if !e.is_normal() {
            continue;
        }
        eprintln!("checking: {name}");
        bad |= !check(&store, &mboxlist::InternalName(name), &e);
    }
    std::process::exit(i32::from(bad));
}

fn missing(p: &Path) -> bool {
    let gone = !p.exists();
    if gone {
        println!("{}", p.display());
    }
    gone
}

/// True when the mailbox is whole.
fn check(store: &mboxlist::Store, name: &mboxlist::InternalName, e: &mboxlist::list::Entry) -> bool {
    let paths = match store.paths(name, e) {
        Ok(p) => p,
        Err(err) => {
            eprintln!("bad mailbox {} in chkmbox: {err}", name.0);
            return false;
        }
    };
    let mut ok = true;
    for p in [paths.data.clone(), paths.meta.clone(), paths.index(), paths.cache(), paths.header()] {
        ok &= !missing(&p);
    }
    if !ok {
        return false;
    }
    let mb = match mailbox::Mailbox::open(&paths) {
        Ok(mb) => mb,
        Err(err) => {
            eprintln!("{}: cannot be opened: {err} (run reconstruct)", name.0);
            return false;
        }
    };
    for r in mb.records() {
        let r = match r {
            Ok(r) => r,
            Err(err) => {
                eprintln!("{}: {err} (run reconstruct)", name.0);
                ok = false;
                continue;
            }
        };
        if r.has(flag::UNLINKED) {
            continue;
        }
        if let Err(err) = mb.cache_entry(&r) {
            eprintln!("{}: UID {}: {err} (run reconstruct)", name.0, r.uid.0);
            ok = false;
        }
        let f = paths.message(r.uid);
        match std::fs::metadata(&f) {
            Ok(m) if m.len() != u64::from(r.size) => {
                eprintln!("{}: UID {}: file is {} bytes, the index says {}", name.0, r.uid.0, m.len(), r.size);
                ok = false;
            }
            Ok(_) => {}
            Err(_) => {
                println!("{}", f.display());
                ok = false;
            }
        }
    }
    ok
}
