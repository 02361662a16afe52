//! cyr_info: what the configuration says and who is connected, as Cyrus 3.6's tool
//! prints it (`name: value` lines; `PID SERVICE HOST [USER [MAILBOX]]` for `proc`).
//!
//! - `conf`: options set to something other than their default, with their value;
//! - `conf-all`: every option the suite reads, with the value in effect;
//! - `conf-default`: every option with its default;
//! - `conf-lint`: the lines of imapd.conf that name no option of the suite or of Cyrus
//!   (a `SERVICE_` prefix counts only for a service of cyrus.conf, as in Cyrus), then
//!   partitions whose directory is missing; nothing when all is well;
//! - `proc`: the sessions of `configdirectory/proc`, one line each.

use clap::Parser;
use conf::options::{Kind, OPTIONS};
use std::io::Write;
use std::path::PathBuf;

/// Get information from the configuration and the running server (Cyrus-compatible).
#[derive(Parser, Debug)]
#[command(name = "cyr_info", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// cyrus.conf, for the service names that may prefix an option.
    #[arg(short = 'M', value_name = "cyrus.conf", default_value = conf::DEFAULT_CYRUS_CONF)]
    cyrus_conf: PathBuf,
    /// Show the configuration as the service of this name reads it.
    #[arg(short = 'n', value_name = "servicename")]
    service: Option<String>,
    /// Accepted for Cyrus's scripts; the suite has no version history of options.
    #[arg(short = 's', value_name = "version")]
    since: Option<String>,
    /// conf, conf-all, conf-default, conf-lint or proc.
    command: String,
}

const PROG: &str = "cyr_info";

/// How `cyr_info` prints a value of this kind: booleans as yes/no, the rest as written.
fn shown(kind: Kind, v: &str) -> String {
    match kind {
        Kind::Bool => if conf::value::parse_bool(v).unwrap_or(false) { "yes" } else { "no" }.to_string(),
        Kind::List(_) => v.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => v.to_string(),
    }
}

fn conf(cfg: &conf::Config, out: &mut impl Write, all: bool) {
    for d in OPTIONS.iter().filter(|d| !d.is_prefix()) {
        let Some(v) = cfg.get(d.name) else {
            if all {
                let _ = writeln!(out, "{}: ", d.name);
            }
            continue;
        };
        let v = shown(d.kind, v);
        if all || d.default.map(|def| shown(d.kind, def)) != Some(v.clone()) {
            let _ = writeln!(out, "{}: {v}", d.name);
        }
    }
    // Options named by prefix (partition-NAME, ...): Cyrus prints these after the others.
    for d in OPTIONS.iter().filter(|d| d.is_prefix()) {
        for (k, v) in cfg.prefixed_for_service(d.name) {
            let _ = writeln!(out, "{}{k}: {v}", d.name);
        }
    }
}

fn conf_default(out: &mut impl Write) {
    for d in OPTIONS.iter().filter(|d| !d.is_prefix()) {
        let _ = writeln!(out, "{}: {}", d.name, d.default.map(|v| shown(d.kind, v)).unwrap_or_default());
    }
}

/// Whether `key` is an option once a cyrus.conf service's prefix is taken off.
fn known(key: &str, services: &[String]) -> bool {
    if conf::imapd::is_known_option(key) {
        return true;
    }
    services.iter().any(|s| key.strip_prefix(s.as_str()).and_then(|r| r.strip_prefix('_')).is_some_and(conf::imapd::is_known_option))
}

fn lint(cfg: &conf::Config, cyrus_conf: &std::path::Path, out: &mut impl Write) -> bool {
    let services: Vec<String> = match conf::CyrusConf::load(cyrus_conf) {
        Ok(c) => c.services.into_iter().map(|s| s.name).collect(),
        Err(e) => {
            eprintln!("{PROG}: {e} (service prefixes are not recognised without it)");
            Vec::new()
        }
    };
    for (k, v) in cfg.entries() {
        if !known(k, &services) {
            let _ = writeln!(out, "{k}: {v}");
        }
    }
    let mut ok = true;
    for (name, dir) in cfg.prefixed("partition-") {
        if !std::path::Path::new(&dir).is_dir() {
            let _ = writeln!(out, "partition-{name}: {dir} is not a directory");
            ok = false;
        }
    }
    ok
}

fn proc(cfg: &conf::Config, out: &mut impl Write) -> bool {
    let Some(dir) = cfg.get_str("configdirectory").map(|d| PathBuf::from(d).join("proc")) else {
        eprintln!("{PROG}: no configdirectory");
        return false;
    };
    let mut rows: Vec<(i32, String)> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| {
                let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
                let text = std::fs::read_to_string(e.path()).ok()?;
                service::procs::alive(pid).then(|| (pid, text.trim_end().split('\t').collect::<Vec<_>>().join(" ")))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            eprintln!("{PROG}: {}: {e}", dir.display());
            return false;
        }
    };
    rows.sort();
    for (pid, line) in rows {
        let _ = writeln!(out, "{pid} {line}");
    }
    true
}

fn main() {
    let args = Args::parse();
    let mut cfg = tools::load_config(PROG, args.config.as_ref());
    if let Some(s) = &args.service {
        cfg = cfg.for_service(s);
    }
    let _ = &args.since;
    let mut out = std::io::stdout().lock();
    let ok = match args.command.as_str() {
        "conf" => {
            conf(&cfg, &mut out, false);
            true
        }
        "conf-all" => {
            conf(&cfg, &mut out, true);
            true
        }
        "conf-default" => {
            conf_default(&mut out);
            true
        }
        "conf-lint" => lint(&cfg, &args.cyrus_conf, &mut out),
        "proc" => proc(&cfg, &mut out),
        other => {
            eprintln!("{PROG}: unknown command '{other}' (conf, conf-all, conf-default, conf-lint or proc)");
            std::process::exit(service::exit::USAGE);
        }
    };
    let _ = out.flush();
    std::process::exit(i32::from(!ok));
}
