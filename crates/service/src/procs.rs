//! Who is logged in where, across worker processes, for `maxlogins_per_host` and
//! `maxlogins_per_user` (Cyrus's names and semantics; 0 means no limit).
//!
//! As Cyrus does with its proc directory, each logged-in session has a file
//! `configdirectory/proc/PID` holding `service TAB host TAB user`; a login counts the
//! other files with the same host or user. A worker serves one connection at a time,
//! so its pid names its session; the file goes when the session ends ([`Login`] is
//! dropped), and a file left by a killed worker is removed by the next count that finds
//! its process gone. The files are written whether or not limits are set: they are also
//! what `cyr_info proc` lists (with the mailbox a session has open).

use crate::conn::Conn;
use crate::worker::Worker;
use std::path::PathBuf;

/// A registered login; dropping it ends the registration.
pub struct Login {
    path: Option<PathBuf>,
    /// `service TAB host TAB user`, to which [`Login::mailbox`] adds the mailbox.
    line: String,
    /// The mailbox the file names now (a re-SELECT of it writes nothing).
    shown: Option<String>,
}

impl Login {
    /// Records the mailbox the session has open (`cyr_info proc` shows it), or none.
    pub fn mailbox(&mut self, name: Option<&str>) {
        if self.shown.as_deref() == name {
            return;
        }
        self.shown = name.map(str::to_string);
        if let Some(p) = &self.path {
            let text = match name {
                Some(n) => format!("{}\t{n}\n", self.line),
                None => format!("{}\n", self.line),
            };
            let _ = std::fs::write(p, text);
        }
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Which limit a login would pass.
#[derive(Debug, PartialEq, Eq)]
pub enum Limit {
    Host(i64),
    User(i64),
}

/// Whether process `pid` exists.
pub fn alive(pid: i32) -> bool {
    use nix::{errno::Errno, sys::signal::kill, unistd::Pid};
    // No signal: only asks whether the process exists.
    pid > 0 && kill(Pid::from_raw(pid), None) != Err(Errno::ESRCH)
}

/// Registers the login of `user` on `conn`, unless it would pass a limit. Without
/// limits configured nothing is written.
pub fn login(w: &Worker, conn: &Conn, user: &str) -> Result<Login, Limit> {
    let per_host = w.config.get_int("maxlogins_per_host");
    let per_user = w.config.get_int("maxlogins_per_user");
    let host = match &conn.peer {
        crate::conn::Addr::Inet(a) => a.ip().to_string(),
        crate::conn::Addr::Unix => "unix".to_string(),
    };
    let line = format!("{}\t{host}\t{user}", w.service);
    let Some(dir) = w.config.get_str("configdirectory").map(|d| PathBuf::from(d).join("proc")) else {
        return Ok(Login { path: None, line, shown: None });
    };
    let me = std::process::id() as i32;
    let (mut hosts, mut users) = (0i64, 0i64);
    let limited = per_host > 0 || per_user > 0;
    if let Some(rd) = limited.then(|| std::fs::read_dir(&dir).ok()).flatten() {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            if pid == me {
                continue;
            }
            if !alive(pid) {
                let _ = std::fs::remove_file(e.path());
                continue;
            }
            let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
            let mut f = text.trim_end().split('\t');
            let (_svc, h, u) = (f.next(), f.next(), f.next());
            if h == Some(host.as_str()) {
                hosts += 1;
            }
            if u == Some(user) {
                users += 1;
            }
        }
    }
    if per_host > 0 && hosts >= per_host {
        return Err(Limit::Host(per_host));
    }
    if per_user > 0 && users >= per_user {
        return Err(Limit::User(per_user));
    }
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(me.to_string());
    match std::fs::write(&path, format!("{line}\n")) {
        Ok(()) => Ok(Login { path: Some(path), line, shown: None }),
        Err(e) => {
            log::warn!("{}: {e}; login limits cannot count this session", path.display());
            Ok(Login { path: None, line, shown: None })
        }
    }
}
