//! The worker side of master's process model, shared by every daemon.
//!
//! A daemon's `main` parses its flags (with [`ServiceArgs`] flattened in), calls
//! [`Worker::init`] and then [`Worker::run`] with a function that serves one
//! connection. `init` refuses to run outside master (no `CYRUS_SERVICE`), reads the
//! configuration (`-C`, else master's `CYRUS_CONFIG`, else /etc/imapd.conf) and sets
//! up syslog. `run` accepts on the inherited listener, tells master when it is busy
//! and when it is free again, and exits after `-U` connections, after `-T` seconds
//! without one (once it has served at least one, as Cyrus does, so that preforked
//! workers stay), or after SIGHUP once its current session is over.

use crate::conn::{Addr, Conn, Stream};
use crate::status::{self, Kind, LISTEN_FD};
use conf::Config;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction, signal};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrLike, SockaddrStorage, accept4, getsockname, getsockopt, sockopt};
use std::io;
use std::net::TcpStream;
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// sysexits(3) codes used by the suite.
pub mod exit {
    pub const USAGE: i32 = 64;
    pub const SOFTWARE: i32 = 70;
    pub const OSERR: i32 = 71;
    pub const TEMPFAIL: i32 = 75;
    pub const CONFIG: i32 = 78;
}

/// Environment variable by which master tells a child the configuration file it was
/// given, so that a `cmd` without `-C` reads the same file.
pub const CONFIG_ENV: &str = "CYRUS_CONFIG";

/// Default of `-U`: connections served before a worker exits (Cyrus's MAX_USE).
pub const DEFAULT_USES: u32 = 250;
/// Default of `-T`: seconds a used worker waits for another connection.
pub const DEFAULT_REUSE_TIMEOUT: u64 = 60;

/// The flags every worker takes, as Cyrus's service(8) framework does.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServiceArgs {
    /// Configuration file (default: the one master was given, else /etc/imapd.conf).
    #[arg(short = 'C', value_name = "imapd.conf")]
    pub config: Option<PathBuf>,
    /// Connections to serve before exiting (0: exit after each, as Cyrus does).
    #[arg(short = 'U', value_name = "uses")]
    pub uses: Option<u32>,
    /// Seconds to wait for another connection before exiting (0: wait for ever); the
    /// wait is drawn between T and 2T so that idle workers do not all leave at once.
    #[arg(short = 'T', value_name = "seconds")]
    pub timeout: Option<u64>,
    /// Debug: log at debug level and copy log lines to standard error.
    #[arg(short = 'D')]
    pub debug: bool,
}

static GOT_HUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_hup(_: libc::c_int) {
    GOT_HUP.store(true, Ordering::SeqCst);
}

/// A worker process of one service.
pub struct Worker {
    /// The configuration, looked up as this service.
    pub config: Config,
    /// Name of the service in cyrus.conf (from `CYRUS_SERVICE`).
    pub service: String,
    /// The program name, for log lines.
    pub program: &'static str,
    uses: u32,
    reuse_timeout: Option<Duration>,
    tls: std::cell::OnceCell<Option<openssl::ssl::SslAcceptor>>,
    /// Whether the certificate of `tls` is configured and readable, before it is built.
    tls_readable: std::cell::OnceCell<bool>,
}

/// Reads the configuration the way every binary of the suite does: `-C`, else the
/// file master passed down, else /etc/imapd.conf. On error, the message names file and
/// line; the caller must exit.
pub fn load_config(explicit: Option<&PathBuf>) -> Result<Config, conf::ConfError> {
    let path = explicit
        .cloned()
        .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(conf::DEFAULT_IMAPD_CONF));
    Config::load(&path)
}

/// Logs `msg` as an error, prints it on stderr, and exits with `code`.
pub fn fatal(program: &str, code: i32, msg: &str) -> ! {
    log::error!("{msg}");
    if !crate::log::last_line_went_to_stderr() {
        eprintln!("{program}: {msg}");
    }
    std::process::exit(code)
}

