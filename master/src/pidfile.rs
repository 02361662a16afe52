//! The pidfile, locked for master's whole life so that a second master on the same
//! file refuses to start (a stale file from a crash holds no lock and is reused).

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Uid, fchown};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct PidFile {
    file: Flock<File>,
    path: PathBuf,
}

impl PidFile {
    /// Opens and locks `path`; the error says which master holds it.
    pub fn lock(path: &Path) -> Result<PidFile, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(|e| format!("cannot open pidfile {}: {e}", path.display()))?;
        let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, _)) => {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                let pid = s.trim();
                return Err(format!(
                    "another master is already running with pidfile {}{}; not starting a second one",
                    path.display(),
                    if pid.is_empty() { String::new() } else { format!(" (pid {pid})") }
                ));
            }
        };
        Ok(PidFile { file, path: path.to_path_buf() })
    }

    /// Writes our pid (after daemonizing, so it is the pid that stays).
    pub fn write_pid(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        writeln!(self.file, "{}", std::process::id())?;
        self.file.sync_all()
    }

    /// Hands the file to `uid`/`gid`, so it can still be removed after privileges
    /// are dropped.
    pub fn chown(&self, uid: u32, gid: u32) {
        let _ = fchown(&*self.file, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
    }

    /// Removes the file at shutdown (or empties it if the directory forbids that).
    pub fn remove(self) {
        if std::fs::remove_file(&self.path).is_err() {
            let _ = self.file.set_len(0);
        }
    }
}
