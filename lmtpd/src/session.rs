//! One LMTP session (RFC 2033): LHLO, STARTTLS, AUTH, MAIL, RCPT, DATA or BDAT, RSET,
//! NOOP, VRFY, QUIT, with one reply per accepted recipient after the message.
//!
//! Replies are flushed only when the client has nothing more pipelined, so a
//! PIPELINING client gets its replies in as few packets as possible. A connection on
//! an internet socket must authenticate before MAIL unless lmtpd runs with `-a`; a
//! unix socket is trusted (as in Cyrus).

use crate::address::{self, PathArg};
use crate::data::{self, DataEnd, EightBit};
use crate::deliver::{Deliverer, Reply, Target};
use service::auth::AuthError;
use service::{Addr, Conn, ReadError, StartTls, Worker, metrics};
use std::time::Duration;

/// RFC 5321 4.5.3.1.4: command lines are at most 512 octets; we allow more.
const MAX_LINE: usize = 4096;
/// SASL responses (Kerberos tickets) can be much longer than commands.
const MAX_SASL_LINE: usize = 64 * 1024;
/// Hard bound on a message held in memory when maxmessagesize is 0.
const HARD_MAX: usize = 1 << 30;
const TIMEOUT: Duration = Duration::from_secs(300);
/// Most recipients in one transaction.
const MAX_RCPTS: usize = 1000;

pub struct Session<'a> {
    w: &'a Worker,
    d: Option<&'a mut Deliverer>,
    host: String,
    max_size: usize,
    eight_bit: EightBit,
    authenticated: Option<String>,
    trusted: bool,
    lhlo: Option<String>,
    from: Option<PathArg>,
    rcpts: Vec<Target>,
    chunks: Vec<u8>,
    chunks_over: bool,
}

enum Flow {
    Go,
    Quit,
}

