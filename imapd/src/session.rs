//! The command loop of one IMAP session (RFC 3501/9051 with the extensions in
//! [`Session::capabilities`]): reading whole commands with their literals,
//! authentication, SELECT and IDLE, and the dispatch of every other command to its
//! module — messages ([`crate::messages`], [`crate::append`], [`crate::sort`]),
//! mailboxes ([`crate::folders`], [`crate::metadata`]), ACL and QUOTA
//! ([`crate::access`]). The modules work on [`crate::state::Session`] and answer
//! through [`crate::reply`]; none of them reaches back into this loop.

use crate::parse::{PResult, Parser, trailing_literal, valid_tag};
use crate::reply::{bad, no, ok, store_no};
use crate::selected::Selected;
use crate::state::Session;
use mboxlist::Store;
use service::auth::AuthError;
use service::{Conn, ReadError, StartTls, Worker};
use std::time::{Duration, Instant};

/// Longest command line accepted, literals excluded.
const MAX_LINE: usize = 64 * 1024;
const MAX_SASL_LINE: usize = 64 * 1024;
/// Most literals one command may carry.
const MAX_LITERALS: u32 = 1000;


/// What a command asks of the loop.
#[derive(PartialEq, Eq)]
pub enum Flow {
    Go,
    Close,
}

enum Read {
    Command(Vec<u8>),
    /// Already answered (a literal refused); read the next command.
    Answered,
    Gone,
}

pub fn serve(w: &Worker, store: Option<&Store>, conn: &mut Conn) {
    let timeout = w.config.get_duration("timeout").max(Duration::from_secs(30 * 60));
    let _ = conn.set_timeout(Some(timeout));
    let mut s = Session::new(w, store);
    let host = w.servername();
    let info = match w.config.get_str("serverinfo").unwrap_or("on").to_ascii_lowercase().as_str() {
        "off" => String::new(),
        "min" => format!(" {host}"),
        _ => format!(" {host} Cyrus-compatible IMAP server {} ready", env!("CARGO_PKG_VERSION")),
    };
    conn.write_fmt(format_args!("* OK [CAPABILITY {}]{info}\r\n", s.capabilities(conn)));
    if conn.flush().is_err() {
        return;
    }
    loop {
        let mut flow = match s.read_command(conn) {
            Read::Command(cmd) => s.command(conn, &cmd),
            Read::Answered => Flow::Go,
            Read::Gone => break,
        };
        if s.closing {
            flow = Flow::Close;
        }
        // Pipelined commands are answered together: flush when no more input waits.
        if (flow == Flow::Close || conn.buffered() == 0) && conn.flush().is_err() {
            break;
        }
        if flow == Flow::Close {
            break;
        }
        if conn.buffered() == 0 {
            s.retired_watch = None;
        }
    }
    if let Some(u) = &s.user {
        log::debug!("session of {u} from {} ended", conn.peer);
    }
}


impl<'a> Session<'a> {

    pub fn capabilities(&self, conn: &Conn) -> String {
        let mut c = vec!["IMAP4rev1", "IMAP4rev2", "LITERAL+", "ID", "ENABLE"];
        let mut owned = Vec::new();
        if self.user.is_none() {
            if !conn.is_tls() && self.w.tls_configured() {
                c.push("STARTTLS");
            }
            if !service::auth::plaintext_ok(self.w, conn) {
                c.push("LOGINDISABLED");
            }
            if let Some(m) = service::auth::server_conn(self.w, conn, "imap").and_then(|sc| sc.mechanisms().ok()) {
                owned.extend(m.into_iter().map(|m| format!("AUTH={m}")));
            }
            c.push("SASL-IR");
        } else {
            c.extend([
                "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN", "SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED",
                "LIST-STATUS", "ESEARCH", "SORT", "SORT=DISPLAY", "SORT=MODSEQ", "SORT=UID", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES",
                "THREAD=REFS", "CONDSTORE", "QRESYNC", "METADATA", "LIST-METADATA", "WITHIN", "COMPRESS=DEFLATE", "BINARY", "MULTIAPPEND", "CATENATE",
                "STATUS=SIZE", "OBJECTID", "SAVEDATE", "PREVIEW", "LIST-MYRIGHTS", "UNAUTHENTICATE", "SEARCHRES", "REPLACE", "UTF8=ACCEPT", "QUOTA",
                "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "ACL", "RIGHTS=kxten", "SASL-IR",
            ]);
        }
        if self.user.is_some() {
            // RFC 7889: the largest message APPEND takes.
            owned.push(format!("APPENDLIMIT={}", self.max_message));
        }
        let mut s = c.join(" ");
        for m in owned {
            s.push(' ');
            s.push_str(&m);
        }
        s
    }

