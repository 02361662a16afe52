//! Telemetry as Cyrus does it: when `configdirectory/log/USER/` exists, each session
//! of that user from login on is copied to a file `PID` in it (input after `<TIME<`,
//! output after `>TIME>`), for debugging a client. The administrator makes and
//! removes the directory; nothing is logged for users without one.

use service::{Conn, Worker};
use std::io::Write;
use std::path::PathBuf;

pub fn start(w: &Worker, conn: &mut Conn, user: &str) {
    let Some(dir) = w.config.get_str("configdirectory") else { return };
    // The user name becomes a path component: nothing that could climb out.
    if user.is_empty() || user.contains('/') || user.starts_with('.') {
        return;
    }
    let dir = PathBuf::from(dir).join("log").join(user);
    if !dir.is_dir() {
        return;
    }
    let path = dir.join(std::process::id().to_string());
    match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
        Ok(mut f) => {
            let _ = writeln!(f, "---------- {user} from {} ----------", conn.peer);
            conn.set_telemetry(f);
        }
        Err(e) => log::warn!("telemetry for {user}: {}: {e}", path.display()),
    }
}
