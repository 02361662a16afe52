//! cyr_expire: removes the files of messages expunged longer ago than `-X`, and prunes
//! duplicate-delivery records older than `-E`, as an EVENTS entry runs it.
//!
//! An expunged message keeps its file until then (so nothing is lost to a hasty
//! client); afterwards its record is marked unlinked and its file removed. A `-X` run
//! also removes stage files older than a day (left by killed deliveries).
//!
//! With `-X` or `-E` (and without `-x`), every mailbox whose
//! `/vendor/cmu/cyrus-imapd/expire` annotation (its own, else its nearest parent's, else
//! the server's; days, or a duration) is above zero has its messages sent before that
//! long ago expunged, as Cyrus expires a news spool; `-a` ignores the annotations.

use clap::Parser;
use mailbox::{Mailbox, Uid, flag};
use std::path::PathBuf;

/// Expire expunged messages and old deliver records (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "cyr_expire", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Remove files of messages expunged more than this long ago (days, or a
    /// duration such as 12h).
    #[arg(short = 'X', value_name = "duration")]
    expunge: Option<String>,
    /// Prune duplicate-delivery records older than this (days, or a duration).
    #[arg(short = 'E', value_name = "duration")]
    expire: Option<String>,
    /// Only mailboxes whose name starts with this prefix.
    #[arg(short = 'p', value_name = "prefix")]
    prefix: Option<String>,
    /// Only this user's mailboxes.
    #[arg(short = 'u', value_name = "user")]
    user: Option<String>,
    /// Verbose: say what is done.
    #[arg(short = 'v')]
    verbose: bool,
    /// Ignore the /vendor/cmu/cyrus-imapd/expire annotations.
    #[arg(short = 'a')]
    skip_annotations: bool,
    /// Expunge nothing (neither expired messages nor the files of expunged ones).
    #[arg(short = 'x')]
    no_expunge: bool,
}

const PROG: &str = "cyr_expire";