    /// Reads one whole command: its lines and the literals between them. A
    /// synchronising literal gets its "+" only when it is within bounds.
    fn read_command(&mut self, conn: &mut Conn) -> Read {
        let mut line = Vec::new();
        match conn.read_line(&mut line, MAX_LINE) {
            Ok(()) => {}
            Err(ReadError::TooLong) => {
                // Answered with its tag when the start of the line has one.
                let tag = line.split(|&c| c == b' ').next().filter(|t| line.contains(&b' ') && valid_tag(t));
                match tag {
                    Some(t) => conn.write_fmt(format_args!("{} BAD Line too long\r\n", String::from_utf8_lossy(t))),
                    None => conn.write(b"* BAD Line too long\r\n"),
                }
                return Read::Answered;
            }
            Err(ReadError::Timeout) => {
                conn.write(b"* BYE Autologout; idle for too long\r\n");
                let _ = conn.flush();
                return Read::Gone;
            }
            Err(_) => return Read::Gone,
        }
        let tag = line.split(|&c| c == b' ').next().unwrap_or_default().to_vec();
        let tag = String::from_utf8_lossy(&tag).into_owned();
        let is_append = {
            let mut it = line.split(|&c| c == b' ');
            it.next();
            it.next().is_some_and(|c| c.eq_ignore_ascii_case(b"APPEND"))
        };
        // Before login no literal may be larger than maxword (APPEND needs a login).
        let limit = if is_append && self.user.is_some() { self.max_message } else { self.max_word };
        // The whole command (lines and literals) is bounded too, and so is the number
        // of its literals: an endless `{0+}` chain cannot grow it.
        let max_total = limit.saturating_add(self.max_word).saturating_add(4 * MAX_LINE as u64);
        let mut cmd = Vec::with_capacity(line.len());
        let mut literals = 0u32;
        loop {
            cmd.extend_from_slice(&line);
            let Some((n, plus)) = trailing_literal(&line) else { return Read::Command(cmd) };
            literals += 1;
            let total = (cmd.len() as u64).saturating_add(n);
            if n > limit || total > max_total || literals > MAX_LITERALS {
                // Refused: a synchronising one is never sent; a non-synchronising one is
                // read and dropped, with the rest of its command.
                if plus && conn.skip(n as usize).is_err() {
                    return Read::Gone;
                }
                if plus {
                    loop {
                        if conn.read_line(&mut line, MAX_LINE).is_err() {
                            return Read::Gone;
                        }
                        match trailing_literal(&line) {
                            Some((m, true)) => {
                                if conn.skip(m as usize).is_err() {
                                    return Read::Gone;
                                }
                            }
                            _ => break,
                        }
                    }
                }
                if valid_tag(tag.as_bytes()) {
                    no(conn, &tag, "[TOOBIG] Literal too large");
                } else {
                    conn.write(b"* NO [TOOBIG] Literal too large\r\n");
                }
                return Read::Answered;
            }
            if !plus {
                conn.write(b"+ go ahead\r\n");
                if conn.flush().is_err() {
                    return Read::Gone;
                }
            }
            cmd.extend_from_slice(b"\r\n");
            if conn.read_exact_into(&mut cmd, n as usize).is_err() {
                return Read::Gone;
            }
            match conn.read_line(&mut line, MAX_LINE) {
                Ok(()) => {}
                Err(ReadError::TooLong) => {
                    bad(conn, &tag, "Line too long");
                    return Read::Answered;
                }
                Err(_) => return Read::Gone,
            }
        }
    }

