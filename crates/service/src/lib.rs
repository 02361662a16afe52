//! Runtime shared by every worker daemon of the suite (imapd, pop3d, lmtpd, nntpd,
//! timsieved) and by master's side of the same contract.
//!
//! - [`worker`]: the `CYRUS_SERVICE` check, `-C -U -T -D`, the accept loop and the
//!   idle/busy reports to master.
//! - [`status`]: the fixed descriptors and the status-pipe messages.
//! - [`conn`]: a connection with bounded line and literal reads and buffered writes.
//! - [`log`]: syslog set-up (ident, facility, the `syslog_socket` a test can own).
//! - [`procs`]: logged-in sessions across workers, for `maxlogins_per_host/user`.
//! - [`stats`]: Prometheus counting (`prometheus_enabled`); [`metrics`] is re-exported
//!   so that daemons count with `service::metrics::inc`.
//!
//! ```no_run
//! use clap::Parser;
//! #[derive(Parser)]
//! struct Args { #[command(flatten)] svc: service::ServiceArgs }
//! let args = Args::parse();
//! let w = service::Worker::init("exampled", &args.svc);
//! w.run(|_w, mut conn| { conn.write(b"hello\r\n"); let _ = conn.flush(); });
//! ```

pub mod auth;
pub mod autocreate;
pub mod conn;
pub mod identity;
pub mod log;
pub mod procs;
pub mod sendmail;
pub mod session;
pub mod stats;
pub mod status;
pub mod worker;
pub mod zygote;

pub use metrics;
pub use conn::{Addr, Conn, ReadError};
pub use session::{Flow, LineProtocol, run_lines, serve};
pub use worker::{ServiceArgs, StartTls, Worker, exit};

/// Gives the heap pages the allocator holds free back to the kernel. glibc keeps freed
/// memory for reuse, so without this a long-lived worker's heap stays at the highest
/// point any of its sessions reached (a large FETCH response, a literal). Called where
/// a process is about to wait a long time: between connections, entering IDLE, after
/// a large response. Costs microseconds on heaps of this size.
pub fn release_free_memory() {
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe { libc::malloc_trim(0) };
}
