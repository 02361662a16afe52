//! One NNTP session (RFC 3977, AUTHINFO RFC 4643, STARTTLS RFC 4642, COMPRESS
//! RFC 8054, streaming RFC 4644), with Cyrus 3.6 nntpd's replies and permission rules:
//! reader commands need reader mode (`-f` refuses them), feeder commands need feeder
//! mode (`-r`), and without a login only AUTHINFO, CAPABILITIES, CHECK, HEAD, HELP,
//! IHAVE, LIST, MODE, QUIT, STARTTLS, STAT and TAKETHIS are taken unless
//! `allowanonymouslogin`. Rights come from the ACL of each group at each command.

use crate::groups::{Group, News};
use crate::reader;
use deliverdb::DeliverDb;
use mboxlist::Store;
use service::auth::{AuthError, Framing};
use service::{Conn, ReadError, StartTls, Worker};
use std::time::Duration;

/// RFC 3977 3.1: command lines are at most 512 octets (AUTHINFO SASL answers longer).
pub const MAX_LINE: usize = 512;
const MAX_SASL_LINE: usize = 16 * 1024;

/// Which halves of NNTP this server offers (`-r` reader only, `-f` feeder only).
#[derive(Clone, Copy)]
pub struct Mode {
    pub read: bool,
    pub feed: bool,
}

pub struct Session<'a> {
    pub w: &'a Worker,
    pub store: Option<&'a Store>,
    pub news: News,
    pub mode: Mode,
    /// Security strength of an external layer (`-p`): above 1, passwords may travel.
    pub ext_ssf: u32,
    pub userid: Option<String>,
    /// AUTHINFO USER given, waiting for PASS.
    pending_user: Option<String>,
    pub allow_anonymous: bool,
    pub group: Option<Group>,
    pub did_capabilities: bool,
    pub db: DeliverDb,
    pub servername: String,
    failures: u32,
    proc_login: Option<service::procs::Login>,
}

/// Whether the session goes on.
pub enum Flow {
    Go,
    Quit,
}

impl service::LineProtocol for Session<'_> {
    fn max_line(&self) -> usize {
        MAX_LINE
    }

    fn on_line(&mut self, conn: &mut Conn, line: &[u8]) -> service::Flow {
        match self.command(conn, &String::from_utf8_lossy(line)) {
            Flow::Go => service::Flow::Continue,
            Flow::Quit => service::Flow::Close,
        }
    }

    fn on_too_long(&mut self, conn: &mut Conn) -> service::Flow {
        conn.write(b"501 Line too long\r\n");
        service::Flow::Continue
    }

    fn on_timeout(&mut self, conn: &mut Conn) {
        conn.write(b"400 Idle timeout\r\n");
    }
}

