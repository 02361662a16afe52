//! Sieve at delivery: the recipient's active script is found where Cyrus keeps it
//! (`sieve::store`), compiled once per worker and reused while the file is unchanged,
//! run by the engine, and its actions turned into a plan that `deliver` carries out:
//! mailboxes to store into (with flags), a reject reply, and messages to hand to the
//! `sendmail` program (redirect, vacation, notify mailto).
//!
//! As in Cyrus 3.6: mailbox names are the user's own (IMAP names as that user sees
//! them); a fileinto to a mailbox that does not exist (and may not be created) or that
//! the user may not post to goes to the default target with the flag `$SieveFailed`;
//! a script that fails at run time files the message there too with `$SieveFailed`,
//! and logs `sieve runtime error for USER id MSGID: TEXT`; a message is never lost
//! because of a script. A redirect is made once per message and address (the deliver
//! database remembers it), which is also what stops two users' scripts from
//! redirecting one message between them for ever.

use crate::deliver::Reply;
use deliverdb::DeliverDb;
use mboxlist::{InternalName, Store};
use sieve::store::ScriptDir;
use sieve::{Action, Extensions, Host, Limits, Script};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::SystemTime;

/// Compiled scripts kept per worker.
const CACHE_MAX: usize = 128;
/// Largest script file lmtpd reads (timsieved keeps scripts to sieve_maxscriptsize,
/// 32 KiB by default; this bounds one placed by hand).
const SCRIPT_FILE_MAX: u64 = 8 << 20;
/// The flag a message gets when its script failed (Cyrus's).
pub const FAILED_FLAG: &str = "$SieveFailed";

/// Where one copy of the message goes.
#[derive(Clone, Debug)]
pub struct StoreTo {
    pub mailbox: InternalName,
    pub flags: Vec<String>,
}

/// A message to hand to `sendmail`.
#[derive(Debug)]
pub struct Outgoing {
    pub kind: &'static str,
    pub sender: String,
    pub recipients: Vec<String>,
    pub message: Vec<u8>,
    /// Deliver-database (id, recipient) to mark once sent (redirect loop protection).
    pub track: Option<(String, String)>,
    /// A copy of the message for this mailbox (`:fcc`).
    pub fcc: Option<StoreTo>,
    /// More sendmail options (redirect-dsn's `-N` and `-R`).
    pub options: Vec<String>,
}

/// What the script decided for one recipient.
pub enum Plan {
    /// No script: deliver as without Sieve.
    NoScript,
    Reject(Reply),
    Deliver {
        stores: Vec<StoreTo>,
        sends: Vec<Outgoing>,
        /// The message with editheader's changes.
        edited: Option<Vec<u8>>,
    },
}

/// The envelope and connection facts a script may test.
pub struct Context<'a> {
    pub sender: &'a str,
    pub auth: Option<&'a str>,
    pub remote_host: String,
    pub remote_ip: String,
}

pub struct Runner {
    exts: Extensions,
    limits: Limits,
    cache: HashMap<PathBuf, (SystemTime, u64, Rc<Script>)>,
    sendmail: String,
    postmaster: String,
    servername: String,
    utf8fileinto: bool,
    anysievefolder: bool,
    autocreate: Vec<String>,
    seq: u64,
}

fn now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A stable short hash, for keys of messages without a Message-ID.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3))
}

impl Runner {
    pub fn new(cfg: &conf::Config) -> Runner {
        let secs = |name: &str| cfg.get_duration(name).as_secs();
        let exts = Extensions::from_config(cfg.get_str("sieve_extensions"));
        let max_redirects = cfg.get_int("sieve_maxredirects");
        Runner {
            exts,
            limits: Limits {
                max_redirects: if max_redirects > 0 { max_redirects as usize } else { usize::MAX },
                vacation_min: secs("sieve_vacation_min_response"),
                vacation_max: secs("sieve_vacation_max_response"),
                duplicate_max: secs("sieve_duplicate_max_expiration"),
                ..Limits::default()
            },
            cache: HashMap::new(),
            sendmail: cfg.get_str("sendmail").unwrap_or("/usr/lib/sendmail").to_string(),
            postmaster: cfg.get_str("postmaster").unwrap_or("postmaster").to_string(),
            servername: cfg.get_str("servername").map(str::to_string).unwrap_or_else(service::worker::hostname),
            utf8fileinto: cfg.get_bool("sieve_utf8fileinto"),
            anysievefolder: cfg.get_bool("anysievefolder"),
            autocreate: cfg.get_str("autocreate_sieve_folders").unwrap_or("").split('|').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            seq: 0,
        }
    }

