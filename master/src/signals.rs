//! Signals to master, turned into events of its poll loop.
//!
//! The signals master acts on are blocked and read from a signalfd, which the loop
//! polls; [`Signals::take`] says which arrived. No handler runs, so no system call of
//! master is ever interrupted. Children get a clear mask and default dispositions
//! back before they exec (see `spawn`).
//!
//! SIGPIPE stays ignored, as Rust's runtime set it before `main`: a write to a
//! closed pipe or socket is an error, not death.

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The signals master handles.
const HANDLED: [Signal; 5] = [Signal::SIGCHLD, Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT, Signal::SIGQUIT];

/// The signalfd, to poll.
pub struct Signals {
    fd: SignalFd,
}

/// What arrived since the last call.
#[derive(Default, Debug)]
pub struct Pending {
    pub chld: bool,
    pub hup: bool,
    pub term: bool,
}

impl Signals {
    /// Blocks SIGCHLD, SIGHUP, SIGTERM, SIGINT and SIGQUIT and opens a signalfd for
    /// them. Called before master starts any thread, so that every thread has them
    /// blocked.
    pub fn install() -> std::io::Result<Signals> {
        for sig in HANDLED {
            // An ignored signal is dropped even while blocked, and master may have been
            // started with some ignored (nohup ignores SIGHUP): default dispositions, and
            // no SIGCHLD when a child merely stops.
            let flags = if sig == Signal::SIGCHLD { SaFlags::SA_NOCLDSTOP } else { SaFlags::empty() };
            // SAFETY: the default disposition installs no handler.
            unsafe { sigaction(sig, &SigAction::new(SigHandler::SigDfl, flags, SigSet::empty())) }?;
        }
        let mask: SigSet = HANDLED.into_iter().collect();
        mask.thread_block()?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        // Up among master's other descriptors (see `spawn::FIRST_FREE_FD`).
        let fd = crate::spawn::high_fd(OwnedFd::from(fd))?;
        // SAFETY: fd is the signalfd made just above, only moved to another number.
        let fd = unsafe { SignalFd::from_owned_fd(fd) };
        Ok(Signals { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads every queued signal and returns which were seen.
    pub fn take(&self) -> Pending {
        let mut p = Pending::default();
        while let Ok(Some(info)) = self.fd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => p.chld = true,
                Ok(Signal::SIGHUP) => p.hup = true,
                _ => p.term = true,
            }
        }
        p
    }
}
