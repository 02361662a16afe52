//! master's state and its one loop: reap children, read status messages, keep each
//! service supplied with idle workers, run events, restart daemons, obey signals.
//!
//! Counting follows Cyrus: a freshly forked service child counts as ready (it will
//! be in accept soon); it becomes busy when it says Unavailable and ready again when it
//! says Available. A service wants a fork when it has fewer ready children than
//! `prefork`, or none at all while a connection waits on its listener, always below
//! `maxchild` and within the fork policy of [`crate::avail`]. With `maxchild` reached,
//! further connections wait in the listen queue until a worker is free.
//!
//! SIGHUP starts a new generation: every child of the old one gets SIGHUP (idle
//! workers leave at once, busy ones after their session), listeners whose address did
//! not change are kept open, and the new generation is forked from the re-read
//! cyrus.conf. Children of old generations are still reaped and logged, never counted.

use crate::avail::Avail;
use crate::events::{self, Event};
use crate::listen;
use crate::signals::Signals;
use crate::spawn::{self, ChildFds, Command};
use crate::template::Template;
use conf::cyrus::{CyrusConf, DaemonEntry, ServiceEntry};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, read};
use service::metrics;
use service::status::{Kind, MESSAGE_LEN, Message};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How a missing program is reported (START entries are then skipped, not fatal).
const NOT_PROVIDED: &str = "not provided by this suite:";

/// Forks per second allowed to one DAEMON entry (Cyrus's limit).
const DAEMON_MAXFORKRATE: u32 = 10;

/// Seconds between attempts to bind a service whose listener could not be bound.
const REBIND_INTERVAL: Duration = Duration::from_secs(5);
/// How long start-up waits, in all, for addresses still held by a killed master's
/// workers (they exit within milliseconds of noticing).
const STARTUP_BIND_PATIENCE: Duration = Duration::from_secs(3);

/// Templates of one service that may fail before master stops using one.
const TEMPLATE_TRIES: u32 = 3;

/// How long shutdown waits for children after SIGTERM before SIGKILL.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Settings {
    pub config: PathBuf,
    pub cyrus_conf: PathBuf,
    pub bindir: PathBuf,
    pub backlog: i32,
    /// Janitor sweeps per second (-j).
    pub janitor: u32,
    /// Where the Prometheus stats files are, when `prometheus_enabled` is set.
    pub stats_dir: Option<PathBuf>,
}

struct Service {
    entry: ServiceEntry,
    cmd: Command,
    listener: Option<OwnedFd>,
    ready: u32,
    active: u32,
    /// Workers of earlier generations still finishing a session: they count
    /// against maxchild until they leave.
    old_active: u32,
    /// When to try binding again a listener that could not be bound.
    next_bind: Option<Instant>,
    avail: Avail,
    /// The service's worker template (the suite's own daemons), once started.
    template: Option<Template>,
    /// Templates of this service that died or failed to answer: after
    /// [`TEMPLATE_TRIES`], workers are forked and executed one by one again.
    template_failures: u32,
    /// The service's Prometheus stats file (worker counts, exits), opened once
    /// master runs as its final user.
    stats: Stats,
}

/// A service's stats file as master sees it.
enum Stats {
    NotYet,
    Open(metrics::StatsFile),
    Off,
}

impl Drop for Stats {
    /// A service master no longer runs (stopped, or removed from cyrus.conf) has no
    /// workers: its gauges must not stay at their last values in the file.
    fn drop(&mut self) {
        if let Stats::Open(f) = self {
            f.set(metrics::Slot::READY, 0);
            f.set(metrics::Slot::BUSY, 0);
        }
    }
}

struct Daemon {
    entry: DaemonEntry,
    cmd: Command,
    pid: Option<libc::pid_t>,
    avail: Avail,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    Service { name: String, generation: u64 },
    Template { name: String, generation: u64 },
    Event(String),
    Daemon(String),
}

struct Child {
    role: Role,
    ready: bool,
    took_conn: bool,
    born: Instant,
    path: String,
}

