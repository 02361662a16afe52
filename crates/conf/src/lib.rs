//! Configuration of the suite: imapd.conf (every daemon) and cyrus.conf (master).
//!
//! ```no_run
//! let cfg = conf::Config::load(std::path::Path::new("/etc/imapd.conf"))?.for_service("imaps");
//! let cert = cfg.get_str("tls_server_cert"); // imaps_tls_server_cert wins if set
//! # Ok::<(), conf::ConfError>(())
//! ```
//!
//! The option table in [`options`] is the single list of what the suite reads;
//! man/imapd.conf.5 is generated from it by [`man::imapd_conf_page`].

pub mod cyrus;
pub mod cyrus_names;
pub mod hashdir;
pub mod imapd;
pub mod man;
pub mod options;
pub mod value;

pub use cyrus::CyrusConf;
pub use hashdir::dir_hash;
pub use imapd::{ConfError, Config, Diag, Origin};

/// Where Cyrus looks when no -C is given.
pub const DEFAULT_IMAPD_CONF: &str = "/etc/imapd.conf";
/// Where Cyrus's master looks when no -M is given.
pub const DEFAULT_CYRUS_CONF: &str = "/etc/cyrus.conf";