    fn command(&mut self, conn: &mut Conn, cmd: &[u8]) -> Flow {
        let mut p = Parser::new(cmd);
        let tag_end = cmd.iter().position(|&c| c == b' ').unwrap_or(cmd.len());
        let tag = &cmd[..tag_end];
        if !valid_tag(tag) {
            conn.write(b"* BAD Invalid tag\r\n");
            return Flow::Go;
        }
        let tag = String::from_utf8_lossy(tag).into_owned();
        p.pos = tag_end;
        if p.sp().is_err() {
            bad(conn, &tag, "Null command");
            return Flow::Go;
        }
        let name = match p.keyword() {
            Ok(n) => n,
            Err(_) => {
                bad(conn, &tag, "Null command");
                return Flow::Go;
            }
        };
        match self.dispatch(conn, &tag, &name, &mut p) {
            Ok(flow) => flow,
            Err(msg) => {
                bad(conn, &tag, &msg);
                Flow::Go
            }
        }
    }

    fn dispatch(&mut self, conn: &mut Conn, tag: &str, name: &str, p: &mut Parser) -> PResult<Flow> {
        // Any state.
        match name {
            "CAPABILITY" => {
                p.end()?;
                conn.write_fmt(format_args!("* CAPABILITY {}\r\n", self.capabilities(conn)));
                ok(conn, tag, "Completed");
                return Ok(Flow::Go);
            }
            "NOOP" => {
                p.end()?;
                self.updates(conn, true);
                ok(conn, tag, "Completed");
                return Ok(Flow::Go);
            }
            "LOGOUT" => {
                p.end()?;
                conn.write(b"* BYE LOGOUT received\r\n");
                ok(conn, tag, "Completed");
                if let Some(u) = &self.user {
                    log::info!("Logout: {} {u}", conn.peer);
                }
                return Ok(Flow::Close);
            }
            "ID" => {
                p.sp()?;
                self.id(conn, p)?;
                ok(conn, tag, "Completed");
                return Ok(Flow::Go);
            }
            _ => {}
        }
        if self.user.is_none() {
            return match name {
                "STARTTLS" => {
                    p.end()?;
                    self.starttls(conn, tag)
                }
                "LOGIN" => {
                    p.sp()?;
                    let user = p.astring_text()?;
                    p.sp()?;
                    let pass = p.astring()?.into_owned();
                    p.end()?;
                    self.login(conn, tag, &user, &pass);
                    Ok(Flow::Go)
                }
                "AUTHENTICATE" => {
                    p.sp()?;
                    let mech = String::from_utf8_lossy(p.atom()?).to_ascii_uppercase();
                    let ir = if p.eat(b' ') { Some(String::from_utf8_lossy(p.atom()?).into_owned()) } else { None };
                    p.end()?;
                    self.authenticate(conn, tag, &mech, ir.as_deref())
                }
                _ if is_known(name) => {
                    bad(conn, tag, "Please login first");
                    Ok(Flow::Go)
                }
                _ => Err(format!("Unrecognized command {}", name.chars().take(40).collect::<String>())),
            };
        }
        // Authenticated or selected.
        let uid = name == "UID";
        let name = if uid {
            p.sp()?;
            let n = p.keyword()?;
            if !matches!(n.as_str(), "FETCH" | "STORE" | "SEARCH" | "SORT" | "THREAD" | "COPY" | "MOVE" | "EXPUNGE" | "REPLACE") {
                return Err(format!("Unrecognized UID command {}", n.chars().take(40).collect::<String>()));
            }
            n
        } else {
            name.to_string()
        };
        let needs_selected =
            matches!(name.as_str(), "CHECK" | "CLOSE" | "UNSELECT" | "EXPUNGE" | "SEARCH" | "SORT" | "THREAD" | "FETCH" | "STORE" | "COPY" | "MOVE" | "REPLACE");
        if needs_selected && self.sel.is_none() {
            bad(conn, tag, "Please select a mailbox first");
            return Ok(Flow::Go);
        }
        self.refresh_rights();
        let reads = matches!(name.as_str(), "FETCH" | "SEARCH" | "SORT" | "THREAD" | "COPY" | "MOVE");
        if reads && self.sel.as_ref().is_some_and(|s| !s.rights.has('r')) {
            no(conn, tag, "[NOPERM] Permission denied: the read right on this mailbox was removed");
            return Ok(Flow::Go);
        }
        match name.as_str() {
            "STARTTLS" | "LOGIN" | "AUTHENTICATE" => bad(conn, tag, "Already authenticated"),
            "SELECT" | "EXAMINE" => {
                p.sp()?;
                let mbox = p.mailbox()?;
                let params = if p.eat(b' ') { crate::sync::parse_select_params(p)? } else { Default::default() };
                p.end()?;
                if params.qresync.is_some() && !self.mode.qresync {
                    return Err("QRESYNC is not enabled".into());
                }
                if params.condstore {
                    self.enable_condstore();
                }
                self.select(conn, tag, &mbox, name == "EXAMINE", params.qresync.as_ref());
            }
            "CREATE" | "DELETE" | "RENAME" | "SUBSCRIBE" | "UNSUBSCRIBE" | "LIST" | "LSUB" | "STATUS" | "NAMESPACE" => {
                crate::folders::command(self, conn, tag, &name, p)?
            }
            "SETACL" | "DELETEACL" | "GETACL" | "LISTRIGHTS" | "MYRIGHTS" => crate::access::acl(self, conn, tag, &name, p)?,
            "GETQUOTA" | "GETQUOTAROOT" | "SETQUOTA" => crate::access::quota(self, conn, tag, &name, p)?,
            "APPEND" => {
                service::metrics::inc(service::metrics::Slot::IMAP_APPEND);
                self.append(conn, tag, p)?
            }
            "COMPRESS" => {
                p.sp()?;
                let alg = p.keyword()?;
                p.end()?;
                if alg != "DEFLATE" {
                    // NO, as Cyrus answers (RFC 4978 names no code for it).
                    no(conn, tag, &format!("Unknown COMPRESS algorithm: {}", alg.chars().take(30).collect::<String>()));
                    return Ok(Flow::Go);
                }
                if conn.is_compressed() {
                    // BAD, as Cyrus answers (RFC 4978 3 says NO).
                    bad(conn, tag, "[COMPRESSIONACTIVE] DEFLATE active via COMPRESS");
                    return Ok(Flow::Go);
                }
                ok(conn, tag, "DEFLATE active");
                if let Err(e) = conn.start_deflate() {
                    log::info!("COMPRESS from {}: {e}", conn.peer);
                    return Ok(Flow::Close);
                }
            }
            "GETMETADATA" | "SETMETADATA" => crate::metadata::command(self, conn, tag, &name, p)?,
            "ENABLE" => {
                p.sp()?;
                let mut enabled = Vec::new();
                while !p.at_end() {
                    let ext = String::from_utf8_lossy(p.atom()?).to_ascii_uppercase();
                    let _ = p.eat(b' ');
                    // Only what was not on already is listed (RFC 5161 3.1).
                    match ext.as_str() {
                        "CONDSTORE" if !self.mode.condstore => {
                            self.enable_condstore();
                            enabled.push(ext);
                        }
                        "QRESYNC" if !self.mode.qresync => {
                            self.enable_condstore();
                            self.mode.qresync = true;
                            enabled.push(ext);
                        }
                        "UTF8=ACCEPT" if !self.mode.utf8 => {
                            self.mode.utf8 = true;
                            enabled.push(ext);
                        }
                        "IMAP4REV2" if !self.mode.rev2 => {
                            self.mode.rev2 = true;
                            self.mode.utf8 = true;
                            enabled.push("IMAP4rev2".into());
                        }
                        _ => {}
                    }
                }
                if let Some(sel) = self.sel.as_mut() {
                    sel.mode = self.mode;
                }
                let list: String = enabled.iter().map(|e| format!(" {e}")).collect();
                conn.write_fmt(format_args!("* ENABLED{list}\r\n"));
                ok(conn, tag, "Completed");
            }
            "IDLE" => {
                p.end()?;
                return Ok(self.idle(conn, tag));
            }
            "UNAUTHENTICATE" => {
                // RFC 8437: back to the not-authenticated state, as if just connected
                // (TLS stays; compression too).
                p.end()?;
                if let Some(u) = &self.user {
                    log::info!("unauthenticate: {} {u}", conn.peer);
                }
                self.sel = None;
                self.user = None;
                self.admin = false;
                self.proc_login = None;
                self.mode = Default::default();
                self.ns = self.store.map(|s| s.ns.clone()).unwrap_or_default();
                ok(conn, tag, "Completed");
            }
            "CHECK" => {
                p.end()?;
                self.updates(conn, true);
                ok(conn, tag, "Completed");
            }
            "CLOSE" | "UNSELECT" => {
                p.end()?;
                if name == "CLOSE" {
                    // CLOSE expunges silently, and only where the user may.
                    let _ = self.expunge_deleted(None);
                }
                self.sel = None;
                if let Some(l) = &mut self.proc_login {
                    l.mailbox(None);
                }
                ok(conn, tag, "Completed");
            }
            "EXPUNGE" => {
                let set = if uid {
                    p.sp()?;
                    Some(p.seqset()?)
                } else {
                    None
                };
                p.end()?;
                self.expunge(conn, tag, set.as_ref());
            }
            "FETCH" => self.fetch(conn, tag, p, uid)?,
            "STORE" => self.store_flags(conn, tag, p, uid)?,
            "SEARCH" => self.search(conn, tag, p, uid)?,
            "SORT" => self.sort(conn, tag, p, uid)?,
            "THREAD" => self.thread(conn, tag, p, uid)?,
            "COPY" | "MOVE" => self.copy(conn, tag, p, uid, name == "MOVE")?,
            "REPLACE" => self.replace(conn, tag, p, uid)?,
            _ => return Err(format!("Unrecognized command {}", name.chars().take(40).collect::<String>())),
        }
        Ok(Flow::Go)
    }

