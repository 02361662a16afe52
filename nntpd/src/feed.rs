//! Feeding peers (`newspeer`), as Cyrus's nntpd does after an article is filed: each
//! peer `[user[:pass]@]host[:port][/wildmat]` is offered the article by IHAVE (or,
//! with a user, after AUTHINFO, by POST), unless the article's Path shows it came
//! through that peer or none of its groups matches the peer's wildmat (`@pattern`
//! excluding absolutely, `!pattern` for the groups it names). A peer that is down or
//! refuses is logged; the poster's reply was sent before.

use mboxlist::wildmat;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a peer may take to connect or answer.
const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, PartialEq, Eq)]
pub struct Peer {
    pub user: Option<String>,
    pub pass: Option<String>,
    pub host: String,
    pub port: u16,
    pub wild: Option<String>,
}

/// The peers of a `newspeer` value.
pub fn peers(spec: &str) -> Vec<Peer> {
    spec.split_whitespace()
        .filter_map(|p| {
            let (rest, wild) = match p.rsplit_once('/') {
                Some((r, w)) => (r, Some(w.to_string())),
                None => (p, None),
            };
            let (cred, hostport) = match rest.rsplit_once('@') {
                Some((c, h)) => (Some(c), h),
                None => (None, rest),
            };
            let (user, pass) = match cred.map(|c| c.split_once(':').map_or((c, None), |(u, p)| (u, Some(p.to_string())))) {
                Some((u, p)) => (Some(u.to_string()), p),
                None => (None, None),
            };
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, port)) => (h, port.parse().ok()?),
                None => (hostport, 119),
            };
            (!host.is_empty()).then(|| Peer { user, pass, host: host.to_string(), port, wild })
        })
        .collect()
}

impl Peer {
    /// Whether the article goes to this peer: not back where it came from, and one of
    /// its groups wanted by the wildmat.
    pub fn wants(&self, path: &str, groups: &[String]) -> bool {
        let mut hops: Vec<&str> = path.split('!').collect();
        hops.pop(); // the last element is the poster, not a host
        if hops.iter().any(|h| h.eq_ignore_ascii_case(&self.host)) {
            return false;
        }
        let Some(w) = &self.wild else { return true };
        let mut feed = false;
        for g in groups {
            for p in w.split(',').filter(|p| !p.is_empty()) {
                if let Some(poison) = p.strip_prefix('@') {
                    if wildmat::glob(poison.as_bytes(), g.as_bytes(), false) {
                        return false;
                    }
                }
            }
            if wildmat::wildmat(&w.replace('@', "!"), g, false) {
                feed = true;
            }
        }
        feed
    }

    /// Offers `article` (CRLF lines) to the peer; `Err` says why it was not taken.
    pub fn send(&self, msgid: &str, article: &[u8]) -> Result<(), String> {
        let addr = format!("{}:{}", self.host, self.port);
        let sock = std::net::ToSocketAddrs::to_socket_addrs(&addr).map_err(|e| format!("{addr}: {e}"))?.next().ok_or(format!("{addr}: no address"))?;
        let s = TcpStream::connect_timeout(&sock, WAIT).map_err(|e| format!("connect({addr}): {e}"))?;
        s.set_read_timeout(Some(WAIT)).and_then(|()| s.set_write_timeout(Some(WAIT))).map_err(|e| e.to_string())?;
        let mut out = s.try_clone().map_err(|e| e.to_string())?;
        let mut inp = BufReader::new(s);
        let mut line = String::new();
        let mut reply = |inp: &mut BufReader<TcpStream>| -> Result<String, String> {
            line.clear();
            inp.read_line(&mut line).map_err(|e| e.to_string())?;
            Ok(line.trim_end().to_string())
        };
        let say = |out: &mut TcpStream, text: &str| out.write_all(format!("{text}\r\n").as_bytes()).map_err(|e| e.to_string());
        let greeting = reply(&mut inp)?;
        if !greeting.starts_with("200") {
            return Err(format!("peer doesn't allow posting: {greeting}"));
        }
        if let Some(user) = &self.user {
            say(&mut out, "MODE READER")?;
            reply(&mut inp)?;
            if !user.is_empty() {
                say(&mut out, &format!("AUTHINFO USER {user}"))?;
                let mut r = reply(&mut inp)?;
                if r.starts_with("381") {
                    let pass = self.pass.as_deref().ok_or("need password for AUTHINFO PASS")?;
                    say(&mut out, &format!("AUTHINFO PASS {pass}"))?;
                    r = reply(&mut inp)?;
                }
                if !r.starts_with("281") {
                    return Err(format!("authentication failed: {r}"));
                }
            }
            say(&mut out, "POST")?;
            let r = reply(&mut inp)?;
            if !r.starts_with("340") {
                return Err(format!("peer doesn't allow posting: {r}"));
            }
        } else {
            say(&mut out, &format!("IHAVE {msgid}"))?;
            let r = reply(&mut inp)?;
            if !r.starts_with("335") {
                return Err(format!("peer doesn't want article {msgid}: {r}"));
            }
        }
        let mut body = Vec::with_capacity(article.len() + 64);
        for l in article.split_inclusive(|&b| b == b'\n') {
            if l.first() == Some(&b'.') {
                body.push(b'.');
            }
            body.extend_from_slice(l);
        }
        if !body.ends_with(b"\r\n") {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b".\r\n");
        out.write_all(&body).map_err(|e| e.to_string())?;
        let r = reply(&mut inp)?;
        let _ = say(&mut out, "QUIT");
        if r.starts_with("235") || r.starts_with("240") { Ok(()) } else { Err(format!("article {msgid} not taken: {r}")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_specs() {
        let p = peers("news.example.org  u:pw@peer2:1119/comp.*,!comp.secret  peer3:x");
        assert_eq!(p.len(), 2, "a bad port drops the peer");
        assert_eq!((p[0].host.as_str(), p[0].port, p[0].user.as_deref()), ("news.example.org", 119, None));
        assert_eq!((p[1].user.as_deref(), p[1].pass.as_deref(), p[1].port), (Some("u"), Some("pw"), 1119));
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(p[1].wants("here!fred", &g(&["comp.lang"])));
        assert!(!p[1].wants("here!fred", &g(&["comp.secret"])));
        assert!(!p[1].wants("peer2!here!fred", &g(&["comp.lang"])), "came through that peer");
        assert!(p[0].wants("here!fred", &g(&["alt.x"])));
        let poison = peers("h/comp.*,@comp.bin.*");
        assert!(!poison[0].wants("x!y", &g(&["comp.lang", "comp.bin.x"])));
    }
}
