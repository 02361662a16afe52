//! cyr_deny: denies users access to services, or allows them again, or lists the
//! denials (Cyrus 3's tool, over the suite's mailbox list).

use clap::Parser;
use mboxlist::deny::{DEFAULT_MESSAGE, Denial};
use std::path::PathBuf;

/// Deny users access to Cyrus services (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "cyr_deny", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Allow the user again (remove the denial).
    #[arg(short = 'a', conflicts_with_all = ["list", "services", "message"])]
    allow: bool,
    /// List the denials.
    #[arg(short = 'l', conflicts_with_all = ["services", "message"])]
    list: bool,
    /// Comma-separated wildmat patterns of cyrus.conf service names (default *).
    #[arg(short = 's', value_name = "services")]
    services: Option<String>,
    /// The message the user is given.
    #[arg(short = 'm', value_name = "message")]
    message: Option<String>,
    #[arg(required_unless_present = "list")]
    user: Option<String>,
}

const PROG: &str = "cyr_deny";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let fail = |e: String| -> ! {
        eprintln!("{PROG}: {e}");
        std::process::exit(1)
    };
    if args.list {
        for (user, d) in store.list.denials().unwrap_or_else(|e| fail(e)) {
            println!("{user}\t{}\t{}", d.services, d.message);
        }
        return;
    }
    let raw = args.user.unwrap_or_default();
    let user = store.ns.canonical_userid(&raw, None).unwrap_or_else(|e| fail(format!("{raw}: {e}")));
    if args.allow {
        if !store.list.allow(&user).unwrap_or_else(|e| fail(e)) {
            eprintln!("{PROG}: {user} was not denied");
        }
        return;
    }
    let services = args.services.unwrap_or_else(|| "*".into());
    if services.contains(['\t', '\n']) || args.message.as_deref().is_some_and(|m| m.contains(['\t', '\n', '\r'])) {
        fail("services and message are one line each, without tabs".into());
    }
    let d = Denial { services, message: args.message.unwrap_or_else(|| DEFAULT_MESSAGE.into()) };
    store.list.deny(&user, &d).unwrap_or_else(|e| fail(e));
}
