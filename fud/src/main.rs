//! fud: the UDP service that tells a finger-style client how much new mail a user
//! has, as Cyrus's fud (`proto=udp` in cyrus.conf). A datagram `USER|MAILBOX` (the
//! mailbox in the admin's form, `INBOX` meaning USER's) is answered with
//! `USER|MAILBOX|RECENT|LASTREAD|LASTARRIVED` (seconds since the epoch), `UNKNOWN`
//! when there is no such mailbox, or `PERMDENY` when `anonymous` lacks the `0` right
//! on a personal mailbox; the two words end with a NUL byte, as Cyrus sends them.
//! RECENT counts the messages after the last one USER is known to have seen: the
//! owner's \Recent mark in the index, or another user's highest seen UID. LASTREAD is
//! when another user's seen state was last written; the index keeps no such time for
//! the owner, whose LASTREAD is 0.

use clap::Parser;

/// "Where is my mail" UDP service (started by master from cyrus.conf, proto=udp).
#[derive(Parser, Debug)]
#[command(name = "fud", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("fud", &args.svc);
    let store = match mboxlist::Store::open(&worker.config) {
        Ok(s) => Some(s),
        Err(e) => {
            log::error!("fud: mail store unavailable, every request gets UNKNOWN: {e}");
            None
        }
    };
    worker.run_datagrams(|_w, req, from| {
        let text = String::from_utf8_lossy(req);
        let text = text.trim_end_matches(['\0', '\r', '\n']);
        let (who, name) = text.split_once('|')?;
        let reply = match &store {
            Some(s) => answer(s, who, name),
            None => Reply::Unknown,
        };
        log::debug!("fud: {from}: {who}|{name}: {reply:?}");
        Some(match reply {
            Reply::Unknown => b"UNKNOWN\0".to_vec(),
            Reply::Deny => b"PERMDENY\0".to_vec(),
            Reply::Ok { recent, lastread, lastarrived } => format!("{who}|{name}|{recent}|{lastread}|{lastarrived}").into_bytes(),
        })
    });
}

#[derive(Debug)]
enum Reply {
    Unknown,
    Deny,
    Ok { recent: usize, lastread: u64, lastarrived: i64 },
}

fn answer(store: &mboxlist::Store, who: &str, name: &str) -> Reply {
    if who.is_empty() || name.is_empty() {
        return Reply::Unknown;
    }
    let Ok(int) = store.ns.to_internal_as_admin(who, name) else { return Reply::Unknown };
    let Ok(entry) = store.lookup(&int) else { return Reply::Unknown };
    if !entry.is_normal() {
        return Reply::Unknown;
    }
    let owner = store.ns.owner(&int);
    if owner.is_some() && !store.rights("anonymous", &int, &entry).has('0') {
        return Reply::Deny;
    }
    let Ok((_, mb)) = store.open_mailbox(&int) else { return Reply::Unknown };
    let h = mb.header();
    let (lastread, seen_upto) = if owner.as_deref() == Some(who) {
        (0, h.recent_uid)
    } else {
        seen_of(store, who, &entry.uniqueid)
    };
    let recent = mb.records().filter_map(Result::ok).filter(|r| !r.is_expunged() && r.uid.0 > seen_upto).count();
    Reply::Ok { recent, lastread, lastarrived: h.last_appenddate }
}

/// When `who`'s seen state of the mailbox was last written, and its highest seen UID.
fn seen_of(store: &mboxlist::Store, who: &str, uniqueid: &str) -> (u64, u32) {
    store.list.seen_with_time(who, uniqueid).map_or((0, 0), |(t, set)| (t, set.0.last().map_or(0, |r| r.1)))
}