pub struct Master {
    s: Settings,
    services: Vec<Service>,
    events: Vec<Event>,
    daemons: Vec<Daemon>,
    children: HashMap<libc::pid_t, Child>,
    generation: u64,
    status_r: OwnedFd,
    status_w: OwnedFd,
    status_buf: Vec<u8>,
    signals: Signals,
    next_id: u64,
}

fn role_type(r: &Role) -> (&'static str, &str) {
    match r {
        Role::Service { name, .. } => ("SERVICE", name),
        Role::Template { name, .. } => ("TEMPLATE", name),
        Role::Event(n) => ("EVENT", n),
        Role::Daemon(n) => ("DAEMON", n),
    }
}

impl Master {
    pub fn new(s: Settings, signals: Signals) -> std::io::Result<Master> {
        // Workers forked by a template are adopted by master when their middle parent
        // exits, and are then reaped and counted like any other.
        nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from)?;
        let (status_r, status_w) = spawn::pipe()?;
        fcntl(&status_r, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        Ok(Master {
            s,
            services: Vec::new(),
            events: Vec::new(),
            daemons: Vec::new(),
            children: HashMap::new(),
            generation: 0,
            status_r,
            status_w,
            status_buf: Vec::new(),
            signals,
            next_id: 0,
        })
    }

    /// The command of an entry; an error when its program is not there (a Cyrus
    /// program the suite does not provide, such as httpd or notifyd).
    fn command(&self, name: &str, cmd: &str) -> Result<Command, String> {
        let c = Command::new(name, cmd, &self.s.config, &self.s.bindir)?;
        if !c.path.exists() {
            return Err(format!("{NOT_PROVIDED} {} (from cmd=\"{cmd}\"); the entry is left out", c.path.display()));
        }
        Ok(c)
    }

    /// Binds the listeners of `cc` (a service that cannot bind is logged and left out;
    /// the others still start). Done before dropping privileges.
    pub fn bind_services(&mut self, cc: &CyrusConf) {
        // After a master is killed, its workers hold its listeners for the moment they
        // take to notice and exit: a master started again at once (by an init system,
        // by hand) waits for them rather than leaving the service unbound until the
        // next retry (and, started as root, for good on ports below 1024, which later
        // binds no longer have the privilege for).
        let patience = Instant::now() + STARTUP_BIND_PATIENCE;
        for e in &cc.services {
            let mut bound = listen::bind(&e.listen, e.proto, self.s.backlog);
            while matches!(&bound, Err(err) if listen::address_in_use(err)) && Instant::now() < patience {
                std::thread::sleep(Duration::from_millis(50));
                bound = listen::bind(&e.listen, e.proto, self.s.backlog);
            }
            let listener = match bound {
                Ok(fd) => Some(fd),
                Err(err) => {
                    log::error!("service {}: cannot listen on {}: {err}; will try again every {}s", e.name, e.listen, REBIND_INTERVAL.as_secs());
                    None
                }
            };
            match self.command(&e.name, &e.cmd) {
                Ok(cmd) => self.services.push(Service { entry: e.clone(), cmd, listener, ready: 0, active: 0, old_active: 0, next_bind: None, avail: Avail::default(), template: None, template_failures: 0, stats: Stats::NotYet }),
                Err(err) => log::error!("service {}: {err}", e.name),
            }
        }
    }

