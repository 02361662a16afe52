//! `cyr_takeover`: takes over a stopped Cyrus IMAPd site (2.4 to 3.6) in place. The
//! mailbox list ([`site`]), each mailbox ([`convert`]) and the per-user and server
//! data ([`userdata`]) are read from Cyrus's own files and written into this suite's
//! store; message files stay where they are and no Cyrus file is written: Cyrus's
//! per-mailbox `cyrus.header`, `cyrus.index`, `cyrus.cache` (and `cyrus.expunge`,
//! `cyrus.annotations`) are renamed aside with the suffix `.cyrus`, its databases in
//! configdirectory are left untouched. [`revert`] puts the aside files back for a
//! return to Cyrus.

pub mod convert;
pub mod site;
pub mod userdata;

use mboxlist::Store;
use std::collections::HashMap;
use std::path::PathBuf;

/// What a run found and did.
#[derive(Debug, Default)]
pub struct Summary {
    pub mailboxes: usize,
    pub messages: usize,
    pub expunged: usize,
    pub bytes: u64,
    pub users: usize,
    pub skipped: Vec<(String, String)>,
    pub already: usize,
    /// (where, what) of every problem; a problem never stops the other mailboxes.
    pub problems: Vec<(String, String)>,
    pub carried: userdata::Carried,
}

pub struct Options {
    pub dry_run: bool,
    /// The text of `ctl_mboxlist -d` to read instead of mailboxes.db.
    pub dump: Option<PathBuf>,
    pub verbose: bool,
}

/// The site's mailbox list.
pub fn mailbox_list(cfg: &conf::Config, opts: &Options) -> Result<Vec<site::CyrusMailbox>, String> {
    if let Some(d) = &opts.dump {
        let text = std::fs::read_to_string(d).map_err(|e| format!("{}: {e}", d.display()))?;
        return site::from_dump(&text);
    }
    let configdir = PathBuf::from(cfg.get_str("configdirectory").ok_or("configdirectory is not set")?);
    let path = cfg.get_str("mboxlist_db_path").map(PathBuf::from).unwrap_or_else(|| configdir.join("mailboxes.db"));
    let pairs = cyrusdb::kv::read_file(&path).map_err(|e| format!("{e} (the Cyrus mailbox list; give --dump with the output of Cyrus's ctl_mboxlist -d instead)"))?;
    site::from_db(&pairs).map_err(|e| format!("{}: {e}", path.display()))
}

