//! reconstruct: rebuilds mailboxes' index and cache from their message files, and
//! fixes the usage of the quota roots they are under.

use clap::Parser;
use mboxlist::list::{Entry, mbtype};
use std::path::PathBuf;

/// Rebuild mailboxes from their message files (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "reconstruct", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Also every mailbox below the ones named.
    #[arg(short = 'r')]
    recursive: bool,
    /// Find mailboxes on disk (below the ones named) missing from the mailbox list, and
    /// add them (by-name directories only; see reconstruct(8)).
    #[arg(short = 'f')]
    find: bool,
    /// Partition to look in with -f (default: defaultpartition).
    #[arg(short = 'p', value_name = "partition")]
    partition: Option<String>,
    /// Quiet: report only what was fixed.
    #[arg(short = 'q')]
    quiet: bool,
    /// Mailboxes, as user.fred or user/fred.
    #[arg(required = true)]
    mailboxes: Vec<String>,
}

const PROG: &str = "reconstruct";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let mut failed = false;
    let mut names = Vec::new();
    for arg in &args.mailboxes {
        let name = match tools::mailbox_arg(&store, arg) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("{PROG}: {e}");
                failed = true;
                continue;
            }
        };
        if args.find {
            let partition = args.partition.clone().unwrap_or_else(|| cfg.get_str("defaultpartition").unwrap_or("default").to_string());
            if let Err(e) = find_on_disk(&store, &name, &partition, args.quiet) {
                eprintln!("{PROG}: {}: {e}", name.0);
                failed = true;
            }
        }
        if args.recursive {
            match store.list.subtree(&name.0) {
                Ok(v) => names.extend(v.into_iter().map(|(n, _)| n)),
                Err(e) => {
                    eprintln!("{PROG}: {e}");
                    failed = true;
                }
            }
        } else {
            names.push(name.0);
        }
    }
    let mut roots = std::collections::BTreeSet::new();
    for n in names {
        let name = mboxlist::InternalName(n);
        match one(&store, &name, args.quiet) {
            Ok(()) => {
                if let Ok(Some(r)) = store.list.quota_root_of(&name.0) {
                    roots.insert(r);
                }
            }
            Err(e) => {
                eprintln!("{PROG}: {}: {e}", name.0);
                failed = true;
            }
        }
    }
    for r in roots {
        match store.usage_of_root(&r) {
            Ok((bytes, msgs)) => {
                if let Err(e) = store.list.quota_set_usage(&r, bytes, msgs) {
                    eprintln!("{PROG}: quota root {r}: {e}");
                    failed = true;
                }
            }
            Err(e) => {
                eprintln!("{PROG}: quota root {r}: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(if failed { 1 } else { 0 });
}

fn one(store: &mboxlist::Store, name: &mboxlist::InternalName, quiet: bool) -> Result<(), String> {
    let e = store.lookup(name).map_err(|e| e.to_string())?;
    let paths = store.paths(name, &e).map_err(|e| e.to_string())?;
    let r = mailbox::reconstruct(&paths, &name.0, &e.uniqueid, e.uidvalidity).map_err(|e| e.to_string())?;
    if r.changed() {
        log::info!("reconstruct {}: {} files, {} kept, {} added, {} removed, {} damaged records", name.0, r.files, r.kept, r.added.len(), r.removed.len(), r.damaged);
    }
    if !quiet || r.changed() {
        println!(
            "{}: {} messages{}{}{}{}",
            name.0,
            r.files,
            if r.added.is_empty() { String::new() } else { format!(", added uids {:?}", r.added.iter().map(|u| u.0).collect::<Vec<_>>()) },
            if r.removed.is_empty() { String::new() } else { format!(", removed uids {:?}", r.removed.iter().map(|u| u.0).collect::<Vec<_>>()) },
            if r.damaged == 0 { String::new() } else { format!(", {} damaged records", r.damaged) },
            if r.old_index_unreadable { ", index rebuilt from nothing" } else { "" },
        );
    }
    Ok(())
}

/// Adds to the list every directory below `name`'s place on `partition` that holds
/// message files or a cyrus.header but has no list entry. The places are those of the
/// by-name layout (with `hashimapspool`, a one-level name's children are under every
/// hash directory); a directory counts only where the layout puts the name it stands
/// for. By-id directories (`uuid/A/B/ID`) carry no name and are not looked for.
fn find_on_disk(store: &mboxlist::Store, name: &mboxlist::InternalName, partition: &str, quiet: bool) -> Result<(), String> {
    let probe = Entry { partition: partition.to_string(), ..Default::default() };
    for base in store.dirs_below(name, partition).map_err(|e| e.to_string())? {
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            let mut has_messages = dir.join("cyrus.header").exists();
            for ent in rd.flatten() {
                let p = ent.path();
                if p.is_dir() {
                    stack.push(p);
                } else if ent.file_name().to_str().is_some_and(|n| n.ends_with('.') && n[..n.len() - 1].bytes().all(|b| b.is_ascii_digit())) {
                    has_messages = true;
                }
            }
            if !has_messages {
                continue;
            }
            let rel = dir.strip_prefix(&base).map_err(|e| e.to_string())?;
            let mut found = name.0.clone();
            for c in rel.components() {
                found.push('.');
                found.push_str(&c.as_os_str().to_string_lossy());
            }
            let int = mboxlist::InternalName(found.clone());
            let in_place = store.paths(&int, &probe).is_ok_and(|p| p.data == dir);
            if !in_place || mboxlist::names::validate(&found).is_err() || store.list.lookup(&found)?.is_some() {
                continue;
            }
            let header = mailbox::header::MailboxHeader::read(&dir.join("cyrus.header")).ok();
            let owner = store.ns.owner(&int);
            let e = Entry {
                mbtype: mbtype::NORMAL,
                partition: partition.to_string(),
                uniqueid: header.map(|h| h.uniqueid).unwrap_or_else(mboxlist::store::new_uniqueid),
                uidvalidity: tools::now() as u32,
                acl: owner.map(|o| format!("{o}\t{}\t", mboxlist::acl::ALL_RIGHTS)).unwrap_or_default(),
            };
            store.list.insert(&found, &e)?;
            if !quiet {
                println!("{found}: found on disk, added to the mailbox list");
            }
        }
    }
    Ok(())
}
