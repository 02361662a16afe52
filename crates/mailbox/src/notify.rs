//! Change notification: a process watching a mailbox learns of appends, flag changes
//! and expunges made by other processes as soon as they touch `cyrus.index`, through
//! inotify. Register [`Watch::fd`] in the event loop (it is non-blocking), call
//! [`Watch::drain`] when it is readable, then [`crate::Mailbox::refresh`].
//!
//! The directory is watched, not the file, so a rebuilt index (reconstruct renames a
//! new one into place) is still seen. Events coalesce under bursts: always re-read
//! the whole state, never count events.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub struct Watch {
    fd: OwnedFd,
}

impl Watch {
    /// Watches the index of the mailbox whose metadata directory is `meta_dir`.
    pub fn new(meta_dir: &Path) -> io::Result<Watch> {
        // SAFETY: inotify_init1 returns a new descriptor we own.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is fresh.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let p = CString::new(meta_dir.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
        let mask = libc::IN_MODIFY | libc::IN_CLOSE_WRITE | libc::IN_MOVED_TO | libc::IN_CREATE;
        // SAFETY: adding a watch on a path given as a C string.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), p.as_ptr(), mask) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Watch { fd })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reads every pending event; true if any concerned the index.
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 4096];
        let mut hit = false;
        loop {
            // SAFETY: non-blocking read of inotify events into a local buffer.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return hit;
            }
            let mut off = 0usize;
            let n = n as usize;
            let head = std::mem::size_of::<libc::inotify_event>();
            while off + head <= n {
                // SAFETY: the kernel wrote whole events; read the fixed part unaligned.
                let ev: libc::inotify_event = unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
                let name = &buf[off + head..(off + head + ev.len as usize).min(n)];
                let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
                if name == crate::mailbox::INDEX.as_bytes() {
                    hit = true;
                }
                off += head + ev.len as usize;
            }
        }
    }

    /// Waits up to `ms` milliseconds for an event (for tools and tests; daemons poll
    /// [`Watch::fd`] in their own loop).
    pub fn wait(&self, ms: i32) -> bool {
        let mut p = libc::pollfd { fd: self.fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd on the stack.
        unsafe { libc::poll(&mut p, 1, ms) > 0 }
    }
}