    fn id(&mut self, conn: &mut Conn, p: &mut Parser) -> PResult<()> {
        if !p.word("NIL") {
            p.expect(b'(')?;
            let mut n = 0;
            while !p.eat(b')') {
                if n > 0 {
                    p.sp()?;
                }
                let k = p.string()?;
                p.sp()?;
                if !p.word("NIL") {
                    p.string()?;
                }
                n += 1;
                if n > 30 || k.len() > 30 {
                    return Err("Invalid ID".into());
                }
            }
        }
        p.end()?;
        conn.write_fmt(format_args!(
            "* ID (\"name\" \"Cyrus-compatible IMAP server\" \"version\" \"{}\" \"vendor\" \"mail-suite\")\r\n",
            env!("CARGO_PKG_VERSION")
        ));
        Ok(())
    }

    // ---- authentication ----

    fn starttls(&mut self, conn: &mut Conn, tag: &str) -> PResult<Flow> {
        let go = format!("{tag} OK Begin TLS negotiation now\r\n");
        match self.w.starttls(conn, go.as_bytes()) {
            StartTls::Done => {}
            StartTls::Unavailable => no(conn, tag, "TLS is not available"),
            StartTls::AlreadyActive => bad(conn, tag, "TLS is already active"),
            StartTls::Pipelined => {
                conn.write(b"* BYE Nothing may follow STARTTLS in the same packet\r\n");
                return Ok(Flow::Close);
            }
            StartTls::Lost => return Ok(Flow::Close),
        }
        Ok(Flow::Go)
    }

