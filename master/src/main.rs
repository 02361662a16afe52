//! master: the supervisor of the suite, read from the same cyrus.conf as Cyrus's.
//!
//! Start-up order: read imapd.conf and cyrus.conf (any error: exit, naming file:line),
//! lock the pidfile, go to the background if asked, bind every listener (as root if
//! need be), drop to `cyrus_user`, run START to completion, start DAEMONs, then enter
//! the loop of [`supervisor`]. See master(8).

mod avail;
mod events;
mod listen;
mod pidfile;
mod privs;
mod signals;
mod spawn;
mod supervisor;
mod template;

use clap::Parser;
use service::exit;
use nix::unistd::{ForkResult, dup2_stderr, dup2_stdin, dup2_stdout, fork, getuid, setsid};
use std::path::{Path, PathBuf};

/// Process supervisor of the mail suite (Cyrus-compatible master).
#[derive(Parser, Debug)]
#[command(name = "master", version)]
struct Args {
    /// imapd.conf to read, and to hand to every child whose cmd has no -C.
    #[arg(short = 'C', value_name = "imapd.conf", default_value = conf::DEFAULT_IMAPD_CONF)]
    config: PathBuf,
    /// cyrus.conf to read.
    #[arg(short = 'M', value_name = "cyrus.conf", default_value = conf::DEFAULT_CYRUS_CONF)]
    cyrus_conf: PathBuf,
    /// Pidfile, locked while master runs.
    #[arg(short = 'p', value_name = "pidfile", default_value = "/var/run/master.pid")]
    pidfile: PathBuf,
    /// Run in the background (daemon mode).
    #[arg(short = 'd', conflicts_with = "debug")]
    daemon: bool,
    /// Debug: stay in the foreground, log at debug level, copy log lines to stderr.
    #[arg(short = 'D')]
    debug: bool,
    /// Send standard output and standard error to this file.
    #[arg(short = 'L', value_name = "logfile")]
    logfile: Option<PathBuf>,
    /// Listen queue backlog of every service socket.
    #[arg(short = 'l', value_name = "backlog", default_value_t = 128)]
    backlog: i32,
    /// Janitor sweeps of the child table per second.
    #[arg(short = 'j', value_name = "sweeps", default_value_t = 1)]
    janitor: u32,
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

fn redirect(fd: i32, path: &Path, append: bool) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().append(append).write(true).read(!append).create(append).open(path)?;
    match fd {
        0 => dup2_stdin(&f),
        1 => dup2_stdout(&f),
        _ => dup2_stderr(&f),
    }
    .map_err(std::io::Error::from)
}

fn main() {
    let args = Args::parse();
    let config_path = absolute(&args.config);
    let cyrus_conf_path = absolute(&args.cyrus_conf);

    let cfg = match conf::Config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            service::log::init("master", None, args.debug);
            service::worker::fatal("master", exit::CONFIG, &format!("configuration error: {e}"));
        }
    };
    service::log::init("master", Some(&cfg), args.debug);
    for d in &cfg.diags {
        if d.warning {
            log::warn!("{d}");
        } else {
            log::info!("{d}");
        }
    }
    let cc = match conf::CyrusConf::load(&cyrus_conf_path) {
        Ok(c) => c,
        Err(e) => service::worker::fatal("master", exit::CONFIG, &format!("configuration error: {e}")),
    };
    for d in &cc.diags {
        log::warn!("{d}");
    }
    if let Some(l) = &args.logfile {
        for fd in [1, 2] {
            if let Err(e) = redirect(fd, l, true) {
                service::worker::fatal("master", exit::CONFIG, &format!("cannot open logfile {}: {e}", l.display()));
            }
        }
    }
    let mut pid = match pidfile::PidFile::lock(&absolute(&args.pidfile)) {
        Ok(p) => p,
        Err(e) => service::worker::fatal("master", exit::OSERR, &e),
    };
    let signals = match signals::Signals::install() {
        Ok(s) => s,
        Err(e) => service::worker::fatal("master", exit::OSERR, &format!("cannot set up signals: {e}")),
    };
    if args.daemon {
        // SAFETY: fork before any thread exists; the parent leaves at once.
        match unsafe { fork() } {
            Err(_) => service::worker::fatal("master", exit::OSERR, "fork failed"),
            Ok(ForkResult::Child) => {
                let _ = setsid();
            }
            Ok(ForkResult::Parent { .. }) => std::process::exit(0),
        }
        if args.logfile.is_none() {
            let _ = redirect(1, Path::new("/dev/null"), false);
            let _ = redirect(2, Path::new("/dev/null"), false);
        }
    }
    let _ = redirect(0, Path::new("/dev/null"), false);
    if let Err(e) = pid.write_pid() {
        service::worker::fatal("master", exit::OSERR, &format!("cannot write pidfile: {e}"));
    }

    let settings = supervisor::Settings {
        config: config_path,
        cyrus_conf: cyrus_conf_path,
        bindir: spawn::own_dir(),
        backlog: args.backlog,
        janitor: args.janitor,
        stats_dir: service::stats::enabled_dir(&cfg),
    };
    let mut m = match supervisor::Master::new(settings, signals) {
        Ok(m) => m,
        Err(e) => service::worker::fatal("master", exit::OSERR, &format!("cannot create status pipe: {e}")),
    };
    m.bind_services(&cc);

    if getuid().is_root() {
        match privs::target(&cfg) {
            Ok((user, uid, gid)) => {
                pid.chown(uid, gid);
                if let Err(e) = privs::drop_to(&user, uid, gid) {
                    service::worker::fatal("master", exit::OSERR, &format!("cannot become {user}: {e}"));
                }
                log::info!("running as {user} (uid {uid}, gid {gid})");
            }
            Err(e) => service::worker::fatal("master", exit::CONFIG, &e),
        }
    }

    if let Err(e) = m.run_start(&cc) {
        pid.remove();
        service::worker::fatal("master", exit::SOFTWARE, &e);
    }
    if let Err(e) = m.start_daemons(&cc) {
        service::worker::fatal("master", exit::SOFTWARE, &e);
    }
    m.load_events(&cc);
    log::info!("process started; ready for work ({} services)", cc.services.len());
    m.run();
    pid.remove();
    log::info!("exiting");
    std::process::exit(0);
}