impl<'a> Session<'a> {
    pub fn new(w: &'a Worker, d: Option<&'a mut Deliverer>, conn: &Conn, preauth: bool) -> Session<'a> {
        let max = w.config.get_int("maxmessagesize");
        let eight_bit = if w.config.get_bool("reject8bit") {
            EightBit::Reject
        } else if w.config.get_bool("munge8bit") {
            EightBit::Munge
        } else {
            EightBit::Keep
        };
        Session {
            w,
            d,
            host: w.servername(),
            max_size: if max > 0 { (max as usize).min(HARD_MAX) } else { HARD_MAX },
            eight_bit,
            authenticated: None,
            trusted: preauth || conn.peer == Addr::Unix,
            lhlo: None,
            from: None,
            rcpts: Vec::new(),
            chunks: Vec::new(),
            chunks_over: false,
        }
    }

    fn reset(&mut self) {
        self.from = None;
        self.rcpts.clear();
        self.chunks.clear();
        self.chunks_over = false;
    }

    pub fn run(&mut self, conn: &mut Conn) {
        let _ = conn.set_timeout(Some(TIMEOUT));
        conn.write_fmt(format_args!("220 {} LMTP Cyrus-compatible server ready\r\n", self.host));
        if conn.flush().is_err() {
            return;
        }
        let mut line = Vec::with_capacity(256);
        loop {
            let flow = match conn.read_line(&mut line, MAX_LINE) {
                Ok(()) => self.command(conn, &line),
                Err(ReadError::TooLong) => {
                    conn.write(b"500 5.5.2 Line too long\r\n");
                    Flow::Go
                }
                Err(ReadError::Timeout) => {
                    conn.write_fmt(format_args!("421 4.4.2 {} Connection timed out\r\n", self.host));
                    let _ = conn.flush();
                    return;
                }
                Err(_) => return,
            };
            if conn.buffered() == 0 || matches!(flow, Flow::Quit) {
                if conn.flush().is_err() {
                    return;
                }
            }
            if matches!(flow, Flow::Quit) {
                return;
            }
        }
    }

    fn lhlo_reply(&self, conn: &Conn) -> String {
        let mut caps = vec![
            "8BITMIME".to_string(),
            "ENHANCEDSTATUSCODES".into(),
            "PIPELINING".into(),
            if self.max_size < HARD_MAX { format!("SIZE {}", self.max_size) } else { "SIZE".into() },
            "CHUNKING".into(),
            "SMTPUTF8".into(),
            "IGNOREQUOTA".into(),
        ];
        if conn.peer != Addr::Unix && !conn.is_tls() && self.w.tls_configured() {
            caps.push("STARTTLS".into());
        }
        if self.authenticated.is_none() && !self.trusted {
            if let Some(mechs) = self.mechanisms(conn) {
                if !mechs.is_empty() {
                    caps.push(format!("AUTH {}", mechs.join(" ")));
                }
            }
        }
        let mut s = format!("250-{}\r\n", self.host);
        for (i, c) in caps.iter().enumerate() {
            s.push_str(&format!("250{}{c}\r\n", if i + 1 == caps.len() { ' ' } else { '-' }));
        }
        s
    }

    fn sasl_conn(&self, conn: &Conn) -> Option<sasl::ServerConn> {
        service::auth::server_conn(self.w, conn, "lmtp")
    }

    fn mechanisms(&self, conn: &Conn) -> Option<Vec<String>> {
        self.sasl_conn(conn)?.mechanisms().ok()
    }

    fn command(&mut self, conn: &mut Conn, line: &[u8]) -> Flow {
        let text = String::from_utf8_lossy(line);
        let (verb, rest) = match text.split_once(' ') {
            Some((v, r)) => (v.to_ascii_uppercase(), r.to_string()),
            None => (text.to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "LHLO" => {
                if rest.trim().is_empty() {
                    conn.write(b"501 5.5.4 Syntax: LHLO hostname\r\n");
                } else {
                    self.reset();
                    self.lhlo = Some(rest.trim().to_string());
                    conn.write(self.lhlo_reply(conn).as_bytes());
                }
            }
            "HELO" | "EHLO" => conn.write(b"500 5.5.1 This is LMTP: use LHLO\r\n"),
            "QUIT" => {
                conn.write_fmt(format_args!("221 2.0.0 {} closing connection\r\n", self.host));
                return Flow::Quit;
            }
            "NOOP" => conn.write(b"250 2.0.0 Ok\r\n"),
            "RSET" => {
                self.reset();
                conn.write(b"250 2.0.0 Ok\r\n");
            }
            "VRFY" => conn.write(b"252 2.3.3 Cannot verify the user; try RCPT\r\n"),
            "STARTTLS" => return self.starttls(conn),
            "AUTH" => self.auth(conn, &rest),
            "MAIL" => self.mail(conn, &rest),
            "RCPT" => self.rcpt(conn, &rest),
            "DATA" => return self.data(conn),
            "BDAT" => return self.bdat(conn, &rest),
            _ => conn.write(b"500 5.5.2 Unrecognized command\r\n"),
        }
        Flow::Go
    }

    fn starttls(&mut self, conn: &mut Conn) -> Flow {
        match self.w.starttls(conn, b"220 2.0.0 Ready to start TLS\r\n") {
            StartTls::Done => {
                // RFC 3207: forget everything learnt before TLS.
                self.reset();
                self.lhlo = None;
                self.authenticated = None;
            }
            StartTls::Unavailable => conn.write(b"454 4.7.0 TLS not available\r\n"),
            StartTls::AlreadyActive => conn.write(b"503 5.5.1 TLS already active\r\n"),
            StartTls::Pipelined => conn.write(b"503 5.5.1 Nothing may follow STARTTLS in the same packet\r\n"),
            StartTls::Lost => return Flow::Quit,
        }
        Flow::Go
    }

    fn auth(&mut self, conn: &mut Conn, rest: &str) {
        if self.authenticated.is_some() {
            conn.write(b"503 5.5.1 Already authenticated\r\n");
            return;
        }
        if self.from.is_some() {
            conn.write(b"503 5.5.1 AUTH not allowed during a mail transaction\r\n");
            return;
        }
        let mut parts = rest.split_whitespace();
        let mech = parts.next().unwrap_or("").to_ascii_uppercase();
        let Ok(initial) = service::auth::initial_response(parts.next()) else {
            conn.write(b"501 5.5.2 Bad base64 in initial response\r\n");
            return;
        };
        let Some(mut sc) = self.sasl_conn(conn) else {
            conn.write(b"454 4.7.0 Authentication is not available\r\n");
            return;
        };
        match service::auth::exchange(conn, &mut sc, &mech, initial.as_deref(), "334 ", MAX_SASL_LINE) {
            Ok((user, _)) => {
                let authid = sc.authuser().unwrap_or_else(|| user.clone());
                let Some(d) = self.d.as_deref() else {
                    conn.write(b"454 4.3.0 Mail store unavailable\r\n");
                    return;
                };
                match service::identity::userid(self.w, conn, &d.store, &authid, &user) {
                    Ok(user) => {
                        log::info!("login: {} {} {} {}", self.lhlo.as_deref().unwrap_or("?"), conn.peer, user, mech);
                        metrics::inc(metrics::Slot::AUTH_YES);
                        self.authenticated = Some(user);
                        conn.write(b"235 2.7.0 Authentication successful\r\n");
                    }
                    Err(why) => {
                        service::identity::log_refusal(conn, &mech, &authid, &why.0);
                        conn.write(b"535 5.7.8 Authentication failed\r\n");
                    }
                }
            }
            Err(AuthError::Failed(e)) => {
                let why = format!("{}: {}", if e.is_auth_failure() { "authentication failure" } else { "error" }, e.detail);
                service::identity::log_refusal(conn, &mech, &service::auth::attempted(&sc), &why);
                // RFC 4954: 454 when the credentials could not be checked now.
                conn.write(if e.is_temporary() { b"454 4.7.0 Temporary authentication failure\r\n" } else { b"535 5.7.8 Authentication failed\r\n" });
            }
            Err(AuthError::Cancelled) => conn.write(b"501 5.0.0 Authentication cancelled\r\n"),
            Err(AuthError::BadBase64) => conn.write(b"501 5.5.2 Bad base64\r\n"),
            Err(AuthError::Lost) => conn.write(b"421 4.4.2 Connection lost during authentication\r\n"),
        }
    }

    fn mail(&mut self, conn: &mut Conn, rest: &str) {
        if self.lhlo.is_none() {
            conn.write(b"503 5.5.1 Send LHLO first\r\n");
            return;
        }
        if self.from.is_some() {
            conn.write(b"503 5.5.1 Nested MAIL command\r\n");
            return;
        }
        if self.authenticated.is_none() && !self.trusted {
            conn.write(b"530 5.7.0 Authentication required\r\n");
            return;
        }
        let p = match address::parse(rest, "FROM:") {
            Ok(p) => p,
            Err(e) => {
                conn.write_fmt(format_args!("501 5.5.4 {e}\r\n"));
                return;
            }
        };
        if let Some(Some(size)) = p.param("SIZE") {
            match size.parse::<usize>() {
                Ok(n) if n > self.max_size => {
                    conn.write(b"552 5.3.4 Message size exceeds fixed maximum message size\r\n");
                    return;
                }
                Ok(_) => {}
                Err(_) => {
                    conn.write(b"501 5.5.4 Bad SIZE parameter\r\n");
                    return;
                }
            }
        }
        if let Some(body) = p.param("BODY") {
            if !matches!(body.map(str::to_ascii_uppercase).as_deref(), Some("7BIT") | Some("8BITMIME")) {
                conn.write(b"555 5.5.4 Unsupported BODY parameter\r\n");
                return;
            }
        }
        self.from = Some(p);
        conn.write(b"250 2.1.0 Ok\r\n");
    }

    fn rcpt(&mut self, conn: &mut Conn, rest: &str) {
        if self.from.is_none() {
            conn.write(b"503 5.5.1 Need MAIL command\r\n");
            return;
        }
        if self.rcpts.len() >= MAX_RCPTS {
            conn.write(b"452 4.5.3 Too many recipients\r\n");
            return;
        }
        let p = match address::parse(rest, "TO:") {
            Ok(p) => p,
            Err(e) => {
                conn.write_fmt(format_args!("501 5.5.4 {e}\r\n"));
                return;
            }
        };
        // IGNOREQUOTA is honoured for trusted and authenticated clients, as Cyrus does.
        let ignore_quota = p.param("IGNOREQUOTA").is_some() && (self.trusted || self.authenticated.is_some());
        // The poster whose `p` right a +detail folder needs: the authenticated user, or
        // on a trusted socket the MAIL FROM's AUTH= (RFC 4954 xtext; Cyrus's deliver -a).
        let auth_param = || self.from.as_ref().and_then(|f| f.param("AUTH").flatten()).filter(|a| *a != "<>").map(xtext_decode);
        let poster = self.authenticated.clone().or_else(|| if self.trusted { auth_param() } else { None }).unwrap_or_else(|| "anonymous".into());
        let Some(d) = self.d.as_deref() else {
            conn.write(b"451 4.3.0 Mail store unavailable\r\n");
            return;
        };
        match d.resolve(&p.addr, &poster, ignore_quota) {
            Ok(t) => {
                self.rcpts.push(t);
                metrics::inc(metrics::Slot::LMTP_RECIPIENTS);
                conn.write(b"250 2.1.5 Ok\r\n");
            }
            Err(r) => {
                if r.text.starts_with("5.1.1") {
                    metrics::inc(metrics::Slot::DELIVER_UNKNOWN_USER);
                }
                conn.write(r.line().as_bytes())
            }
        }
    }

    fn data(&mut self, conn: &mut Conn) -> Flow {
        if self.from.is_none() {
            conn.write(b"503 5.5.1 Need MAIL command\r\n");
            return Flow::Go;
        }
        if self.rcpts.is_empty() {
            conn.write(b"503 5.5.1 No valid recipients\r\n");
            return Flow::Go;
        }
        if !self.chunks.is_empty() || self.chunks_over {
            conn.write(b"503 5.5.1 DATA not allowed after BDAT\r\n");
            return Flow::Go;
        }
        conn.write(b"354 Go ahead, end with <CRLF>.<CRLF>\r\n");
        if conn.flush().is_err() {
            return Flow::Quit;
        }
        let mut raw = Vec::new();
        match data::read_data(conn, &mut raw, self.max_size) {
            DataEnd::Complete => self.finish(conn, raw),
            DataEnd::TooBig => self.reply_all(conn, &Reply::new(552, "5.3.4 Message size exceeds fixed maximum message size")),
            DataEnd::Lost(e) => {
                log::info!("connection from {} lost during DATA ({e}); nothing delivered", conn.peer);
                return Flow::Quit;
            }
        }
        self.reset();
        Flow::Go
    }

    fn bdat(&mut self, conn: &mut Conn, rest: &str) -> Flow {
        let mut parts = rest.split_whitespace();
        let size = parts.next().and_then(|s| s.parse::<usize>().ok());
        let last = parts.next().is_some_and(|l| l.eq_ignore_ascii_case("LAST"));
        let Some(size) = size else {
            conn.write(b"501 5.5.4 Syntax: BDAT size [LAST]\r\n");
            return Flow::Quit; // the chunk's length is unknown: the session cannot go on
        };
        if self.from.is_none() || self.rcpts.is_empty() {
            // Read and drop the chunk so the session stays in step.
            if conn.skip(size).is_err() {
                return Flow::Quit;
            }
            conn.write(if self.from.is_none() { &b"503 5.5.1 Need MAIL command\r\n"[..] } else { &b"503 5.5.1 No valid recipients\r\n"[..] });
            return Flow::Go;
        }
        if let Err(e) = data::read_chunk(conn, &mut self.chunks, size, self.max_size, &mut self.chunks_over) {
            log::info!("connection from {} lost during BDAT ({e}); nothing delivered", conn.peer);
            return Flow::Quit;
        }
        if !last {
            conn.write_fmt(format_args!("250 2.0.0 {size} octets received\r\n"));
            return Flow::Go;
        }
        if self.chunks_over {
            self.reply_all(conn, &Reply::new(552, "5.3.4 Message size exceeds fixed maximum message size"));
        } else {
            let raw = data::normalise_crlf(std::mem::take(&mut self.chunks));
            self.finish(conn, raw);
        }
        self.reset();
        Flow::Go
    }

    fn reply_all(&self, conn: &mut Conn, r: &Reply) {
        for _ in &self.rcpts {
            conn.write(r.line().as_bytes());
        }
    }

    /// The message is complete: check it, add the trace headers, deliver, and answer
    /// once per recipient.
    fn finish(&mut self, conn: &mut Conn, mut raw: Vec<u8>) {
        if data::has_nul(&raw) {
            self.reply_all(conn, &Reply::new(554, "5.6.0 Message contains NUL characters"));
            return;
        }
        let utf8 = self.from.as_ref().is_some_and(|f| f.param("SMTPUTF8").is_some());
        if !data::eight_bit_headers(&mut raw, self.eight_bit, utf8) {
            self.reply_all(conn, &Reply::new(554, "5.6.0 Message contains non-ASCII characters in headers"));
            return;
        }
        let sender = self.from.as_ref().map(|f| f.addr.clone()).unwrap_or_default();
        let with = match (conn.is_tls(), self.authenticated.is_some() || self.trusted) {
            (false, false) => "LMTP",
            (false, true) => "LMTPA",
            (true, false) => "LMTPS",
            (true, true) => "LMTPSA",
        };
        let from = match &conn.peer {
            Addr::Unix => format!("{} (unix socket)", self.lhlo.as_deref().unwrap_or("localhost")),
            peer => format!("{} ({peer})", self.lhlo.as_deref().unwrap_or("unknown")),
        };
        let received = format!(
            "Received: from {from}\r\n\tby {} (Cyrus-compatible mail suite {}) with {with};\r\n\t{}\r\n",
            self.host,
            env!("CARGO_PKG_VERSION"),
            data::rfc5322_now()
        );
        let stored = data::with_trace(&raw, &sender, &received);
        let parsed = message::parse(&stored);
        let Some(d) = self.d.as_deref_mut() else { return };
        let ctx = crate::filter::Context {
            sender: &sender,
            auth: self.authenticated.as_deref(),
            remote_host: self.lhlo.clone().unwrap_or_default(),
            remote_ip: match &conn.peer {
                Addr::Inet(a) => a.ip().to_string(),
                Addr::Unix => String::new(),
            },
        };
        metrics::inc(metrics::Slot::LMTP_MESSAGES);
        metrics::add(metrics::Slot::LMTP_BYTES, raw.len() as u64);
        let replies = d.deliver(&self.rcpts, &stored, &parsed, &ctx);
        for r in replies {
            conn.write(r.line().as_bytes());
        }
    }
}

/// Decodes RFC 3461 xtext (`+XX` hexadecimal escapes); a bad escape stays as it is.
fn xtext_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            if let Some(v) = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