    /// The user's active script, compiled (from the cache while the file is unchanged).
    /// `Err` holds a compile error to log; the message is then delivered as if the
    /// script had failed.
    fn script(&mut self, dir: &ScriptDir) -> Option<Result<Rc<Script>, String>> {
        let name = dir.active_name()?;
        let path = dir.file(&name).ok().flatten()?;
        let meta = std::fs::metadata(&path).ok()?;
        let (mtime, len) = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
        if len > SCRIPT_FILE_MAX {
            return Some(Err(format!("script {name}: larger than {SCRIPT_FILE_MAX} bytes, not read")));
        }
        if let Some((m, l, s)) = self.cache.get(&path) {
            if *m == mtime && *l == len {
                return Some(Ok(s.clone()));
            }
        }
        let (_, src) = dir.active()?;
        Some(match sieve::compile(&src, &self.exts) {
            Ok(s) => {
                let s = Rc::new(s);
                if self.cache.len() >= CACHE_MAX {
                    self.cache.clear();
                }
                self.cache.insert(path, (mtime, len, s.clone()));
                Ok(s)
            }
            Err(e) => Err(format!("script {name}: {e}")),
        })
    }

    /// Runs `user`'s script for a message bound for `default` (INBOX or the
    /// `+detail` folder) and says what to do.
    #[allow(clippy::too_many_arguments)]
    pub fn plan(&mut self, store: &Store, db: &mut DeliverDb, user: &str, rcpt: &str, default: &InternalName, raw: &[u8], parsed: &message::Message, ctx: &Context) -> Plan {
        let Ok(dir) = ScriptDir::for_user(&store.cfg, user) else { return Plan::NoScript };
        let Some(script) = self.script(&dir) else { return Plan::NoScript };
        let msgid = parsed.fields().message_id.clone().unwrap_or_else(|| "<nomsgid>".to_string());
        let failed = |why: &str| {
            log::error!("sieve runtime error for {user} id {msgid}: {why}");
            Plan::Deliver { stores: vec![StoreTo { mailbox: default.clone(), flags: vec![FAILED_FLAG.to_string()] }], sends: Vec::new(), edited: None }
        };
        let script = match script {
            Ok(s) => s,
            Err(e) => return failed(&e),
        };
        let now = now();
        let domain = self.servername.split_once('.').map_or("", |(_, d)| d).to_string();
        let env = [
            ("domain", domain),
            ("host", self.servername.clone()),
            ("location", "MDA".to_string()),
            ("name", "Cyrus LMTP".to_string()),
            ("phase", "during".to_string()),
            ("remote-host", ctx.remote_host.clone()),
            ("remote-ip", ctx.remote_ip.clone()),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
        ];
        let input = sieve::Input {
            raw,
            parsed,
            envelope: sieve::Envelope { from: ctx.sender.to_string(), to: rcpt.to_string(), auth: ctx.auth.map(str::to_string) },
            user,
            now,
            environment: &env,
        };
        let mut host = LmtpHost { store, db, user, dir: &dir, utf8: self.utf8fileinto, now };
        let outcome = match sieve::execute(&script, &input, &mut host, &self.exts, &self.limits) {
            Ok(o) => o,
            Err(e) => return failed(&e.0),
        };
        if let Some(why) = outcome.vacation_skipped {
            log::debug!("sieve vacation for {user} id {msgid} not sent: {why}");
        }
        let headers = sieve::headers::Headers::new(outcome.edited.as_deref().unwrap_or(raw));
        let mut stores = Vec::new();
        let mut sends = Vec::new();
        for action in &outcome.actions {
            match action {
                Action::Keep { flags } => stores.push(StoreTo { mailbox: default.clone(), flags: flags.clone() }),
                Action::FileInto(f) => match self.resolve_target(store, user, f) {
                    Ok(mailbox) => stores.push(StoreTo { mailbox, flags: f.flags.clone() }),
                    Err(why) => {
                        log::error!("sieve runtime error for {user} id {msgid}: Fileinto ({}): {why}", f.mailbox);
                        stores.push(StoreTo { mailbox: default.clone(), flags: vec![FAILED_FLAG.to_string()] });
                    }
                },
                Action::Discard => log::info!("sieve discarded: {msgid}"),
                Action::Reject { reason, .. } => {
                    log::info!("sieve LMTP rejected: {msgid}");
                    return Plan::Reject(reject_reply(reason));
                }
                Action::Redirect { address, list, notify, ret, .. } => {
                    let recipients = if *list {
                        match list_members(&dir, address) {
                            Some(m) if !m.is_empty() => m,
                            _ => {
                                log::error!("sieve runtime error for {user} id {msgid}: Redirect ({address}): no such list");
                                stores.push(StoreTo { mailbox: default.clone(), flags: vec![FAILED_FLAG.to_string()] });
                                continue;
                            }
                        }
                    } else {
                        vec![address.clone()]
                    };
                    let id = match parsed.fields().message_id.as_deref() {
                        Some(id) => format!("{id}-{address}"),
                        None => format!("<{:016x}>-{address}", fnv(raw)),
                    };
                    let track = (id, format!(".{user}.sieve."));
                    if let Ok(Some(_)) = db.check(&track.0, &track.1) {
                        log::info!("dupelim: eliminated duplicate message to {address} id {msgid} (redirect)");
                        continue;
                    }
                    let body = outcome.edited.as_deref().unwrap_or(raw);
                    let mut m = b"X-Sieve-Action: redirect\r\n".to_vec();
                    m.extend_from_slice(&without_return_path(body));
                    let mut dsn = Vec::new();
                    if let Some(n) = notify {
                        dsn.extend(["-N".to_string(), n.clone()]);
                    }
                    if let Some(r) = ret {
                        dsn.extend(["-R".to_string(), r.clone()]);
                    }
                    sends.push(Outgoing { kind: "redirect", sender: ctx.sender.to_string(), recipients, message: m, track: Some(track), fcc: None, options: dsn });
                }
                Action::Vacation(v) => {
                    self.seq += 1;
                    let m = sieve::vacation::build_reply(v, &input, &headers, &self.servername, &crate::data::rfc5322_now(), self.seq);
                    let fcc = v.fcc.as_ref().and_then(|f| self.resolve_target(store, user, f).ok().map(|mailbox| StoreTo { mailbox, flags: f.flags.clone() }));
                    sends.push(Outgoing { kind: "vacation", sender: "<>".into(), recipients: vec![v.to.clone()], message: m, track: None, fcc, options: Vec::new() });
                }
                Action::Notify(n) => {
                    let Some(to) = sieve::notify::parse_mailto(&n.method) else { continue };
                    self.seq += 1;
                    let from = n.from.clone().unwrap_or_else(|| format!("Mail Sieve Subsystem <{}>", self.postmaster));
                    let m = sieve::vacation::build_notification(n, &to, &from, &self.servername, &crate::data::rfc5322_now(), now, self.seq);
                    let fcc = n.fcc.as_ref().and_then(|f| self.resolve_target(store, user, f).ok().map(|mailbox| StoreTo { mailbox, flags: f.flags.clone() }));
                    sends.push(Outgoing { kind: "notify", sender: "<>".into(), recipients: to.to.clone(), message: m, track: None, fcc, options: Vec::new() });
                }
            }
        }
        // keep and fileinto of the same mailbox store once, with the later flags
        // (RFC 5228 §2.10.3; Cyrus merges them the same way).
        let mut merged: Vec<StoreTo> = Vec::with_capacity(stores.len());
        for st in stores {
            match merged.iter_mut().find(|m| m.mailbox == st.mailbox) {
                Some(m) => {
                    let failed = m.flags.iter().any(|f| f == FAILED_FLAG);
                    m.flags = st.flags;
                    if failed && !m.flags.iter().any(|f| f == FAILED_FLAG) {
                        m.flags.push(FAILED_FLAG.to_string());
                    }
                }
                None => merged.push(st),
            }
        }
        Plan::Deliver { stores: merged, sends, edited: outcome.edited }
    }