    fn failed(&mut self, conn: &mut Conn, tag: &str, who: &str, mech: &str, why: &str) {
        self.refused(conn, tag, who, mech, why, "[AUTHENTICATIONFAILED] Authentication failed");
    }

    /// A login libsasl2 could not check (password service down or hanging): logged
    /// as refused, and the client told to try again (RFC 5530 UNAVAILABLE).
    fn sasl_failed(&mut self, conn: &mut Conn, tag: &str, who: &str, mech: &str, e: &sasl::SaslError) {
        let answer = if e.is_temporary() { "[UNAVAILABLE] Authentication service unavailable, try again later" } else { "[AUTHENTICATIONFAILED] Authentication failed" };
        self.refused(conn, tag, who, mech, &e.to_string(), answer);
    }

    fn refused(&mut self, conn: &mut Conn, tag: &str, who: &str, mech: &str, why: &str, answer: &str) {
        service::identity::refuse_login(conn, &mut self.failures, mech, who, why);
        no(conn, tag, answer);
    }

    fn login(&mut self, conn: &mut Conn, tag: &str, user: &str, pass: &[u8]) {
        if !service::auth::plaintext_ok(self.w, conn) {
            no(conn, tag, "[PRIVACYREQUIRED] Login only available under a layer (STARTTLS first)");
            return;
        }
        let Some(mut sc) = service::auth::server_conn(self.w, conn, "imap") else {
            no(conn, tag, "[UNAVAILABLE] Authentication is not available");
            return;
        };
        // As Cyrus, a login is looked up lowered (username_tolower) and with the
        // default domain's users under their bare name.
        let lookup = match self.store.map(|st| st.ns.canonical_userid(user, None)) {
            Some(Ok(u)) => u,
            Some(Err(e)) => return self.failed(conn, tag, user, "plaintext", &e.to_string()),
            None => user.to_string(),
        };
        match sc.checkpass(&lookup, pass) {
            Ok(()) => {
                let name = sc.username().unwrap_or_else(|| lookup.clone());
                self.logged_in(conn, tag, &name, &name, "plaintext");
            }
            Err(e) => self.sasl_failed(conn, tag, user, "plaintext", &e),
        }
    }