impl<'a> Session<'a> {
    pub fn new(w: &'a Worker, store: Option<&'a Store>, mode: Mode, ext_ssf: u32) -> Session<'a> {
        let configdir = std::path::PathBuf::from(w.config.get_str("configdirectory").unwrap_or("."));
        Session {
            w,
            store,
            news: News::from_config(&w.config),
            mode,
            ext_ssf,
            userid: None,
            pending_user: None,
            allow_anonymous: w.config.get_bool("allowanonymouslogin"),
            group: None,
            did_capabilities: false,
            db: DeliverDb::new(&configdir),
            servername: w.servername(),
            failures: 0,
            proc_login: None,
        }
    }

    /// The identity rights are checked for: the user, or anonymous.
    pub fn who(&self) -> &str {
        self.userid.as_deref().unwrap_or("anonymous")
    }

    fn reader_allowed(&self) -> bool {
        self.userid.is_some() || self.allow_anonymous
    }

    fn plaintext_ok(&self, conn: &Conn) -> bool {
        self.ext_ssf > 1 || service::auth::plaintext_ok(self.w, conn)
    }

    fn greeting_text(&self) -> String {
        format!(
            "{} {} Cyrus-compatible NNTP server ready, posting {}",
            if self.mode.read { 200 } else { 201 },
            self.servername,
            if self.mode.read { "allowed" } else { "prohibited" }
        )
    }

    pub fn run(&mut self, conn: &mut Conn) {
        if self.store.is_none() {
            conn.write(b"400 Service temporarily unavailable (mail store)\r\n");
            let _ = conn.flush();
            return;
        }
        let timeout = self.w.config.get_duration("nntptimeout").max(Duration::from_secs(180));
        let greeting = format!("{}\r\n", self.greeting_text());
        service::serve(conn, timeout, &greeting, self);
        service::release_free_memory();
    }

    fn command(&mut self, conn: &mut Conn, line: &str) -> Flow {
        let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
        let Some(cmd) = words.next() else {
            conn.write(b"501 Empty command\r\n");
            return Flow::Go;
        };
        let cmd = cmd.to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        // The gates of Cyrus's command loop, by the command's first letter.
        let first = cmd.as_bytes()[0];
        if !self.mode.feed && matches!(cmd.as_str(), "IHAVE" | "TAKETHIS" | "CHECK") {
            conn.write(b"502 Permission denied\r\n");
            return Flow::Go;
        }
        if !self.mode.read && b"BDGNOPX".contains(&first) {
            conn.write(b"502 Permission denied\r\n");
            return Flow::Go;
        }
        if !self.reader_allowed() && !b"ACHILMQST".contains(&first) {
            conn.write(b"480 Authentication required\r\n");
            return Flow::Go;
        }
        match cmd.as_str() {
            "QUIT" => {
                if !args.is_empty() {
                    conn.write(b"501 Unexpected extra argument\r\n");
                    return Flow::Go;
                }
                conn.write(b"205 Connection closing\r\n");
                return Flow::Quit;
            }
            "CAPABILITIES" => self.capabilities(conn),
            "HELP" => self.help(conn),
            "DATE" => {
                conn.write_fmt(format_args!("111 {}\r\n", reader::stamp(reader::now())));
            }
            "MODE" => match args.first().map(|a| a.to_ascii_uppercase()).as_deref() {
                None => conn.write(b"501 Missing argument\r\n"),
                Some("READER") => conn.write_fmt(format_args!("{}\r\n", self.greeting_text())),
                Some("STREAM") if self.mode.feed => conn.write(b"203 Streaming allowed\r\n"),
                Some("STREAM") => conn.write(b"502 Streaming prohibited\r\n"),
                Some(_) => conn.write(b"501 Unrecognized MODE\r\n"),
            },
            "STARTTLS" if self.w.tls_configured() => return self.starttls(conn),
            "COMPRESS" => return self.compress(conn, &args),
            "AUTHINFO" => return self.authinfo(conn, line, &args),
            "SLAVE" if self.reader_allowed() => conn.write(b"202 Slave status noted\r\n"),
            "POST" | "IHAVE" | "CHECK" | "TAKETHIS" => return crate::post::command(self, conn, &cmd, &args),
            "LIST" => reader::list(self, conn, &args),
            _ if matches!(first, b'A' | b'H' | b'L' | b'X' | b'O' | b'N' | b'G' | b'B' | b'S') => {
                // The rest need a login (or anonymous reading) except HEAD and STAT.
                if !self.reader_allowed() && !matches!(cmd.as_str(), "HEAD" | "STAT") {
                    conn.write(b"480 Authentication required\r\n");
                } else if !self.mode.read {
                    conn.write(b"502 Permission denied\r\n");
                } else if !reader::command(self, conn, &cmd, &args) {
                    conn.write(b"500 Unrecognized command\r\n");
                }
            }
            _ => conn.write(b"500 Unrecognized command\r\n"),
        }
        Flow::Go
    }

    fn capabilities(&mut self, conn: &mut Conn) {
        self.did_capabilities = true;
        conn.write(b"101 Capability list follows:\r\nVERSION 2\r\n");
        conn.write_fmt(format_args!("IMPLEMENTATION Cyrus-compatible NNTP server {}\r\n", env!("CARGO_PKG_VERSION")));
        if self.w.tls_configured() && !conn.is_tls() && self.userid.is_none() {
            conn.write(b"STARTTLS\r\n");
        }
        let mechs = self.sasl(conn).and_then(|c| c.mechanisms().ok()).unwrap_or_default();
        if self.userid.is_none() {
            let user = if self.plaintext_ok(conn) { " USER" } else { "" };
            let sasl = if mechs.is_empty() { "" } else { " SASL" };
            conn.write_fmt(format_args!("AUTHINFO{user}{sasl}\r\n"));
        }
        if !mechs.is_empty() {
            conn.write_fmt(format_args!("SASL {}\r\n", mechs.join(" ")));
        }
        if !conn.is_compressed() {
            conn.write(b"COMPRESS DEFLATE\r\n");
        }
        let reader = self.mode.read && self.reader_allowed();
        if reader {
            conn.write(b"READER\r\nPOST\r\n");
            if self.w.config.get_bool("allownewnews") {
                conn.write(b"NEWNEWS\r\n");
            }
            conn.write(b"HDR\r\nOVER\r\nXPAT\r\n");
        }
        if self.mode.feed {
            conn.write(b"IHAVE\r\nSTREAMING\r\n");
        }
        conn.write_fmt(format_args!("LIST ACTIVE{}\r\n.\r\n", if reader { " ACTIVE.TIMES HEADERS NEWSGROUPS OVERVIEW.FMT" } else { "" }));
    }

    fn help(&mut self, conn: &mut Conn) {
        conn.write(b"100 Supported commands:\r\n");
        let reader = self.mode.read && self.reader_allowed();
        let mut lines = vec!["AUTHINFO USER name|PASS password|SASL mechanism [initial-response]", "CAPABILITIES", "COMPRESS DEFLATE", "HELP", "LIST [ACTIVE wildmat]", "MODE READER|STREAM", "QUIT", "STARTTLS"];
        if reader {
            lines.extend([
                "ARTICLE|HEAD|BODY|STAT [message-id|number]",
                "DATE",
                "GROUP group",
                "HDR header [message-id|range]",
                "LAST",
                "LIST ACTIVE|ACTIVE.TIMES|HEADERS|NEWSGROUPS|OVERVIEW.FMT [wildmat]",
                "LISTGROUP [group [range]]",
                "NEWGROUPS yyyymmdd hhmmss [GMT]",
                "NEXT",
                "OVER [message-id|range]",
                "POST",
                "XHDR header [message-id|range]",
                "XOVER [range]",
                "XPAT header message-id|range pattern",
            ]);
            if self.w.config.get_bool("allownewnews") {
                lines.push("NEWNEWS wildmat yyyymmdd hhmmss [GMT]");
            }
        }
        if self.mode.feed {
            lines.extend(["CHECK message-id", "IHAVE message-id", "TAKETHIS message-id"]);
        }
        lines.sort();
        for l in lines {
            conn.write_fmt(format_args!("\t{l}\r\n"));
        }
        conn.write(b".\r\n");
    }

    fn starttls(&mut self, conn: &mut Conn) -> Flow {
        if self.userid.is_some() {
            conn.write(b"502 Already authenticated\r\n");
            return Flow::Go;
        }
        if conn.is_compressed() {
            conn.write(b"502 TLS not allowed after COMPRESS\r\n");
            return Flow::Go;
        }
        match self.w.starttls(conn, b"382 Begin TLS negotiation now\r\n") {
            StartTls::Done => {}
            StartTls::Unavailable => conn.write(b"580 Can not initiate TLS negotiation\r\n"),
            StartTls::AlreadyActive => conn.write(b"502 Already using a security layer\r\n"),
            StartTls::Pipelined => conn.write(b"501 Nothing may follow STARTTLS in the same packet\r\n"),
            StartTls::Lost => return Flow::Quit,
        }
        Flow::Go
    }

    fn compress(&mut self, conn: &mut Conn, args: &[&str]) -> Flow {
        match args {
            [] => conn.write(b"501 Missing argument\r\n"),
            [_, _, ..] => conn.write(b"501 Unexpected extra argument\r\n"),
            _ if conn.is_compressed() => conn.write(b"502 DEFLATE compression already active via COMPRESS\r\n"),
            [alg] if !alg.eq_ignore_ascii_case("DEFLATE") => conn.write_fmt(format_args!("502 Unknown COMPRESS algorithm: {alg}\r\n")),
            _ => {
                conn.write(b"206 DEFLATE compression active\r\n");
                if let Err(e) = conn.start_deflate() {
                    log::info!("COMPRESS from {}: {e}", conn.peer);
                    return Flow::Quit;
                }
            }
        }
        Flow::Go
    }

    pub fn sasl(&self, conn: &Conn) -> Option<sasl::ServerConn> {
        let mut c = service::auth::server_conn(self.w, conn, "nntp")?;
        if self.ext_ssf > 1 {
            let _ = c.set_plaintext_allowed(true);
        }
        Some(c)
    }

    fn authinfo(&mut self, conn: &mut Conn, line: &str, args: &[&str]) -> Flow {
        let Some(sub) = args.first().map(|s| s.to_ascii_uppercase()) else {
            conn.write(b"501 Missing argument\r\n");
            return Flow::Go;
        };
        match sub.as_str() {
            "USER" | "PASS" => {
                // The argument is the rest of the line: it may hold spaces.
                let rest = line.trim_start().splitn(3, [' ', '\t']).nth(2).unwrap_or("").trim_start_matches([' ', '\t']);
                if rest.is_empty() {
                    conn.write(b"501 Missing argument\r\n");
                } else if sub == "USER" {
                    self.authinfo_user(conn, rest);
                } else {
                    self.authinfo_pass(conn, rest);
                }
            }
            "SASL" => return self.authinfo_sasl(conn, &args[1..]),
            _ => conn.write(b"501 Unrecognized AUTHINFO command\r\n"),
        }
        Flow::Go
    }

    fn authinfo_user(&mut self, conn: &mut Conn, user: &str) {
        if self.userid.is_some() {
            conn.write(b"502 Already authenticated\r\n");
        } else if !self.plaintext_ok(conn) {
            conn.write(b"483 AUTHINFO USER command only available under a layer\r\n");
        } else {
            self.pending_user = Some(user.to_string());
            conn.write(b"381 Give AUTHINFO PASS command\r\n");
        }
    }

    fn authinfo_pass(&mut self, conn: &mut Conn, pass: &str) {
        if self.userid.is_some() {
            conn.write(b"502 Already authenticated\r\n");
            return;
        }
        let Some(user) = self.pending_user.take() else {
            conn.write(b"482 Must give AUTHINFO USER command first\r\n");
            return;
        };
        let store = self.store.expect("checked at start");
        if user == "anonymous" {
            if self.allow_anonymous {
                log::info!("login: {} anonymous {}", conn.peer, pass.chars().filter(|c| !c.is_control()).take(100).collect::<String>());
                self.userid = None;
                conn.write(b"281 User logged in\r\n");
            } else {
                self.failed(conn, "anonymous", "plaintext", "anonymous login refused");
            }
            return;
        }
        let user = match store.ns.canonical_userid(&user, None) {
            Ok(u) => u,
            Err(e) => return self.failed(conn, &user, "plaintext", &e.to_string()),
        };
        let checked = match self.sasl(conn) {
            Some(mut c) => c.checkpass(&user, pass.as_bytes()),
            None => Err(sasl::SaslError { code: sasl::SASL_UNAVAIL, detail: "SASL is not available".into() }),
        };
        match checked {
            Ok(()) => {
                if self.login(conn, &user, &user, "plaintext") {
                    conn.write(b"281 User logged in\r\n");
                }
            }
            Err(e) => self.sasl_failed(conn, &user, "plaintext", &e),
        }
    }

    fn authinfo_sasl(&mut self, conn: &mut Conn, args: &[&str]) -> Flow {
        if self.userid.is_some() {
            conn.write(b"502 Already authenticated\r\n");
            return Flow::Go;
        }
        let Some(mech) = args.first().map(|m| m.to_ascii_uppercase()) else {
            conn.write(b"501 Missing argument\r\n");
            return Flow::Go;
        };
        if args.len() > 2 {
            conn.write(b"501 Unexpected extra argument\r\n");
            return Flow::Go;
        }
        let Ok(initial) = service::auth::initial_response(args.get(1).copied()) else {
            conn.write(b"504 Base64 encoding error\r\n");
            return Flow::Go;
        };
        let Some(mut sc) = self.sasl(conn) else {
            conn.write(b"403 Authentication is not available\r\n");
            return Flow::Go;
        };
        match service::auth::exchange_framed(conn, &mut sc, &mech, initial.as_deref(), &mut NntpSasl) {
            Ok((user, data)) => {
                let authid = sc.authuser().unwrap_or_else(|| user.clone());
                if self.login(conn, &authid, &user, &mech) {
                    match data.filter(|d| !d.is_empty()) {
                        Some(d) => conn.write_fmt(format_args!("283 {}\r\n", openssl::base64::encode_block(&d))),
                        None => conn.write(b"281 Authentication succeeded\r\n"),
                    }
                }
            }
            Err(AuthError::Failed(e)) => self.sasl_failed(conn, &service::auth::attempted(&sc), &mech, &e),
            Err(AuthError::Cancelled) => conn.write(b"481 Client canceled authentication\r\n"),
            Err(AuthError::BadBase64) => conn.write(b"504 Base64 encoding error\r\n"),
            Err(AuthError::Lost) => return Flow::Quit,
        }
        Flow::Go
    }

    fn failed(&mut self, conn: &mut Conn, who: &str, mech: &str, why: &str) {
        self.refused(conn, who, mech, why, b"481 Invalid login\r\n");
    }

    /// A login libsasl2 refused, or could not check at all (password service down or
    /// hanging): then the client is told it is a fault here (403), not a wrong password.
    fn sasl_failed(&mut self, conn: &mut Conn, who: &str, mech: &str, e: &sasl::SaslError) {
        let answer: &[u8] = if e.is_temporary() { b"403 Authentication service unavailable, try again later\r\n" } else { b"481 Invalid login\r\n" };
        self.refused(conn, who, mech, &e.to_string(), answer);
    }

    fn refused(&mut self, conn: &mut Conn, who: &str, mech: &str, why: &str, answer: &[u8]) {
        service::identity::refuse_login(conn, &mut self.failures, mech, who, why);
        conn.write(answer);
    }

    /// Authenticated as `authid`, acting as `user`: the identity rules, cyr_deny and
    /// login limits of every daemon; false (answered) when refused.
    fn login(&mut self, conn: &mut Conn, authid: &str, user: &str, mech: &str) -> bool {
        let store = self.store.expect("checked at start");
        let userid = match service::identity::userid(self.w, conn, store, authid, user) {
            Ok(u) => u,
            Err(why) => {
                self.failed(conn, authid, mech, &why.0);
                return false;
            }
        };
        match service::procs::login(self.w, conn, &userid) {
            Ok(l) => self.proc_login = Some(l),
            Err(lim) => {
                log::info!("login refused: {} {userid}: {lim:?} sessions at once", conn.peer);
                conn.write(b"400 Too many open connections\r\n");
                return false;
            }
        }
        log::info!("login: {} {userid} {mech}{} User logged in", conn.peer, if conn.is_tls() { "+TLS" } else { "" });
        service::metrics::inc(service::metrics::Slot::AUTH_YES);
        self.userid = Some(userid);
        true
    }
}

/// RFC 4643's framing of a SASL exchange: challenges as `383 base64`, answers as
/// base64 lines, `=` an empty answer, `*` cancels; the final data goes in `283`.
struct NntpSasl;

impl Framing for NntpSasl {
    fn send_challenge(&mut self, conn: &mut Conn, challenge: &[u8]) -> bool {
        let text = if challenge.is_empty() { "=".to_string() } else { openssl::base64::encode_block(challenge) };
        conn.write_fmt(format_args!("383 {text}\r\n"));
        conn.flush().is_ok()
    }

    fn read_response(&mut self, conn: &mut Conn) -> Result<Vec<u8>, AuthError> {
        let mut line = Vec::new();
        match conn.read_line(&mut line, MAX_SASL_LINE) {
            Ok(()) => {}
            Err(ReadError::TooLong) => return Err(AuthError::BadBase64),
            Err(_) => return Err(AuthError::Lost),
        }
        match line.as_slice() {
            b"*" => Err(AuthError::Cancelled),
            b"=" | b"" => Ok(Vec::new()),
            l => openssl::base64::decode_block(String::from_utf8_lossy(l).trim()).map_err(|_| AuthError::BadBase64),
        }
    }

    fn final_data_as_challenge(&self) -> bool {
        false
    }
}
