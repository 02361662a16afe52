//! mkimap: lays out configdirectory and the partitions named in imapd.conf, and
//! creates the mailbox list. Safe to run again: what exists is left as it is.

use clap::Parser;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Create configdirectory, partitions and the mailbox list from imapd.conf.
#[derive(Parser, Debug)]
#[command(name = "mkimap", version)]
struct Args {
    /// imapd.conf to read.
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
}

/// Directories under configdirectory.
const CONFIG_SUBDIRS: &[&str] = &["socket", "proc", "log", "sieve", "deliverdb", "lock"];

fn mkdir(path: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    if path.is_dir() {
        println!("{}: exists", path.display());
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o750)).map_err(|e| e.to_string())?;
    chown(path, owner);
    println!("{}: created", path.display());
    Ok(())
}

fn chown(path: &Path, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        let _ = nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(gid)));
    }
}

/// When run as root, what is created belongs to cyrus_user (as master will run).
fn owner(cfg: &conf::Config) -> Option<(u32, u32)> {
    if !nix::unistd::getuid().is_root() {
        return None;
    }
    let user = cfg.get_str("cyrus_user")?;
    if user.contains('\0') {
        return None;
    }
    let Ok(Some(pw)) = nix::unistd::User::from_name(user) else {
        eprintln!("mkimap: warning: cyrus_user '{user}' does not exist; leaving files owned by root");
        return None;
    };
    Some((pw.uid.as_raw(), pw.gid.as_raw()))
}

fn run(cfg: &conf::Config) -> Result<(), String> {
    let configdir = cfg
        .get_str("configdirectory")
        .ok_or_else(|| format!("{}: configdirectory is not set", cfg.path().display()))?;
    let configdir = Path::new(configdir);
    let own = owner(cfg);
    mkdir(configdir, own)?;
    for sub in CONFIG_SUBDIRS {
        mkdir(&configdir.join(sub), own)?;
    }
    let partitions = cfg.prefixed("partition-");
    if partitions.is_empty() {
        return Err(format!("{}: no partition-NAME is set", cfg.path().display()));
    }
    let default = cfg.get_str("defaultpartition").unwrap_or("default");
    if !partitions.iter().any(|(n, _)| n == default) {
        return Err(format!("defaultpartition '{default}' has no partition-{default} line"));
    }
    for (_, dir) in partitions.iter().chain(cfg.prefixed("metapartition-").iter()) {
        mkdir(Path::new(dir), own)?;
    }
    let list = mboxlist::MboxList::open(configdir, true)?;
    for entry in std::fs::read_dir(list.path()).map_err(|e| e.to_string())? {
        chown(&entry.map_err(|e| e.to_string())?.path(), own);
    }
    chown(list.path(), own);
    println!("{}: mailbox list ready", list.path().display());
    Ok(())
}

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config("mkimap", args.config.as_ref());
    if let Err(e) = run(&cfg) {
        service::worker::fatal("mkimap", service::exit::CONFIG, &e);
    }
}
