//! The process-creation policy of one service (or daemon): how fast it may fork, and
//! when a child that keeps dying at start makes master wait before the next one.
//!
//! `maxforkrate` is enforced over a sliding second. A child that exits within
//! [`QUICK_DEATH`] of its birth without having taken a connection (whatever its exit
//! status: a clean exit in a loop is a fork bomb too) counts as a failure; after [`FREE_FAILURES`] in a row master waits 1 s before the
//! next fork, then 2 s, 4 s ... up to [`MAX_BACKOFF`]. A connection served, or a child
//! that lived long, clears the count.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const QUICK_DEATH: Duration = Duration::from_secs(5);
pub const FREE_FAILURES: u32 = 5;
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Avail {
    forks: VecDeque<Instant>,
    fail_streak: u32,
    throttled_until: Option<Instant>,
}

impl Avail {
    /// `Ok` if a fork may happen now, else the instant from which it may.
    pub fn may_fork(&mut self, now: Instant, maxforkrate: u32) -> Result<(), Instant> {
        if let Some(t) = self.throttled_until {
            if now < t {
                return Err(t);
            }
            self.throttled_until = None;
        }
        if maxforkrate > 0 {
            while self.forks.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
                self.forks.pop_front();
            }
            if self.forks.len() >= maxforkrate as usize {
                return Err(self.forks[0] + Duration::from_secs(1));
            }
        }
        Ok(())
    }

    /// Records a fork.
    pub fn forked(&mut self, now: Instant) {
        self.forks.push_back(now);
        if self.forks.len() > 1024 {
            self.forks.pop_front();
        }
    }

    /// A child took a connection: the service works.
    pub fn worked(&mut self) {
        self.fail_streak = 0;
    }

    /// Records a child's end. Returns the wait imposed, when this death starts or
    /// lengthens a back-off.
    pub fn exited(&mut self, now: Instant, lived: Duration, took_conn: bool) -> Option<Duration> {
        if took_conn || lived >= QUICK_DEATH {
            self.fail_streak = 0;
            return None;
        }
        self.fail_streak += 1;
        if self.fail_streak < FREE_FAILURES {
            return None;
        }
        let exp = (self.fail_streak - FREE_FAILURES).min(6);
        let wait = Duration::from_secs(1 << exp).min(MAX_BACKOFF);
        self.throttled_until = Some(now + wait);
        Some(wait)
    }

    pub fn fail_streak(&self) -> u32 {
        self.fail_streak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_rate() {
        let mut a = Avail::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(a.may_fork(t0, 3).is_ok());
            a.forked(t0);
        }
        let until = a.may_fork(t0, 3).unwrap_err();
        assert_eq!(until, t0 + Duration::from_secs(1));
        assert!(a.may_fork(t0 + Duration::from_millis(1001), 3).is_ok());
        assert!(a.may_fork(t0, 0).is_ok());
    }

    #[test]
    fn quick_deaths_back_off_and_a_connection_clears() {
        let mut a = Avail::default();
        let t0 = Instant::now();
        let quick = Duration::from_millis(10);
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(a.exited(t0, quick, false), None);
        }
        assert_eq!(a.exited(t0, quick, false), Some(Duration::from_secs(1)));
        assert!(a.may_fork(t0, 0).is_err());
        assert_eq!(a.exited(t0, quick, false), Some(Duration::from_secs(2)));
        for _ in 0..20 {
            a.exited(t0, quick, false);
        }
        assert_eq!(a.exited(t0, quick, false), Some(MAX_BACKOFF));
        assert_eq!(a.exited(t0, quick, true), None);
        assert_eq!(a.fail_streak(), 0);
        assert_eq!(a.exited(t0, Duration::from_secs(10), false), None);
    }
}