impl Worker {
    /// Checks the environment master gives, reads the configuration and starts
    /// logging. Exits with a clear message when something is wrong.
    pub fn init(program: &'static str, args: &ServiceArgs) -> Worker {
        let loaded = load_config(args.config.as_ref());
        let Some(service) = std::env::var("CYRUS_SERVICE").ok().filter(|s| !s.is_empty()) else {
            // Log where the configuration says, if it can be read at all.
            crate::log::init(program, loaded.as_ref().ok(), args.debug);
            fatal(
                program,
                exit::SOFTWARE,
                &format!(
                    "could not getenv(CYRUS_SERVICE); exiting: {program} is a service worker and is started by master(8) from cyrus.conf, not by hand"
                ),
            );
        };
        let config = match loaded {
            Ok(c) => c.for_service(&service),
            Err(e) => {
                crate::log::init(program, None, args.debug);
                fatal(program, exit::CONFIG, &format!("configuration error: {e}"));
            }
        };
        crate::log::init(program, Some(&config), args.debug);
        // Before the template forks: its workers share the mapping.
        crate::stats::enable(&config, &service, program);
        // SAFETY: installing a handler that only stores to an atomic; no SA_RESTART,
        // so a SIGHUP interrupts the wait for a connection.
        unsafe {
            let _ = sigaction(Signal::SIGHUP, &SigAction::new(SigHandler::Handler(on_hup), SaFlags::empty(), SigSet::empty()));
            let _ = signal(Signal::SIGPIPE, SigHandler::SigIgn);
        }
        let reuse = args.timeout.unwrap_or(DEFAULT_REUSE_TIMEOUT);
        let mut w = Worker {
            config,
            service,
            program,
            uses: args.uses.unwrap_or(DEFAULT_USES),
            reuse_timeout: reuse_timeout(reuse),
            tls: std::cell::OnceCell::new(),
            tls_readable: std::cell::OnceCell::new(),
        };
        if crate::zygote::requested() {
            w.preload();
            let mut watched = w.config.files().to_vec();
            for opt in ["tls_server_cert", "tls_server_key", "tls_client_ca_file"] {
                if let Some(f) = w.config.get_str(opt).filter(|f| f.starts_with('/')) {
                    watched.push(PathBuf::from(f));
                }
            }
            crate::zygote::serve(&GOT_HUP, &watched);
            // A worker now: its own spread of the reuse timeout.
            w.reuse_timeout = reuse_timeout(reuse);
        }
        w
    }

    /// What a worker template does once for all its workers: libsasl2 and its
    /// plugins loaded, the TLS context built (when TLS is configured).
    fn preload(&self) {
        if let Err(e) = sasl::init(self.program, &self.config) {
            log::warn!("worker template: SASL initialisation failed: {e}");
        }
        if self.tls_configured() {
            let _ = self.tls();
        }
    }

    /// The host name for greetings: `servername`, else gethostname(2).
    pub fn servername(&self) -> String {
        self.config.get_str("servername").map(str::to_string).unwrap_or_else(hostname)
    }

    /// Whether this service has TLS set up (`tls_server_cert` set, not `disabled`, and
    /// readable): what STARTTLS/STLS are advertised on. The context itself is built
    /// only when a client asks for TLS: OpenSSL 3's SSL_CTX costs a worker ~300 KiB of
    /// heap, which a worker whose clients never use TLS need not carry.
    /// Looked at once (not at every greeting).
    pub fn tls_configured(&self) -> bool {
        match self.tls.get() {
            Some(built) => built.is_some(),
            None => *self
                .tls_readable
                .get_or_init(|| tls::server_cert(&self.config).is_some_and(|c| std::fs::File::open(c).is_ok())),
        }
    }

    /// The TLS context of this service (`tls_*` options, service prefixes honoured),
    /// built once; `None` when TLS is not configured. A broken TLS setup is logged
    /// once and treated as no TLS.
    pub fn tls(&self) -> Option<&openssl::ssl::SslAcceptor> {
        self.tls
            .get_or_init(|| match tls::server_acceptor(&self.config) {
                Ok(a) => a,
                Err(e) => {
                    log::error!("TLS is not available for service {}: {e}", self.service);
                    None
                }
            })
            .as_ref()
    }

