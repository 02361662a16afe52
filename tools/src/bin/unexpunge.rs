//! unexpunge: lists or restores messages expunged from a mailbox whose files are still
//! in the spool (until `cyr_expire -X` removes them), as Cyrus's unexpunge: a restored
//! message is appended again under a new UID with its flags, dates and keywords (a
//! client's cache never sees a UID come back), and the expunged record is marked
//! unlinked so it is not restored twice.

use clap::Parser;
use mailbox::{NewMessage, Uid, flag};
use std::io::Write;
use std::path::PathBuf;

/// List or restore expunged messages (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "unexpunge", version)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["list", "time", "all", "uids"])))]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// List the expunged messages (optionally only these UIDs).
    #[arg(short = 'l')]
    list: bool,
    /// Restore messages expunged within this long (seconds, or with m, h, d, w).
    #[arg(short = 't', value_name = "time-interval")]
    time: Option<String>,
    /// Restore every expunged message.
    #[arg(short = 'a')]
    all: bool,
    /// Restore the messages of the UIDs given.
    #[arg(short = 'u')]
    uids: bool,
    /// Unset \Deleted on the restored messages.
    #[arg(short = 'd')]
    undelete: bool,
    /// Set this keyword on the restored messages.
    #[arg(short = 'f', value_name = "flagname")]
    flag: Option<String>,
    /// Verbose.
    #[arg(short = 'v')]
    verbose: bool,
    mailbox: String,
    uid_list: Vec<u32>,
}

const PROG: &str = "unexpunge";

fn interval(s: &str) -> Option<i64> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = num.parse().ok().filter(|n| *n >= 0)?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn fail(msg: &str) -> ! {
    eprintln!("{PROG}: {msg}");
    std::process::exit(1)
}

fn main() {
    let args = Args::parse();
    if args.uids && args.uid_list.is_empty() {
        eprintln!("{PROG}: -u needs at least one UID");
        std::process::exit(service::exit::USAGE);
    }
    let since = args.time.as_deref().map(|t| interval(t).unwrap_or_else(|| {
        eprintln!("{PROG}: '{t}' is not a time interval");
        std::process::exit(service::exit::USAGE)
    }));
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let name = tools::mailbox_arg(&store, &args.mailbox).unwrap_or_else(|e| fail(&e));
    let (_, mut mb) = store.open_mailbox(&name).unwrap_or_else(|e| fail(&format!("{}: {e}", args.mailbox)));
    let wanted = |r: &mailbox::Record| {
        r.is_expunged()
            && !r.has(flag::UNLINKED)
            && (args.uid_list.is_empty() || args.uid_list.contains(&r.uid.0))
            && since.is_none_or(|s| r.last_updated >= tools::now() - s)
    };
    let found: Vec<mailbox::Record> = mb.records().filter_map(Result::ok).filter(|r| wanted(r)).collect();
    let mut out = std::io::stdout().lock();
    if args.list {
        for r in &found {
            tools::print_record(&mut out, &mb, r, true);
        }
        return;
    }
    let _ = writeln!(out, "restoring expunged messages in mailbox '{}'", args.mailbox);
    let mut restored = 0usize;
    for r in &found {
        match restore(&store, &name, &mut mb, r, args.undelete, args.flag.as_deref()) {
            Ok(uid) => {
                restored += 1;
                if args.verbose {
                    let _ = writeln!(out, "Unexpunged {}: {} => {}", args.mailbox, r.uid.0, uid.0);
                }
                log::info!("unexpunge: {}: restored UID {} as {}", name.0, r.uid.0, uid.0);
            }
            Err(e) => {
                let _ = writeln!(out, "restored {restored} expunged messages");
                fail(&format!("{}: UID {}: {e}", args.mailbox, r.uid.0));
            }
        }
    }
    let _ = writeln!(out, "restored {restored} expunged messages");
}

/// Appends the expunged message `r` again (its file hard-linked), then marks the old
/// record unlinked and removes its name: a crash between the two leaves the message
/// restored and still listed as expunged, never lost.
fn restore(store: &mboxlist::Store, name: &mboxlist::InternalName, mb: &mut mailbox::Mailbox, r: &mailbox::Record, undelete: bool, extra: Option<&str>) -> Result<Uid, String> {
    let old = mb.paths().message(r.uid);
    let raw = std::fs::read(&old).map_err(|e| format!("{}: {e}", old.display()))?;
    let mut keywords: Vec<&str> = mb.user_flags().iter().enumerate().filter(|(i, _)| r.has_user_flag(*i)).map(|(_, n)| n.as_str()).collect();
    if let Some(f) = extra {
        keywords.push(f);
    }
    let keywords: Vec<String> = keywords.into_iter().map(str::to_string).collect();
    let kw: Vec<&str> = keywords.iter().map(String::as_str).collect();
    let mut flags = r.system_flags & flag::IMAP;
    if undelete {
        flags &= !flag::DELETED;
    }
    let msg = NewMessage { raw: &raw, flags, keywords: &kw, internaldate: r.internaldate, parsed: None, link_from: Some(&old) };
    let uid = store.append(name, mb, &[msg], true).map_err(|e| e.to_string())?[0];
    mb.lock().and_then(|mut w| w.mark_unlinked(&[r.uid])).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&old);
    Ok(uid)
}
