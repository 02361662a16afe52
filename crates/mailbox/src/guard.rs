//! Surviving a mapped file that shrinks under us.
//!
//! cyrus.index and cyrus.cache are read through mmap. Our writers only grow them, but
//! a file truncated by something else (an administrator, a broken copy, a full disk
//! repaired by hand) makes any read of a page past its new end raise SIGBUS, which
//! would kill the session. The handler installed here maps a page of zeros over the
//! faulting page and lets the read go on: every record and cache entry carries a
//! CRC-32, so the zeros are refused as damage (`Error::Corrupt`), the session answers
//! with an error, and the next refresh maps the files again at their new size.
//! Only faults on addresses past the end of a mapped file (`BUS_ADRERR`) are handled;
//! anything else keeps the default action.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

static INSTALL: Once = Once::new();
/// How many pages were replaced (a refresh that sees it change maps again).
pub static SHRUNK: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr()) };
    if code == libc::BUS_ADRERR && !addr.is_null() {
        // SAFETY: sysconf and mmap are plain system calls; MAP_FIXED over one page of
        // a file mapping that no longer has data there replaces only that page.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
            let base = (addr as usize) & !(page - 1);
            let p = libc::mmap(base as *mut libc::c_void, page, libc::PROT_READ, libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            if p != libc::MAP_FAILED {
                SHRUNK.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
    // Not ours, or the page could not be replaced: the default action (the process
    // dies with SIGBUS, as before).
    // SAFETY: restoring the default disposition and re-raising.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Installs the handler once per process (done when a mailbox is first opened).
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction with our handler and SA_SIGINFO.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    });
}