/// Takes the site over (see the module doc).
pub fn run(store: &Store, cfg: &conf::Config, opts: &Options, progress: &mut dyn FnMut(&str)) -> Result<Summary, String> {
    let list = mailbox_list(cfg, opts)?;
    let mut sum = Summary::default();
    let mut by_id = HashMap::new();
    let mut seen_ids: HashMap<String, String> = HashMap::new();
    let mut pending = Vec::new();
    let mut todo: Vec<&site::CyrusMailbox> = Vec::new();
    for m in &list {
        if let Some(why) = m.skip {
            sum.skipped.push((m.name.clone(), why.to_string()));
            continue;
        }
        match m.kind {
            site::Kind::Sieve => continue, // read for the scripts below
            site::Kind::Other(c) => {
                sum.skipped.push((m.name.clone(), format!("a mailbox of type '{c}' (calendar, address book...), which this suite does not serve")));
                continue;
            }
            site::Kind::Email | site::Kind::Netnews => {}
        }
        if m.by_id {
            if let Some(other) = seen_ids.insert(m.uniqueid.clone(), m.name.clone()) {
                sum.problems.push((m.name.clone(), format!("shares uniqueid {} (and so its directory) with {other}: not converted, resolve it under Cyrus first", m.uniqueid)));
                continue;
            }
        }
        todo.push(m);
    }
    // Mailboxes are independent: convert them on every core (each reads and parses
    // its message files, which is where the time goes), then account in list order.
    let outcomes = convert_all(store, &todo, opts.dry_run);
    for (m, (out, entry)) in todo.iter().zip(outcomes) {
        if out.already {
            sum.already += 1;
            by_id.insert(m.uniqueid.clone(), m.name.clone());
            continue;
        }
        pending.extend(entry);
        let failed = !out.converted && !opts.dry_run;
        for p in out.problems {
            sum.problems.push((m.name.clone(), p));
        }
        if failed {
            continue;
        }
        if opts.verbose {
            progress(&format!("{}: {} messages, {} expunged kept", m.name, out.messages, out.expunged));
        }
        sum.mailboxes += 1;
        sum.messages += out.messages;
        sum.expunged += out.expunged;
        sum.bytes += out.bytes;
        by_id.insert(m.uniqueid.clone(), m.name.clone());
    }
    let configdir = PathBuf::from(cfg.get_str("configdirectory").unwrap_or("."));
    if !pending.is_empty() {
        // The converted files reach the disk first, then every entry at once.
        let mut dirs: Vec<PathBuf> = cfg.prefixed("partition-").into_iter().chain(cfg.prefixed("metapartition-")).map(|(_, d)| PathBuf::from(d)).collect();
        dirs.push(configdir.clone());
        for d in &dirs {
            sync_filesystem(d).map_err(|e| format!("{}: cannot sync: {e}", d.display()))?;
        }
        if let Err(e) = store.list.insert_many(&pending) {
            return Err(format!("adding {} mailboxes to the suite's list failed ({e}); run cyr_takeover again", pending.len()));
        }
    }
    let data = userdata::Site { store, configdir, fulldirhash: cfg.get_bool("fulldirhash"), mailboxes: &list, by_id };
    let users = data.users();
    sum.users = users.len();
    if !opts.dry_run {
        let mut problems = Vec::new();
        for u in &users {
            sum.carried.seen += data.seen(u, &mut problems);
            sum.carried.subscriptions += data.subscriptions(u, &mut problems);
            sum.carried.scripts += data.sieve(u, &mut problems);
        }
        sum.carried.quotaroots = data.quotas(&mut problems);
        sum.carried.annotations = data.annotations(&mut problems);
        // Usage as the mailboxes now hold it (quota -f).
        if let Ok(roots) = store.list.quota_roots() {
            for (root, _) in roots {
                match store.usage_of_root(&root) {
                    Ok((bytes, msgs)) => {
                        let _ = store.list.quota_set_usage(&root, bytes, msgs);
                    }
                    Err(e) => problems.push(format!("quota root {root}: {e}")),
                }
            }
        }
        sum.problems.extend(problems.into_iter().map(|p| ("site".to_string(), p)));
    }
    sum.carried.users = users.len();
    Ok(sum)
}

/// Converts `todo` on as many threads as there are cores; the outcomes in `todo`'s
/// order, each with the list entry to add.
fn convert_all(store: &Store, todo: &[&site::CyrusMailbox], dry_run: bool) -> Vec<(convert::Outcome, Option<(String, mboxlist::Entry)>)> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<(convert::Outcome, Option<(String, mboxlist::Entry)>)>>> = Mutex::new((0..todo.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(todo.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(m) = todo.get(i) else { break };
                    let mut pending = Vec::new();
                    let out = convert::convert(store, m, dry_run, &mut pending);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some((out, pending.pop()));
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_default().into_iter().map(|o| o.unwrap_or_default()).collect()
}

/// syncfs(2) of the filesystem holding `dir`.
fn sync_filesystem(dir: &std::path::Path) -> std::io::Result<()> {
    Ok(nix::unistd::syncfs(std::fs::File::open(dir)?)?)
}

/// Puts every taken-over mailbox's Cyrus files back (for a return to Cyrus); this
/// suite's mailbox list is left in place, renamed aside to `mailboxes.lmdb.takeover`
/// so that a new takeover starts afresh.
pub fn revert(store: &Store, cfg: &conf::Config) -> Result<(usize, Vec<String>), String> {
    let mut n = 0;
    let mut problems = Vec::new();
    for (name, e) in store.list.list("").map_err(|e| e.to_string())? {
        match store.paths(&mboxlist::InternalName(name.clone()), &e).map_err(|e| e.to_string()).and_then(|p| convert::revert(&p)) {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(err) => problems.push(format!("{name}: {err}")),
        }
    }
    let configdir = PathBuf::from(cfg.get_str("configdirectory").unwrap_or("."));
    let lmdb = configdir.join("mailboxes.lmdb");
    if problems.is_empty() && lmdb.exists() {
        let aside = configdir.join("mailboxes.lmdb.takeover");
        let _ = std::fs::remove_dir_all(&aside);
        let _ = std::fs::remove_file(&aside);
        std::fs::rename(&lmdb, &aside).map_err(|e| format!("{}: {e}", lmdb.display()))?;
    }
    Ok((n, problems))
}
