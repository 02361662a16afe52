//! Shared set-up of the administration tools: flags every tool takes and config
//! loading with errors on stderr.

pub mod takeover;

use std::path::PathBuf;

/// Loads imapd.conf for a tool (`-C`, else $CYRUS_CONFIG, else /etc/imapd.conf),
/// starts logging (to syslog, and to stderr when syslog is unreachable), and prints
/// the file's warnings on stderr. Exits with EX_CONFIG on error.
pub fn load_config(program: &'static str, explicit: Option<&PathBuf>) -> conf::Config {
    match service::worker::load_config(explicit) {
        Ok(c) => {
            service::log::init(program, Some(&c), false);
            for d in &c.diags {
                eprintln!("{program}: {}: {d}", if d.warning { "warning" } else { "note" });
            }
            c
        }
        Err(e) => {
            service::log::init(program, None, false);
            service::worker::fatal(program, service::exit::CONFIG, &format!("configuration error: {e}"))
        }
    }
}

/// Opens the store of `cfg`, or exits with the reason.
pub fn open_store(program: &'static str, cfg: &conf::Config) -> mboxlist::Store {
    mboxlist::Store::open(cfg).unwrap_or_else(|e| service::worker::fatal(program, service::exit::CONFIG, &e.to_string()))
}

/// A mailbox named on an admin tool's command line: the internal form (`user.fred`),
/// or the admin's view with the configured separator (`user/fred.smith` when
/// `unixhierarchysep` is on).
pub fn mailbox_arg(store: &mboxlist::Store, arg: &str) -> Result<mboxlist::InternalName, String> {
    let internal = if store.ns.unixhierarchysep && arg.contains('/') {
        arg.replace('.', "^").replace('/', ".")
    } else {
        arg.to_string()
    };
    mboxlist::names::validate(&internal).map_err(|e| format!("{arg}: {e}"))?;
    Ok(mboxlist::InternalName(internal))
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
