//! The Prometheus text exposition (format 0.0.4) of every stats file in a directory.
//!
//! Names follow Cyrus 3.6's `promdata.p` where Cyrus has the same figure
//! (`cyrus_imap_connections_total`, `cyrus_lmtp_received_messages_total` ...): the
//! protocol part comes from the service's program (imapd gives `imap`, lmtpd `lmtp`,
//! timsieved `sieve`). Every sample carries `service="NAME"`, the cyrus.conf entry, so
//! that imap and imaps are told apart; sum over it for Cyrus's totals. doc/metrics.md
//! lists them all.

use crate::file::{StatsFile, SUFFIX};
use crate::{FSYNC_BUCKETS, Slot};
use std::fmt::Write;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Counter,
    Gauge,
}

/// One sample of a family: its slot, an optional extra label, the protocols it is
/// shown for (empty: all).
struct Figure {
    slot: Slot,
    family: &'static str,
    ty: Type,
    label: Option<(&'static str, &'static str)>,
    protos: &'static [&'static str],
    help: &'static str,
}

const fn fig(slot: Slot, family: &'static str, ty: Type, label: Option<(&'static str, &'static str)>, protos: &'static [&'static str], help: &'static str) -> Figure {
    Figure { slot, family, ty, label, protos, help }
}

use Type::{Counter, Gauge};
const LMTP: &[&str] = &["lmtp"];

/// Families written `cyrus_{proto}_{family}`.
const FIGURES: &[Figure] = &[
    fig(Slot::CONNECTIONS, "connections_total", Counter, None, &[], "Connections accepted"),
    fig(Slot::BUSY, "active_connections", Gauge, None, &[], "Workers serving a connection now"),
    fig(Slot::READY, "ready_listeners", Gauge, None, &[], "Workers waiting for a connection now"),
    fig(Slot::AUTH_YES, "authenticate_total", Counter, Some(("result", "yes")), &[], "Logins, by result (no: refused)"),
    fig(Slot::AUTH_NO, "authenticate_total", Counter, Some(("result", "no")), &[], ""),
    fig(Slot::EXIT_OK, "shutdown_total", Counter, Some(("status", "ok")), &[], "Worker exits seen by master, by status (error: non-zero exit or killed by a signal)"),
    fig(Slot::EXIT_ERROR, "shutdown_total", Counter, Some(("status", "error")), &[], ""),
    fig(Slot::WORKERS_STARTED, "workers_started_total", Counter, None, &[], "Workers master started, replacements of dead ones included"),
    fig(Slot::QUOTA_REFUSED, "quota_refusals_total", Counter, None, &["imap", "lmtp"], "Writes refused because a quota root was full"),
    fig(Slot::IMAP_APPEND, "append_total", Counter, None, &["imap"], "APPEND commands"),
    fig(Slot::LMTP_MESSAGES, "received_messages_total", Counter, None, LMTP, "Messages received"),
    fig(Slot::LMTP_BYTES, "received_bytes_total", Counter, None, LMTP, "Message bytes received"),
    fig(Slot::LMTP_RECIPIENTS, "received_recipients_total", Counter, None, LMTP, "Recipients accepted"),
    fig(Slot::DELIVERED, "deliveries_total", Counter, Some(("result", "delivered")), LMTP, "Delivery outcomes per recipient"),
    fig(Slot::DELIVER_OVER_QUOTA, "deliveries_total", Counter, Some(("result", "over_quota")), LMTP, ""),
    fig(Slot::DELIVER_UNKNOWN_USER, "deliveries_total", Counter, Some(("result", "unknown_user")), LMTP, ""),
    fig(Slot::DELIVER_TEMP_FAIL, "deliveries_total", Counter, Some(("result", "temp_failure")), LMTP, ""),
    fig(Slot::DELIVER_DUPLICATE, "deliveries_total", Counter, Some(("result", "duplicate")), LMTP, ""),
    fig(Slot::SIEVE_KEEP, "sieve_keep_total", Counter, None, LMTP, "Sieve keeps"),
    fig(Slot::SIEVE_FILEINTO, "sieve_fileinto_total", Counter, None, LMTP, "Sieve fileintos"),
    fig(Slot::SIEVE_REDIRECT, "sieve_redirect_total", Counter, None, LMTP, "Sieve redirects"),
    fig(Slot::SIEVE_DISCARD, "sieve_discard_total", Counter, None, LMTP, "Sieve discards"),
    fig(Slot::SIEVE_REJECT, "sieve_reject_total", Counter, None, LMTP, "Sieve rejects"),
    fig(Slot::SIEVE_VACATION_SENT, "sieve_autorespond_sent_total", Counter, None, LMTP, "Sieve vacation replies sent"),
];

/// Name of the fsync histogram family (all services).
pub const FSYNC_FAMILY: &str = "cyrus_fsync_duration_seconds";

/// The protocol part of metric names for a service's program.
pub fn proto(program: &str) -> String {
    match program {
        "imapd" | "proxyd" => "imap".into(),
        "pop3d" | "pop3proxyd" => "pop3".into(),
        "lmtpd" | "lmtpproxyd" => "lmtp".into(),
        "nntpd" => "nntp".into(),
        "timsieved" => "sieve".into(),
        "smmapd" => "smmap".into(),
        "promstatsd" => "prometheus".into(),
        other => {
            let s: String = other.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
            if s.is_empty() { "unknown".into() } else { s }
        }
    }
}

/// A family being assembled: its samples stay together, as the format wants.
struct Family {
    name: String,
    ty: &'static str,
    help: &'static str,
    samples: String,
}

fn family<'a>(out: &'a mut Vec<Family>, name: String, ty: &'static str, help: &'static str) -> &'a mut Family {
    let i = match out.iter().position(|f| f.name == name) {
        Some(i) => i,
        None => {
            out.push(Family { name, ty, help, samples: String::new() });
            out.len() - 1
        }
    };
    if out[i].help.is_empty() {
        out[i].help = help;
    }
    &mut out[i]
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Renders the figures of one service's slots into `out`.
fn service(out: &mut Vec<Family>, service: &str, program: &str, slots: &[u64]) {
    let p = proto(program);
    let svc = escape(service);
    for f in FIGURES.iter().filter(|f| f.protos.is_empty() || f.protos.contains(&p.as_str())) {
        let fam = family(out, format!("cyrus_{p}_{}", f.family), if f.ty == Counter { "counter" } else { "gauge" }, f.help);
        let extra = f.label.map(|(k, v)| format!(",{k}=\"{v}\"")).unwrap_or_default();
        let _ = writeln!(fam.samples, "{}{{service=\"{svc}\"{extra}}} {}", fam.name, slots[f.slot.0]);
    }
    let fam = family(out, FSYNC_FAMILY.into(), "histogram", "Time a mailbox write waited for fsync/syncfs");
    let mut cumulative = 0u64;
    for (i, le) in FSYNC_BUCKETS.iter().map(|b| format!("{b}")).chain(std::iter::once("+Inf".to_string())).enumerate() {
        cumulative += slots[Slot::FSYNC_BUCKET0 + i];
        let _ = writeln!(fam.samples, "{FSYNC_FAMILY}_bucket{{service=\"{svc}\",le=\"{le}\"}} {cumulative}");
    }
    let sum = slots[Slot::FSYNC_SUM_NS.0] as f64 / 1e9;
    let _ = writeln!(fam.samples, "{FSYNC_FAMILY}_sum{{service=\"{svc}\"}} {sum}");
    let _ = writeln!(fam.samples, "{FSYNC_FAMILY}_count{{service=\"{svc}\"}} {cumulative}");
}