    /// Runs the START entries in order, each to completion. A START command that
    /// fails stops master, as in Cyrus ("can't run startup").
    pub fn run_start(&mut self, cc: &CyrusConf) -> Result<(), String> {
        for e in &cc.start {
            let cmd = match self.command(&e.name, &e.cmd) {
                Ok(c) => c,
                // A Cyrus tool this suite has no use for (tls_prune: it keeps no TLS
                // session database) is skipped, not fatal.
                Err(err) if err.starts_with(NOT_PROVIDED) => {
                    log::warn!("START {}: {err}", e.name);
                    continue;
                }
                Err(err) => return Err(format!("can't run startup: START {}: {err}", e.name)),
            };
            let born = Instant::now();
            match spawn::spawn(&cmd, self.id(), ChildFds { status: None, listener: None, maxfds: 0, template: None }) {
                Ok(pid) => {
                    let st = wait_child(pid, 0).map_or(0, |(_, st)| st);
                    log_exit("START", &e.name, &cmd.path.display().to_string(), born, pid, st);
                    if !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0) {
                        return Err(format!("can't run startup: START {} ({}) failed", e.name, cmd.display()));
                    }
                }
                Err(err) => return Err(format!("can't run startup: START {}: cannot fork: {err}", e.name)),
            }
        }
        Ok(())
    }

    /// Starts the DAEMON entries: `wait=y` ones in order, each waited for until it says
    /// "ok", then the others. Returns an error if a waited-for daemon fails to start.
    pub fn start_daemons(&mut self, cc: &CyrusConf) -> Result<(), String> {
        for e in cc.daemons.iter().filter(|d| d.wait) {
            let cmd = self.command(&e.name, &e.cmd)?;
            let (r, w) = spawn::pipe().map_err(|e| e.to_string())?;
            let pid = spawn::spawn(&cmd, self.id(), ChildFds { status: Some(&w), listener: None, maxfds: 0, template: None })
                .map_err(|err| format!("DAEMON {}: cannot fork: {err}", e.name))?;
            drop(w);
            self.children.insert(pid, Child { role: Role::Daemon(e.name.clone()), ready: false, took_conn: false, born: Instant::now(), path: cmd.path.display().to_string() });
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while !got.ends_with(b"\n") && got.len() < 16 {
                match read(&r, &mut buf) {
                    Err(Errno::EINTR) => continue,
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            if got != b"ok\r\n" {
                return Err(format!("DAEMON {} (wait=y) did not report readiness (got {:?})", e.name, String::from_utf8_lossy(&got)));
            }
            log::info!("daemon {} ready", e.name);
            self.daemons.push(Daemon { entry: e.clone(), cmd, pid: Some(pid), avail: Avail::default() });
        }
        for e in cc.daemons.iter().filter(|d| !d.wait) {
            let cmd = self.command(&e.name, &e.cmd)?;
            self.daemons.push(Daemon { entry: e.clone(), cmd, pid: None, avail: Avail::default() });
        }
        Ok(())
    }

    /// Schedules the EVENTS entries.
    pub fn load_events(&mut self, cc: &CyrusConf) {
        let now = events::now_secs();
        let old: Vec<Event> = std::mem::take(&mut self.events);
        for e in &cc.events {
            let Some(first) = events::first_run(e, now) else { continue };
            // An unchanged entry keeps its schedule across a reload.
            let next = old
                .iter()
                .find(|o| o.entry.name == e.name && o.entry.cmd == e.cmd && o.entry.period == e.period && o.entry.at == e.at)
                .map(|o| o.next)
                .unwrap_or(first);
            match self.command(&e.name, &e.cmd) {
                Ok(cmd) => self.events.push(Event { entry: e.clone(), cmd, next }),
                Err(err) => log::error!("EVENT {}: {err}", e.name),
            }
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The loop. Returns when SIGTERM, SIGINT or SIGQUIT arrives, after stopping every
    /// child.
    pub fn run(&mut self) {
        let sweep = Duration::from_millis(1000 / u64::from(self.s.janitor.max(1)));
        loop {
            let p = self.signals.take();
            if p.chld {
                self.reap();
            }
            if p.term {
                self.shutdown();
                return;
            }
            if p.hup {
                self.reload();
            }
            self.read_status();
            self.publish_stats();
            let mut wake = sweep;
            self.run_events(&mut wake);
            self.tend_daemons(&mut wake);
            let watch = self.tend_services(&mut wake);
            self.wait(&watch, wake);
        }
    }

    /// Polls the signal pipe, the status pipe and the listeners in `watch` (services
    /// with no ready worker); forks for each listener found readable.
    fn wait(&mut self, watch: &[usize], timeout: Duration) {
        let listeners = watch.iter().filter_map(|&i| self.services[i].listener.as_ref().map(AsFd::as_fd));
        let mut pfds: Vec<PollFd> = [self.signals.fd(), self.status_r.as_fd()]
            .into_iter()
            .chain(listeners)
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        let ms = PollTimeout::from(timeout.as_millis().clamp(1, 60_000) as u16);
        if !matches!(poll(&mut pfds, ms), Ok(n) if n > 0) {
            return;
        }
        let readable: Vec<i32> = pfds[2..]
            .iter()
            .filter(|p| p.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)))
            .map(|p| p.as_fd().as_raw_fd())
            .collect();
        for fd in readable {
            if let Some(i) = self.services.iter().position(|s| s.listener.as_ref().is_some_and(|l| l.as_raw_fd() == fd)) {
                if self.services[i].ready == 0 {
                    self.fork_worker(i);
                }
            }
        }
    }

    /// Keeps prefork idle workers for each service; returns the services whose
    /// listener master should watch for a connection with nobody to take it.
    fn tend_services(&mut self, wake: &mut Duration) -> Vec<usize> {
        let mut watch = Vec::new();
        let now = Instant::now();
        for i in 0..self.services.len() {
            if self.services[i].listener.is_none() {
                self.retry_bind(i, now, wake);
                if self.services[i].listener.is_none() {
                    continue;
                }
            }
            self.ensure_template(i);
            loop {
                let s = &mut self.services[i];
                if s.ready >= s.entry.effective_prefork() || !below_max(s) {
                    break;
                }
                if let Err(at) = s.avail.may_fork(now, s.entry.effective_maxforkrate()) {
                    *wake = (*wake).min(at.saturating_duration_since(now));
                    break;
                }
                if !self.fork_worker(i) {
                    break;
                }
            }
            let s = &mut self.services[i];
            if s.ready == 0 && below_max(s) {
                match s.avail.may_fork(now, s.entry.effective_maxforkrate()) {
                    Ok(()) => watch.push(i),
                    Err(at) => *wake = (*wake).min(at.saturating_duration_since(now)),
                }
            }
        }
        watch
    }

    /// Binds again the listener of service `i` (which failed before: the address was
    /// in use, by another program or by workers of a replaced service still busy).
    fn retry_bind(&mut self, i: usize, now: Instant, wake: &mut Duration) {
        let s = &mut self.services[i];
        match s.next_bind {
            None => s.next_bind = Some(now + REBIND_INTERVAL),
            Some(t) if now < t => {}
            Some(_) => match listen::bind(&s.entry.listen, s.entry.proto, self.s.backlog) {
                Ok(fd) => {
                    log::info!("service {}: now listening on {}", s.entry.name, s.entry.listen);
                    s.listener = Some(fd);
                    s.next_bind = None;
                }
                Err(_) => s.next_bind = Some(now + REBIND_INTERVAL),
            },
        }
        if let Some(t) = s.next_bind {
            *wake = (*wake).min(t.saturating_duration_since(now));
        }
    }

    /// Starts the worker template of service `i` if it has none and its program is
    /// one of the suite's own daemons (in master's directory).
    fn ensure_template(&mut self, i: usize) {
        let s = &self.services[i];
        if s.template.is_some() || s.template_failures >= TEMPLATE_TRIES || s.listener.is_none() || s.cmd.path.parent() != Some(self.s.bindir.as_path()) {
            return;
        }
        let id = self.id();
        let s = &mut self.services[i];
        match Template::start(&s.cmd, id, &self.status_w, s.listener.as_ref(), s.entry.maxfds) {
            Ok(t) => {
                log::debug!("service {}: worker template pid {}", s.entry.name, t.pid);
                self.children.insert(t.pid, Child {
                    role: Role::Template { name: s.entry.name.clone(), generation: self.generation },
                    ready: false,
                    took_conn: false,
                    born: Instant::now(),
                    path: s.cmd.path.display().to_string(),
                });
                s.template = Some(t);
            }
            Err(e) => {
                s.template_failures += 1;
                log::error!("service {}: cannot start a worker template: {e}", s.entry.name);
            }
        }
    }

    /// A new worker of service `i` from its template, or by fork and exec when it
    /// has none or the template fails (which is then stopped).
    fn new_worker(&mut self, i: usize, id: u64) -> std::io::Result<libc::pid_t> {
        let mut asked = self.services[i].template.as_ref().map(Template::fork_worker);
        if asked.as_ref().is_some_and(|r| r.as_ref().is_err_and(|e| e.to_string() == crate::template::STALE)) {
            // It read imapd.conf (or a TLS file) before an edit, and has left.
            log::info!("service {}: configuration changed; new worker template", self.services[i].entry.name);
            self.services[i].template = None;
            self.ensure_template(i);
            asked = self.services[i].template.as_ref().map(Template::fork_worker);
        }
        let s = &mut self.services[i];
        if let (Some(t), Some(asked)) = (&s.template, asked) {
            match asked {
                Ok(pid) => return Ok(pid),
                Err(e) => {
                    log::error!("service {}: worker template pid {} failed: {e}; stopping it", s.entry.name, t.pid);
                    // Reaped as a template.
                    let _ = kill(Pid::from_raw(t.pid), Signal::SIGKILL);
                    s.template = None;
                    s.template_failures += 1;
                }
            }
        }
        let fds = ChildFds { status: Some(&self.status_w), listener: s.listener.as_ref(), maxfds: s.entry.maxfds, template: None };
        spawn::spawn(&s.cmd, id, fds)
    }

    /// Writes each service's worker counts into its stats file (opened at the first
    /// call, after master has dropped privileges, so its workers can write it too).
    fn publish_stats(&mut self) {
        let Some(dir) = &self.s.stats_dir else { return };
        for s in &mut self.services {
            if matches!(s.stats, Stats::NotYet) {
                let program = s.cmd.path.file_name().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                s.stats = match metrics::StatsFile::open(dir, &s.entry.name, &program) {
                    Ok(f) => Stats::Open(f),
                    Err(e) => {
                        log::error!("service {}: cannot open its stats file in {}: {e}", s.entry.name, dir.display());
                        Stats::Off
                    }
                };
            }
            if let Stats::Open(f) = &s.stats {
                f.set(metrics::Slot::READY, u64::from(s.ready));
                f.set(metrics::Slot::BUSY, u64::from(s.active.saturating_sub(s.ready) + s.old_active));
            }
        }
    }

    /// Forks one worker of service `i`. False if the fork failed.
    fn fork_worker(&mut self, i: usize) -> bool {
        let id = self.id();
        let now = Instant::now();
        let born = self.new_worker(i, id);
        let s = &mut self.services[i];
        match born {
            Ok(pid) => {
                s.avail.forked(now);
                if let Stats::Open(f) = &s.stats {
                    f.add(metrics::Slot::WORKERS_STARTED, 1);
                }
                s.ready += 1;
                s.active += 1;
                self.children.insert(pid, Child {
                    role: Role::Service { name: s.entry.name.clone(), generation: self.generation },
                    ready: true,
                    took_conn: false,
                    born: now,
                    path: s.cmd.path.display().to_string(),
                });
                log::debug!("service {}: forked pid {pid}: {}", s.entry.name, s.cmd.display());
                true
            }
            Err(e) => {
                log::error!("service {}: fork failed: {e}", s.entry.name);
                false
            }
        }
    }

    fn run_events(&mut self, wake: &mut Duration) {
        let now = events::now_secs();
        for k in 0..self.events.len() {
            if self.events[k].next > now {
                continue;
            }
            let id = self.id();
            let ev = &mut self.events[k];
            match spawn::spawn(&ev.cmd, id, ChildFds { status: None, listener: None, maxfds: 0, template: None }) {
                Ok(pid) => {
                    log::debug!("event {}: started pid {pid}", ev.entry.name);
                    self.children.insert(pid, Child { role: Role::Event(ev.entry.name.clone()), ready: false, took_conn: false, born: Instant::now(), path: ev.cmd.path.display().to_string() });
                }
                Err(e) => log::error!("event {}: fork failed: {e}", ev.entry.name),
            }
            match events::following_run(&ev.entry, ev.next, now) {
                Some(n) => ev.next = n,
                None => ev.next = u64::MAX,
            }
        }
        if let Some(d) = events::until_next(&self.events, events::now_secs()) {
            *wake = (*wake).min(d.max(Duration::from_millis(1)));
        }
    }

    fn tend_daemons(&mut self, wake: &mut Duration) {
        let now = Instant::now();
        for k in 0..self.daemons.len() {
            if self.daemons[k].pid.is_some() {
                continue;
            }
            if let Err(at) = self.daemons[k].avail.may_fork(now, DAEMON_MAXFORKRATE) {
                *wake = (*wake).min(at.saturating_duration_since(now));
                continue;
            }
            let id = self.id();
            let d = &mut self.daemons[k];
            match spawn::spawn(&d.cmd, id, ChildFds { status: None, listener: None, maxfds: 0, template: None }) {
                Ok(pid) => {
                    d.avail.forked(now);
                    d.pid = Some(pid);
                    log::info!("daemon {}: started pid {pid}", d.entry.name);
                    self.children.insert(pid, Child { role: Role::Daemon(d.entry.name.clone()), ready: false, took_conn: false, born: now, path: d.cmd.path.display().to_string() });
                }
                Err(e) => log::error!("daemon {}: fork failed: {e}", d.entry.name),
            }
        }
    }

    fn read_status(&mut self) {
        let mut buf = [0u8; MESSAGE_LEN * 256];
        while let Ok(n @ 1..) = read(&self.status_r, &mut buf) {
            self.status_buf.extend_from_slice(&buf[..n]);
        }
        let whole = self.status_buf.len() / MESSAGE_LEN * MESSAGE_LEN;
        let msgs: Vec<Message> = self.status_buf[..whole]
            .chunks_exact(MESSAGE_LEN)
            .filter_map(|c| Message::decode(c.try_into().ok()?))
            .collect();
        self.status_buf.drain(..whole);
        for m in msgs {
            self.on_status(m);
        }
    }

    fn on_status(&mut self, m: Message) {
        let Some(child) = self.children.get_mut(&(m.pid as libc::pid_t)) else {
            return; // already reaped, or not ours
        };
        let Role::Service { name, generation } = &child.role else { return };
        if *generation != self.generation {
            return;
        }
        let Some(s) = self.services.iter_mut().find(|s| &s.entry.name == name) else { return };
        match m.kind {
            Kind::Available if !child.ready => {
                child.ready = true;
                s.ready += 1;
            }
            Kind::Unavailable if child.ready => {
                child.ready = false;
                s.ready = s.ready.saturating_sub(1);
            }
            Kind::Connection => {
                child.took_conn = true;
                s.avail.worked();
            }
            _ => {}
        }
    }

    fn reap(&mut self) {
        while let Some((pid, st)) = wait_child(-1, libc::WNOHANG) {
            // Status messages sent just before death must count before the death does.
            self.read_status();
            let Some(child) = self.children.remove(&pid) else {
                log_exit("UNKNOWN", "?", "?", Instant::now(), pid, st);
                continue;
            };
            let (ty, name) = role_type(&child.role);
            log_exit(ty, name, &child.path, child.born, pid, st);
            if let Role::Service { name, .. } = &child.role
                && let Some(Stats::Open(f)) = self.services.iter().find(|s| &s.entry.name == name).map(|s| &s.stats)
            {
                let clean = libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0;
                f.add(if clean { metrics::Slot::EXIT_OK } else { metrics::Slot::EXIT_ERROR }, 1);
            }
            let now = Instant::now();
            let lived = now.duration_since(child.born);
            match &child.role {
                Role::Service { name, generation } if *generation == self.generation => {
                    if let Some(s) = self.services.iter_mut().find(|s| &s.entry.name == name) {
                        s.active = s.active.saturating_sub(1);
                        if child.ready {
                            s.ready = s.ready.saturating_sub(1);
                        }
                        if let Some(wait) = s.avail.exited(now, lived, child.took_conn) {
                            log::error!(
                                "service {}: {} workers in a row died at start; waiting {}s before forking again",
                                s.entry.name,
                                s.avail.fail_streak(),
                                wait.as_secs()
                            );
                        }
                    }
                }
                Role::Service { name, .. } => {
                    if let Some(s) = self.services.iter_mut().find(|s| &s.entry.name == name) {
                        s.old_active = s.old_active.saturating_sub(1);
                    }
                }
                Role::Template { name, .. } => {
                    if let Some(s) = self.services.iter_mut().find(|s| &s.entry.name == name && s.template.as_ref().is_some_and(|t| t.pid == pid)) {
                        s.template = None;
                        s.template_failures += 1;
                        log::error!("service {}: worker template pid {pid} died; {}", s.entry.name,
                            if s.template_failures < TEMPLATE_TRIES { "starting another" } else { "forking and executing workers one by one from now on" });
                    }
                }
                Role::Daemon(name) => {
                    if let Some(d) = self.daemons.iter_mut().find(|d| &d.entry.name == name && d.pid == Some(pid)) {
                        d.pid = None;
                        if let Some(wait) = d.avail.exited(now, lived, false) {
                            log::error!("daemon {}: keeps dying; waiting {}s before restarting it", d.entry.name, wait.as_secs());
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// SIGHUP: re-read cyrus.conf and start a new generation of workers.
    fn reload(&mut self) {
        let cc = match CyrusConf::load(&self.s.cyrus_conf) {
            Ok(c) => c,
            Err(e) => {
                log::error!("SIGHUP: {e}; keeping the running configuration");
                return;
            }
        };
        for d in &cc.diags {
            log::warn!("{d}");
        }
        log::info!("SIGHUP: reloading {}", self.s.cyrus_conf.display());
        self.generation += 1;
        // Recycle every worker of the old generation, and pass the signal to daemons.
        for (pid, c) in &self.children {
            if matches!(c.role, Role::Service { .. } | Role::Template { .. } | Role::Daemon(_)) {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGHUP);
            }
        }
        let mut old: Vec<Service> = std::mem::take(&mut self.services);
        let mut keep: Vec<(ServiceEntry, Option<OwnedFd>, Avail)> = Vec::new();
        for e in &cc.services {
            match old.iter().position(|o| o.entry.name == e.name && o.entry.same_socket(e) && o.listener.is_some()) {
                Some(k) => {
                    let o = old.swap_remove(k);
                    keep.push((e.clone(), o.listener, o.avail));
                }
                None => keep.push((e.clone(), None, Avail::default())),
            }
        }
        for o in &old {
            if !cc.services.iter().any(|e| e.name == o.entry.name) {
                log::info!("service {} removed", o.entry.name);
            }
        }
        drop(old); // closes listeners that are gone or moving, before binding anew
        for (e, listener, avail) in keep {
            let listener = match listener {
                Some(l) => Some(l),
                None => match listen::bind(&e.listen, e.proto, self.s.backlog) {
                    Ok(l) => {
                        log::info!("service {} listening on {}", e.name, e.listen);
                        Some(l)
                    }
                    Err(err) => {
                        log::error!("service {}: cannot listen on {}: {err}; will try again every {}s", e.name, e.listen, REBIND_INTERVAL.as_secs());
                        None
                    }
                },
            };
            match self.command(&e.name, &e.cmd) {
                Ok(cmd) => self.services.push(Service { entry: e, cmd, listener, ready: 0, active: 0, old_active: 0, next_bind: None, avail, template: None, template_failures: 0, stats: Stats::NotYet }),
                Err(err) => log::error!("service {}: {err}", e.name),
            }
        }
        for s in &mut self.services {
            s.old_active = self
                .children
                .values()
                .filter(|c| matches!(&c.role, Role::Service { name, generation } if *name == s.entry.name && *generation < self.generation))
                .count() as u32;
        }
        self.load_events(&cc);
        // Daemons: stop those removed or changed, start new ones.
        let old_daemons = std::mem::take(&mut self.daemons);
        for d in old_daemons {
            if let Some(n) = cc.daemons.iter().find(|n| n.name == d.entry.name && n.cmd == d.entry.cmd) {
                self.daemons.push(Daemon { entry: n.clone(), ..d });
            } else if let Some(pid) = d.pid {
                log::info!("daemon {} removed or changed; stopping pid {pid}", d.entry.name);
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        for n in &cc.daemons {
            if !self.daemons.iter().any(|d| d.entry.name == n.name) {
                match self.command(&n.name, &n.cmd) {
                    Ok(cmd) => self.daemons.push(Daemon { entry: n.clone(), cmd, pid: None, avail: Avail::default() }),
                    Err(err) => log::error!("daemon {}: {err}", n.name),
                }
            }
        }
    }

    /// Stops every child: SIGTERM, a grace period, then SIGKILL.
    fn shutdown(&mut self) {
        log::info!("shutting down: stopping {} children", self.children.len());
        self.services.clear(); // close listeners: no new connections
        for pid in self.children.keys() {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while !self.children.is_empty() && Instant::now() < deadline {
            self.reap();
            if self.children.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in self.children.keys() {
            log::warn!("process {pid} did not stop after SIGTERM; killing it");
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        while !self.children.is_empty() {
            let before = self.children.len();
            self.reap();
            if self.children.len() == before {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn below_max(s: &Service) -> bool {
    s.entry.maxchild.is_none_or(|m| s.active + s.old_active < m)
}

/// waitpid(2), returning the pid and raw status of a child that ended (None: none
/// ended, with WNOHANG, or no child). Not nix's `waitpid`: for a child killed by a
/// signal nix has no name for (a real-time one) it answers EINVAL after the child is
/// reaped, and master would lose the pid and count the child for ever.
fn wait_child(pid: libc::pid_t, flags: libc::c_int) -> Option<(libc::pid_t, libc::c_int)> {
    let mut st = 0;
    loop {
        // SAFETY: waitpid writes the status into a local int.
        match unsafe { libc::waitpid(pid, &mut st, flags) } {
            n if n > 0 => return Some((n, st)),
            n if n < 0 && Errno::last() == Errno::EINTR => continue,
            _ => return None,
        }
    }
}

/// Logs a child's end as Cyrus does.
fn log_exit(ty: &str, name: &str, path: &str, born: Instant, pid: libc::pid_t, st: libc::c_int) {
    let age = born.elapsed().as_secs_f64();
    if libc::WIFSIGNALED(st) {
        let sig = libc::WTERMSIG(st);
        // SAFETY: strsignal returns a string that stays valid until the next call, read
        // at once (master has one thread); nix names signals SIGTERM, not Cyrus's
        // "Terminated".
        let signame = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(sig)) }.to_string_lossy().into_owned();
        let core = if libc::WCOREDUMP(st) { ", core dumped" } else { "" };
        log::error!("process type:{ty} name:{name} path:{path} age:{age:.3}s pid:{pid} signaled to death by signal {sig} ({signame}{core})");
    } else {
        let code = libc::WEXITSTATUS(st);
        if code == 0 {
            log::info!("process type:{ty} name:{name} path:{path} age:{age:.3}s pid:{pid} exited, status 0");
        } else {
            log::error!("process type:{ty} name:{name} path:{path} age:{age:.3}s pid:{pid} exited, status {code}");
        }
    }
}
