//! ptloader: the group loader of `auth_mech: pts` (pts_module ldap), a service that
//! master runs from cyrus.conf as Cyrus runs its ptloader. Each connection asks one
//! question, a userid on a line; the answer is "OK" and the user's `group:`
//! identifiers, or "NO" and why. A question `group:NAME` asks whether that group
//! exists (an ACL naming it): "OK group:name". Answers are written to the pts cache of the mailbox
//! list, where every daemon reads them until `ptscache_timeout`. libldap is linked
//! here only, so no mail worker maps it. See ptloader(8).

mod ldap;
mod lookup;

use clap::Parser;
use std::time::{SystemTime, UNIX_EPOCH};

/// Group loader for auth_mech: pts (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "ptloader", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
}

/// A userid longer than this is refused without asking the directory.
const MAX_USERID: usize = 255;

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("ptloader", &args.svc);
    let cfg = worker.config.clone();
    let module = cfg.get_str("pts_module").unwrap_or("afskrb").to_string();
    let pts = lookup::Pts::from_config(&cfg);
    let refusal = if module.eq_ignore_ascii_case("ldap") {
        pts.unsupported().map(str::to_string)
    } else {
        Some(format!("pts_module: {module} is not built; set pts_module: ldap"))
    };
    if let Some(r) = &refusal {
        log::error!("ptloader: {r}");
    }
    let list = cfg.get_str("configdirectory").and_then(|d| match mboxlist::MboxList::open(std::path::Path::new(d), false) {
        Ok(l) => Some(l),
        Err(e) => {
            log::error!("ptloader: mailbox list: {e}; answers are not cached");
            None
        }
    });
    let mut ld: Option<ldap::Ldap> = None;
    worker.run(|_w, mut conn| {
        let mut line = Vec::new();
        if conn.read_line(&mut line, MAX_USERID).is_err() {
            conn.write(b"NO bad request\r\n");
            let _ = conn.flush();
            return;
        }
        let userid = String::from_utf8_lossy(&line).into_owned();
        let answer = if let Some(r) = &refusal {
            Err(r.clone())
        } else if userid.is_empty() || userid.bytes().any(|b| b <= b' ' || b == 0x7f) {
            Err("bad userid".to_string())
        } else {
            ask(&pts, &mut ld, &userid)
        };
        match answer {
            Ok(groups) => {
                let at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                if let Some(l) = list.as_ref().filter(|_| !userid.starts_with("group:")) {
                    if let Err(e) = l.pts_put(&userid, at, &groups) {
                        log::error!("ptloader: caching the groups of {userid}: {e}");
                    }
                }
                log::debug!("ptloader: {userid}: {}", groups.join(" "));
                conn.write_fmt(format_args!("OK {}\r\n", groups.join(" ")));
            }
            Err(e) => {
                log::error!("ptloader: groups of {userid}: {e}");
                conn.write_fmt(format_args!("NO {e}\r\n"));
            }
        }
        let _ = conn.flush();
    });
}

/// The groups of `userid` (or, for `group:NAME`, that group if it exists), over the
/// kept connection; on any failure the connection
/// is made again once (the directory may have restarted).
fn ask(pts: &lookup::Pts, ld: &mut Option<ldap::Ldap>, userid: &str) -> Result<Vec<String>, String> {
    let mut last = String::new();
    for _ in 0..2 {
        if ld.is_none() {
            match lookup::connect(pts) {
                Ok(l) => *ld = Some(l),
                Err(e) => {
                    last = format!("connecting to {}: {e}", pts.settings.uri);
                    continue;
                }
            }
        }
        let l = ld.as_ref().expect("connected above");
        let found = match userid.strip_prefix("group:") {
            Some(name) => pts.group(l, name).map(|g| vec![g]),
            None => pts.groups(l, userid),
        };
        match found {
            Ok(g) => return Ok(g),
            // Not there is an answer, not a broken connection.
            Err(e) if e == "identifier not found" => return Err(e),
            Err(e) => {
                last = e;
                *ld = None;
            }
        }
    }
    Err(last)
}