/// The exposition of `files` (service name, program, slots).
pub fn render(files: &[(String, String, Vec<u64>)]) -> String {
    let mut fams = Vec::new();
    for (svc, program, slots) in files {
        service(&mut fams, svc, program, slots);
    }
    let mut text = String::new();
    for f in fams {
        let _ = writeln!(text, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(text, "# TYPE {} {}", f.name, f.ty);
        text.push_str(&f.samples);
    }
    text
}

/// Reads every `*.stats` file of `dir` (sorted by service name); files of another
/// layout or unreadable ones are left out. A missing directory has no figures.
pub fn read_dir(dir: &Path) -> Vec<(String, String, Vec<u64>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<(String, String, Vec<u64>)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(SUFFIX)?.to_string();
            let (program, slots) = StatsFile::read(&e.path()).ok()??;
            Some((name, program, slots))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_stay_together_and_histograms_are_cumulative() {
        let mut a = vec![0u64; Slot::COUNT];
        a[Slot::CONNECTIONS.0] = 3;
        a[Slot::FSYNC_BUCKET0] = 2;
        a[Slot::FSYNC_BUCKET0 + 3] = 1;
        a[Slot::FSYNC_SUM_NS.0] = 1_500_000;
        let b = vec![0u64; Slot::COUNT];
        let text = render(&[("imap".into(), "imapd".into(), a), ("imaps".into(), "imapd".into(), b)]);
        let conn: Vec<&str> = text.lines().filter(|l| l.starts_with("cyrus_imap_connections_total")).collect();
        assert_eq!(conn, ["cyrus_imap_connections_total{service=\"imap\"} 3", "cyrus_imap_connections_total{service=\"imaps\"} 0"]);
        assert_eq!(text.matches("# TYPE cyrus_imap_connections_total counter").count(), 1);
        assert!(text.contains("cyrus_fsync_duration_seconds_bucket{service=\"imap\",le=\"0.0001\"} 2\n"));
        assert!(text.contains("cyrus_fsync_duration_seconds_bucket{service=\"imap\",le=\"0.001\"} 3\n"));
        assert!(text.contains("cyrus_fsync_duration_seconds_bucket{service=\"imap\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("cyrus_fsync_duration_seconds_sum{service=\"imap\"} 0.0015\n"));
        assert!(!text.contains("cyrus_imap_received_messages_total"));
        assert_eq!(proto("lmtpd"), "lmtp");
        assert_eq!(escape("a\"b\\"), "a\\\"b\\\\");
    }
}
