//! Parsing of option values by [`Kind`], as Cyrus reads them.

use crate::options::Kind;
use std::time::Duration;

/// Cyrus's booleans: yes/on/t/true/1 and no/off/f/false/0, any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "on" | "t" | "true" | "1" => Some(true),
        "no" | "off" | "f" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// A decimal integer, optionally signed.
pub fn parse_int(v: &str) -> Option<i64> {
    v.parse().ok()
}

/// `1h30m`, `45s`, `2d`; a bare number is in `unit`. Units sum; a number must precede
/// each unit.
pub fn parse_duration(v: &str, unit: char) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    let secs_of = |u: char| -> Option<u64> {
        match u {
            'd' => Some(86_400),
            'h' => Some(3_600),
            'm' => Some(60),
            's' => Some(1),
            _ => None,
        }
    };
    if let Ok(n) = v.parse::<u64>() {
        return n.checked_mul(secs_of(unit)?).map(Duration::from_secs);
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in v.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0).checked_mul(10)?.checked_add(d as u64)?);
        } else {
            let n = num.take()?;
            total = total.checked_add(n.checked_mul(secs_of(c)?)?)?;
        }
    }
    if num.is_some() {
        return None; // trailing number without unit after a unit: "1h30"
    }
    Some(Duration::from_secs(total))
}

/// Checks `v` against `kind`; the error says what was expected.
pub fn check(kind: Kind, v: &str) -> Result<(), String> {
    match kind {
        Kind::Str => Ok(()),
        Kind::Bool => parse_bool(v)
            .map(|_| ())
            .ok_or_else(|| format!("'{v}' is not a boolean (yes/no, on/off, true/false, t/f, 1/0)")),
        Kind::Int => parse_int(v).map(|_| ()).ok_or_else(|| format!("'{v}' is not an integer")),
        Kind::Duration(u) => parse_duration(v, u)
            .map(|_| ())
            .ok_or_else(|| format!("'{v}' is not a duration (a number with units d, h, m, s, such as 1h30m)")),
        Kind::Enum(words) => {
            if words.iter().any(|w| w.eq_ignore_ascii_case(v)) {
                Ok(())
            } else {
                Err(format!("'{v}' is not one of: {}", words.join(", ")))
            }
        }
        Kind::List(words) => {
            for w in v.split_whitespace() {
                if !words.is_empty() && !words.iter().any(|k| k.eq_ignore_ascii_case(w)) {
                    return Err(format!("'{w}' is not one of: {}", words.join(", ")));
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_cyrus() {
        for t in ["yes", "On", "t", "TRUE", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["no", "OFF", "f", "false", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("32", 'm'), Some(Duration::from_secs(32 * 60)));
        assert_eq!(parse_duration("1h30m", 's'), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d", 'm'), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("45s", 'm'), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("1h30", 'm'), None);
        assert_eq!(parse_duration("h", 'm'), None);
        assert_eq!(parse_duration("3w", 'm'), None);
        assert_eq!(parse_duration("", 'm'), None);
        assert_eq!(parse_duration("99999999999999999999", 's'), None);
    }

    #[test]
    fn enums_and_lists() {
        let k = Kind::Enum(&["off", "min", "on"]);
        assert!(check(k, "MIN").is_ok());
        assert!(check(k, "max").is_err());
        let l = Kind::List(&["tls1_2", "tls1_3"]);
        assert!(check(l, "tls1_2  tls1_3").is_ok());
        assert!(check(l, "tls1_2 ssl3").is_err());
        assert!(check(Kind::Int, "-5").is_ok());
        assert!(check(Kind::Int, "5x").is_err());
    }
}
