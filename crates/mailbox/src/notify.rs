//! Change notification: a process watching a mailbox learns of appends, flag changes
//! and expunges made by other processes as soon as they touch `cyrus.index`, through
//! inotify. Register [`Watch::fd`] in the event loop (it is non-blocking), call
//! [`Watch::drain`] when it is readable, then [`crate::Mailbox::refresh`].
//!
//! The directory is watched, not the file, so a rebuilt index (reconstruct renames a
//! new one into place) is still seen. Events coalesce under bursts: always re-read
//! the whole state, never count events.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

pub struct Watch {
    inotify: Inotify,
}

impl Watch {
    /// Watches the index of the mailbox whose metadata directory is `meta_dir`.
    pub fn new(meta_dir: &Path) -> io::Result<Watch> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        let mask = AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CREATE;
        inotify.add_watch(meta_dir, mask)?;
        Ok(Watch { inotify })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Reads every pending event; true if any concerned the index.
    pub fn drain(&self) -> bool {
        let mut hit = false;
        while let Ok(events) = self.inotify.read_events() {
            hit |= events.iter().any(|e| e.name.as_deref().is_some_and(|n| n.as_encoded_bytes() == crate::mailbox::INDEX.as_bytes()));
        }
        hit
    }

    /// Waits up to `ms` milliseconds for an event (for tools and tests; daemons poll
    /// [`Watch::fd`] in their own loop).
    pub fn wait(&self, ms: i32) -> bool {
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE);
        matches!(poll(&mut [PollFd::new(self.fd(), PollFlags::POLLIN)], timeout), Ok(n) if n > 0)
    }
}
