//! The SASL exchange of every protocol, through libsasl2 ([`server_conn`]). On a line
//! protocol, challenges go out base64-encoded after the protocol's prefix (`334 ` for
//! LMTP, `+ ` for POP3 and IMAP), answers are read as base64 lines and `*` cancels
//! (RFC 4422 as RFC 4954, 5034 and 3501 frame it): [`exchange`]. A protocol that frames
//! the exchange otherwise (ManageSieve's strings) gives its own [`Framing`] to
//! [`exchange_framed`].

use crate::conn::Conn;
use crate::worker::Worker;

/// Whether passwords may travel on this connection: under TLS, or with
/// `allowplaintext`.
pub fn plaintext_ok(w: &Worker, conn: &Conn) -> bool {
    conn.is_tls() || w.config.get_bool("allowplaintext")
}

/// A libsasl2 server connection for this worker's service (`sasl_service` is Cyrus's
/// name: imap, pop, lmtp, sieve, nntp), with plaintext mechanisms gated by
/// [`plaintext_ok`]; under TLS the strength, the verified client certificate's CN (for
/// EXTERNAL) and the channel binding (for SCRAM-*-PLUS) passed on; calls that wait on
/// a password service bounded by `password_check_timeout`. `None` (logged by libsasl2) when
/// SASL cannot be set up.
pub fn server_conn(w: &Worker, conn: &Conn, sasl_service: &str) -> Option<sasl::ServerConn> {
    // Names are made userids (or refused) before libsasl2 looks them up, as Cyrus's
    // mysasl_canon_user, with the domain of the local address (virtdomains: on).
    let ns = mboxlist::store::namespace(&w.config);
    sasl::set_canon_user(move |name, here| ns.canonical_userid(name, here).map_err(|e| e.to_string()));
    sasl::init(w.program, &w.config).ok()?;
    let host = w.servername();
    let here = crate::identity::local_domain(w, conn);
    let mut c = sasl::ServerConn::new(sasl_service, &host, None, conn.local.sasl_form().as_deref(), conn.peer.sasl_form().as_deref(), here.as_deref()).ok()?;
    c.set_plaintext_allowed(plaintext_ok(w, conn)).ok()?;
    if conn.is_tls() {
        let _ = c.set_external_ssf(conn.tls_bits());
        if let Some(cn) = conn.tls_peer_cn() {
            let _ = c.set_external_authid(&cn);
        }
        let _ = c.set_channel_bindings(&conn.tls_channel_bindings());
    }
    let limit = w.config.get_duration("password_check_timeout");
    c.set_deadline((!limit.is_zero()).then_some(limit));
    Some(c)
}

/// Who an exchange that failed tried to authenticate as, for the `badlogin:` line
/// (libsasl2 knows once the mechanism has read the name; a name refused as no
/// userid is kept by the sasl crate), else `?`.
pub fn attempted(sc: &sasl::ServerConn) -> String {
    sc.authuser().or_else(sasl::take_refused_name).unwrap_or_else(|| "?".into())
}

/// How an exchange ended without success.
pub enum AuthError {
    /// Wrong credentials or a mechanism error: answer "authentication failed".
    Failed(sasl::SaslError),
    /// The client sent `*`.
    Cancelled,
    /// A line that is not base64.
    BadBase64,
    /// The connection broke: end the session.
    Lost,
}

/// How a protocol carries a SASL exchange: how a challenge goes out and how the
/// client's answer comes back. [`Lines`] is the base64-line framing of IMAP, POP3 and
/// LMTP; ManageSieve sends strings instead.
pub trait Framing {
    /// Queues a challenge (the raw bytes; the framing encodes them) and flushes.
    /// False when the connection broke.
    fn send_challenge(&mut self, conn: &mut Conn, challenge: &[u8]) -> bool;
    /// Reads the client's answer to a challenge, decoded.
    fn read_response(&mut self, conn: &mut Conn) -> Result<Vec<u8>, AuthError>;
    /// Whether the mechanism's final data (SCRAM's proof) goes out as one more
    /// challenge answered by an empty response (RFC 4954, 5034, 3501), rather than in
    /// the protocol's success response (RFC 5804 `OK (SASL ...)`), left to the caller.
    fn final_data_as_challenge(&self) -> bool {
        true
    }
}

/// Challenges as `PREFIX base64` lines, answers as base64 lines, `*` cancels.
pub struct Lines<'a> {
    pub prefix: &'a str,
    pub max_line: usize,
}

impl Framing for Lines<'_> {
    fn send_challenge(&mut self, conn: &mut Conn, challenge: &[u8]) -> bool {
        conn.write_fmt(format_args!("{}{}\r\n", self.prefix, openssl::base64::encode_block(challenge)));
        conn.flush().is_ok()
    }

    fn read_response(&mut self, conn: &mut Conn) -> Result<Vec<u8>, AuthError> {
        let mut line = Vec::new();
        match conn.read_line(&mut line, self.max_line) {
            Ok(()) => {}
            Err(crate::conn::ReadError::TooLong) => return Err(AuthError::BadBase64),
            Err(_) => return Err(AuthError::Lost),
        }
        if line == b"*" {
            return Err(AuthError::Cancelled);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() { Ok(Vec::new()) } else { openssl::base64::decode_block(text).map_err(|_| AuthError::BadBase64) }
    }
}

/// Runs `mech` on `sc` from the client's optional initial response to the end, with
/// base64 lines after `prefix` ([`Lines`]). Returns the authenticated user name and
/// any success data (for SCRAM).
pub fn exchange(conn: &mut Conn, sc: &mut sasl::ServerConn, mech: &str, initial: Option<&[u8]>, prefix: &str, max_line: usize) -> Result<(String, Option<Vec<u8>>), AuthError> {
    exchange_framed(conn, sc, mech, initial, &mut Lines { prefix, max_line })
}

/// [`exchange`] with the protocol's own framing.
pub fn exchange_framed(conn: &mut Conn, sc: &mut sasl::ServerConn, mech: &str, initial: Option<&[u8]>, framing: &mut dyn Framing) -> Result<(String, Option<Vec<u8>>), AuthError> {
    let mut step = sc.start(mech, initial);
    loop {
        match step {
            Ok(sasl::Step::Continue(ch)) => {
                if !framing.send_challenge(conn, &ch) {
                    return Err(AuthError::Lost);
                }
                let r = framing.read_response(conn)?;
                step = sc.step(&r);
            }
            Ok(sasl::Step::Done(Some(data))) if !data.is_empty() && framing.final_data_as_challenge() => {
                if !framing.send_challenge(conn, &data) {
                    return Err(AuthError::Lost);
                }
                framing.read_response(conn)?;
                return Ok((sc.username().unwrap_or_default(), Some(data)));
            }
            Ok(sasl::Step::Done(data)) => return Ok((sc.username().unwrap_or_default(), data)),
            Err(e) => return Err(AuthError::Failed(e)),
        }
    }
}

/// Decodes a SASL initial response argument (`=` is an empty one).
pub fn initial_response(arg: Option<&str>) -> Result<Option<Vec<u8>>, AuthError> {
    match arg {
        None => Ok(None),
        Some("=") => Ok(Some(Vec::new())),
        Some(ir) => openssl::base64::decode_block(ir).map(Some).map_err(|_| AuthError::BadBase64),
    }
}
