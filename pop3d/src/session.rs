//! One POP3 session (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034).
//!
//! Authorization: USER/PASS and AUTH PLAIN/LOGIN only under TLS unless
//! `allowplaintext`; other SASL mechanisms as libsasl2 offers them (service `pop`).
//! Transaction: STAT, LIST, UIDL, RETR, TOP, DELE, NOOP, RSET, QUIT; QUIT expunges what
//! was deleted, a dropped connection expunges nothing.

use crate::maildrop::{Maildrop, OpenError};
use mailbox::{FlagOp, flag};
use mboxlist::Store;
use service::auth::AuthError;
use service::{Conn, ReadError, StartTls, Worker};
use std::path::PathBuf;
use std::time::Duration;

/// RFC 2449: command lines are at most 255 octets (SASL responses may be longer).
const MAX_LINE: usize = 255;
const MAX_SASL_LINE: usize = 16 * 1024;

pub struct Session<'a> {
    w: &'a Worker,
    store: Option<&'a Store>,
    host: String,
    user: Option<String>,
    drop: Option<Maildrop>,
    failures: u32,
    retrieved: u32,
    /// The APOP challenge of the greeting, when APOP is offered.
    apop: Option<String>,
    /// This login, counted for maxlogins_per_host/user while the session lasts.
    proc_login: Option<service::procs::Login>,
}

enum Flow {
    Go,
    Quit,
}

