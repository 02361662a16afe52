//! Child birth: turning a cyrus.conf `cmd` into an argv, and fork + exec.
//!
//! [`Command::new`] splits `cmd` on whitespace, resolves a bare program name in the
//! directory that holds master's own binary (so an installed suite and a cargo build
//! both work; an absolute path is used as given) and adds `-C <master's imapd.conf>`
//! when the command has no `-C` of its own (Cyrus 3.6 would let the child fall back to
//! /etc/imapd.conf). Debian's `/usr/sbin/cyrus TOOL ...` wrapper runs the suite's tool of
//! that name (`expire` is `cyr_expire`). Everything is allocated before `fork()`; between fork and exec
//! the child makes only async-signal-safe system calls.
//!
//! Caution: every descriptor master holds is close-on-exec and at or above
//! [`FIRST_FREE_FD`], so the child's `dup2` onto the fixed descriptors 3 and 4 can
//! never clobber a descriptor it still needs (3, 4 and, for a worker template, 5).

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::prctl;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};
use service::status::{LISTEN_FD, STATUS_FD};
use service::worker::CONFIG_ENV;
use service::zygote::{ZYGOTE_ENV, ZYGOTE_FD};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Lowest descriptor master uses for its own sockets and pipes.
pub const FIRST_FREE_FD: RawFd = 10;

/// Moves `fd` to a close-on-exec descriptor at or above [`FIRST_FREE_FD`].
pub fn high_fd(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= FIRST_FREE_FD {
        fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        return Ok(fd);
    }
    let n = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(FIRST_FREE_FD))?;
    // SAFETY: n is the fresh descriptor F_DUPFD_CLOEXEC just made; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// A close-on-exec pipe, both ends high: (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    Ok((high_fd(r)?, high_fd(w)?))
}

/// A command ready to be run any number of times.
#[derive(Clone, Debug)]
pub struct Command {
    /// argv as given to execv; argv[0] is the resolved path.
    pub argv: Vec<CString>,
    pub path: PathBuf,
    /// CYRUS_SERVICE, CYRUS_CONFIG and the rest of master's environment.
    env_base: Vec<CString>,
}

/// The directory holding master's own executable.
pub fn own_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Debian's dispatcher of Cyrus's admin tools.
fn is_debian_wrapper(prog: &str) -> bool {
    prog == "/usr/sbin/cyrus" || prog == "cyrus"
}

/// The tool Debian's wrapper runs for `name` (it knows a few short names).
fn debian_tool(name: &str) -> &str {
    match name {
        "expire" => "cyr_expire",
        "mboxlist" => "ctl_mboxlist",
        "check" => "chk_cyrus",
        other => other,
    }
}

impl Command {
    /// Builds the command of entry `name` from `cmd`.
    pub fn new(name: &str, cmd: &str, config: &Path, bindir: &Path) -> Result<Command, String> {
        let mut words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            return Err(format!("{name}: empty cmd"));
        }
        // Debian's cyrus.conf runs the admin tools through its wrapper (`/usr/sbin/cyrus
        // expire -E 3`): on this suite they are the suite's own tools of that name.
        if is_debian_wrapper(&words[0]) && words.len() > 1 {
            let tool = debian_tool(&words[1]).to_string();
            words.remove(0);
            words[0] = tool;
        }
        let path = if words[0].starts_with('/') { PathBuf::from(&words[0]) } else { bindir.join(&words[0]) };
        let has_c = words[1..].iter().any(|w| w == "-C" || (w.starts_with("-C") && w.len() > 2));
        if !has_c {
            // At the end: a dispatcher such as Debian's `/usr/sbin/cyrus ctl_cyrusdb -r`
            // must see its subcommand first, and getopt-style parsers take options
            // anywhere.
            words.push("-C".into());
            words.push(config.display().to_string());
        }
        words[0] = path.display().to_string();
        let argv = words
            .iter()
            .map(|w| CString::new(w.as_str()).map_err(|_| format!("{name}: NUL byte in cmd")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut env_base: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| !matches!(k.to_str(), Some("CYRUS_SERVICE" | "CYRUS_ID") | Some(CONFIG_ENV)))
            .filter_map(|(k, v)| {
                let mut kv = k.into_encoded_bytes();
                kv.push(b'=');
                kv.extend_from_slice(&v.into_encoded_bytes());
                CString::new(kv).ok()
            })
            .collect();
        env_base.push(CString::new(format!("CYRUS_SERVICE={name}")).map_err(|e| e.to_string())?);
        env_base.push(CString::new(format!("{CONFIG_ENV}={}", config.display())).map_err(|e| e.to_string())?);
        Ok(Command { argv, path, env_base })
    }

    /// The command line, for log lines.
    pub fn display(&self) -> String {
        self.argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    }
}

/// What a child gets on its fixed descriptors.
pub struct ChildFds<'a> {
    pub status: Option<&'a OwnedFd>,
    pub listener: Option<&'a OwnedFd>,
    /// RLIMIT_NOFILE for the child (cyrus.conf maxfds), 0 to leave it.
    pub maxfds: u32,
    /// For a worker template: its end of the socket pair to master, put on
    /// [`ZYGOTE_FD`] (and `CYRUS_ZYGOTE=1` set).
    pub template: Option<&'a OwnedFd>,
}