fn seconds(s: &str) -> i64 {
    conf::value::parse_duration(s, 'd')
        .map(|d| d.as_secs() as i64)
        .unwrap_or_else(|| service::worker::fatal(PROG, service::exit::USAGE, &format!("'{s}' is not a duration")))
}

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let now = tools::now();
    let mut failed = false;
    if (args.expunge.is_some() || args.expire.is_some()) && !args.no_expunge && !args.skip_annotations {
        let prefix = selection_prefix(&store, &args);
        let list = store.list.list(&prefix).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
        let (mut expired, mut boxes) = (0usize, 0usize);
        for (name, e) in list {
            let name = mboxlist::InternalName(name);
            let Some(secs) = expire_annotation(&store, &name.0).filter(|&s| s > 0) else { continue };
            match expire_messages(&store, &name, &e, now - secs) {
                Ok(n) => {
                    expired += n;
                    boxes += 1;
                    if args.verbose {
                        println!("{}: expired {n} messages older than {:.2} days", name.0, secs as f64 / 86_400.0);
                    }
                }
                Err(err) => {
                    eprintln!("{PROG}: {}: {err}", name.0);
                    failed = true;
                }
            }
        }
        log::info!("expired {expired} messages in {boxes} mailboxes by their expire annotation");
    }
    if let (Some(x), false) = (&args.expunge, args.no_expunge) {
        // Stage files of killed deliveries: no delivery takes a day.
        let staged = store.clean_stage(std::time::Duration::from_secs(86_400));
        if staged > 0 {
            log::info!("removed {staged} stale stage files");
        }
        let cutoff = now - seconds(x);
        let prefix = selection_prefix(&store, &args);
        let list = store.list.list(&prefix).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
        let (mut files, mut boxes) = (0usize, 0usize);
        for (name, e) in list {
            let name = mboxlist::InternalName(name);
            match expunge_files(&store, &name, &e, cutoff) {
                Ok(n) => {
                    files += n;
                    boxes += 1;
                    if args.verbose && n > 0 {
                        println!("{}: removed {n} expunged message files", name.0);
                    }
                }
                Err(err) => {
                    eprintln!("{PROG}: {}: {err}", name.0);
                    failed = true;
                }
            }
        }
        log::info!("expunged {files} message files in {boxes} mailboxes");
    }
    if let Some(e) = &args.expire {
        let cutoff = (now - seconds(e)).max(0) as u64;
        let dir = cfg.get_str("configdirectory").unwrap_or(".");
        match deliverdb::DeliverDb::new(std::path::Path::new(dir)).prune(cutoff) {
            Ok((seen, deleted)) => {
                log::info!("pruned {deleted} of {seen} duplicate delivery entries");
                if args.verbose {
                    println!("duplicate delivery: pruned {deleted} of {seen} entries");
                }
            }
            Err(err) => {
                eprintln!("{PROG}: deliver databases: {err}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}

/// The mailboxes `-u` or `-p` select, as a name prefix.
fn selection_prefix(store: &mboxlist::Store, args: &Args) -> String {
    match (&args.user, &args.prefix) {
        (Some(u), _) => store.ns.inbox(u).0,
        (None, Some(p)) => tools::mailbox_arg(store, p).map(|n| n.0).unwrap_or_else(|_| p.clone()),
        (None, None) => String::new(),
    }
}

/// The `/vendor/cmu/cyrus-imapd/expire` of a mailbox in seconds: its own, else its
/// nearest parent's, else the server's (as Cyrus's cyr_expire inherits it).
fn expire_annotation(store: &mboxlist::Store, name: &str) -> Option<i64> {
    const ENTRY: &str = "/vendor/cmu/cyrus-imapd/expire";
    let floor = name.find('!').map_or(0, |i| i + 1);
    let mut at = Some(name.to_string());
    while let Some(n) = at {
        if let Ok(Some(v)) = store.list.annotation(&n, ENTRY, "") {
            let text = String::from_utf8_lossy(&v);
            return conf::value::parse_duration(text.trim(), 'd').map(|d| d.as_secs() as i64);
        }
        at = n.rfind('.').filter(|&i| i > floor).map(|i| n[..i].to_string()).or_else(|| (!n.is_empty()).then(String::new));
    }
    None
}

/// Expunges the messages of `name` sent (Date, else arrival) before `cutoff`; their
/// files go at a later `-X` run, as for any expunge. Returns how many.
fn expire_messages(store: &mboxlist::Store, name: &mboxlist::InternalName, e: &mboxlist::Entry, cutoff: i64) -> Result<usize, String> {
    let paths = store.paths(name, e).map_err(|e| e.to_string())?;
    // Message files staged by an append that was killed: no append takes a day.
    let staged = mailbox::clean_staged(&paths, std::time::Duration::from_secs(86_400));
    if staged > 0 {
        log::info!("{}: removed {staged} stale staged message files", name.0);
    }
    let mut mb = Mailbox::open(&paths).map_err(|e| e.to_string())?;
    let old: Vec<Uid> = mb
        .records()
        .filter_map(Result::ok)
        .filter(|r| !r.is_expunged() && (if r.sentdate > 0 { r.sentdate } else { r.internaldate }) < cutoff)
        .map(|r| r.uid)
        .collect();
    if old.is_empty() {
        return Ok(0);
    }
    store.expunge(name, &mut mb, &old).map(|done| done.len()).map_err(|e| e.to_string())
}

/// Unlinks the files of records expunged before `cutoff`; returns how many.
fn expunge_files(store: &mboxlist::Store, name: &mboxlist::InternalName, e: &mboxlist::Entry, cutoff: i64) -> Result<usize, String> {
    let paths = store.paths(name, e).map_err(|e| e.to_string())?;
    // Message files staged by an append that was killed: no append takes a day.
    let staged = mailbox::clean_staged(&paths, std::time::Duration::from_secs(86_400));
    if staged > 0 {
        log::info!("{}: removed {staged} stale staged message files", name.0);
    }
    let mut mb = Mailbox::open(&paths).map_err(|e| e.to_string())?;
    let old: Vec<Uid> = mb
        .records()
        .filter_map(Result::ok)
        .filter(|r| r.is_expunged() && !r.has(flag::UNLINKED) && r.last_updated < cutoff)
        .map(|r| r.uid)
        .collect();
    let stale = mb.records().filter_map(Result::ok).any(|r| r.is_expunged() && r.has(flag::UNLINKED) && r.last_updated < cutoff);
    if old.is_empty() && !stale {
        return Ok(0);
    }
    let mut w = mb.lock().map_err(|e| e.to_string())?;
    let marked = w.mark_unlinked(&old).map_err(|e| e.to_string())?;
    drop(w);
    for uid in &marked {
        let p = paths.message(*uid);
        if let Err(err) = std::fs::remove_file(&p) {
            if err.kind() != std::io::ErrorKind::NotFound {
                return Err(format!("{}: {err}", p.display()));
            }
        }
    }
    // Their records go too (as Cyrus's -X): QRESYNC clients older than that many
    // days get every UID they knew that is gone, without the modseq of each.
    let mut w = mb.lock().map_err(|e| e.to_string())?;
    w.compact(cutoff).map_err(|e| e.to_string())?;
    Ok(marked.len())
}
