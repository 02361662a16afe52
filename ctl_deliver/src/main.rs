//! ctl_deliver: dump (-d) or prune (-E days) the duplicate-delivery databases.
//!
//! Cyrus 3.6's ctl_deliver only dumps (pruning moved to cyr_expire); this one also
//! takes `-E days`, as sites' crontabs still call it. A letter without a database is
//! normal and says nothing.

use clap::Parser;
use std::path::PathBuf;

/// Maintain the duplicate-delivery databases (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "ctl_deliver", version)]
struct Args {
    /// imapd.conf to read.
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Dump every record as "message-id TAB recipient TAB time" lines.
    #[arg(short = 'd')]
    dump: bool,
    /// Prune records older than this many days.
    #[arg(short = 'E', value_name = "days")]
    expire: Option<u32>,
    /// The databases to use: a directory of deliver-<letter>.db files, or one such
    /// file (default: configdirectory/deliverdb).
    #[arg(short = 'f', value_name = "path")]
    file: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config("ctl_deliver", args.config.as_ref());
    if !args.dump && args.expire.is_none() {
        eprintln!("ctl_deliver: give -d (dump) or -E days (prune)");
        std::process::exit(service::exit::USAGE);
    }
    let db = match &args.file {
        Some(p) => deliverdb::DeliverDb::at(p),
        None => match cfg.get_str("configdirectory") {
            Some(c) => Ok(deliverdb::DeliverDb::new(std::path::Path::new(c))),
            None => Err(format!("{}: configdirectory is not set", cfg.path().display())),
        },
    };
    let mut db = db.unwrap_or_else(|e| service::worker::fatal("ctl_deliver", service::exit::CONFIG, &e));
    if let Some(days) = args.expire {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let cutoff = now.saturating_sub(u64::from(days) * 86_400);
        match db.prune(cutoff) {
            Ok((seen, deleted)) => log::info!("pruned {deleted} of {seen} duplicate delivery entries older than {days} days"),
            Err(e) => service::worker::fatal("ctl_deliver", service::exit::SOFTWARE, &e),
        }
    }
    if args.dump {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        if let Err(e) = db.dump(&mut out) {
            service::worker::fatal("ctl_deliver", service::exit::SOFTWARE, &e);
        }
    }
}
