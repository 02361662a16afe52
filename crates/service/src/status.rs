//! The fixed descriptors and the status messages between master and its workers.
//!
//! master hands every service child its listening socket on [`LISTEN_FD`] and the
//! write end of the service's status pipe on [`STATUS_FD`], as Cyrus does. A worker
//! writes one 8-byte [`Message`] per state change, in a single `write(2)` (smaller
//! than PIPE_BUF, so messages from many workers never interleave).
//!
//! A freshly forked worker counts as available; it says [`Kind::Unavailable`] when it
//! takes a connection and [`Kind::Available`] when it is ready for the next one.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

/// Status pipe to master (also where a `wait=y` DAEMON writes "ok\r\n").
pub const STATUS_FD: RawFd = 3;
/// The listening socket of a service.
pub const LISTEN_FD: RawFd = 4;

/// Size of one message on the pipe.
pub const MESSAGE_LEN: usize = 8;

/// What a worker tells master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Waiting in accept for a connection.
    Available = 1,
    /// Busy with a connection (or about to exit).
    Unavailable = 2,
    /// Took a connection (for statistics; sent after Unavailable).
    Connection = 3,
}

/// One status message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub pid: u32,
}

impl Message {
    pub fn encode(&self) -> [u8; MESSAGE_LEN] {
        let mut b = [0u8; MESSAGE_LEN];
        b[..4].copy_from_slice(&(self.kind as u32).to_le_bytes());
        b[4..].copy_from_slice(&self.pid.to_le_bytes());
        b
    }

    /// `None` for an unknown kind (a corrupt or foreign writer).
    pub fn decode(b: &[u8; MESSAGE_LEN]) -> Option<Message> {
        let kind = match u32::from_le_bytes([b[0], b[1], b[2], b[3]]) {
            1 => Kind::Available,
            2 => Kind::Unavailable,
            3 => Kind::Connection,
            _ => return None,
        };
        Some(Message { kind, pid: u32::from_le_bytes([b[4], b[5], b[6], b[7]]) })
    }
}

/// A descriptor master put on a fixed number ([`STATUS_FD`], [`LISTEN_FD`]) before
/// exec, for the rest of the process.
pub fn fixed_fd(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: master dup2'd an open descriptor onto this number before exec; no code
    // of a worker closes it, and files it opens get other numbers.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Sends `kind` for this process on [`STATUS_FD`].
pub fn notify(kind: Kind) -> io::Result<()> {
    let m = Message { kind, pid: std::process::id() }.encode();
    match nix::unistd::write(fixed_fd(STATUS_FD), &m)? {
        n if n == m.len() => Ok(()),
        _ => Err(io::Error::from(io::ErrorKind::WriteZero)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for kind in [Kind::Available, Kind::Unavailable, Kind::Connection] {
            let m = Message { kind, pid: 123456 };
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
        assert_eq!(Message::decode(&[9, 0, 0, 0, 1, 0, 0, 0]), None);
    }
}