    /// The mailbox a fileinto (or `:fcc`) names, created when allowed; an error says
    /// why the message cannot go there.
    fn resolve_target(&self, store: &Store, user: &str, f: &sieve::FileInto) -> Result<InternalName, String> {
        if let Some(id) = &f.mailboxid {
            if let Some(name) = find_by_uniqueid(store, user, id) {
                return Ok(name);
            }
        }
        if let Some(u) = &f.specialuse {
            if let Some(name) = find_special_use(store, user, u) {
                return Ok(name);
            }
        }
        let name = to_internal(store, user, &f.mailbox, self.utf8fileinto).ok_or("Invalid mailbox name")?;
        let entry = match store.lookup(&name) {
            Ok(e) => e,
            Err(_) => {
                let rel = f.mailbox.trim_start_matches("INBOX").trim_start_matches(['.', '/']);
                let allowed = f.create || self.anysievefolder || self.autocreate.iter().any(|a| a == rel || a == &f.mailbox);
                let own = store.ns.owner(&name).is_some_and(|o| o.eq_ignore_ascii_case(user));
                if !allowed || !own {
                    return Err("Mailbox does not exist".into());
                }
                let e = store.create(&name, None, None).map_err(|e| format!("cannot create: {e}"))?;
                log::info!("autosievefolder: created {} for {user}", name.0);
                if let Some(u) = &f.specialuse {
                    let _ = store.list.set_annotation(&name.0, "/specialuse", "", Some(u.as_bytes()));
                }
                e
            }
        };
        if !store.rights(user, &name, &entry).has('p') {
            return Err("Permission denied".into());
        }
        Ok(name)
    }