/// What the child needs between fork and exec, all made before the fork: it may
/// not allocate there.
struct Prepared<'a> {
    /// NULL-terminated, pointing into `cmd.argv`.
    argv: Vec<*const libc::c_char>,
    /// NULL-terminated, pointing into the caller's environment strings.
    envp: Vec<*const libc::c_char>,
    /// (descriptor, fixed number it goes to) for the descriptors handed down.
    fixed: [(RawFd, RawFd); 3],
    /// RLIMIT_NOFILE to set (soft, hard), if cyrus.conf gave maxfds.
    nofile: Option<(libc::rlim_t, libc::rlim_t)>,
    master: Pid,
    /// Where the child writes errno if execve fails.
    err_w: std::os::fd::BorrowedFd<'a>,
}

/// Forks and execs `cmd`. Returns the child's pid.
pub fn spawn(cmd: &Command, id: u64, fds: ChildFds<'_>) -> io::Result<libc::pid_t> {
    let mut env = cmd.env_base.clone();
    env.push(CString::new(format!("CYRUS_ID={id}")).map_err(io::Error::other)?);
    if fds.template.is_some() {
        env.push(CString::new(format!("{ZYGOTE_ENV}=1")).map_err(io::Error::other)?);
    }
    let raw = |fd: Option<&OwnedFd>| fd.map(AsRawFd::as_raw_fd).unwrap_or(-1);
    let nofile = match fds.maxfds {
        0 => None,
        want => getrlimit(Resource::RLIMIT_NOFILE).ok().map(|(_, hard)| (libc::rlim_t::from(want).min(hard), hard)),
    };
    // Reports a failed exec: the child writes errno here; a successful exec closes it.
    let (err_r, err_w) = pipe()?;
    let prep = Prepared {
        argv: cmd.argv.iter().map(|c| c.as_ptr()).chain([std::ptr::null()]).collect(),
        envp: env.iter().map(|c| c.as_ptr()).chain([std::ptr::null()]).collect(),
        fixed: [(raw(fds.status), STATUS_FD), (raw(fds.listener), LISTEN_FD), (raw(fds.template), ZYGOTE_FD)],
        nofile,
        master: getpid(),
        err_w: err_w.as_fd(),
    };

    // SAFETY: master has one thread; after fork the child only calls
    // async-signal-safe functions on data prepared above, then execve or _exit.
    let child = match unsafe { fork() }? {
        ForkResult::Child => exec_child(&prep),
        ForkResult::Parent { child } => child,
    };
    drop(prep);
    drop(err_w);
    let mut errno = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match nix::unistd::read(&err_r, &mut errno[got..]) {
            Err(Errno::EINTR) => continue,
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if got == 4 {
        let e = io::Error::from_raw_os_error(i32::from_ne_bytes(errno));
        log::error!("cannot execute {}: {e}", cmd.path.display());
    }
    Ok(child.as_raw())
}

/// The child's side of [`spawn`]: puts the descriptors in place and execs. Between
/// fork and exec only async-signal-safe calls that do not allocate (nix's wrappers
/// used here take and return plain values).
fn exec_child(c: &Prepared<'_>) -> ! {
    // Signals: back to defaults and unblocked, so the program starts clean.
    for sig in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD, Signal::SIGPIPE, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2] {
        // SAFETY: the default disposition installs no handler.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    let _ = SigSet::empty().thread_set_mask();
    // Die with master, so a restarted master can bind its ports again.
    let _ = prctl::set_pdeathsig(Signal::SIGTERM);
    if getppid() != c.master {
        exit_now(0); // master died before the request took effect
    }
    for (fd, to) in c.fixed {
        // SAFETY: dup2 onto a fixed number, which no descriptor of master uses (they
        // are all at or above FIRST_FREE_FD); nix's dup2 wants an owned target.
        if fd >= 0 && unsafe { libc::dup2(fd, to) } < 0 {
            exit_now(71);
        }
    }
    if let Some((soft, hard)) = c.nofile {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, soft, hard);
    }
    // SAFETY: NULL-terminated arrays of pointers to NUL-terminated strings, alive in
    // this copy of master's memory (nix's execve would allocate the arrays here).
    unsafe { libc::execve(c.argv[0], c.argv.as_ptr(), c.envp.as_ptr()) };
    let _ = nix::unistd::write(c.err_w, &Errno::last_raw().to_ne_bytes());
    exit_now(127)
}

/// _exit(2): leaves at once, without master's exit handlers or destructors.
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes no pointer and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_resolve_beside_master_and_get_dash_c() {
        let c = Command::new("imap", "imapd -U 30", Path::new("/etc/x.conf"), Path::new("/opt/suite/bin")).unwrap();
        assert_eq!(c.display(), "/opt/suite/bin/imapd -U 30 -C /etc/x.conf");
        let c = Command::new("recover", "/usr/sbin/cyrus ctl_cyrusdb -r", Path::new("/etc/x.conf"), Path::new("/b")).unwrap();
        assert_eq!(c.display(), "/b/ctl_cyrusdb -r -C /etc/x.conf", "Debian's wrapper runs the suite's tool");
        let c = Command::new("delprune", "/usr/sbin/cyrus expire -E 3", Path::new("/etc/x.conf"), Path::new("/b")).unwrap();
        assert_eq!(c.display(), "/b/cyr_expire -E 3 -C /etc/x.conf");
        let c = Command::new("imap", "/usr/bin/imapd -C /other.conf", Path::new("/etc/x.conf"), Path::new("/b")).unwrap();
        assert_eq!(c.display(), "/usr/bin/imapd -C /other.conf");
        let c = Command::new("imap", "imapd -C/other.conf -s", Path::new("/etc/x.conf"), Path::new("/b")).unwrap();
        assert_eq!(c.display(), "/b/imapd -C/other.conf -s");
        assert!(Command::new("x", "  ", Path::new("/c"), Path::new("/b")).is_err());
    }
}
