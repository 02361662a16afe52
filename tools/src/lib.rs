//! Shared set-up of the administration tools: flags every tool takes and config
//! loading with errors on stderr.

pub mod takeover;

use std::path::PathBuf;

/// Loads imapd.conf for a tool (`-C`, else $CYRUS_CONFIG, else /etc/imapd.conf),
/// starts logging (to syslog, and to stderr when syslog is unreachable), and prints
/// the file's warnings on stderr. Exits with EX_CONFIG on error.
pub fn load_config(program: &'static str, explicit: Option<&PathBuf>) -> conf::Config {
    match service::worker::load_config(explicit) {
        Ok(c) => {
            service::log::init(program, Some(&c), false);
            for d in &c.diags {
                eprintln!("{program}: {}: {d}", if d.warning { "warning" } else { "note" });
            }
            c
        }
        Err(e) => {
            service::log::init(program, None, false);
            service::worker::fatal(program, service::exit::CONFIG, &format!("configuration error: {e}"))
        }
    }
}

/// Opens the store of `cfg`, or exits with the reason.
pub fn open_store(program: &'static str, cfg: &conf::Config) -> mboxlist::Store {
    mboxlist::Store::open(cfg).unwrap_or_else(|e| service::worker::fatal(program, service::exit::CONFIG, &e.to_string()))
}

/// A mailbox named on an admin tool's command line: the internal form (`user.fred`),
/// or the admin's view with the configured separator (`user/fred.smith` when
/// `unixhierarchysep` is on).
pub fn mailbox_arg(store: &mboxlist::Store, arg: &str) -> Result<mboxlist::InternalName, String> {
    // `user/john@example.org` (Cyrus's admin form with virtdomains) is example.org!user.john.
    let (local, domain) = match arg.rsplit_once('@') {
        Some((l, d)) if store.ns.virtdomains && !arg.contains('!') => (l, Some(d)),
        _ => (arg, None),
    };
    let local = if store.ns.unixhierarchysep && local.contains('/') {
        local.replace('.', "^").replace('/', ".")
    } else {
        local.to_string()
    };
    let internal = match domain {
        Some(d) => format!("{}!{local}", d.to_ascii_lowercase()),
        None => local,
    };
    mboxlist::names::validate(&internal).map_err(|e| format!("{arg}: {e}"))?;
    Ok(mboxlist::InternalName(internal))
}

/// An internal name as an administrator writes it: the configured separator, and a
/// domain as `@domain` after the rest (`user/fred@example.org`), as Cyrus's tools show it.
pub fn external(store: &mboxlist::Store, int: &str) -> String {
    let (domain, local) = match int.split_once('!') {
        Some((d, l)) => (Some(d), l),
        None => (None, int),
    };
    let local = if store.ns.unixhierarchysep { local.replace('.', "/").replace('^', ".") } else { local.to_string() };
    match domain {
        Some(d) => format!("{local}@{d}"),
        None => local,
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Mailboxes named by command-line patterns in the admin's view (`user.*`,
/// `user/fred/%` with `unixhierarchysep`): `*` matches anything, `%` anything but a
/// hierarchy separator; no pattern means every mailbox. Sorted internal names.
pub fn matching_mailboxes(store: &mboxlist::Store, patterns: &[String]) -> Result<Vec<(String, mboxlist::list::Entry)>, String> {
    let all = store.list.list("")?;
    if patterns.is_empty() {
        return Ok(all);
    }
    let internal: Vec<String> = patterns
        .iter()
        .map(|p| if store.ns.unixhierarchysep && p.contains('/') { p.replace('.', "^").replace('/', ".") } else { p.clone() })
        .collect();
    Ok(all.into_iter().filter(|(n, _)| internal.iter().any(|p| wildcard(p.as_bytes(), n.as_bytes()))).collect())
}

/// IMAP LIST matching of an internal name: `*` anything, `%` anything but `.`; `\\`
/// makes the next character literal.
fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| wildcard(rest, &s[i..])),
        Some((b'%', rest)) => (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != b'.').any(|i| wildcard(rest, &s[i..])),
        Some((b'\\', [c, rest @ ..])) => s.first() == Some(c) && wildcard(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && wildcard(rest, &s[1..]),
    }
}

/// ctime(3)'s form of a time, with its newline: `Thu Dec  3 14:05:09 2026\n`.
pub fn ctime(t: i64) -> String {
    let t = t as nix::libc::time_t;
    let mut buf = [0 as nix::libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes into a buffer of 64; t lives for the call.
    let p = unsafe { nix::libc::ctime_r(&t, buf.as_mut_ptr()) };
    if p.is_null() {
        return "?\n".into();
    }
    // SAFETY: ctime_r returned our buffer, NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A message as ipurge -n and unexpunge -l print it (Cyrus's layout): UID, size,
/// dates (the Date: field, else the arrival), and From/To/Cc/Bcc as Cyrus's cache
/// keeps them (`Name <a@b>`), the Subject as an IMAP string.
pub fn print_record(out: &mut impl std::io::Write, mb: &mailbox::Mailbox, r: &mailbox::Record, expunged: bool) {
    let sent = if r.sentdate != 0 { r.sentdate } else { r.internaldate };
    let _ = write!(out, "UID: {}\n\tSize: {}\n\tSent: {}\tRecv: {}", r.uid.0, r.size, ctime(sent), ctime(r.internaldate));
    if expunged {
        let _ = write!(out, "\tExpg: {}", ctime(r.last_updated));
    }
    let Some(block) = mb.cache_entry(r).ok().and_then(mailbox::cache::header_block) else {
        let _ = writeln!(out, "\tERROR: cache record missing or corrupt, not printing cache details\n");
        return;
    };
    let fields = message::header_fields(block);
    let get = |name: &str| fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| *v);
    let addr = |name: &str| get(name).map(message::address_display).unwrap_or_default();
    let subject = match get("Subject") {
        None => "NIL".to_string(),
        Some(v) => {
            let v = String::from_utf8_lossy(v).replace("\r\n", "");
            let v = v.trim();
            if v.bytes().any(|b| b == b'"' || b == b'\\' || b >= 0x80 || b < 0x20) {
                format!("{{{}}}\r\n{v}", v.len())
            } else {
                format!("\"{v}\"")
            }
        }
    };
    let _ = write!(out, "\tFrom: {}\n\tTo  : {}\n\tCc  : {}\n\tBcc : {}\n\tSubj: {subject}\n\n", addr("From"), addr("To"), addr("Cc"), addr("Bcc"));
}
