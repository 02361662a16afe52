//! The date and currentdate tests (RFC 5260): date parts of a moment seen in a zone.

/// Every date part of RFC 5260 §4.
const PARTS: &[&str] = &["year", "month", "day", "date", "julian", "hour", "minute", "second", "time", "iso8601", "std11", "zone", "weekday"];

pub fn valid_part(p: &str) -> bool {
    PARTS.iter().any(|x| x.eq_ignore_ascii_case(p))
}

/// `+hhmm` / `-hhmm` to minutes east of UTC.
pub fn parse_zone(z: &str) -> Option<i32> {
    let b = z.as_bytes();
    if b.len() != 5 || !matches!(b[0], b'+' | b'-') || !b[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let h: i32 = z[1..3].parse().ok()?;
    let m: i32 = z[3..5].parse().ok()?;
    if m > 59 {
        return None;
    }
    Some(if b[0] == b'-' { -(h * 60 + m) } else { h * 60 + m })
}

/// The zone written in an RFC 5322 date (numeric or an obsolete name); 0 if none.
pub fn zone_of(value: &str) -> i32 {
    for tok in value.split([' ', '\t', '\r', '\n']).rev().filter(|t| !t.is_empty()) {
        if let Some(z) = parse_zone(tok) {
            return z;
        }
        let named = match tok.to_ascii_uppercase().as_str() {
            "UT" | "GMT" | "Z" => Some(0),
            "EST" => Some(-300),
            "EDT" => Some(-240),
            "CST" => Some(-360),
            "CDT" => Some(-300),
            "MST" => Some(-420),
            "MDT" => Some(-360),
            "PST" => Some(-480),
            "PDT" => Some(-420),
            _ => None,
        };
        if let Some(z) = named {
            return z;
        }
        if tok.starts_with('(') || tok.ends_with(')') {
            continue;
        }
        break;
    }
    0
}

/// The server's zone at `t` (seconds since the epoch), in minutes east of UTC.
pub fn local_zone(t: i64) -> i32 {
    let tt = t as libc::time_t;
    // SAFETY: localtime_r writes into a local struct.
    let off = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&tt, &mut tm);
        tm.tm_gmtoff
    };
    (off / 60) as i32
}

/// (year, month, day) of a day number counted from 1970-01-01 (H. Hinnant's
/// civil-from-days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn zone_text(zone: i32) -> String {
    let sign = if zone < 0 { '-' } else { '+' };
    format!("{sign}{:02}{:02}", zone.abs() / 60, zone.abs() % 60)
}

/// The value of date part `part` for moment `t` seen in `zone` (minutes east).
pub fn part(t: i64, zone: i32, part: &str) -> Option<String> {
    let local = t + i64::from(zone) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, mo, d) = civil(days);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let weekday = (days + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let z = zone_text(zone);
    Some(match part.to_ascii_lowercase().as_str() {
        "year" => format!("{y:04}"),
        "month" => format!("{mo:02}"),
        "day" => format!("{d:02}"),
        "date" => format!("{y:04}-{mo:02}-{d:02}"),
        "julian" => (days + 40_587).to_string(),
        "hour" => format!("{h:02}"),
        "minute" => format!("{mi:02}"),
        "second" => format!("{s:02}"),
        "time" => format!("{h:02}:{mi:02}:{s:02}"),
        "iso8601" => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{}:{}", &z[..3], &z[3..]),
        "std11" => format!("{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} {z}", DAYS[weekday as usize], MONTHS[mo as usize - 1]),
        "zone" => z,
        "weekday" => weekday.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        // 2026-12-04 14:51:16 UTC, a Friday.
        let t = 1_796_395_876;
        assert_eq!(part(t, 0, "date").unwrap(), "2026-12-04");
        assert_eq!(part(t, 0, "weekday").unwrap(), "5");
        assert_eq!(part(t, 60, "iso8601").unwrap(), "2026-12-04T15:51:16+01:00");
        assert_eq!(part(t, -480, "std11").unwrap(), "Fri, 04 Dec 2026 06:51:16 -0800");
        assert_eq!(part(t, 0, "julian").unwrap(), "61378");
        assert_eq!(part(0, 0, "julian").unwrap(), "40587");
        assert_eq!(zone_of("Tue, 1 Jul 2003 10:52:37 +0200"), 120);
        assert_eq!(zone_of("Tue, 1 Jul 2003 10:52:37 -0330 (NST)"), -210);
        assert_eq!(zone_of("1 Jul 2003 10:52 PDT"), -420);
        assert_eq!(parse_zone("+2500"), Some(1500));
        assert_eq!(parse_zone("0100"), None);
    }
}
