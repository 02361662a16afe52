//! arbitron: readership of mailboxes, as Cyrus's report: `NAME READERS SUBSCRIBERS`
//! per mailbox (`-u` adds `:user,user`, `-o` leaves subscribers out, `-l` prints
//! `mailbox,user,r|s,start,end` rows). A reader is a user other than the mailbox's
//! owner whose \Seen state of it was last written in the period (`-d` days, default
//! 30, or `-D mmddyyyy[:mmddyyyy]`); a personal mailbox with no such reader is not
//! reported. `-p months` deletes seen state last written longer ago than that.

use clap::Parser;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

/// Report mailbox readership (Cyrus-compatible flags and output).
#[derive(Parser, Debug)]
#[command(name = "arbitron", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// The old format: no subscribers.
    #[arg(short = 'o')]
    old: bool,
    /// List the users.
    #[arg(short = 'u')]
    users: bool,
    /// Long report: mailbox,user,r|s,start,end rows.
    #[arg(short = 'l')]
    long: bool,
    /// Delete seen state unused for this many months (31 days each).
    #[arg(short = 'p', value_name = "months")]
    prune: Option<u32>,
    /// Readers of the last this many days.
    #[arg(short = 'd', value_name = "days", conflicts_with = "dates")]
    days: Option<u32>,
    /// Readers between these dates (American order), local midnight.
    #[arg(short = 'D', value_name = "mmddyyyy[:mmddyyyy]")]
    dates: Option<String>,
    /// Mailbox pattern (default: every mailbox).
    pattern: Option<String>,
}

const PROG: &str = "arbitron";

fn usage(msg: &str) -> ! {
    eprintln!("{PROG}: {msg}");
    std::process::exit(service::exit::USAGE)
}

/// Local midnight of `mmddyyyy`, through mktime(3).
fn date(s: &str) -> i64 {
    let bad = || usage(&format!("'{s}' is not a date mmddyyyy"));
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        bad();
    }
    let (m, d, y): (i32, i32, i32) = (s[..2].parse().unwrap_or(0), s[2..4].parse().unwrap_or(0), s[4..].parse().unwrap_or(0));
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        bad();
    }
    // SAFETY: tm is a plain struct filled here; mktime only reads and normalises it.
    let t = unsafe {
        let mut tm: nix::libc::tm = std::mem::zeroed();
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        tm.tm_year = y - 1900;
        tm.tm_isdst = -1;
        nix::libc::mktime(&mut tm)
    };
    t as i64
}

/// `%m-%d-%Y %H:%M:%S` in local time, from ctime(3)'s fields.
fn stamp(t: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let c = tools::ctime(t);
    let f: Vec<&str> = c.split_whitespace().collect();
    let m = f.get(1).and_then(|m| MONTHS.iter().position(|x| x == m)).map_or(0, |i| i + 1);
    format!("{m:02}-{:0>2}-{} {}", f.get(2).unwrap_or(&"0"), f.get(4).unwrap_or(&"0"), f.get(3).unwrap_or(&"00:00:00"))
}

fn main() {
    let args = Args::parse();
    if args.days == Some(0) || args.prune == Some(0) {
        usage("-d and -p take a number above 0");
    }
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let now = tools::now();
    let (start, end) = match &args.dates {
        Some(d) => match d.split_once(':') {
            Some((a, b)) => (date(a), date(b)),
            None => (date(d), now),
        },
        None => (now - i64::from(args.days.unwrap_or(30)) * 86_400, now),
    };
    let patterns: Vec<String> = args.pattern.iter().cloned().collect();
    let boxes = tools::matching_mailboxes(&store, &patterns).unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    eprintln!("Loading Mailboxes...Done");
    let by_id: HashMap<&str, &str> = boxes.iter().filter(|(_, e)| e.is_normal()).map(|(n, e)| (e.uniqueid.as_str(), n.as_str())).collect();
    let mut readers: HashMap<&str, Vec<String>> = HashMap::new();
    let mut subscribers: HashMap<String, Vec<String>> = HashMap::new();
    let seen = store.list.seen_records().unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    let prune = args.prune.map(|m| now - i64::from(m) * 31 * 86_400);
    let mut pruned = 0usize;
    for (user, id, t, _) in &seen {
        let t = *t as i64;
        if let Some(name) = by_id.get(id.as_str()) {
            let owner = store.ns.owner(&mboxlist::InternalName((*name).to_string()));
            if owner.as_deref() != Some(user.as_str()) && t >= start && t <= end {
                readers.entry(name).or_default().push(user.clone());
            }
        }
        if prune.is_some_and(|p| t < p) && store.list.delete_seen(user, id).unwrap_or(false) {
            pruned += 1;
        }
    }
    for (user, name) in store.list.all_subscriptions().unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e)) {
        subscribers.entry(name).or_default().push(user);
    }
    eprintln!("Loading Users...Done");
    if pruned > 0 {
        log::info!("arbitron: pruned {pruned} seen records");
    }
    let mut out = std::io::stdout().lock();
    let users = args.users || args.long;
    for (name, e) in &boxes {
        if !e.is_normal() {
            continue;
        }
        let r = readers.get(name.as_str()).cloned().unwrap_or_default();
        let s = subscribers.get(name).cloned().unwrap_or_default();
        if store.ns.owner(&mboxlist::InternalName(name.clone())).is_some() && r.is_empty() {
            continue;
        }
        let ext = tools::external(&store, name);
        if args.long {
            for (list, kind) in [(&r, 'r'), (&s, 's')] {
                for u in list {
                    let _ = writeln!(out, "{ext},{u},{kind},{},{}", stamp(start), stamp(end));
                }
            }
            continue;
        }
        let list = |v: &[String]| if users && !v.is_empty() { format!(":{}", v.join(",")) } else { String::new() };
        let _ = write!(out, "{ext} {}{}", r.len(), list(&r));
        if !args.old {
            let _ = write!(out, " {}{}", s.len(), list(&s));
        }
        let _ = writeln!(out);
    }
}
