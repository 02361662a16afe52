//! Prometheus counting for a process of the suite: `prometheus_enabled` and
//! `prometheus_stats_dir` read in one place (the counters themselves are the
//! `metrics` crate's).

use conf::Config;
use std::path::PathBuf;

/// Where the stats files are: `prometheus_stats_dir`, else `{configdirectory}/stats`.
pub fn dir(config: &Config) -> Option<PathBuf> {
    match config.get_str("prometheus_stats_dir") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => config.get_str("configdirectory").map(|c| PathBuf::from(c).join("stats")),
    }
}

/// The stats directory when `prometheus_enabled` is set; `None` otherwise.
pub fn enabled_dir(config: &Config) -> Option<PathBuf> {
    if config.get_bool("prometheus_enabled") { dir(config) } else { None }
}

/// Makes this process count into `service`'s file when `prometheus_enabled` is set.
/// A file that cannot be opened is logged and counting stays off.
pub fn enable(config: &Config, service: &str, program: &str) {
    let Some(dir) = enabled_dir(config) else { return };
    match metrics::StatsFile::open(&dir, service, program) {
        Ok(f) => metrics::enable(f),
        Err(e) => log::error!("prometheus: cannot open the stats file of service {service} in {}: {e}", dir.display()),
    }
}
