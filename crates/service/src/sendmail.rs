//! Handing a message to the MTA: `sendmail -i [OPTIONS] -f SENDER -- RECIPIENTS`
//! (Sieve's redirects, vacation and notifications in lmtpd; news2mail in nntpd).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long sendmail may take before it is killed and the send counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `sendmail` with the message on its standard input; true when it exited 0.
/// `what` names the sending in the log lines of a failure.
pub fn send(sendmail: &str, what: &str, options: &[String], sender: &str, recipients: &[String], message: &[u8]) -> bool {
    let mut cmd = Command::new(sendmail);
    cmd.arg("-i").args(options).arg("-f").arg(sender).arg("--").args(recipients);
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            log::error!("{what}: cannot run {sendmail}: {e}");
            return false;
        }
    };
    let wrote = child.stdin.take().map(|mut s| s.write_all(message).is_ok()).unwrap_or(false);
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() < TIMEOUT => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    match status {
        Some(st) if st.success() && wrote => true,
        other => {
            log::error!("{what} to {} failed: {sendmail} exited with {:?}", recipients.join(","), other.and_then(|s| s.code()));
            false
        }
    }
}