    /// The STARTTLS/STLS command of every protocol: checks that TLS is configured, not
    /// active yet, and that nothing was pipelined after the command (the injection
    /// attack), sends the protocol's go-ahead line, and runs the handshake. The caller
    /// answers the refusals in its protocol's words and, on `Done`, forgets what it
    /// learnt before TLS.
    pub fn starttls(&self, conn: &mut Conn, go_ahead: &[u8]) -> StartTls {
        let Some(acc) = self.tls() else { return StartTls::Unavailable };
        if conn.is_tls() {
            return StartTls::AlreadyActive;
        }
        if conn.buffered() > 0 {
            return StartTls::Pipelined;
        }
        conn.write(go_ahead);
        if conn.flush().is_err() {
            return StartTls::Lost;
        }
        match conn.start_tls(acc) {
            Ok(()) => StartTls::Done,
            Err(e) => {
                tls_failed(conn, &e);
                StartTls::Lost
            }
        }
    }

    /// For `-s` services (imaps, pop3s): the TLS handshake before anything else.
    /// False (already logged) when the connection cannot go on.
    pub fn implicit_tls(&self, conn: &mut Conn) -> bool {
        let Some(acc) = self.tls() else {
            log::error!("service {} wants implicit TLS (-s) but tls_server_cert is not set", self.service);
            return false;
        };
        match conn.start_tls(acc) {
            Ok(()) => true,
            Err(e) => {
                tls_failed(conn, &e);
                false
            }
        }
    }

    /// For a `proto=udp` service: hands each datagram (at most 512 bytes, as Cyrus's
    /// fud reads) and its sender to `serve`, and sends back what it returns, until
    /// SIGHUP. The worker stays available to master: it serves every datagram that
    /// reaches the socket, one at a time.
    pub fn run_datagrams(self, mut serve: impl FnMut(&Worker, &[u8], &SockaddrStorage) -> Option<Vec<u8>>) -> ! {
        use nix::sys::socket::{MsgFlags, recvfrom, sendto};
        let sock = status::fixed_fd(LISTEN_FD);
        if getsockopt(&sock, sockopt::SockType) != Ok(SockType::Datagram) {
            fatal(self.program, exit::CONFIG, &format!("service {}: no datagram socket on fd {LISTEN_FD} (give the service proto=udp)", self.service));
        }
        let mut buf = [0u8; 512];
        loop {
            if GOT_HUP.load(Ordering::SeqCst) {
                log::debug!("SIGHUP: exiting to be recycled");
                std::process::exit(0);
            }
            match poll(&mut [PollFd::new(sock, PollFlags::POLLIN)], PollTimeout::from(1000u16)) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => fatal(self.program, exit::OSERR, &format!("poll failed: {e}")),
            }
            let (n, from) = match recvfrom::<SockaddrStorage>(LISTEN_FD, &mut buf) {
                Ok((n, Some(from))) => (n, from),
                Ok((_, None)) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
                Err(e) => fatal(self.program, exit::OSERR, &format!("recvfrom failed: {e}")),
            };
            if let Some(reply) = serve(&self, &buf[..n], &from) {
                if let Err(e) = sendto(LISTEN_FD, &reply, &from, MsgFlags::empty()) {
                    log::warn!("reply to {from}: {e}");
                }
            }
        }
    }

    /// Accepts connections and hands each to `serve`, until a limit says stop.
    pub fn run(self, mut serve: impl FnMut(&Worker, Conn)) -> ! {
        let listener = status::fixed_fd(LISTEN_FD);
        if getsockopt(&listener, sockopt::SockType) != Ok(SockType::Stream) {
            fatal(
                self.program,
                exit::CONFIG,
                &format!("service {}: no listening stream socket on fd {LISTEN_FD} (UDP services are not supported by this daemon)", self.service),
            );
        }
        // The family of what it accepts, looked at once.
        let unix = getsockname::<SockaddrStorage>(LISTEN_FD).is_ok_and(|a| a.family() == Some(AddressFamily::Unix));
        let mut served: u32 = 0;
        loop {
            if GOT_HUP.load(Ordering::SeqCst) {
                log::debug!("SIGHUP: exiting to be recycled");
                std::process::exit(0);
            }
            let deadline = if served > 0 { self.reuse_timeout.map(|t| Instant::now() + t) } else { None };
            let conn = match wait_and_accept(listener, unix, deadline) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    // Idle too long: say so first, so master does not count on us.
                    let _ = status::notify(Kind::Unavailable);
                    std::process::exit(0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => fatal(self.program, exit::OSERR, &format!("accept failed: {e}")),
            };
            if status::notify(Kind::Unavailable).is_err() {
                // master is gone (the pipe is closed): serve this one, then leave.
                log::warn!("status pipe to master is closed");
            }
            let _ = status::notify(Kind::Connection);
            metrics::inc(metrics::Slot::CONNECTIONS);
            log::debug!("accepted connection from {}", conn.peer);
            serve(&self, conn);
            served += 1;
            // The session's high-water mark would otherwise stay with the process
            // while it waits for the next connection.
            crate::release_free_memory();
            if GOT_HUP.load(Ordering::SeqCst) || served >= self.uses {
                std::process::exit(0);
            }
            if status::notify(Kind::Available).is_err() {
                std::process::exit(0);
            }
        }
    }
}

