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

use service::status::{LISTEN_FD, STATUS_FD};
use service::worker::CONFIG_ENV;
use service::zygote::{ZYGOTE_ENV, ZYGOTE_FD};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Lowest descriptor master uses for its own sockets and pipes.
pub const FIRST_FREE_FD: RawFd = 10;

/// Moves `fd` to a close-on-exec descriptor at or above [`FIRST_FREE_FD`].
pub fn high_fd(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= FIRST_FREE_FD {
        set_cloexec(fd.as_raw_fd())?;
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor we then own.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FIRST_FREE_FD) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: n is a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we hold.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec pipe, both ends high: (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are fresh descriptors.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
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

/// Forks and execs `cmd`. Returns the child's pid.
pub fn spawn(cmd: &Command, id: u64, fds: ChildFds<'_>) -> io::Result<libc::pid_t> {
    let mut env = cmd.env_base.clone();
    env.push(CString::new(format!("CYRUS_ID={id}")).map_err(io::Error::other)?);
    if fds.template.is_some() {
        env.push(CString::new(format!("{ZYGOTE_ENV}=1")).map_err(io::Error::other)?);
    }
    let template = fds.template.map(AsRawFd::as_raw_fd).unwrap_or(-1);
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|c| c.as_ptr()).collect();
    envp.push(std::ptr::null());
    let mut argvp: Vec<*const libc::c_char> = cmd.argv.iter().map(|c| c.as_ptr()).collect();
    argvp.push(std::ptr::null());
    let status = fds.status.map(AsRawFd::as_raw_fd).unwrap_or(-1);
    let listener = fds.listener.map(AsRawFd::as_raw_fd).unwrap_or(-1);
    let mut rlim: libc::rlimit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: reading our own limit before fork.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlim) };
    let want = libc::rlim_t::from(fds.maxfds);
    let newlim = libc::rlimit { rlim_cur: want.min(rlim.rlim_max), rlim_max: rlim.rlim_max };
    let maxfds = fds.maxfds;
    // SAFETY: getpid has no preconditions.
    let master_pid = unsafe { libc::getpid() };
    // Reports a failed exec: the child writes errno here; a successful exec closes it.
    let (err_r, err_w) = pipe()?;
    let err_w_fd = err_w.as_raw_fd();

    // SAFETY: after fork the child only calls async-signal-safe functions on data
    // prepared above, then execve or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        drop(err_w);
        let mut errno = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            // SAFETY: blocking read from our pipe end into a local buffer.
            let n = unsafe { libc::read(err_r.as_raw_fd(), errno[got..].as_mut_ptr().cast(), 4 - got) };
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if n <= 0 {
                break;
            }
            got += n as usize;
        }
        if got == 4 {
            let e = io::Error::from_raw_os_error(i32::from_ne_bytes(errno));
            log::error!("cannot execute {}: {e}", cmd.path.display());
        }
        return Ok(pid);
    }
    unsafe {
        // Signals: back to defaults and unblocked, so the program starts clean.
        for sig in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT, libc::SIGCHLD, libc::SIGPIPE, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2] {
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        // Die with master, so a restarted master can bind its ports again.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        if libc::getppid() != master_pid {
            libc::_exit(0); // master died before the request took effect
        }
        if status >= 0 && libc::dup2(status, STATUS_FD) < 0 {
            libc::_exit(71);
        }
        if listener >= 0 && libc::dup2(listener, LISTEN_FD) < 0 {
            libc::_exit(71);
        }
        if template >= 0 && libc::dup2(template, ZYGOTE_FD) < 0 {
            libc::_exit(71);
        }
        if maxfds > 0 {
            libc::setrlimit(libc::RLIMIT_NOFILE, &newlim);
        }
        libc::execve(argvp[0], argvp.as_ptr(), envp.as_ptr());
        let errno = (*libc::__errno_location()).to_ne_bytes();
        libc::write(err_w_fd, errno.as_ptr().cast(), 4);
        libc::_exit(127);
    }
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
