//! ctl_deliver: dump (-d) or prune (-E days) the duplicate-delivery databases.
//!
//! Not built yet: the per-letter deliver databases come with the store and lmtpd
//! issues. Until then every action is refused with a clear message and exit status 69
//! (EX_UNAVAILABLE), so a cron job reports the gap instead of hiding it.

use clap::Parser;
use std::path::PathBuf;

/// Maintain the duplicate-delivery databases (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "ctl_deliver", version)]
struct Args {
    /// imapd.conf to read.
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Dump the databases.
    #[arg(short = 'd')]
    dump: bool,
    /// Prune entries older than this many days.
    #[arg(short = 'E', value_name = "days")]
    expire: Option<u32>,
    /// Dump to this file instead of standard output.
    #[arg(short = 'f', value_name = "file")]
    file: Option<PathBuf>,
}

const EX_UNAVAILABLE: i32 = 69;

fn main() {
    let args = Args::parse();
    let _cfg = tools::load_config("ctl_deliver", args.config.as_ref());
    if !args.dump && args.expire.is_none() {
        eprintln!("ctl_deliver: give -d (dump) or -E days (prune)");
        std::process::exit(service::exit::USAGE);
    }
    service::worker::fatal(
        "ctl_deliver",
        EX_UNAVAILABLE,
        "not supported yet: this version has no duplicate-delivery databases to dump or prune",
    );
}