    fn authenticate(&mut self, conn: &mut Conn, tag: &str, mech: &str, ir: Option<&str>) -> PResult<Flow> {
        let Ok(initial) = service::auth::initial_response(ir) else {
            bad(conn, tag, "Invalid base64 in initial response");
            return Ok(Flow::Go);
        };
        let Some(mut sc) = service::auth::server_conn(self.w, conn, "imap") else {
            no(conn, tag, "[UNAVAILABLE] Authentication is not available");
            return Ok(Flow::Go);
        };
        match service::auth::exchange(conn, &mut sc, mech, initial.as_deref(), "+ ", MAX_SASL_LINE) {
            Ok((user, _)) => {
                let authid = sc.authuser().unwrap_or_else(|| user.clone());
                self.logged_in(conn, tag, &authid, &user, mech)
            }
            Err(AuthError::Failed(e)) => self.sasl_failed(conn, tag, &service::auth::attempted(&sc), mech, &e),
            Err(AuthError::Cancelled) => bad(conn, tag, "Authentication cancelled"),
            Err(AuthError::BadBase64) => bad(conn, tag, "Invalid base64"),
            Err(AuthError::Lost) => return Ok(Flow::Close),
        }
        Ok(Flow::Go)
    }

    fn logged_in(&mut self, conn: &mut Conn, tag: &str, authid: &str, authzid: &str, mech: &str) {
        let Some(store) = self.store else {
            no(conn, tag, "[UNAVAILABLE] The mail store is not available");
            return;
        };
        let user = match service::identity::userid(self.w, conn, store, authid, authzid) {
            Ok(u) => u,
            Err(why) => return self.failed(conn, tag, authid, mech, &why.0),
        };
        let user = user.as_str();
        let login = match service::procs::login(self.w, conn, user) {
            Ok(l) => l,
            Err(lim) => {
                log::info!("login refused: {} {user}: {lim:?} sessions at once", conn.peer);
                no(conn, tag, "[LIMIT] Too many open connections");
                return;
            }
        };
        self.proc_login = Some(login);
        self.admin = store.is_admin(user);
        service::autocreate::at_login(&self.w.config, store, user);
        self.ns = store.ns.clone();
        if self.admin {
            self.ns.altnamespace = false;
        }
        self.user = Some(user.to_string());
        let tls = conn.tls_description().map(|t| format!(" {t}")).unwrap_or_default();
        log::info!("login: {} {user} {mech}{tls} User logged in", conn.peer);
        service::metrics::inc(service::metrics::Slot::AUTH_YES);
        crate::telemetry::start(self.w, conn, user);
        ok(conn, tag, &format!("[CAPABILITY {}] User logged in", self.capabilities(conn)));
    }