impl<'a> Session<'a> {
    pub fn new(w: &'a Worker, store: Option<&'a Store>) -> Session<'a> {
        Session { w, store, host: w.servername(), user: None, drop: None, failures: 0, retrieved: 0, apop: None, proc_login: None }
    }

    fn plaintext_ok(&self, conn: &Conn) -> bool {
        service::auth::plaintext_ok(self.w, conn)
    }

    pub fn run(&mut self, conn: &mut Conn) {
        let timeout = self.w.config.get_duration("poptimeout").max(Duration::from_secs(600));
        let _ = conn.set_timeout(Some(timeout));
        // APOP (allowapop): a challenge unique to this session, in the greeting, when
        // libsasl2 can check it.
        if self.w.config.get_bool("allowapop") && self.sasl(conn).is_some_and(|c| c.apop_available()) {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            self.apop = Some(format!("<{}.{t}@{}>", std::process::id(), self.host));
        }
        let challenge = self.apop.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
        conn.write_fmt(format_args!("+OK {} Cyrus-compatible POP3 server ready{challenge}\r\n", self.host));
        if conn.flush().is_err() {
            return;
        }
        let mut line = Vec::with_capacity(256);
        loop {
            let flow = match conn.read_line(&mut line, MAX_LINE) {
                Ok(()) => self.command(conn, &String::from_utf8_lossy(&line)),
                Err(ReadError::TooLong) => {
                    conn.write(b"-ERR Line too long\r\n");
                    Flow::Go
                }
                Err(ReadError::Timeout) => {
                    conn.write(b"-ERR Autologout; idle for too long\r\n");
                    let _ = conn.flush();
                    break;
                }
                Err(_) => break,
            };
            if (conn.buffered() == 0 || matches!(flow, Flow::Quit)) && conn.flush().is_err() {
                break;
            }
            if matches!(flow, Flow::Quit) {
                return;
            }
        }
        if let Some(d) = &self.drop {
            log::info!("autologout or disconnect: {} {}: nothing expunged", conn.peer, d.name.0);
        }
    }

    fn command(&mut self, conn: &mut Conn, line: &str) -> Flow {
        if self.drop.is_none() && line.len() >= 5 && line.as_bytes()[..5].eq_ignore_ascii_case(b"PASS ") {
            // The password is everything after "PASS ", spaces included.
            let pass = line[5..].to_string();
            return self.pass(conn, &pass);
        }
        let (cmd, args) = split_command(line);
        if self.drop.is_none() {
            return self.authorization(conn, &cmd, &args);
        }
        self.transaction(conn, &cmd, &args)
    }

    fn capa(&self, conn: &mut Conn) {
        conn.write(b"+OK List of capabilities follows\r\n");
        let mut caps = vec!["TOP".to_string(), "UIDL".into(), "RESP-CODES".into(), "AUTH-RESP-CODE".into(), "PIPELINING".into()];
        let minpoll = self.w.config.get_duration("popminpoll").as_secs();
        if minpoll > 0 {
            caps.push(format!("LOGIN-DELAY {minpoll}"));
        }
        let exp = self.w.config.get_int("popexpiretime");
        caps.push(if exp < 0 { "EXPIRE NEVER".into() } else { format!("EXPIRE {exp}") });
        if self.drop.is_none() {
            if !conn.is_tls() && self.w.tls_configured() {
                caps.push("STLS".into());
            }
            if self.plaintext_ok(conn) {
                caps.push("USER".into());
            }
            if let Some(m) = self.sasl(conn).and_then(|c| c.mechanisms().ok()) {
                if !m.is_empty() {
                    caps.push(format!("SASL {}", m.join(" ")));
                }
            }
        }
        caps.push(format!("IMPLEMENTATION Cyrus-compatible POP3 server {}", env!("CARGO_PKG_VERSION")));
        for c in caps {
            conn.write_fmt(format_args!("{c}\r\n"));
        }
        conn.write(b".\r\n");
    }

    fn sasl(&self, conn: &Conn) -> Option<sasl::ServerConn> {
        service::auth::server_conn(self.w, conn, "pop")
    }

    fn failed(&mut self, conn: &mut Conn, who: &str, mech: &str, why: &str) {
        self.refused(conn, who, mech, why, b"-ERR [AUTH] Invalid login\r\n");
    }

    /// A login libsasl2 could not check (password service down or hanging): logged
    /// as refused, and the client told it is temporary (RFC 3206 SYS/TEMP).
    fn sasl_failed(&mut self, conn: &mut Conn, who: &str, mech: &str, e: &sasl::SaslError) {
        let answer: &[u8] = if e.is_temporary() { b"-ERR [SYS/TEMP] Authentication service unavailable, try again later\r\n" } else { b"-ERR [AUTH] Invalid login\r\n" };
        self.refused(conn, who, mech, &e.to_string(), answer);
    }

    fn refused(&mut self, conn: &mut Conn, who: &str, mech: &str, why: &str, answer: &[u8]) {
        service::identity::refuse_login(conn, &mut self.failures, mech, who, why);
        conn.write(answer);
    }

    fn authorization(&mut self, conn: &mut Conn, cmd: &str, args: &[&str]) -> Flow {
        match cmd {
            "CAPA" => self.capa(conn),
            "QUIT" => {
                conn.write(b"+OK\r\n");
                return Flow::Quit;
            }
            "STLS" if self.user.is_some() => conn.write(b"-ERR STLS not allowed after USER\r\n"),
            "STLS" => match self.w.starttls(conn, b"+OK Begin TLS negotiation\r\n") {
                StartTls::Done => {}
                StartTls::Unavailable => conn.write(b"-ERR TLS not available\r\n"),
                StartTls::AlreadyActive => conn.write(b"-ERR TLS already active\r\n"),
                StartTls::Pipelined => conn.write(b"-ERR Nothing may follow STLS in the same packet\r\n"),
                StartTls::Lost => return Flow::Quit,
            },
            "USER" => {
                if !self.plaintext_ok(conn) {
                    conn.write(b"-ERR [SYS/PERM] Plaintext logins are only allowed under TLS (STLS)\r\n");
                } else if args.len() != 1 {
                    conn.write(b"-ERR Syntax: USER name\r\n");
                } else {
                    self.user = Some(args[0].to_string());
                    conn.write(b"+OK Name is a valid mailbox\r\n");
                }
            }
            "PASS" => return self.pass(conn, ""),
            "AUTH" => return self.auth(conn, args),
            "APOP" => return self.apop(conn, args),
            _ => conn.write(b"-ERR Unrecognized command or not allowed before login\r\n"),
        }
        Flow::Go
    }

    fn pass(&mut self, conn: &mut Conn, pass: &str) -> Flow {
        let Some(user) = self.user.take() else {
            conn.write(b"-ERR Give USER first\r\n");
            return Flow::Go;
        };
        // popsubfolders: fred+folder authenticates as fred (the domain stays).
        // As Cyrus, a login is looked up lowered (username_tolower) and with the
        // default domain's users under their bare name.
        let auth_user = self.strip_folder(&user);
        let auth_user = match self.store.map(|st| st.ns.canonical_userid(&auth_user, None)) {
            Some(Ok(u)) => u,
            Some(Err(e)) => {
                self.failed(conn, &auth_user, "plaintext", &e.to_string());
                return Flow::Go;
            }
            None => auth_user,
        };
        let checked = match self.sasl(conn) {
            Some(mut c) => c.checkpass(&auth_user, pass.as_bytes()),
            None => Err(sasl::SaslError { code: sasl::SASL_UNAVAIL, detail: "SASL is not available".into() }),
        };
        match checked {
            Ok(()) => self.login(conn, &auth_user, &user, "plaintext"),
            Err(e) => self.sasl_failed(conn, &auth_user, "plaintext", &e),
        }
        Flow::Go
    }

    /// APOP name digest (RFC 1939 7): checked by libsasl2 against the secret its
    /// auxprop plugin holds (sasldb), so it needs no TLS.
    fn apop(&mut self, conn: &mut Conn, args: &[&str]) -> Flow {
        let Some(challenge) = self.apop.clone() else {
            conn.write(b"-ERR APOP is not available; use AUTH or USER/PASS under TLS\r\n");
            return Flow::Go;
        };
        if args.len() != 2 || args[1].len() != 32 || !args[1].bytes().all(|c| c.is_ascii_hexdigit()) {
            conn.write(b"-ERR Syntax: APOP name digest\r\n");
            return Flow::Go;
        }
        let auth_user = self.strip_folder(args[0]);
        let ok = self.sasl(conn).is_some_and(|mut c| c.checkapop(&challenge, &format!("{auth_user} {}", args[1].to_ascii_lowercase())).is_ok());
        if ok {
            self.login(conn, &auth_user, args[0], "APOP");
        } else {
            self.failed(conn, &auth_user, "APOP", "authentication failure");
        }
        Flow::Go
    }

    /// `fred+folder@domain` → `fred@domain` when popsubfolders is on.
    fn strip_folder(&self, user: &str) -> String {
        if !self.w.config.get_bool("popsubfolders") {
            return user.to_string();
        }
        let (local, domain) = match user.rsplit_once('@') {
            Some((l, d)) => (l, Some(d)),
            None => (user, None),
        };
        let local = local.split_once('+').map_or(local, |(u, _)| u);
        match domain {
            Some(d) => format!("{local}@{d}"),
            None => local.to_string(),
        }
    }

    fn auth(&mut self, conn: &mut Conn, args: &[&str]) -> Flow {
        let Some(mech) = args.first().map(|m| m.to_ascii_uppercase()) else {
            // RFC 5034 says a bare AUTH may list the mechanisms.
            conn.write(b"+OK\r\n");
            if let Some(m) = self.sasl(conn).and_then(|c| c.mechanisms().ok()) {
                for x in m {
                    conn.write_fmt(format_args!("{x}\r\n"));
                }
            }
            conn.write(b".\r\n");
            return Flow::Go;
        };
        let Ok(initial) = service::auth::initial_response(args.get(1).copied()) else {
            conn.write(b"-ERR Bad base64\r\n");
            return Flow::Go;
        };
        let Some(mut sc) = self.sasl(conn) else {
            conn.write(b"-ERR [SYS/TEMP] Authentication is not available\r\n");
            return Flow::Go;
        };
        match service::auth::exchange(conn, &mut sc, &mech, initial.as_deref(), "+ ", MAX_SASL_LINE) {
            Ok((user, _)) => {
                let authid = sc.authuser().unwrap_or_else(|| self.strip_folder(&user));
                self.login(conn, &authid, &user, &mech)
            }
            Err(AuthError::Failed(e)) => self.sasl_failed(conn, &service::auth::attempted(&sc), &mech, &e),
            Err(AuthError::Cancelled) => conn.write(b"-ERR Authentication cancelled\r\n"),
            Err(AuthError::BadBase64) => conn.write(b"-ERR Bad base64\r\n"),
            Err(AuthError::Lost) => return Flow::Quit,
        }
        Flow::Go
    }

    /// Authenticated as `authid`, acting as `user`: open the maildrop (`user+folder`
    /// with popsubfolders).
    fn login(&mut self, conn: &mut Conn, authid: &str, user: &str, mech: &str) {
        let Some(store) = self.store else {
            conn.write(b"-ERR [SYS/TEMP] Mail store unavailable\r\n");
            return;
        };
        let userid = match service::identity::userid(self.w, conn, store, authid, &self.strip_folder(user)) {
            Ok(u) => u,
            Err(why) => {
                return self.failed(conn, authid, mech, &why.0);
            }
        };
        match service::procs::login(self.w, conn, &userid) {
            Ok(l) => self.proc_login = Some(l),
            Err(lim) => {
                log::info!("login refused: {} {userid}: {lim:?} sessions at once", conn.peer);
                conn.write(b"-ERR [SYS/TEMP] Too many open connections\r\n");
                return;
            }
        }
        service::autocreate::at_login(&self.w.config, store, &userid);
        let folder = if self.w.config.get_bool("popsubfolders") {
            user.rsplit_once('@').map_or(user, |(l, _)| l).split_once('+').map(|(_, f)| f.to_string())
        } else {
            None
        };
        let name = match &folder {
            None => Ok(store.ns.inbox(&userid)),
            Some(f) => store.ns.to_internal(&userid, &format!("INBOX{}{f}", store.ns.sep())),
        };
        let Ok(name) = name else {
            conn.write(b"-ERR [SYS/PERM] Invalid folder name\r\n");
            return;
        };
        // popminpoll: the last login time is kept per mailbox in the mailbox list.
        let minpoll = self.w.config.get_duration("popminpoll").as_secs();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if minpoll > 0 {
            let last = store
                .list
                .annotation(&name.0, "/vendor/cmu/cyrus-imapd/pop3lastlogin", "")
                .ok()
                .flatten()
                .and_then(|v| String::from_utf8_lossy(&v).parse::<u64>().ok());
            if last.is_some_and(|t| now < t.saturating_add(minpoll)) {
                conn.write(b"-ERR [LOGIN-DELAY] Minimum time between mail checks violated\r\n");
                return;
            }
        }
        let configdir = PathBuf::from(self.w.config.get_str("configdirectory").unwrap_or("."));
        match Maildrop::open(store, &configdir, &name, &userid, self.w.config.get_bool("popuseimapflags"), self.w.config.get_bool("popuseacl")) {
            Ok(d) => {
                log::info!(
                    "login: {} {} {}{} User logged in",
                    conn.peer,
                    userid,
                    mech,
                    conn.tls_description().map(|t| format!(" {t}")).unwrap_or_default()
                );
                service::metrics::inc(service::metrics::Slot::AUTH_YES);
                if minpoll > 0 {
                    let _ = store.list.set_annotation(&name.0, "/vendor/cmu/cyrus-imapd/pop3lastlogin", "", Some(now.to_string().as_bytes()));
                }
                let n = d.live().count();
                let size: u64 = d.live().map(|(_, m)| u64::from(m.size)).sum();
                conn.write_fmt(format_args!("+OK Mailbox locked and ready, {n} messages ({size} octets)\r\n"));
                self.user = Some(userid);
                if let Some(l) = &mut self.proc_login {
                    l.mailbox(Some(&name.0));
                }
                self.drop = Some(d);
            }
            Err(OpenError::InUse) => conn.write(b"-ERR [IN-USE] Unable to lock maildrop\r\n"),
            Err(OpenError::Denied) => conn.write(b"-ERR [SYS/PERM] Permission denied\r\n"),
            Err(OpenError::NoMailbox) => conn.write(b"-ERR [SYS/PERM] No such mailbox\r\n"),
            Err(OpenError::Other(e)) => {
                log::error!("cannot open the maildrop of {userid}: {e}");
                conn.write(b"-ERR [SYS/TEMP] Unable to open maildrop\r\n");
            }
        }
    }

    fn transaction(&mut self, conn: &mut Conn, cmd: &str, args: &[&str]) -> Flow {
        let uidl_format = self.w.config.get_str("uidl_format").unwrap_or("cyrus").to_ascii_lowercase();
        let Some(d) = self.drop.as_mut() else { return Flow::Go };
        match (cmd, args.len()) {
            ("STAT", 0) => {
                let (n, size) = d.live().fold((0, 0u64), |(n, s), (_, m)| (n + 1, s + u64::from(m.size)));
                conn.write_fmt(format_args!("+OK {n} {size}\r\n"));
            }
            ("LIST", 0) | ("UIDL", 0) => {
                conn.write(b"+OK\r\n");
                for (i, m) in d.live() {
                    if cmd == "LIST" {
                        conn.write_fmt(format_args!("{i} {}\r\n", m.size));
                    } else {
                        conn.write_fmt(format_args!("{i} {}\r\n", d.uidl(m, &uidl_format)));
                    }
                }
                conn.write(b".\r\n");
            }
            ("LIST", 1) | ("UIDL", 1) => match d.get(args[0]) {
                Ok(m) if cmd == "LIST" => conn.write_fmt(format_args!("+OK {} {}\r\n", args[0], m.size)),
                Ok(m) => conn.write_fmt(format_args!("+OK {} {}\r\n", args[0], d.uidl(m, &uidl_format))),
                Err(e) => conn.write_fmt(format_args!("-ERR {e}\r\n")),
            },
            ("RETR", 1) | ("TOP", 2) => {
                if let (Some(store), Some(user)) = (self.store, self.user.as_deref()) {
                    if !d.may_read(store, user) {
                        conn.write(b"-ERR [SYS/PERM] Permission denied: the read right was removed\r\n");
                        return Flow::Go;
                    }
                }
                let uid = match d.get(args[0]) {
                    Ok(m) => m.uid,
                    Err(e) => {
                        conn.write_fmt(format_args!("-ERR {e}\r\n"));
                        return Flow::Go;
                    }
                };
                let lines = if cmd == "TOP" {
                    match args[1].parse::<usize>() {
                        Ok(n) => Some(n),
                        Err(_) => {
                            conn.write(b"-ERR Invalid line count\r\n");
                            return Flow::Go;
                        }
                    }
                } else {
                    None
                };
                match d.mb.read_message(uid) {
                    Ok(raw) => {
                        conn.write(b"+OK Message follows\r\n");
                        write_stuffed(conn, &raw, lines);
                        if cmd == "RETR" {
                            self.retrieved += 1;
                            if self.w.config.get_bool("popuseimapflags") {
                                let _ = d.mb.lock().and_then(|mut w| w.store(&[uid], FlagOp::Add, flag::SEEN, &[]));
                            }
                        }
                    }
                    Err(_) => conn.write(b"-ERR [SYS/TEMP] Message no longer available\r\n"),
                }
            }
            ("DELE", 1) if !d.may_delete => conn.write(b"-ERR [SYS/PERM] Permission denied: the ACL does not allow deleting here\r\n"),
            ("DELE", 1) => {
                let r = d.get(args[0]).map(|m| m.uid);
                match r {
                    Ok(uid) => {
                        if let Some(m) = d.msgs.iter_mut().find(|m| m.uid == uid) {
                            m.deleted = true;
                        }
                        conn.write(b"+OK Message deleted\r\n");
                    }
                    Err(e) => conn.write_fmt(format_args!("-ERR {e}\r\n")),
                }
            }
            ("NOOP", 0) => conn.write(b"+OK\r\n"),
            ("RSET", 0) => {
                for m in &mut d.msgs {
                    m.deleted = false;
                }
                conn.write(b"+OK\r\n");
            }
            ("CAPA", 0) => self.capa(conn),
            ("QUIT", 0) => {
                let gone: Vec<mailbox::Uid> = d.msgs.iter().filter(|m| m.deleted).map(|m| m.uid).collect();
                let name = d.name.clone();
                let result = if gone.is_empty() { Ok(vec![]) } else { self.store.map_or(Ok(vec![]), |s| s.expunge(&name, &mut d.mb, &gone)) };
                match result {
                    Ok(done) => {
                        log::info!("logout: {} {} retrieved {} deleted {}", conn.peer, self.user.as_deref().unwrap_or("?"), self.retrieved, done.len());
                        conn.write(b"+OK\r\n");
                    }
                    Err(e) => {
                        log::error!("QUIT of {}: expunge failed: {e}", name.0);
                        conn.write(b"-ERR [SYS/TEMP] Some deleted messages were not removed\r\n");
                    }
                }
                self.drop = None;
                return Flow::Quit;
            }
            ("STAT" | "LIST" | "UIDL" | "RETR" | "TOP" | "DELE" | "NOOP" | "RSET" | "QUIT", _) => conn.write(b"-ERR Wrong number of arguments\r\n"),
            _ => conn.write(b"-ERR Unrecognized command\r\n"),
        }
        Flow::Go
    }
}

/// A command line as the session reads it: the keyword upper-cased and the
/// arguments between single or repeated spaces (PASS is taken whole before this).
pub fn split_command(line: &str) -> (String, Vec<&str>) {
    let mut parts = line.split(' ');
    let cmd = parts.next().unwrap_or("").to_ascii_uppercase();
    (cmd, parts.filter(|a| !a.is_empty()).collect())
}

/// Writes a message byte-stuffed (a line starting with '.' gets another), with only
/// the header and `lines` body lines for TOP, then the terminating dot line.
fn write_stuffed(conn: &mut Conn, raw: &[u8], lines: Option<usize>) {
    let hl = mailbox::cache::header_len(raw);
    let (head, body) = raw.split_at(hl);
    let body_end = match lines {
        None => body.len(),
        Some(n) => {
            let mut end = 0;
            for _ in 0..n {
                match body[end..].iter().position(|&b| b == b'\n') {
                    Some(p) => end += p + 1,
                    None => {
                        end = body.len();
                        break;
                    }
                }
            }
            end
        }
    };
    let mut out = Vec::with_capacity(raw.len() + 64);
    for part in [head, &body[..body_end]] {
        for line in part.split_inclusive(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(line);
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    conn.write(&out);
}