    /// Hands a message to `sendmail -i [-N NOTIFY] [-R RET] -f SENDER -- RECIPIENTS`;
    /// true when it took it.
    pub fn send(&self, o: &Outgoing) -> bool {
        service::sendmail::send(&self.sendmail, &format!("sieve {}", o.kind), &o.options, &o.sender, &o.recipients, &o.message)
    }
}

/// A reject reason as the recipient's reply: `550 5.7.1` on every line (the reason
/// split at line ends, empty lines dropped), as Cyrus answers over LMTP.
fn reject_reply(reason: &str) -> Reply {
    let lines: Vec<String> = reason.split(['\r', '\n']).filter(|l| !l.trim().is_empty()).map(|l| format!("5.7.1 {}", l.chars().filter(|c| !c.is_control()).take(400).collect::<String>())).take(20).collect();
    let text = if lines.is_empty() { "5.7.1 Message rejected".to_string() } else { lines.join("\n") };
    Reply::new(550, text)
}

/// The stored message less lmtpd's `Return-Path` (a redirect gets a new one).
fn without_return_path(raw: &[u8]) -> Vec<u8> {
    let hl = sieve::headers::header_len(raw);
    let mut out = Vec::with_capacity(raw.len());
    let mut skipping = false;
    for line in raw[..hl].split_inclusive(|&b| b == b'\n') {
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            skipping = line.len() >= 12 && line[..12].eq_ignore_ascii_case(b"return-path:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&raw[hl..]);
    out
}

fn to_internal(store: &Store, user: &str, name: &str, utf8: bool) -> Option<InternalName> {
    let ext = if utf8 { mboxlist::names::encode_mutf7(name) } else { name.to_string() };
    if ext.starts_with('\\') {
        return find_special_use(store, user, &ext);
    }
    store.ns.to_internal(user, &ext).ok()
}

/// The user's mailboxes (INBOX first).
fn own_mailboxes(store: &Store, user: &str) -> Vec<(String, mboxlist::Entry)> {
    let inbox = store.ns.inbox(user);
    store.list.subtree(&inbox.0).unwrap_or_default()
}

fn special_uses(store: &Store, name: &str) -> String {
    store.list.annotation(name, "/specialuse", "").ok().flatten().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default()
}

fn find_special_use(store: &Store, user: &str, use_: &str) -> Option<InternalName> {
    own_mailboxes(store, user).into_iter().map(|(n, _)| n).find(|n| special_uses(store, n).split_whitespace().any(|u| u.eq_ignore_ascii_case(use_))).map(InternalName)
}

fn find_by_uniqueid(store: &Store, user: &str, id: &str) -> Option<InternalName> {
    own_mailboxes(store, user).into_iter().find(|(_, e)| e.uniqueid == id).map(|(n, _)| InternalName(n))
}

/// The store as the engine sees it, for one user.
struct LmtpHost<'a> {
    store: &'a Store,
    db: &'a mut DeliverDb,
    user: &'a str,
    dir: &'a ScriptDir,
    utf8: bool,
    now: i64,
}

impl Host for LmtpHost<'_> {
    fn mailbox_exists(&mut self, name: &str) -> bool {
        to_internal(self.store, self.user, name, self.utf8).is_some_and(|n| self.store.lookup(&n).is_ok())
    }

    fn special_use_exists(&mut self, mailbox: Option<&str>, uses: &[String]) -> bool {
        let candidates: Vec<String> = match mailbox {
            Some(m) => to_internal(self.store, self.user, m, self.utf8).into_iter().map(|n| n.0).collect(),
            None => own_mailboxes(self.store, self.user).into_iter().map(|(n, _)| n).collect(),
        };
        let inbox = self.store.ns.inbox(self.user).0;
        uses.iter().all(|u| {
            candidates.iter().any(|n| (u.eq_ignore_ascii_case("\\Inbox") && *n == inbox) || special_uses(self.store, n).split_whitespace().any(|x| x.eq_ignore_ascii_case(u)))
        })
    }

    fn metadata(&mut self, mailbox: Option<&str>, entry: &str) -> Option<String> {
        let name = match mailbox {
            Some(m) => to_internal(self.store, self.user, m, self.utf8)?.0,
            None => String::new(),
        };
        let (rest, userid) = if let Some(r) = entry.strip_prefix("/private") {
            (r, self.user)
        } else if let Some(r) = entry.strip_prefix("/shared") {
            (r, "")
        } else {
            return None;
        };
        let v = self.store.list.annotation(&name, rest, userid).ok().flatten()?;
        (!v.is_empty()).then(|| String::from_utf8_lossy(&v).into_owned())
    }

    /// Entries hold the time they expire (as Cyrus's do), so `ctl_deliver -E DAYS`
    /// removes them only DAYS after they stopped mattering.
    fn duplicate(&mut self, key: &str, seconds: u64, last: bool) -> bool {
        let rcpt = format!(".{}.sieve.", self.user);
        let now = self.now.max(0) as u64;
        let seen = matches!(self.db.check(key, &rcpt), Ok(Some(expires)) if expires > now);
        if (!seen || last) && seconds > 0 {
            if let Err(e) = self.db.mark(key, &rcpt, now + seconds) {
                log::warn!("sieve: cannot record {key} for {}: {e}", self.user);
            }
        }
        seen
    }

    fn include(&mut self, name: &str, global: bool) -> Option<Vec<u8>> {
        if !global {
            return self.dir.get(name).ok().flatten();
        }
        let domain = self.user.split_once('@').map(|(_, d)| d);
        if domain.is_some() {
            if let Some(src) = ScriptDir::global(&self.store.cfg, domain).ok().and_then(|d| d.get(name).ok().flatten()) {
                return Some(src);
            }
        }
        ScriptDir::global(&self.store.cfg, None).ok()?.get(name).ok().flatten()
    }

    fn list_contains(&mut self, list: &str, value: &str) -> Option<bool> {
        Some(list_members(self.dir, list)?.iter().any(|l| l.eq_ignore_ascii_case(value.trim())))
    }
}

/// extlists: a list is the file `lists/NAME` in the user's script directory (NAME
/// with every character but letters, digits, `.`, `_` and `-` written `%XX`), one
/// address per line; `None` when there is no such list.
fn list_members(dir: &ScriptDir, list: &str) -> Option<Vec<String>> {
    let file: String = list.bytes().map(|b| if b.is_ascii_alphanumeric() || b"._-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
    let text = std::fs::read_to_string(dir.path()?.join("lists").join(file)).ok()?;
    Some(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect())
}