    fn select(&mut self, conn: &mut Conn, tag: &str, mbox: &str, examine: bool, qresync: Option<&crate::sync::Qresync>) {
        // The mailbox selected before is closed now, whatever comes of this
        // (RFC 7162 3.2.11, RFC 9051 7.1).
        let mut old_watch = None;
        if let Some(old) = self.sel.take() {
            old_watch = old.watch.map(|w| (old.mb.paths().meta.clone(), w));
            conn.write(b"* OK [CLOSED] Ok\r\n");
        }
        let name = match self.internal(mbox) {
            Ok(n) => n,
            Err(e) => return no(conn, tag, &format!("[CANNOT] {e}")),
        };
        let (_, rights) = match self.rights(&name) {
            Ok(x) => x,
            Err(e) => return store_no(conn, tag, &e),
        };
        if !rights.has('r') {
            return if rights.has('l') { no(conn, tag, "[NOPERM] Permission denied") } else { no(conn, tag, "[NONEXISTENT] Mailbox does not exist") };
        }
        let mut sel = match Selected::open(self.store(), &name, self.userid(), rights, examine) {
            Ok(s) => s,
            Err(e) => return store_no(conn, tag, &e),
        };
        sel.mode = self.mode;
        // The same mailbox selected again keeps its IDLE watch; another's is dropped
        // after the reply (see `retired_watch`).
        if let Some((meta, w)) = old_watch.take() {
            if meta == sel.mb.paths().meta {
                sel.watch = Some(w);
            } else {
                self.retired_watch = Some(w);
            }
        }
        let h = sel.mb.header().clone();
        let recent = sel.uids.iter().filter(|u| sel.recent.contains(**u)).count();
        sel.write_flags(conn);
        if self.mode.rev2 {
            // RFC 9051 6.3.2: no RECENT or UNSEEN; the mailbox's name as a LIST line.
            conn.write_fmt(format_args!("* {} EXISTS\r\n", sel.exists()));
            let sep = self.ns.sep();
            conn.write_fmt(format_args!("* LIST () \"{sep}\" {}\r\n", crate::parse::astring_out(&self.external(&name))));
        } else {
            conn.write_fmt(format_args!("* {} EXISTS\r\n* {recent} RECENT\r\n", sel.exists()));
        }
        // First unseen message.
        let mut first_unseen = None;
        let n = sel.exists();
        for msn in 1..=n {
            if let Ok(r) = sel.record(msn) {
                if !sel.is_seen(&r) {
                    first_unseen = Some(msn);
                    break;
                }
            }
        }
        if let Some(u) = first_unseen.filter(|_| !self.mode.rev2) {
            conn.write_fmt(format_args!("* OK [UNSEEN {u}] Ok\r\n"));
        }
        conn.write_fmt(format_args!("* OK [UIDVALIDITY {}] Ok\r\n* OK [UIDNEXT {}] Ok\r\n", h.uidvalidity, h.last_uid + 1));
        // Every mailbox keeps modseqs: HIGHESTMODSEQ on every SELECT (RFC 7162 3.1.2.1).
        conn.write_fmt(format_args!("* OK [HIGHESTMODSEQ {}] Ok\r\n* OK [MAILBOXID ({})] Ok\r\n", h.highestmodseq.max(1), sel.uniqueid));
        if let Some(q) = qresync {
            if let Err(e) = crate::sync::qresync_report(&mut sel, q, conn) {
                log::error!("{}: {e}", sel.name.0);
                return no(conn, tag, "[SERVERBUG] Mailbox damaged");
            }
        }
        let ro = sel.readonly;
        if let Some(l) = &mut self.proc_login {
            l.mailbox(Some(&sel.name.0));
        }
        self.sel = Some(sel);
        ok(conn, tag, if ro { "[READ-ONLY] Completed" } else { "[READ-WRITE] Completed" });
    }

