//! ipurge: expunges messages older or larger than a limit from mailboxes, as Cyrus's
//! ipurge (same flags; the same per-mailbox totals on stdout). Without `-f` only
//! shared mailboxes are worked on (not `user.*`). Expunged messages keep their files
//! until `cyr_expire -X`, so `unexpunge` can bring them back meanwhile.

use clap::Parser;
use mailbox::flag;
use std::io::Write;
use std::path::PathBuf;

/// Delete old or large messages from mailboxes (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "ipurge", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Also mailboxes of users (user.* and their INBOX.*).
    #[arg(short = 'f')]
    force: bool,
    /// Age in days.
    #[arg(short = 'd', value_name = "days")]
    days: Option<i64>,
    /// Size in bytes.
    #[arg(short = 'b', value_name = "bytes")]
    bytes: Option<i64>,
    /// Size in KiB.
    #[arg(short = 'k', value_name = "Kbytes")]
    kbytes: Option<i64>,
    /// Size in MiB.
    #[arg(short = 'm', value_name = "Mbytes")]
    mbytes: Option<i64>,
    /// Exact match on age (in whole days) or size.
    #[arg(short = 'x')]
    exact: bool,
    /// Use the delivery time instead of the Date: header.
    #[arg(short = 'X')]
    delivery_time: bool,
    /// Invert: -x means not equal, age means newer, size means smaller.
    #[arg(short = 'i')]
    invert: bool,
    /// Skip messages flagged \Flagged.
    #[arg(short = 's')]
    skip_flagged: bool,
    /// Only messages flagged \Deleted.
    #[arg(short = 'o')]
    only_deleted: bool,
    /// Dry run: print the messages that would be deleted.
    #[arg(short = 'n')]
    dry_run: bool,
    /// The arguments are mailbox names, not patterns.
    #[arg(short = 'M')]
    no_recurse: bool,
    /// Verbose.
    #[arg(short = 'v')]
    verbose: bool,
    /// Mailbox patterns (`*` and `%`); none: every mailbox.
    patterns: Vec<String>,
}

const PROG: &str = "ipurge";

struct Rule {
    days: Option<i64>,
    size: Option<i64>,
    exact: bool,
    invert: bool,
    sentdate: bool,
    skip_flagged: bool,
    only_deleted: bool,
}

impl Rule {
    /// Cyrus's decision for one message (its order of tests, its rounding).
    fn purges(&self, r: &mailbox::Record, now: i64) -> bool {
        if self.skip_flagged && r.has(flag::FLAGGED) || self.only_deleted && !r.has(flag::DELETED) {
            return false;
        }
        let t = if self.sentdate && r.sentdate != 0 { r.sentdate } else { r.internaldate };
        let age = now - t;
        let size = i64::from(r.size);
        if self.exact {
            if let Some(d) = self.days {
                return (age / 86_400 == d / 86_400) != self.invert;
            }
            return self.size.is_some_and(|s| (size == s) != self.invert);
        }
        self.days.is_some_and(|d| if self.invert { age < d } else { age > d }) || self.size.is_some_and(|s| if self.invert { size < s } else { size > s })
    }
}

fn main() {
    let args = Args::parse();
    let size = args.bytes.or(args.kbytes.map(|k| k * 1024)).or(args.mbytes.map(|m| m * 1_048_576));
    if args.days.is_none() && size.is_none() {
        eprintln!("{PROG}: one of -d, -b, -k, -m must be given");
        std::process::exit(service::exit::USAGE);
    }
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let rule = Rule {
        days: args.days.map(|d| d * 86_400),
        size,
        exact: args.exact,
        invert: args.invert,
        sentdate: !args.delivery_time,
        skip_flagged: args.skip_flagged,
        only_deleted: args.only_deleted,
    };
    // -M: the arguments are mailbox names, their `*` and `%` taken literally.
    let patterns: Vec<String> = if args.no_recurse { args.patterns.iter().map(|p| p.replace('*', "\\*").replace('%', "\\%")).collect() } else { args.patterns.clone() };
    let boxes = tools::matching_mailboxes(&store, &patterns).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    if boxes.is_empty() && !args.patterns.is_empty() {
        eprintln!("{PROG}: no mailbox matches {}", args.patterns.join(" "));
        std::process::exit(1);
    }
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let now = tools::now();
    for (name, _) in boxes {
        let name = mboxlist::InternalName(name);
        if !args.force && store.ns.owner(&name).is_some() {
            continue;
        }
        if args.verbose {
            let _ = writeln!(out, "Working on {}...", name.0);
        }
        if let Err(e) = purge(&store, &name, &rule, now, args.dry_run, &mut out) {
            eprintln!("{PROG}: {}: {e}", name.0);
            log::error!("ipurge: {}: {e}", name.0);
            failed = true;
        }
    }
    std::process::exit(i32::from(failed));
}

fn purge(store: &mboxlist::Store, name: &mboxlist::InternalName, rule: &Rule, now: i64, dry_run: bool, out: &mut impl Write) -> Result<(), String> {
    let (_, mut mb) = store.open_mailbox(name).map_err(|e| e.to_string())?;
    let (mut total, mut total_bytes, mut gone, mut gone_bytes) = (0u64, 0u64, 0u64, 0u64);
    let mut uids = Vec::new();
    for r in mb.records() {
        let r = r.map_err(|e| format!("{e} (run reconstruct)"))?;
        if r.is_expunged() {
            continue;
        }
        total += 1;
        total_bytes += u64::from(r.size);
        if rule.purges(&r, now) {
            gone += 1;
            gone_bytes += u64::from(r.size);
            if dry_run {
                tools::print_record(out, &mb, &r, false);
            } else {
                uids.push(r.uid);
            }
        }
    }
    if !uids.is_empty() {
        let done = store.expunge(name, &mut mb, &uids).map_err(|e| e.to_string())?;
        log::info!("ipurge: {}: expunged {} messages", name.0, done.len());
    }
    let _ = write!(
        out,
        "Total messages    \t\t {total}\nTotal bytes       \t\t {total_bytes}\nDeleted messages  \t\t {gone}\nDeleted bytes     \t\t {gone_bytes}\nRemaining messages\t\t {}\nRemaining bytes   \t\t {}\n",
        total - gone,
        total_bytes - gone_bytes
    );
    Ok(())
}
