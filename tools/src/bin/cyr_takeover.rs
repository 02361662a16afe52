//! cyr_takeover: takes over a stopped Cyrus IMAPd site in place (see cyr_takeover(8)).

use clap::Parser;
use std::path::PathBuf;

/// Take over a stopped Cyrus IMAPd site: mailboxes, UIDs, flags, seen state, ACLs,
/// quotas, subscriptions, annotations and Sieve scripts.
#[derive(Parser, Debug)]
#[command(name = "cyr_takeover", version)]
struct Args {
    /// The site's imapd.conf.
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Only read and check; write nothing.
    #[arg(short = 'n', long = "dry-run")]
    dry_run: bool,
    /// Read the mailbox list from this file (the output of Cyrus's ctl_mboxlist -d)
    /// instead of mailboxes.db.
    #[arg(long = "dump", value_name = "FILE")]
    dump: Option<PathBuf>,
    /// Put Cyrus's files back (for a return to Cyrus), after the suite is stopped.
    #[arg(long = "revert", conflicts_with_all = ["dry_run", "dump"])]
    revert: bool,
    /// A line per mailbox.
    #[arg(short = 'v')]
    verbose: bool,
}

const PROG: &str = "cyr_takeover";

/// Cyrus's tools run as the cyrus user; so does this one when started as root, so
/// that what it writes belongs to the user the daemons run as.
fn become_cyrus(cfg: &conf::Config) {
    use nix::unistd::{User, geteuid, setgid, setgroups, setuid};
    if !geteuid().is_root() {
        return;
    }
    let user = cfg.get_str("cyrus_user").unwrap_or("cyrus");
    if user.contains('\0') {
        return;
    }
    let Ok(Some(pw)) = User::from_name(user) else {
        service::worker::fatal(PROG, service::exit::CONFIG, &format!("running as root, and there is no user {user} to become"));
    };
    if let Err(e) = setgroups(&[]).and_then(|()| setgid(pw.gid)).and_then(|()| setuid(pw.uid)) {
        service::worker::fatal(PROG, service::exit::CONFIG, &format!("cannot become {user}: {}", std::io::Error::from(e)));
    }
}

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    become_cyrus(&cfg);
    let Some(configdir) = cfg.get_str("configdirectory").map(PathBuf::from) else {
        service::worker::fatal(PROG, service::exit::CONFIG, "configdirectory is not set");
    };
    if !args.dry_run && !args.revert {
        if let Err(e) = mboxlist::MboxList::open(&configdir, true) {
            service::worker::fatal(PROG, service::exit::CONFIG, &format!("cannot create the suite's mailbox list: {e}"));
        }
    }
    if args.dry_run && !configdir.join("mailboxes.lmdb").exists() {
        // A dry run writes nothing: the list it checks against is an empty one in a
        // scratch directory.
        let scratch = std::env::temp_dir().join(format!("cyr_takeover-dry-{}", std::process::id()));
        run_dry(&cfg, &args, &scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        return;
    }
    let store = tools::open_store(PROG, &cfg);
    if args.revert {
        match tools::takeover::revert(&store, &cfg) {
            Ok((n, problems)) => {
                for p in &problems {
                    eprintln!("{PROG}: {p}");
                }
                println!("takeover reverted: Cyrus's files put back in {n} mailboxes; run Cyrus's reconstruct on the mailboxes that received mail meanwhile");
                std::process::exit(if problems.is_empty() { 0 } else { 1 });
            }
            Err(e) => service::worker::fatal(PROG, 1, &e),
        }
    }
    report(&store, &cfg, &args);
}

fn run_dry(cfg: &conf::Config, args: &Args, scratch: &std::path::Path) {
    let list = mboxlist::MboxList::open(scratch, true).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    let store = mboxlist::Store::with_list(cfg, list);
    report(&store, cfg, args);
}

fn report(store: &mboxlist::Store, cfg: &conf::Config, args: &Args) {
    let opts = tools::takeover::Options { dry_run: args.dry_run, dump: args.dump.clone(), verbose: args.verbose };
    let sum = match tools::takeover::run(store, cfg, &opts, &mut |l| println!("{l}")) {
        Ok(s) => s,
        Err(e) => service::worker::fatal(PROG, 1, &e),
    };
    for (name, why) in &sum.skipped {
        println!("skipped {name}: {why}");
    }
    for (name, p) in &sum.problems {
        println!("problem: {name}: {p}");
        log::warn!("takeover: {name}: {p}");
    }
    if sum.already > 0 {
        println!("{} mailboxes were already taken over by an earlier run and were left as they are", sum.already);
    }
    let c = &sum.carried;
    if !args.dry_run {
        println!(
            "carried: seen state {} mailboxes, {} subscriptions, {} quota roots, {} annotations, {} Sieve scripts; the duplicate-delivery database is not carried (it only suppresses re-deliveries of the last days)",
            c.seen, c.subscriptions, c.quotaroots, c.annotations, c.scripts
        );
    }
    let line = format!(
        "takeover{}: {} mailboxes, {} messages, {} bytes, {} users, {} problems",
        if args.dry_run { " (dry run, nothing written)" } else { "" },
        sum.mailboxes,
        sum.messages,
        sum.bytes,
        sum.users,
        sum.problems.len()
    );
    println!("{line}");
    log::info!("{line}");
    std::process::exit(if sum.problems.is_empty() { 0 } else { 1 });
}
