//! One ManageSieve session (RFC 5804): the greeting, the command loop, and the
//! commands of the non-authenticated state (CAPABILITY, STARTTLS, AUTHENTICATE, NOOP,
//! LOGOUT) plus UNAUTHENTICATE. The script commands are in [`crate::scripts`].
//!
//! Authentication is libsasl2's (service name `sieve`) through `service::auth`, as in
//! imapd and pop3d: plaintext mechanisms only under TLS unless `allowplaintext`;
//! `admins` and `proxyservers` may act for another user (an authorisation identity);
//! an admin logged in as itself manages the global scripts, as in Cyrus.

use crate::wire::{self, CmdError, Token, put_string, response};
use mboxlist::Store;
use service::auth::{AuthError, Framing};
use service::{Conn, ReadError, StartTls, Worker};
use sieve::store::{Limits, ScriptDir};
use std::time::Duration;

/// Lines of commands other than a quoted script, and SASL responses.
const MIN_LINE: usize = 8 * 1024;
/// The largest literal any command may carry, whatever `sieve_maxscriptsize` says.
const LITERAL_CAP: u64 = 64 << 20;

/// The state after a successful AUTHENTICATE.
pub struct LoggedIn {
    /// Whose scripts these are (the authorisation identity).
    pub userid: String,
    /// Who authenticated, when another user (an admin or proxy server acting for them).
    pub proxied_by: Option<String>,
    pub scripts: ScriptDir,
}

pub struct Session<'a> {
    pub w: &'a Worker,
    store: Option<&'a Store>,
    pub exts: sieve::Extensions,
    pub limits: Limits,
    pub wire: wire::Limits,
    pub user: Option<LoggedIn>,
    failures: u32,
}

/// What the loop does after a command.
pub enum Flow {
    Go,
    Close,
}

