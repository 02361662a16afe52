//! Logging to syslog for every binary of the suite.
//!
//! [`init`] installs a [`log`] logger that sends RFC 3164 lines to the unix datagram
//! socket named by `syslog_socket` (default `/dev/log`), with ident `prefix/program`
//! (`syslog_prefix`, or `$CYRUS_SYSLOG_PREFIX`) and the facility of `syslog_facility`.
//! When that socket cannot be reached, or when `mirror` is set (debug runs), lines go
//! to standard error too, so that a misconfigured daemon is never silent (Cyrus's
//! master exits without a word when /dev/log is missing).
//!
//! Never log a password or a message body through this.

use conf::Config;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

type Syslog = Logger<LoggerBackend, Formatter3164>;

/// Whether the last line logged was also written to standard error.
static LAST_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// True when the last line logged went to standard error too (so a caller about to
/// print the same message there need not).
pub fn last_line_went_to_stderr() -> bool {
    LAST_TO_STDERR.load(Ordering::SeqCst)
}

struct SuiteLogger {
    ident: String,
    formatter: Formatter3164,
    socket: PathBuf,
    mirror: bool,
    level: log::LevelFilter,
    state: Mutex<State>,
}

struct State {
    conn: Option<Syslog>,
    /// The pid `conn` writes in its lines: a worker forked by its template reconnects
    /// with its own.
    pid: u32,
    /// When a connect last failed; reconnects are tried at most once a second.
    failed_at: Option<Instant>,
}

impl SuiteLogger {
    fn send(&self, level: log::Level, msg: &str) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        if st.pid != pid {
            st.conn = None;
            st.pid = pid;
        }
        for attempt in 0..2 {
            if st.conn.is_none() {
                if st.failed_at.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) && attempt == 0 {
                    return false;
                }
                let formatter = Formatter3164 { pid, ..self.formatter.clone() };
                match syslog::unix_custom(formatter, &self.socket) {
                    Ok(c) => {
                        st.conn = Some(c);
                        st.failed_at = None;
                    }
                    Err(_) => {
                        st.failed_at = Some(Instant::now());
                        return false;
                    }
                }
            }
            let Some(c) = st.conn.as_mut() else { return false };
            let r = match level {
                log::Level::Error => c.err(msg),
                log::Level::Warn => c.warning(msg),
                log::Level::Info => c.info(msg),
                log::Level::Debug | log::Level::Trace => c.debug(msg),
            };
            if r.is_ok() {
                return true;
            }
            st.conn = None; // the receiver went away: reconnect once
        }
        false
    }
}

impl log::Log for SuiteLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = r.args().to_string();
        let sent = self.send(r.level(), &msg);
        let to_stderr = self.mirror || !sent;
        if to_stderr {
            let _ = writeln!(std::io::stderr(), "{}[{}]: {}", self.ident, std::process::id(), msg);
        }
        LAST_TO_STDERR.store(to_stderr, Ordering::SeqCst);
    }

    fn flush(&self) {}
}

/// The syslog ident: `prefix/program`, or `program` alone.
pub fn ident(program: &str, cfg: Option<&Config>) -> String {
    let prefix = std::env::var("CYRUS_SYSLOG_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| cfg.and_then(|c| c.get_str("syslog_prefix")).map(str::to_string));
    match prefix {
        Some(p) => format!("{p}/{program}"),
        None => program.to_string(),
    }
}

fn facility(cfg: Option<&Config>) -> Facility {
    cfg.and_then(|c| c.get_str("syslog_facility"))
        .and_then(|f| f.parse().ok())
        .unwrap_or(Facility::LOG_MAIL)
}

/// Installs the logger. `cfg` may be `None` when the configuration could not be read
/// (so that the error itself can be logged). `debug` lowers the level to debug and
/// copies every line to standard error. Calling it twice keeps the first logger.
pub fn init(program: &str, cfg: Option<&Config>, debug: bool) {
    let ident = ident(program, cfg);
    let socket = cfg
        .and_then(|c| c.get_str("syslog_socket"))
        .unwrap_or("/dev/log")
        .into();
    let verbose = std::env::var("CYRUS_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0");
    let level = if debug || verbose { log::LevelFilter::Debug } else { log::LevelFilter::Info };
    let logger = SuiteLogger {
        formatter: Formatter3164 {
            facility: facility(cfg),
            hostname: None,
            process: ident.clone(),
            pid: std::process::id(),
        },
        ident,
        socket,
        mirror: debug,
        level,
        state: Mutex::new(State { conn: None, pid: std::process::id(), failed_at: None }),
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
}
