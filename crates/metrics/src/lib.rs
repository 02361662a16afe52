//! Prometheus figures of the suite, counted in shared memory.
//!
//! Every process of a cyrus.conf service (its workers, its worker template, master
//! for the worker counts) maps the same file `{prometheus_stats_dir}/SERVICE.stats`
//! with `MAP_SHARED` and adds to its fixed slots with atomic adds: no lock, no system
//! call and no allocation per increment, and a worker that exits (or is killed) leaves
//! its counts in the file. `promstatsd` reads every such file at each scrape and
//! renders them ([`expose`]).
//!
//! A process turns counting on once with [`enable`] (the service crate does it from
//! `prometheus_enabled`); until then, and for ever in the tools, [`inc`], [`add`] and
//! [`fsync_timer`] cost one load and one branch.
//!
//! Layout of a file (native endianness, the suite's processes share one machine):
//! a 48-byte header (magic `CYRSTAT1`, slot count, the program name NUL-padded to 32
//! bytes) then [`Slot::COUNT`] u64 slots. A file of another layout is replaced whole.

pub mod expose;
mod file;

pub use file::StatsFile;

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A counter or gauge in a stats file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(pub(crate) usize);

impl Slot {
    /// Connections accepted by workers.
    pub const CONNECTIONS: Slot = Slot(0);
    /// Logins accepted (any mechanism, LOGIN/USER-PASS included).
    pub const AUTH_YES: Slot = Slot(1);
    /// Logins refused.
    pub const AUTH_NO: Slot = Slot(2);
    /// Gauge set by master: workers waiting for a connection.
    pub const READY: Slot = Slot(3);
    /// Gauge set by master: workers serving a connection.
    pub const BUSY: Slot = Slot(4);
    /// Workers that exited with status 0 (master).
    pub const EXIT_OK: Slot = Slot(5);
    /// Workers that exited with another status or were killed by a signal (master).
    pub const EXIT_ERROR: Slot = Slot(6);
    /// Workers master started (each replacement of a dead one included).
    pub const WORKERS_STARTED: Slot = Slot(7);
    /// Writes refused because a quota root was full (APPEND, COPY, delivery).
    pub const QUOTA_REFUSED: Slot = Slot(8);
    /// IMAP APPEND commands.
    pub const IMAP_APPEND: Slot = Slot(9);
    /// LMTP messages received (DATA completed).
    pub const LMTP_MESSAGES: Slot = Slot(10);
    /// LMTP message bytes received.
    pub const LMTP_BYTES: Slot = Slot(11);
    /// LMTP recipients accepted at RCPT.
    pub const LMTP_RECIPIENTS: Slot = Slot(12);
    /// Per-recipient delivery outcomes.
    pub const DELIVERED: Slot = Slot(13);
    pub const DELIVER_OVER_QUOTA: Slot = Slot(14);
    pub const DELIVER_UNKNOWN_USER: Slot = Slot(15);
    pub const DELIVER_TEMP_FAIL: Slot = Slot(16);
    pub const DELIVER_DUPLICATE: Slot = Slot(17);
    /// Sieve actions taken at delivery.
    pub const SIEVE_KEEP: Slot = Slot(18);
    pub const SIEVE_FILEINTO: Slot = Slot(19);
    pub const SIEVE_REDIRECT: Slot = Slot(20);
    pub const SIEVE_DISCARD: Slot = Slot(21);
    pub const SIEVE_REJECT: Slot = Slot(22);
    pub const SIEVE_VACATION_SENT: Slot = Slot(23);
    /// Sum of fsync/syncfs durations in nanoseconds.
    pub const FSYNC_SUM_NS: Slot = Slot(24);
    /// First of the fsync histogram's per-bucket (not cumulative) counts, one per
    /// [`FSYNC_BUCKETS`] bound and one for +Inf.
    pub const FSYNC_BUCKET0: usize = 25;
    /// Slots in a file.
    pub const COUNT: usize = Self::FSYNC_BUCKET0 + FSYNC_BUCKETS.len() + 1;
}

/// Upper bounds of the fsync latency histogram, in seconds (Prometheus `le`).
pub const FSYNC_BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

/// The slots of this process's service, once [`enable`]d.
static SLOTS: AtomicPtr<AtomicU64> = AtomicPtr::new(std::ptr::null_mut());

/// Makes this process count into `file` from now on; the mapping stays for the life
/// of the process (and of its forks, which share it).
pub fn enable(file: StatsFile) {
    let file: &'static StatsFile = Box::leak(Box::new(file));
    SLOTS.store(file.slots_ptr(), Ordering::Release);
}

/// Whether this process counts.
pub fn enabled() -> bool {
    !SLOTS.load(Ordering::Relaxed).is_null()
}

/// Adds `n` to a slot of this process's service; nothing when counting is off.
#[inline]
pub fn add(slot: Slot, n: u64) {
    let p = SLOTS.load(Ordering::Relaxed);
    if !p.is_null() {
        // SAFETY: `p` points at Slot::COUNT atomics of a mapping that is never unmapped.
        unsafe { (*p.add(slot.0)).fetch_add(n, Ordering::Relaxed) };
    }
}

/// Adds one to a slot.
#[inline]
pub fn inc(slot: Slot) {
    add(slot, 1)
}

/// The start of a timed fsync: `None` (no clock read) when counting is off.
#[inline]
pub fn fsync_timer() -> Option<Instant> {
    if SLOTS.load(Ordering::Relaxed).is_null() { None } else { Some(Instant::now()) }
}

/// Records the fsync started at `start` in the histogram.
#[inline]
pub fn fsync_done(start: Option<Instant>) {
    if let Some(t) = start {
        observe_fsync(t.elapsed());
    }
}

/// Records one fsync/syncfs duration in the histogram.
pub fn observe_fsync(d: Duration) {
    let secs = d.as_secs_f64();
    let bucket = FSYNC_BUCKETS.iter().position(|&b| secs <= b).unwrap_or(FSYNC_BUCKETS.len());
    add(Slot(Slot::FSYNC_BUCKET0 + bucket), 1);
    add(Slot::FSYNC_SUM_NS, u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_counting_touches_nothing_and_enabled_counts_in_the_file() {
        let dir = std::env::temp_dir().join(format!("metrics-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        inc(Slot::CONNECTIONS);
        assert!(fsync_timer().is_none());
        assert!(!dir.exists());
        let f = StatsFile::open(&dir, "imap", "imapd").unwrap();
        enable(f);
        inc(Slot::CONNECTIONS);
        add(Slot::LMTP_BYTES, 40);
        observe_fsync(Duration::from_micros(300));
        observe_fsync(Duration::from_secs(3));
        let other = StatsFile::open(&dir, "imap", "imapd").unwrap();
        assert_eq!(other.get(Slot::CONNECTIONS), 1);
        assert_eq!(other.get(Slot::LMTP_BYTES), 40);
        assert_eq!(other.get(Slot(Slot::FSYNC_BUCKET0 + 2)), 1);
        assert_eq!(other.get(Slot(Slot::FSYNC_BUCKET0 + FSYNC_BUCKETS.len())), 1);
        assert_eq!(other.get(Slot::FSYNC_SUM_NS), 3_000_300_000);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