impl<'a> Session<'a> {
    pub fn new(w: &'a Worker, store: Option<&'a Store>) -> Session<'a> {
        let limits = Limits::from_config(&w.config);
        // Room for a script at the limit and a name sent as a literal beside it.
        let max_literal = limits.max_size.saturating_add(1024).clamp(MIN_LINE as u64, LITERAL_CAP);
        Session {
            w,
            store,
            exts: sieve::Extensions::from_config(w.config.get_str("sieve_extensions")),
            limits,
            // A quoted script must fit on one line.
            wire: wire::Limits { max_line: (max_literal as usize).saturating_add(1024), max_literal },
            user: None,
            failures: 0,
        }
    }

    pub fn run(&mut self, conn: &mut Conn) {
        let timeout = self.w.config.get_duration("timeout").max(Duration::from_secs(600));
        let _ = conn.set_timeout(Some(timeout));
        self.capabilities(conn);
        if conn.flush().is_err() {
            return;
        }
        loop {
            let flow = match wire::read_command(conn, &self.wire) {
                Ok(tokens) if tokens.is_empty() => Flow::Go,
                Ok(tokens) => self.command(conn, tokens),
                Err(CmdError::TooBig(cmd)) => {
                    if matches!(cmd.as_str(), "PUTSCRIPT" | "CHECKSCRIPT") {
                        let max = self.limits.max_size;
                        conn.write(&response("NO", Some("QUOTA/MAXSIZE"), Some(&format!("Script size is too large. Max script size is {max} bytes"))));
                    } else {
                        conn.write(&response("NO", None, Some("String too long")));
                    }
                    Flow::Go
                }
                Err(CmdError::Syntax(e)) => {
                    conn.write(&response("NO", None, Some(e)));
                    Flow::Go
                }
                Err(CmdError::TooLong) => {
                    conn.write(&response("NO", None, Some("Line too long")));
                    Flow::Go
                }
                Err(CmdError::Conn(ReadError::Timeout)) => {
                    conn.write(&response("BYE", None, Some("Idle timeout")));
                    let _ = conn.flush();
                    Flow::Close
                }
                Err(CmdError::Conn(e)) => {
                    log::debug!("lost connection to {}: {e}", conn.peer);
                    Flow::Close
                }
            };
            if conn.flush().is_err() || matches!(flow, Flow::Close) {
                break;
            }
        }
        self.logout(conn);
    }

    fn command(&mut self, conn: &mut Conn, tokens: Vec<Token>) -> Flow {
        let mut args = tokens.into_iter();
        let Some(Token::Atom(word)) = args.next() else {
            conn.write(&response("NO", None, Some("Expected a command")));
            return Flow::Go;
        };
        let cmd = word.to_ascii_uppercase();
        let args: Vec<Token> = args.collect();
        if crate::scripts::is_command(&cmd) {
            if self.user.is_none() {
                conn.write(&response("NO", None, Some("Authenticate first")));
            } else {
                crate::scripts::command(self, conn, &cmd, &args);
            }
            return Flow::Go;
        }
        match (cmd.as_str(), args.as_slice()) {
            ("CAPABILITY", []) => self.capabilities(conn),
            ("LOGOUT", []) => {
                conn.write(&response("OK", None, Some("Logout Complete")));
                return Flow::Close;
            }
            ("NOOP", []) => conn.write(&response("OK", None, Some("Done"))),
            ("NOOP", [Token::Str(tag)]) => {
                // RFC 5804 2.11: the tag comes back in a TAG response code.
                let mut out = b"OK (TAG ".to_vec();
                put_string(&mut out, tag);
                out.extend_from_slice(b") \"Done\"\r\n");
                conn.write(&out);
            }
            ("STARTTLS", []) => return self.starttls(conn),
            // The mechanism is a string (RFC 5804); a bare word is taken too.
            ("AUTHENTICATE", [Token::Str(mech)]) => return self.authenticate(conn, &String::from_utf8_lossy(mech).to_ascii_uppercase(), None),
            ("AUTHENTICATE", [Token::Str(mech), Token::Str(ir)]) => {
                return self.authenticate(conn, &String::from_utf8_lossy(mech).to_ascii_uppercase(), Some(ir));
            }
            // RFC 5804 wants the mechanism as a string; a bare word is taken too.
            ("AUTHENTICATE", [Token::Atom(mech)]) => return self.authenticate(conn, &mech.to_ascii_uppercase(), None),
            ("AUTHENTICATE", [Token::Atom(mech), Token::Str(ir)]) => return self.authenticate(conn, &mech.to_ascii_uppercase(), Some(ir)),
            ("UNAUTHENTICATE", []) if self.user.is_none() => conn.write(&response("NO", None, Some("Authenticate first"))),
            ("UNAUTHENTICATE", []) => {
                self.logout(conn);
                conn.write(&response("OK", None, None));
            }
            ("CAPABILITY" | "LOGOUT" | "NOOP" | "STARTTLS" | "AUTHENTICATE" | "UNAUTHENTICATE", _) => {
                conn.write(&response("NO", None, Some(&format!("Invalid arguments to {cmd}"))));
            }
            _ => conn.write(&response("NO", None, Some("Unrecognized command"))),
        }
        Flow::Go
    }

    /// The capability lines and OK (the greeting, CAPABILITY, and after STARTTLS).
    fn capabilities(&self, conn: &mut Conn) {
        let mut out = Vec::new();
        let mut cap = |name: &str, value: Option<&str>| {
            put_string(&mut out, name.as_bytes());
            if let Some(v) = value {
                out.push(b' ');
                put_string(&mut out, v.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        };
        let implementation = match self.w.config.get_str("serverinfo").unwrap_or("on") {
            "off" => "ManageSieve".to_string(),
            "min" => "Cyrus-compatible timsieved".to_string(),
            _ => format!("Cyrus-compatible timsieved {}", env!("CARGO_PKG_VERSION")),
        };
        cap("IMPLEMENTATION", Some(&implementation));
        cap("VERSION", Some("1.0"));
        if self.user.is_none() {
            // As Cyrus: no SASL line once authenticated (there is no security layer to
            // negotiate again).
            let mechs = self.sasl(conn).and_then(|c| c.mechanisms().ok()).unwrap_or_default();
            cap("SASL", Some(&mechs.join(" ")));
        }
        cap("SIEVE", Some(&self.exts.capability()));
        if self.exts.allows("enotify") {
            cap("NOTIFY", Some("mailto"));
        }
        // lmtpd sets no limit when sieve_maxredirects is 0.
        let redirects = self.w.config.get_int("sieve_maxredirects");
        if redirects > 0 {
            cap("MAXREDIRECTS", Some(&redirects.to_string()));
        }
        if self.user.is_none() && !conn.is_tls() && self.w.tls_configured() {
            cap("STARTTLS", None);
        }
        if let Some(u) = &self.user {
            cap("OWNER", Some(&u.userid));
        }
        cap("UNAUTHENTICATE", None);
        out.extend_from_slice(b"OK\r\n");
        conn.write(&out);
    }

    fn sasl(&self, conn: &Conn) -> Option<sasl::ServerConn> {
        service::auth::server_conn(self.w, conn, "sieve")
    }

    fn starttls(&mut self, conn: &mut Conn) -> Flow {
        if self.user.is_some() {
            conn.write(&response("NO", None, Some("STARTTLS is only allowed before authentication")));
            return Flow::Go;
        }
        match self.w.starttls(conn, &response("OK", None, Some("Begin TLS negotiation now"))) {
            // RFC 5804 2.2: the capabilities again, now that TLS is on.
            StartTls::Done => self.capabilities(conn),
            StartTls::Unavailable => conn.write(&response("NO", None, Some("TLS is not available"))),
            StartTls::AlreadyActive => conn.write(&response("NO", None, Some("TLS already active"))),
            StartTls::Pipelined => {
                conn.write(&response("BYE", None, Some("Nothing may follow STARTTLS in the same packet")));
                return Flow::Close;
            }
            StartTls::Lost => return Flow::Close,
        }
        Flow::Go
    }

    fn authenticate(&mut self, conn: &mut Conn, mech: &str, ir: Option<&[u8]>) -> Flow {
        if self.user.is_some() {
            conn.write(&response("NO", None, Some("Already authenticated")));
            return Flow::Go;
        }
        if matches!(mech, "PLAIN" | "LOGIN") && !service::auth::plaintext_ok(self.w, conn) {
            log::info!("badlogin: {} {mech} plaintext mechanism refused without TLS", conn.peer);
            service::metrics::inc(service::metrics::Slot::AUTH_NO);
            conn.write(&response("NO", Some("ENCRYPT-NEEDED"), Some("Plaintext mechanisms are only allowed under TLS (STARTTLS first)")));
            return Flow::Go;
        }
        let initial = match ir {
            None => None,
            Some(b) => match decode64(b) {
                Some(d) => Some(d),
                None => {
                    conn.write(&response("NO", None, Some("Invalid base64 in the initial response")));
                    return Flow::Go;
                }
            },
        };
        let Some(mut sc) = self.sasl(conn) else {
            conn.write(&response("NO", Some("TRYLATER"), Some("Authentication is not available")));
            return Flow::Go;
        };
        let mut framing = Strings { lim: self.wire };
        match service::auth::exchange_framed(conn, &mut sc, mech, initial.as_deref(), &mut framing) {
            Ok((user, data)) => {
                let authuser = sc.authuser().unwrap_or_else(|| user.clone());
                if self.logged_in(conn, &user, &authuser, mech) {
                    let mut out = b"OK".to_vec();
                    if let Some(d) = data {
                        out.extend_from_slice(b" (SASL ");
                        put_string(&mut out, openssl::base64::encode_block(&d).as_bytes());
                        out.push(b')');
                    }
                    out.extend_from_slice(b"\r\n");
                    conn.write(&out);
                }
            }
            Err(AuthError::Failed(e)) => {
                service::identity::refuse_login(conn, &mut self.failures, mech, &service::auth::attempted(&sc), &e.to_string());
                if e.is_temporary() {
                    conn.write(&response("NO", Some("TRYLATER"), Some("Authentication service unavailable")));
                } else {
                    conn.write(&response("NO", None, Some("Authentication failed")));
                }
            }
            Err(AuthError::Cancelled) => conn.write(&response("NO", None, Some("Authentication cancelled"))),
            Err(AuthError::BadBase64) => conn.write(&response("NO", None, Some("Expected a base64 string"))),
            Err(AuthError::Lost) => return Flow::Close,
        }
        Flow::Go
    }

    /// Sets the session up for `user` (authenticated by `authuser`); false when it was
    /// refused (the answer is written).
    fn logged_in(&mut self, conn: &mut Conn, user: &str, authuser: &str, mech: &str) -> bool {
        let cfg = &self.w.config;
        let Some(store) = self.store else {
            conn.write(&response("NO", Some("TRYLATER"), Some("The mail store is not available")));
            return false;
        };
        let user = match service::identity::userid(self.w, conn, store, authuser, user) {
            Ok(u) => u,
            Err(why) => {
                service::identity::log_refusal(conn, mech, authuser, &why.0);
                conn.write(&response("NO", None, Some("Authentication failed")));
                return false;
            }
        };
        let authuser = store.ns.canonical_userid(authuser, None).unwrap_or_else(|_| authuser.to_string());
        if cfg.get_bool("sieveusehomedir") {
            conn.write(&response("NO", None, Some("Scripts are kept in home directories (sieveusehomedir) and cannot be managed here")));
            return false;
        }
        let admin_self = user == authuser && store.is_admin(&user);
        let scripts = if admin_self {
            let domain = if store.ns.virtdomains { user.rsplit_once('@').map(|(_, d)| d) } else { None };
            ScriptDir::global(cfg, domain)
        } else {
            service::autocreate::at_login(cfg, store, &user);
            match store.lookup(&store.ns.inbox(&user)) {
                Ok(_) => {}
                Err(mboxlist::StoreError::NotFound(_) | mboxlist::StoreError::BadName(_)) => {
                    log::info!("badlogin: {} {mech} {user} has no mailbox on this server", conn.peer);
                    service::metrics::inc(service::metrics::Slot::AUTH_NO);
                    conn.write(&response("NO", None, Some("User has no mailbox on this server")));
                    return false;
                }
                Err(e) => {
                    log::error!("login of {user}: {e}");
                    conn.write(&response("NO", Some("TRYLATER"), Some("The mail store is not available")));
                    return false;
                }
            }
            ScriptDir::for_user(cfg, &user)
        };
        let scripts = match scripts {
            Ok(s) => s,
            Err(e) => {
                log::info!("badlogin: {} {mech} {user}: {e}", conn.peer);
                service::metrics::inc(service::metrics::Slot::AUTH_NO);
                conn.write(&response("NO", None, Some(&e.to_string())));
                return false;
            }
        };
        let tls = conn.tls_description().map(|t| format!(" {t}")).unwrap_or_default();
        let how = match (admin_self, user != authuser) {
            (true, _) => " (global scripts)".to_string(),
            (_, true) => format!(" (proxied by {authuser})"),
            _ => String::new(),
        };
        log::info!("login: {} {user} {mech}{tls} User logged in{how}", conn.peer);
        service::metrics::inc(service::metrics::Slot::AUTH_YES);
        self.user = Some(LoggedIn { proxied_by: (user != authuser).then_some(authuser), userid: user, scripts });
        true
    }

    /// Ends the logged-in state (UNAUTHENTICATE, LOGOUT, a closed connection).
    fn logout(&mut self, conn: &Conn) {
        if let Some(u) = self.user.take() {
            log::info!("Logout: {} {}", conn.peer, u.userid);
        }
    }
}

fn decode64(b: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(b).ok()?.trim();
    if text.is_empty() { Some(Vec::new()) } else { openssl::base64::decode_block(text).ok() }
}

/// ManageSieve's SASL framing: challenges as strings (a literal, as Cyrus sends
/// them), answers as one string on a line, `"*"` cancels; final data goes in the
/// `OK (SASL ...)` response.
struct Strings {
    lim: wire::Limits,
}

impl Framing for Strings {
    fn send_challenge(&mut self, conn: &mut Conn, challenge: &[u8]) -> bool {
        let b64 = openssl::base64::encode_block(challenge);
        conn.write_fmt(format_args!("{{{}}}\r\n{b64}\r\n", b64.len()));
        conn.flush().is_ok()
    }

    fn read_response(&mut self, conn: &mut Conn) -> Result<Vec<u8>, AuthError> {
        match wire::read_command(conn, &self.lim) {
            Ok(t) => match t.as_slice() {
                [Token::Atom(a)] if a == "*" => Err(AuthError::Cancelled),
                [Token::Str(s)] if s == b"*" => Err(AuthError::Cancelled),
                [Token::Str(s)] => decode64(s).ok_or(AuthError::BadBase64),
                _ => Err(AuthError::BadBase64),
            },
            Err(CmdError::Conn(_)) => Err(AuthError::Lost),
            Err(_) => Err(AuthError::BadBase64),
        }
    }

    fn final_data_as_challenge(&self) -> bool {
        false
    }
}
