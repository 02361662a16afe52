//! Shared set-up of the administration tools: flags every tool takes and config
//! loading with errors on stderr.

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
