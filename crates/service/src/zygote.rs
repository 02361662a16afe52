//! The worker template: one process per service that initialises once and forks the
//! service's workers, so that what initialisation makes (relocated libraries, SASL
//! plugins, the TLS context, the configuration) is shared copy-on-write by every
//! worker instead of being made private in each.
//!
//! master starts the template like a worker (same `cmd`, same descriptors) with
//! [`ZYGOTE_ENV`] set and one end of a socket pair on [`ZYGOTE_FD`]. For each byte
//! master writes there, the template forks twice: the middle process writes the new
//! worker's pid back to master and exits at once, so the worker is reparented to
//! master (a child subreaper) and is master's child like any worker it forked
//! itself: master reaps it, counts it against `maxchild`, recycles it on SIGHUP, and
//! one worker's crash takes nobody else with it. The worker itself returns from
//! [`serve`] and goes on as if it had just been started.
//!
//! A worker started anew reads imapd.conf and the TLS files again: so that an edit
//! still takes effect for new connections without SIGHUP, the template looks at the
//! files it read before each fork and, when one changed, answers [`STALE`] and leaves;
//! master starts another.
//!
//! The template never opens the mail store (LMDB environments must not cross a fork):
//! daemons open it after [`crate::Worker::init`] returns, in the worker.

use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, getppid};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Where a template finds its socket to master.
pub const ZYGOTE_FD: RawFd = 5;
/// Set (to 1) in a template's environment.
pub const ZYGOTE_ENV: &str = "CYRUS_ZYGOTE";

/// Whether this process was started as a template (the variable is removed, so that
/// nothing started from here sees it).
pub fn requested() -> bool {
    let yes = std::env::var_os(ZYGOTE_ENV).is_some_and(|v| v == "1");
    if std::env::var_os(ZYGOTE_ENV).is_some() {
        // SAFETY: called from init, before any thread of this process exists.
        unsafe { std::env::remove_var(ZYGOTE_ENV) };
    }
    yes
}

/// What tells that a file changed: its inode, size and modification time.
type Stamp = Option<(u64, u64, i64, i64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).ok().map(|m| (m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// Answer to master: the template read files that have changed since (imapd.conf,
/// an include, a TLS certificate) and leaves, so that a new one reads them.
pub const STALE: i32 = -1;

/// Forks workers on request until master closes the socket or sends SIGHUP (`hup`);
/// returns only in a new worker, which is then master's child. `watched` are the
/// files initialisation read: as a worker started anew would read them again, the
/// template answers [`STALE`] and exits once one of them changed.
pub fn serve(hup: &AtomicBool, watched: &[PathBuf]) {
    let stamps: Vec<Stamp> = watched.iter().map(|p| stamp(p)).collect();
    let master = getppid();
    // Named apart from the workers (ps, pgrep, anything counting workers by name);
    // each worker takes the program's name back.
    let comm = nix::sys::prctl::get_name().ok();
    if let Some(c) = &comm {
        let mut name = c.to_bytes().to_vec();
        name.truncate(10);
        name.extend_from_slice(b"-tmpl");
        if let Ok(n) = std::ffi::CString::new(name) {
            let _ = nix::sys::prctl::set_name(&n);
        }
    }
    // SAFETY: master put our end of the socket pair on ZYGOTE_FD; nothing else owns it.
    let ctl = unsafe { OwnedFd::from_raw_fd(ZYGOTE_FD) };
    log::debug!("worker template ready (master {master})");
    loop {
        let mut req = [0u8; 1];
        match nix::unistd::read(&ctl, &mut req) {
            Ok(0) => std::process::exit(0), // master is gone
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {
                if hup.load(Ordering::SeqCst) {
                    std::process::exit(0);
                }
                continue;
            }
            Err(e) => crate::worker::fatal("template", crate::worker::exit::OSERR, &format!("reading from master: {e}")),
        }
        if let Some(p) = watched.iter().zip(&stamps).find(|(p, s)| stamp(p) != **s).map(|(p, _)| p) {
            log::info!("worker template: {} changed; leaving for a new template", p.display());
            report(&ctl, STALE);
            std::process::exit(0);
        }
        // SAFETY: this process has one thread (the template makes no SASL call and
        // starts no thread), so the child may run any code.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                // SAFETY: as above; the grandchild becomes the worker.
                match unsafe { fork() } {
                    Ok(ForkResult::Child) => {
                        drop(ctl);
                        if let Some(c) = &comm {
                            let _ = nix::sys::prctl::set_name(c);
                        }
                        become_worker(master);
                        return;
                    }
                    Ok(ForkResult::Parent { child }) => report(&ctl, child.as_raw()),
                    Err(_) => report(&ctl, 0),
                }
                // SAFETY: leaving the middle process at once, without running the
                // template's exit handlers a second time.
                unsafe { libc::_exit(0) };
            }
            Ok(ForkResult::Parent { child }) => {
                let _ = waitpid(child, None);
            }
            Err(e) => {
                log::error!("worker template: fork failed: {e}");
                report(&ctl, 0);
            }
        }
    }
}

/// Tells master the pid of the new worker (0: none).
fn report(ctl: &OwnedFd, pid: i32) {
    let _ = nix::unistd::write(ctl, &pid.to_le_bytes());
}

/// In the new worker: waits until master has adopted it (its middle parent exits at
/// once), then asks to die with master, as every worker master forks does.
fn become_worker(master: Pid) {
    let until = Instant::now() + Duration::from_secs(2);
    while getppid() != master && Instant::now() < until {
        std::thread::sleep(Duration::from_micros(50));
    }
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
    if getppid() != master {
        std::process::exit(0); // master died (or never adopted us): nobody counts us
    }
}
