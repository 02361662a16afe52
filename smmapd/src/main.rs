//! smmapd: the socketmap service (Sendmail's and Postfix's `socketmap:` tables) that
//! tells an MTA at SMTP time whether lmtpd would take mail for a recipient, as Cyrus's
//! smmapd. Requests and replies are netstrings (`LEN:DATA,`): a request is
//! `MAPNAME KEY`, a reply `OK KEY`, `NOTFOUND reason`, `TEMP reason` or
//! `PERM reason`. A connection carries any number of requests.
//!
//! The recipient is resolved exactly as lmtpd resolves it (`user`, `user+detail`,
//! `user@domain` with virtdomains, `postuser+shared.folder`, `lmtp_downcase_rcpt`), by
//! the same code, as the anonymous poster (a shared folder needs `p` for anyone: without
//! it `PERM Permission denied`, or `NOTFOUND` when it cannot even be seen); a user
//! denied the `smmapd` service by cyr_deny is `NOTFOUND` with the denial's text; a
//! mailbox at or over its quota is `TEMP Over quota` (`PERM` with
//! `lmtp_over_quota_perm_failure`). Unlike Cyrus's smmapd, `user+nosuchfolder` is `OK`
//! (lmtpd files it into INBOX), and nothing is ever created (no autocreate). `-p`
//! ignores the `+detail`, as Cyrus's.

use clap::Parser;

/// Socketmap service for MTAs (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "smmapd", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
    /// Ignore the +detail of recipients (check the user only).
    #[arg(short = 'p')]
    skip_plus: bool,
}

/// Longest request accepted (Cyrus's MAXREQUEST).
const MAX_REQUEST: usize = 1024;

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("smmapd", &args.svc);
    let mut deliverer = match mboxlist::Store::open(&worker.config) {
        Ok(s) => {
            let mut d = lmtpd::deliver::Deliverer::new(s);
            d.lookup_only = true;
            Some(d)
        }
        Err(e) => {
            log::error!("smmapd: mail store unavailable, every lookup gets TEMP: {e}");
            None
        }
    };
    let perm_quota = worker.config.get_bool("lmtp_over_quota_perm_failure");
    worker.run(|_w, mut conn| {
        loop {
            let reply = match read_request(&mut conn) {
                Ok(None) => break,
                Ok(Some(key)) => answer(deliverer.as_mut(), &key, args.skip_plus, perm_quota),
                Err(why) => {
                    // A malformed netstring: no later byte can be trusted to start a request.
                    netstring(&mut conn, &format!("PERM System I/O error ({why})"));
                    let _ = conn.flush();
                    break;
                }
            };
            netstring(&mut conn, &reply);
            if conn.flush().is_err() {
                break;
            }
        }
    });
}

fn netstring(conn: &mut service::conn::Conn, s: &str) {
    conn.write_fmt(format_args!("{}:{s},", s.len()));
}

/// The key of the next request; `None` at a clean end of the connection.
fn read_request(conn: &mut service::conn::Conn) -> Result<Option<String>, &'static str> {
    let mut len = Vec::new();
    loop {
        let mut b = Vec::new();
        match conn.read_exact_into(&mut b, 1) {
            Ok(()) => {}
            Err(_) if len.is_empty() => return Ok(None),
            Err(_) => return Err("missing length"),
        }
        match b[0] {
            b':' if !len.is_empty() => break,
            d @ b'0'..=b'9' if len.len() < 5 => len.push(d),
            // Postfix sends nothing between requests; tolerate line ends from hand tests.
            b'\r' | b'\n' if len.is_empty() => {}
            _ => return Err("missing length"),
        }
    }
    let n: usize = std::str::from_utf8(&len).ok().and_then(|s| s.parse().ok()).ok_or("missing length")?;
    if n > MAX_REQUEST {
        return Err("request too long");
    }
    let mut body = Vec::new();
    conn.read_exact_into(&mut body, n).map_err(|_| "request size doesn't match length")?;
    let mut comma = Vec::new();
    if conn.read_exact_into(&mut comma, 1).is_err() || comma[0] != b',' {
        return Err("missing terminator");
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let (_map, key) = text.split_once(' ').ok_or("missing key")?;
    Ok(Some(key.to_string()))
}

/// The reply for one recipient.
fn answer(d: Option<&mut lmtpd::deliver::Deliverer>, key: &str, skip_plus: bool, perm_quota: bool) -> String {
    let Some(d) = d else { return "TEMP Mail store unavailable".into() };
    let addr = if skip_plus {
        match key.split_once('+') {
            Some((user, rest)) if !user.is_empty() => format!("{user}{}", rest.find('@').map_or("", |i| &rest[i..])),
            _ => key.to_string(),
        }
    } else {
        key.to_string()
    };
    let target = match d.resolve(&addr, "anonymous", false) {
        Ok(t) => t,
        // As Cyrus: a folder the poster may not even see does not exist for it.
        Err(r) if r.code >= 500 && r.text.contains("Permission denied") => {
            return if visible(d, &addr) { "PERM Permission denied".into() } else { "NOTFOUND Mailbox does not exist".into() };
        }
        Err(r) if r.code >= 500 => {
            log::debug!("smmapd: {key}: {}", r.text);
            return "NOTFOUND Mailbox does not exist".into();
        }
        Err(r) => return format!("TEMP {}", r.text),
    };
    if let Some(user) = &target.user {
        match d.store.list.denial(user) {
            Ok(Some(den)) if den.covers("smmapd") => return format!("NOTFOUND {}", den.message),
            Ok(_) => {}
            Err(e) => return format!("TEMP {e}"),
        }
    }
    match d.store.quota_refuses(&target.mailbox, 0, false) {
        Ok(None) => format!("OK {key}"),
        Ok(Some(_)) if perm_quota => "PERM Over quota".into(),
        Ok(Some(_)) => "TEMP Over quota".into(),
        Err(e) => format!("TEMP {e}"),
    }
}

/// Whether anonymous may see (`l`) the shared folder `+folder[@domain]` names.
fn visible(d: &lmtpd::deliver::Deliverer, addr: &str) -> bool {
    let Some((_, rest)) = addr.split_once('+') else { return false };
    let (folder, domain) = rest.split_once('@').map_or((rest, None), |(f, dom)| (f, Some(dom)));
    let folder = if d.store.ns.unixhierarchysep { folder.replace('.', "^").replace('/', ".") } else { folder.to_string() };
    let name = mboxlist::InternalName(match domain {
        Some(dom) if d.store.ns.virtdomains => format!("{}!{folder}", dom.to_ascii_lowercase()),
        _ => folder,
    });
    d.store.lookup(&name).is_ok_and(|e| d.store.rights("anonymous", &name, &e).has('l'))
}
