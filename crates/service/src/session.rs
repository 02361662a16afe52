//! The command loop of a line-based protocol: read a bounded line, hand it to the
//! protocol, write the answer, until the protocol or the client ends the session.

use crate::conn::{Conn, ReadError};

/// What the protocol wants after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// A line-based protocol session.
pub trait LineProtocol {
    /// Longest command line accepted (without CRLF).
    fn max_line(&self) -> usize;
    /// Handles one command line; answers are queued on `conn` and flushed by the loop.
    fn on_line(&mut self, conn: &mut Conn, line: &[u8]) -> Flow;
    /// Answers a line that was too long (already consumed).
    fn on_too_long(&mut self, conn: &mut Conn) -> Flow;
    /// Says goodbye after the inactivity timer ran out.
    fn on_timeout(&mut self, conn: &mut Conn);
}

/// Runs `proto` on `conn` until it says [`Flow::Close`] or the client goes away.
/// Returns why the session ended, for the caller's log line.
pub fn run_lines(conn: &mut Conn, proto: &mut dyn LineProtocol) -> &'static str {
    let mut line = Vec::with_capacity(256);
    loop {
        let flow = match conn.read_line(&mut line, proto.max_line()) {
            Ok(()) => proto.on_line(conn, &line),
            Err(ReadError::TooLong) => proto.on_too_long(conn),
            Err(ReadError::Timeout) => {
                proto.on_timeout(conn);
                let _ = conn.flush();
                return "timeout";
            }
            Err(ReadError::Eof) => return "client closed connection",
            Err(ReadError::Io(e)) => {
                log::debug!("read error: {e}");
                return "read error";
            }
        };
        if conn.flush().is_err() {
            return "write error";
        }
        if flow == Flow::Close {
            return "client logged out";
        }
    }
}

/// A whole session of a line protocol: inactivity timer, greeting, command loop, and a
/// debug line saying how it ended.
pub fn serve(conn: &mut Conn, timeout: std::time::Duration, greeting: &str, proto: &mut dyn LineProtocol) {
    if let Err(e) = conn.set_timeout(Some(timeout)) {
        log::warn!("cannot set timeout: {e}");
    }
    conn.write(greeting.as_bytes());
    if conn.flush().is_err() {
        return;
    }
    let why = run_lines(conn, proto);
    log::debug!("session from {} ended: {why}", conn.peer);
}
