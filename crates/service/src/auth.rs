//! The SASL exchange on a line protocol: challenges sent base64-encoded after the
//! protocol's prefix (`334 ` for LMTP, `+ ` for POP3 and IMAP), answers read as
//! base64 lines, `*` cancels (RFC 4422 as RFC 4954, 5034 and 3501 frame it).

use crate::conn::Conn;
use crate::worker::Worker;

/// Whether passwords may travel on this connection: under TLS, or with
/// `allowplaintext`.
pub fn plaintext_ok(w: &Worker, conn: &Conn) -> bool {
    conn.is_tls() || w.config.get_bool("allowplaintext")
}

/// A libsasl2 server connection for this worker's service (`sasl_service` is Cyrus's
/// name: imap, pop, lmtp, sieve, nntp), with plaintext mechanisms gated by
/// [`plaintext_ok`] and the TLS strength passed on. `None` (logged by libsasl2) when
/// SASL cannot be set up.
pub fn server_conn(w: &Worker, conn: &Conn, sasl_service: &str) -> Option<sasl::ServerConn> {
    sasl::init(w.program, &w.config).ok()?;
    let host = w.servername();
    let mut c = sasl::ServerConn::new(sasl_service, &host, None, conn.local.sasl_form().as_deref(), conn.peer.sasl_form().as_deref()).ok()?;
    c.set_plaintext_allowed(plaintext_ok(w, conn)).ok()?;
    if conn.is_tls() {
        let _ = c.set_external_ssf(conn.tls_bits());
    }
    Some(c)
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

/// Runs `mech` on `sc` from the client's optional initial response to the end.
/// Returns the authenticated user name and any success data (for SCRAM).
pub fn exchange(conn: &mut Conn, sc: &mut sasl::ServerConn, mech: &str, initial: Option<&[u8]>, prefix: &str, max_line: usize) -> Result<(String, Option<Vec<u8>>), AuthError> {
    let mut step = sc.start(mech, initial);
    let mut line = Vec::new();
    loop {
        match step {
            Ok(sasl::Step::Continue(ch)) => {
                conn.write_fmt(format_args!("{prefix}{}\r\n", openssl::base64::encode_block(&ch)));
                if conn.flush().is_err() {
                    return Err(AuthError::Lost);
                }
                match conn.read_line(&mut line, max_line) {
                    Ok(()) => {}
                    Err(crate::conn::ReadError::TooLong) => return Err(AuthError::BadBase64),
                    Err(_) => return Err(AuthError::Lost),
                }
                if line == b"*" {
                    return Err(AuthError::Cancelled);
                }
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                let decoded = if text.is_empty() { Ok(Vec::new()) } else { openssl::base64::decode_block(text) };
                match decoded {
                    Ok(r) => step = sc.step(&r),
                    Err(_) => return Err(AuthError::BadBase64),
                }
            }
            Ok(sasl::Step::Done(Some(data))) if !data.is_empty() => {
                // Final server data (SCRAM's proof) goes out as one more challenge,
                // answered by an empty line (RFC 4954 4, RFC 5034 4).
                conn.write_fmt(format_args!("{prefix}{}\r\n", openssl::base64::encode_block(&data)));
                if conn.flush().is_err() {
                    return Err(AuthError::Lost);
                }
                match conn.read_line(&mut line, max_line) {
                    Ok(()) if line == b"*" => return Err(AuthError::Cancelled),
                    Ok(()) => return Ok((sc.username().unwrap_or_default(), Some(data))),
                    Err(crate::conn::ReadError::TooLong) => return Err(AuthError::BadBase64),
                    Err(_) => return Err(AuthError::Lost),
                }
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
