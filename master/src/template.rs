//! master's side of the worker templates (see `service::zygote`): one per service
//! whose program is one of the suite's own daemons, started like a worker with a
//! socket pair on fd 5, asked for each new worker instead of a fork and exec.

use crate::spawn::{self, ChildFds, Command};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

/// How long master waits for a template to answer with a new worker's pid (it forks
/// twice: well under a millisecond when the machine is not swapping).
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The error text of [`Template::fork_worker`] when the template left because a file
/// it read changed (not a failure: master starts another).
pub const STALE: &str = "the configuration changed";

/// A running template.
pub struct Template {
    pub pid: libc::pid_t,
    ctl: OwnedFd,
}

impl Template {
    /// Starts `cmd` as a template with the service's descriptors.
    pub fn start(cmd: &Command, id: u64, status: &OwnedFd, listener: Option<&OwnedFd>, maxfds: u32) -> io::Result<Template> {
        let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC).map_err(io::Error::from)?;
        let ours = spawn::high_fd(ours)?;
        let theirs = spawn::high_fd(theirs)?;
        let pid = spawn::spawn(cmd, id, ChildFds { status: Some(status), listener, maxfds, template: Some(&theirs) })?;
        Ok(Template { pid, ctl: ours })
    }

    /// Asks for one worker; returns its pid (master's child once it is adopted).
    pub fn fork_worker(&self) -> io::Result<libc::pid_t> {
        nix::unistd::write(&self.ctl, &[1]).map_err(io::Error::from)?;
        let mut got = [0u8; 4];
        let mut have = 0;
        while have < got.len() {
            let mut fds = [PollFd::new(self.ctl.as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(ANSWER_WITHIN.as_millis() as i32).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, ms) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::TimedOut, "the worker template did not answer")),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            match nix::unistd::read(&self.ctl, &mut got[have..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the worker template is gone")),
                Ok(n) => have += n,
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match i32::from_le_bytes(got) {
            0 => Err(io::Error::other("the worker template could not fork")),
            service::zygote::STALE => Err(io::Error::new(io::ErrorKind::NotFound, STALE)),
            pid => Ok(pid),
        }
    }
}
