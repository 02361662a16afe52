//! cyr_userseen: lists, and with `-d` deletes, the seen records that owners have of
//! their own mailboxes in the seen database, as Cyrus's tool (after a move to
//! keeping the owner's \Seen in the index, which is where the suite always keeps
//! it: records there are left by a takeover or by hand, and nothing reads them).

use clap::Parser;
use std::path::PathBuf;

/// Remove owners' seen state from the seen database (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "cyr_userseen", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Delete (without it, only list what would go).
    #[arg(short = 'd')]
    delete: bool,
}

const PROG: &str = "cyr_userseen";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let boxes = store.list.list("").unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    let mut failed = false;
    for (name, e) in boxes.iter().filter(|(_, e)| e.is_normal()) {
        let Some(owner) = store.ns.owner(&mboxlist::InternalName(name.clone())) else { continue };
        println!("removing seen for {owner} on {name}");
        if args.delete {
            if let Err(err) = store.list.delete_seen(&owner, &e.uniqueid) {
                eprintln!("{PROG}: {name}: {err}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}
