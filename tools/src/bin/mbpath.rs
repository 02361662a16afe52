//! mbpath: prints the directory of each named mailbox (`-m`: its metadata directory).

use clap::Parser;
use std::path::PathBuf;

/// Print mailbox directories (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "mbpath", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Print the metadata directory (cyrus.index, cyrus.cache, cyrus.header).
    #[arg(short = 'm')]
    meta: bool,
    /// Quiet: no error messages.
    #[arg(short = 'q')]
    quiet: bool,
    /// Stop at the first error.
    #[arg(short = 's')]
    stop: bool,
    /// Arguments are userids: print their INBOX.
    #[arg(short = 'u')]
    users: bool,
    #[arg(required = true)]
    mailboxes: Vec<String>,
}

const PROG: &str = "mbpath";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let mut failed = false;
    for m in &args.mailboxes {
        let r = (if args.users { Ok(store.ns.inbox(m)) } else { tools::mailbox_arg(&store, m) })
            .and_then(|n| store.lookup(&n).and_then(|e| store.paths(&n, &e)).map_err(|e| e.to_string()));
        match r {
            Ok(p) => println!("{}", if args.meta { p.meta } else { p.data }.display()),
            Err(e) => {
                failed = true;
                if !args.quiet {
                    eprintln!("{PROG}: {m}: {e}");
                }
                if args.stop {
                    break;
                }
            }
        }
    }
    std::process::exit(i32::from(failed));
}
