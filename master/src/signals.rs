//! Signals to master, turned into events of its poll loop.
//!
//! The handlers only set a flag and write one byte to a self-pipe (both
//! async-signal-safe); the loop polls the pipe's read end and then asks [`take`]
//! which signals arrived.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static CHLD: AtomicBool = AtomicBool::new(false);
static HUP: AtomicBool = AtomicBool::new(false);
static TERM: AtomicBool = AtomicBool::new(false);
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn handler(sig: libc::c_int) {
    match sig {
        libc::SIGCHLD => CHLD.store(true, Ordering::SeqCst),
        libc::SIGHUP => HUP.store(true, Ordering::SeqCst),
        _ => TERM.store(true, Ordering::SeqCst),
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let b = [0u8; 1];
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the byte.
        unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
    }
}

/// The read end of the self-pipe, to poll.
pub struct Signals {
    read: OwnedFd,
    _write: OwnedFd,
}

/// What arrived since the last call.
#[derive(Default, Debug)]
pub struct Pending {
    pub chld: bool,
    pub hup: bool,
    pub term: bool,
}

impl Signals {
    /// Installs the handlers for SIGCHLD, SIGHUP, SIGTERM, SIGINT and SIGQUIT, and
    /// ignores SIGPIPE.
    pub fn install() -> std::io::Result<Signals> {
        let (read, write) = crate::spawn::pipe()?;
        for fd in [read.as_raw_fd(), write.as_raw_fd()] {
            // SAFETY: fcntl on our own pipe.
            unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) };
        }
        WAKE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
        // SAFETY: the handler is async-signal-safe (atomics and write(2)).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
            for sig in [libc::SIGCHLD, libc::SIGHUP, libc::SIGTERM, libc::SIGINT, libc::SIGQUIT] {
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        Ok(Signals { read, _write: write })
    }

    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Drains the self-pipe and returns the signals seen.
    pub fn take(&self) -> Pending {
        let mut buf = [0u8; 64];
        // SAFETY: non-blocking reads into a local buffer until empty.
        while unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        Pending {
            chld: CHLD.swap(false, Ordering::SeqCst),
            hup: HUP.swap(false, Ordering::SeqCst),
            term: TERM.swap(false, Ordering::SeqCst),
        }
    }
}