/// Waits for a connection on `listener` (shared, non-blocking, with the other
/// workers of the service; a unix socket if `unix`) until `deadline`; `Ok(None)`
/// when it passes.
fn wait_and_accept(listener: BorrowedFd<'_>, unix: bool, deadline: Option<Instant>) -> io::Result<Option<Conn>> {
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                PollTimeout::try_from(left.as_millis()).unwrap_or(PollTimeout::MAX)
            }
        };
        if poll(&mut [PollFd::new(listener, PollFlags::POLLIN)], timeout)? == 0 {
            continue; // the deadline check above ends the wait
        }
        let fd = match accept4(listener, SockFlag::SOCK_CLOEXEC) {
            Ok(fd) => fd,
            // Another worker took it, or the client gave up before we got to it.
            Err(Errno::EAGAIN | Errno::ECONNABORTED | Errno::EPROTO) => continue,
            Err(e) => return Err(e.into()),
        };
        if unix {
            return Ok(Some(Conn::new(Stream::Unix(UnixStream::from(fd)), Addr::Unix, Addr::Unix)));
        }
        let s = TcpStream::from(fd);
        let _ = s.set_nodelay(true);
        let peer = s.peer_addr().map(Addr::inet).unwrap_or(Addr::Unix);
        let local = s.local_addr().map(Addr::inet).unwrap_or(Addr::Unix);
        return Ok(Some(Conn::new(Stream::Tcp(s), peer, local)));
    }
}

/// How a STARTTLS request ended (see [`Worker::starttls`]).
#[derive(Debug, PartialEq, Eq)]
pub enum StartTls {
    /// TLS is on: the session starts over.
    Done,
    /// No tls_server_cert for this service.
    Unavailable,
    AlreadyActive,
    /// The client sent more after the command before the handshake: refused.
    Pipelined,
    /// The handshake or the connection failed: end the session.
    Lost,
}

/// `-T` as a duration with this process's spread (None: wait for ever).
fn reuse_timeout(secs: u64) -> Option<Duration> {
    match secs {
        0 => None,
        t => Some(Duration::from_millis(t * 1000 + jitter_ms(t * 1000))),
    }
}

/// A pseudo-random number below `below` (from the clock and pid; only for spreading
/// timeouts).
fn jitter_ms(below: u64) -> u64 {
    if below == 0 {
        return 0;
    }
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    (u64::from(t) ^ u64::from(std::process::id()).wrapping_mul(2654435761)) % below
}

/// gethostname(2), or "localhost" if it fails.
pub fn hostname() -> String {
    nix::unistd::gethostname().map_or_else(|_| "localhost".into(), |h| h.to_string_lossy().into_owned())
}

/// Logs a failed TLS handshake; a client certificate that did not verify is a refused
/// login, logged as one.
fn tls_failed(conn: &Conn, e: &str) {
    if e.starts_with(crate::conn::BAD_CLIENT_CERT) {
        crate::identity::log_refusal(conn, "EXTERNAL", "-", e);
    } else {
        log::info!("TLS negotiation with {} failed: {e}", conn.peer);
    }
}
