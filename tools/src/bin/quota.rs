//! quota: reports quota roots with their limits and usage; `-f` first recomputes each
//! root's usage from its mailboxes and fixes what differs.

use clap::Parser;
use std::path::PathBuf;

/// Report (and fix) quota usage (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "quota", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Fix usage that differs from what the mailboxes hold.
    #[arg(short = 'f')]
    fix: bool,
    /// Only roots in this domain.
    #[arg(short = 'd', value_name = "domain")]
    domain: Option<String>,
    /// Arguments are userids, not mailbox prefixes.
    #[arg(short = 'u')]
    users: bool,
    /// Suite extension (Cyrus sets quotas with cyradm over IMAP): set the limits of
    /// quota root ROOT to STORAGE KiB and, optionally, MESSAGES messages; "none"
    /// removes a limit, and a root left without limits is removed. Usage is computed.
    #[arg(long = "set", value_names = ["ROOT", "STORAGE", "MESSAGES"], num_args = 2..=3)]
    set: Option<Vec<String>>,
    /// Mailbox prefixes (or userids with -u).
    specs: Vec<String>,
}

const PROG: &str = "quota";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let prefixes: Vec<String> = args
        .specs
        .iter()
        .map(|s| if args.users { store.ns.inbox(s).0 } else { tools::mailbox_arg(&store, s).map(|n| n.0).unwrap_or_else(|_| s.clone()) })
        .collect();
    if let Some(set) = &args.set {
        let root = tools::mailbox_arg(&store, &set[0]).unwrap_or_else(|e| service::worker::fatal(PROG, service::exit::USAGE, &e));
        let limit = |s: Option<&String>| -> Option<u64> {
            match s.map(String::as_str) {
                None | Some("none") => None,
                Some(v) => Some(v.parse().unwrap_or_else(|_| service::worker::fatal(PROG, service::exit::USAGE, &format!("'{v}' is not a number"))))
            }
        };
        let (storage, messages) = (limit(set.get(1)), limit(set.get(2)));
        store.list.set_quota_limits(&root.0, storage, messages).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
        if storage.is_some() || messages.is_some() {
            let (bytes, msgs) = store.usage_of_root(&root.0).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e.to_string()));
            store.list.quota_set_usage(&root.0, bytes, msgs).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
        }
        log::info!("quota root {} set to STORAGE {:?} KiB, MESSAGE {:?}", root.0, storage, messages);
    }
    let roots = store.list.quota_roots().unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    let mut failed = false;
    println!("   Quota   % Used     Used Resource Root");
    for (root, q) in roots {
        if let Some(d) = &args.domain {
            if !root.starts_with(&format!("{d}!")) {
                continue;
            }
        }
        if !prefixes.is_empty() && !prefixes.iter().any(|p| root == *p || root.starts_with(&format!("{p}."))) {
            continue;
        }
        let mut q = q;
        if args.fix {
            match store.usage_of_root(&root) {
                Ok((bytes, msgs)) if (bytes, msgs) != (q.storage_used, q.message_used) => {
                    println!("{root}: usage was {} bytes in {} messages, now {bytes} bytes in {msgs} messages", q.storage_used, q.message_used);
                    log::info!("quota -f: {root}: usage {} -> {bytes} bytes, {} -> {msgs} messages", q.storage_used, q.message_used);
                    if let Err(e) = store.list.quota_set_usage(&root, bytes, msgs) {
                        eprintln!("{PROG}: {root}: {e}");
                        failed = true;
                    }
                    q.storage_used = bytes;
                    q.message_used = msgs;
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("{PROG}: {root}: {e}");
                    failed = true;
                }
            }
        }
        let kib = q.storage_used.div_ceil(1024);
        let line = |limit: Option<u64>, used: u64, res: &str| match limit {
            Some(l) => println!("{l:>8} {:>8} {used:>8} {res:<8} {root}", if l == 0 { 0 } else { used * 100 / l }),
            None => println!("{:>8} {:>8} {used:>8} {res:<8} {root}", "", ""),
        };
        line(q.storage_limit_kib, kib, "STORAGE");
        if q.message_limit.is_some() {
            line(q.message_limit, q.message_used, "MESSAGE");
        }
    }
    std::process::exit(i32::from(failed));
}
