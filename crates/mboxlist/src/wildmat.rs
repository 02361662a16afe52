//! Wildmats (RFC 3977 §4, INN's and Cyrus's): comma-separated patterns with `*` (any
//! run) and `?` (one character), a pattern starting with `!` excluding what it
//! matches; the last pattern that matches decides. Used for cyr_deny's service lists
//! and NNTP's group patterns. Matching is linear in pattern and name for each star
//! (no backtracking blow-up on hostile patterns), and a pattern list is bounded by the
//! line it came on.

/// Whether `name` matches the single pattern `pattern`; `fold` compares ASCII letters
/// without case. Greedy with one backtrack point, O(|pattern| × |name|) at worst.
pub fn glob(pattern: &[u8], name: &[u8], fold: bool) -> bool {
    let eq = |p: u8, n: u8| p == b'?' || p == n || (fold && p.eq_ignore_ascii_case(&n));
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && eq(pattern[p], name[n]) {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            // The last star takes one more character and matching resumes after it.
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether `name` is among the comma-separated `patterns` (the last matching one
/// decides; a `!` one excludes).
pub fn wildmat(patterns: &str, name: &str, fold: bool) -> bool {
    let mut hit = false;
    for p in patterns.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (neg, p) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p),
        };
        if glob(p.as_bytes(), name.as_bytes(), fold) {
            hit = !neg;
        }
    }
    hit
}

/// Whether a wildmat is well formed for NNTP (RFC 3977 §4.1): no empty pattern, no
/// `[`, `]` or `\\`, at most 1 000 patterns.
pub fn valid(patterns: &str) -> bool {
    let parts: Vec<&str> = patterns.split(',').collect();
    parts.len() <= 1000
        && parts.iter().all(|p| {
            let p = p.strip_prefix('!').unwrap_or(p);
            !p.is_empty() && !p.bytes().any(|c| matches!(c, b'[' | b']' | b'\\' | b'!') || c < 0x21)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(glob(b"comp.*", b"comp.lang.c", false));
        assert!(glob(b"*.c", b"comp.lang.c", false));
        assert!(glob(b"c?mp.*", b"comp.x", false));
        assert!(!glob(b"comp.*", b"Comp.x", false) && glob(b"comp.*", b"Comp.x", true));
        assert!(glob(b"*", b"", false) && !glob(b"?", b"", false));
        assert!(glob(b"a*b*c", b"aXbYbZc", false) && !glob(b"a*b*c", b"aXbYbZ", false));
        assert!(wildmat("comp.*,!comp.lang.*,comp.lang.c", "comp.lang.c", false));
        assert!(!wildmat("comp.*,!comp.lang.*", "comp.lang.rust", false));
        assert!(!wildmat("", "x", false));
        assert!(valid("comp.*,!comp.lang.*") && !valid("comp.[ab]") && !valid("a,,b") && !valid("!"));
    }

    #[test]
    fn hostile_patterns_are_fast() {
        let name = "a".repeat(500);
        let pat = format!("{}b", "a*".repeat(250));
        let t = std::time::Instant::now();
        assert!(!glob(pat.as_bytes(), name.as_bytes(), false));
        let many = vec!["x*y*z"; 1000].join(",");
        assert!(!wildmat(&many, &name, false));
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "{:?}", t.elapsed());
    }
}
