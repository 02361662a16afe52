//! ctl_cyrusdb: maintenance of the databases in configdirectory, as START (`-r`) and
//! EVENTS (`-c`) entries call it.
//!
//! The databases are LMDB environments (the mailbox list and the deliver databases),
//! which need no log replay after a crash: both `-r` and `-c` open every environment
//! (which clears reader slots left by killed processes, so they cannot hold back
//! writers) and force it to disk.

use clap::Parser;
use std::path::{Path, PathBuf};

/// Recover or checkpoint the databases (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "ctl_cyrusdb", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Recover: run at start-up, before any service.
    #[arg(short = 'r', conflicts_with = "checkpoint")]
    recover: bool,
    /// Checkpoint: flush the databases to disk.
    #[arg(short = 'c')]
    checkpoint: bool,
    /// Accepted for compatibility (Cyrus: do not remove stale mailbox list entries).
    #[arg(short = 'x')]
    keep: bool,
}

const PROG: &str = "ctl_cyrusdb";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let Some(dir) = cfg.get_str("configdirectory") else {
        service::worker::fatal(PROG, service::exit::CONFIG, "configdirectory is not set");
    };
    let dir = Path::new(dir);
    if !args.recover && !args.checkpoint {
        eprintln!("{PROG}: give -r (recover) or -c (checkpoint)");
        std::process::exit(service::exit::USAGE);
    }
    // Opening clears stale reader slots; syncing forces the data to disk.
    let list = mboxlist::MboxList::open(dir, true).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    list.sync().unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    let mut db = deliverdb::DeliverDb::new(dir);
    let letters = db.letters();
    db.sync().unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    if args.recover {
        log::info!("recovering databases in {}", dir.display());
        let _ = args.keep;
    } else {
        log::info!("checkpointed the mailbox list and {} deliver databases", letters.len());
    }
}