    /// The IDLE command: untagged updates as they happen, until DONE.
    fn idle(&mut self, conn: &mut Conn, tag: &str) -> Flow {
        conn.write(b"+ idling\r\n");
        if conn.flush().is_err() {
            return Flow::Close;
        }
        if let Some(sel) = self.sel.as_mut() {
            sel.watch();
            // Anything that happened before the watch began is reported now.
            self.updates(conn, true);
            if conn.flush().is_err() {
                return Flow::Close;
            }
        }
        // Minutes of waiting: what the session's earlier commands freed goes back.
        service::release_free_memory();
        let timeout = self.w.config.get_duration("timeout").max(Duration::from_secs(30 * 60));
        let started = Instant::now();
        let mut last_poll = Instant::now();
        loop {
            let watch_fd = self.sel.as_ref().and_then(|s| s.watch.as_ref()).map(|w| w.fd());
            let watching = watch_fd.is_some();
            // Without inotify (or nothing selected) a slow poll keeps us honest.
            let wait = if watching { Duration::from_secs(60) } else { Duration::from_secs(5) };
            let (client, changed) = match conn.wait_readable(watch_fd, wait) {
                Ok(x) => x,
                Err(_) => return Flow::Close,
            };
            if changed || !watching || last_poll.elapsed() >= Duration::from_secs(60) {
                last_poll = Instant::now();
                self.updates(conn, true);
                if conn.flush().is_err() {
                    return Flow::Close;
                }
            }
            if client {
                let mut line = Vec::new();
                match conn.read_line(&mut line, MAX_LINE) {
                    Ok(()) if line.eq_ignore_ascii_case(b"DONE") => {
                        ok(conn, tag, "Completed");
                        return Flow::Go;
                    }
                    Ok(()) => {
                        bad(conn, tag, "Expected DONE");
                        return Flow::Go;
                    }
                    Err(ReadError::TooLong) => {
                        bad(conn, tag, "Expected DONE");
                        return Flow::Go;
                    }
                    Err(_) => return Flow::Close,
                }
            }
            if started.elapsed() > timeout {
                conn.write(b"* BYE Autologout; idle for too long\r\n");
                return Flow::Close;
            }
        }
    }

}

/// Commands that exist but need a login first.
fn is_known(name: &str) -> bool {
    matches!(
        name,
        "SELECT" | "EXAMINE" | "CREATE" | "DELETE" | "RENAME" | "SUBSCRIBE" | "UNSUBSCRIBE" | "LIST" | "LSUB" | "STATUS" | "APPEND" | "CHECK"
            | "CLOSE" | "UNSELECT" | "EXPUNGE" | "SEARCH" | "SORT" | "THREAD" | "FETCH" | "STORE" | "COPY" | "MOVE" | "UID" | "IDLE" | "NAMESPACE" | "ENABLE"
            | "SETACL" | "DELETEACL" | "GETACL" | "LISTRIGHTS" | "MYRIGHTS" | "GETQUOTA" | "GETQUOTAROOT" | "SETQUOTA"
            | "GETMETADATA" | "SETMETADATA" | "COMPRESS" | "UNAUTHENTICATE" | "REPLACE"
    )
}
