//! EVENTS: when each entry runs next.
//!
//! A `period=N` event runs when master starts and then every N minutes, as in Cyrus;
//! an `at=HHMM` event runs once a day at that local time. Times are kept as wall-clock
//! seconds (for `at=`) and compared on each turn of master's loop.

use crate::spawn::Command;
use conf::cyrus::EventEntry;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct Event {
    pub entry: EventEntry,
    pub cmd: Command,
    /// Wall-clock second of the next run.
    pub next: u64,
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The first run of an entry loaded at `now`.
pub fn first_run(e: &EventEntry, now: u64) -> Option<u64> {
    match (e.at, e.period) {
        (Some((h, m)), _) => Some(next_daily(now, h, m)),
        (None, 0) => None,
        (None, _) => Some(now),
    }
}

/// The run after one that was due at `due` and started at `now`.
pub fn following_run(e: &EventEntry, due: u64, now: u64) -> Option<u64> {
    match (e.at, e.period) {
        (Some((h, m)), _) => Some(next_daily(now + 1, h, m)),
        (None, 0) => None,
        (None, p) => {
            let step = u64::from(p) * 60;
            let mut next = due + step;
            if next <= now {
                // Master was stopped or busy past a whole period: do not run a backlog.
                next = now + step;
            }
            Some(next)
        }
    }
}

/// The next wall-clock second at or after `now` whose local time is hh:mm:00.
fn next_daily(now: u64, h: u8, m: u8) -> u64 {
    let t = now as libc::time_t;
    // SAFETY: localtime_r/mktime on local structs.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm.tm_hour = i32::from(h);
        tm.tm_min = i32::from(m);
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        let mut cand = libc::mktime(&mut tm);
        if cand < t {
            tm.tm_mday += 1;
            tm.tm_hour = i32::from(h);
            tm.tm_min = i32::from(m);
            tm.tm_sec = 0;
            tm.tm_isdst = -1;
            cand = libc::mktime(&mut tm);
        }
        cand.max(0) as u64
    }
}

/// How long until the earliest of `events` is due (None: no event will run).
pub fn until_next(events: &[Event], now: u64) -> Option<Duration> {
    events.iter().map(|e| Duration::from_secs(e.next.saturating_sub(now))).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use conf::Origin;

    fn ev(period: u32, at: Option<(u8, u8)>) -> EventEntry {
        EventEntry { name: "e".into(), cmd: "x".into(), period, at, origin: Origin { file: "c".into(), line: 1 } }
    }

    #[test]
    fn period_runs_at_start_then_every_period() {
        let e = ev(30, None);
        assert_eq!(first_run(&e, 1000), Some(1000));
        assert_eq!(following_run(&e, 1000, 1001), Some(2800));
        // Late by more than a period: next is a period from now, no backlog.
        assert_eq!(following_run(&e, 1000, 9000), Some(10800));
        assert_eq!(first_run(&ev(0, None), 5), None);
    }

    #[test]
    fn daily_at_is_within_a_day_and_at_that_minute() {
        let now = now_secs();
        let e = ev(1440, Some((4, 0)));
        let next = first_run(&e, now).unwrap();
        assert!(next >= now && next <= now + 86_400 + 3_600, "{now} {next}");
        let t = next as libc::time_t;
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        unsafe { libc::localtime_r(&t, &mut tm) };
        assert_eq!((tm.tm_hour, tm.tm_min, tm.tm_sec), (4, 0, 0));
        let after = following_run(&e, next, next).unwrap();
        assert!(after > next && after <= next + 86_400 + 3_600);
    }
}
