//! cyrus.conf: the START, SERVICES, EVENTS and DAEMON sections read by master.
//!
//! ```text
//! SERVICES {
//!   imap   cmd="imapd" listen="imap" prefork=3 maxchild=100
//! }
//! ```
//! One entry per line (a `\` at the end of a line continues it); `name` is letters and
//! digits; arguments are `key=value` or `key="value with spaces"`. Every attribute of
//! Cyrus 3.6's cyrus.conf(5) is read. Errors name file:line; an attribute that does
//! not belong to the section is a warning, as Cyrus ignores it too.

use crate::imapd::{ConfError, Diag, Origin};
use crate::value::parse_bool;
use std::path::{Path, PathBuf};

/// Socket protocol of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Tcp4,
    Tcp6,
    Udp,
    Udp4,
    Udp6,
}

impl Proto {
    pub fn is_udp(self) -> bool {
        matches!(self, Proto::Udp | Proto::Udp4 | Proto::Udp6)
    }
}

/// A START entry: run once, in order, before services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartEntry {
    pub name: String,
    pub cmd: String,
    pub origin: Origin,
}

/// A SERVICES entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub name: String,
    pub cmd: String,
    pub listen: String,
    pub proto: Proto,
    pub prefork: u32,
    /// `None` is unlimited (Cyrus's -1).
    pub maxchild: Option<u32>,
    /// Forks per second; 0 is unlimited.
    pub maxforkrate: u32,
    pub babysit: bool,
    pub maxfds: u32,
    pub origin: Origin,
}

impl ServiceEntry {
    /// Whether two entries need a new listening socket to go from one to the other.
    pub fn same_socket(&self, other: &ServiceEntry) -> bool {
        self.listen == other.listen && self.proto == other.proto
    }

    /// prefork after `babysit` (which keeps at least one).
    pub fn effective_prefork(&self) -> u32 {
        if self.babysit { self.prefork.max(1) } else { self.prefork }
    }

    /// maxforkrate after `babysit` (which makes 0 into 10).
    pub fn effective_maxforkrate(&self) -> u32 {
        if self.babysit && self.maxforkrate == 0 { 10 } else { self.maxforkrate }
    }
}

/// An EVENTS entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventEntry {
    pub name: String,
    pub cmd: String,
    /// Minutes between runs; 0 means the event does not repeat on a period.
    pub period: u32,
    /// Daily run time (hour, minute).
    pub at: Option<(u8, u8)>,
    pub origin: Origin,
}

/// A DAEMON entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonEntry {
    pub name: String,
    pub cmd: String,
    /// Wait for "ok\r\n" on fd 3 before going on.
    pub wait: bool,
    pub origin: Origin,
}

/// A parsed cyrus.conf.
#[derive(Clone, Debug, Default)]
pub struct CyrusConf {
    pub start: Vec<StartEntry>,
    pub services: Vec<ServiceEntry>,
    pub events: Vec<EventEntry>,
    pub daemons: Vec<DaemonEntry>,
    pub diags: Vec<Diag>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Section {
    Start,
    Services,
    Events,
    Daemon,
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Section::Start => "START",
            Section::Services => "SERVICES",
            Section::Events => "EVENTS",
            Section::Daemon => "DAEMON",
        })
    }
}

impl Section {
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Section::Start => &["cmd"],
            Section::Services => {
                &["cmd", "listen", "proto", "prefork", "maxchild", "maxforkrate", "babysit", "maxfds"]
            }
            Section::Events => &["cmd", "period", "at"],
            Section::Daemon => &["cmd", "wait"],
        }
    }
}

impl CyrusConf {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<CyrusConf, ConfError> {
        let text = std::fs::read(path).map_err(|e| ConfError {
            origin: None,
            msg: format!("cannot read {}: {e}", path.display()),
        })?;
        CyrusConf::parse_str(path, &String::from_utf8_lossy(&text))
    }

    /// Parses `text` as the file `path`.
    pub fn parse_str(path: &Path, text: &str) -> Result<CyrusConf, ConfError> {
        let mut conf = CyrusConf::default();
        let mut section: Option<Section> = None;
        let mut opening: Option<Section> = None;
        let mut lines = text.split('\n').enumerate();
        let file: PathBuf = path.to_path_buf();
        while let Some((i, first)) = lines.next() {
            let origin = Origin { file: file.clone(), line: i + 1 };
            let err = |msg: String| ConfError { origin: Some(origin.clone()), msg };
            let mut line = first.strip_suffix('\r').unwrap_or(first).to_string();
            while line.ends_with('\\') {
                line.pop();
                line.push(' ');
                match lines.next() {
                    Some((_, n)) => line.push_str(n.strip_suffix('\r').unwrap_or(n)),
                    None => break,
                }
            }
            let mut rest = strip_comment(&line).trim().to_string();
            while !rest.is_empty() {
                if let Some(s) = opening {
                    // The section's brace, on the line of its name or a later one.
                    let Some(after) = rest.strip_prefix('{') else {
                        return Err(err(format!("expected '{{' after {s}")));
                    };
                    section = Some(s);
                    opening = None;
                    rest = after.trim().to_string();
                    continue;
                }
                match section {
                    None => {
                        let (word, after) = split_word(&rest);
                        opening = Some(match word.to_ascii_uppercase().as_str() {
                            "START" => Section::Start,
                            "SERVICES" => Section::Services,
                            "EVENTS" => Section::Events,
                            "DAEMON" => Section::Daemon,
                            "{" => return Err(err("'{' without a section name".into())),
                            _ => {
                                return Err(err(format!(
                                    "unknown section '{word}' (expected START, SERVICES, EVENTS or DAEMON)"
                                )));
                            }
                        });
                        rest = after.trim().to_string();
                    }
                    Some(s) => {
                        if let Some(after) = rest.strip_prefix('}') {
                            section = None;
                            rest = after.trim().to_string();
                            continue;
                        }
                        // An entry runs to the end of the line, or to a closing brace
                        // outside quotes.
                        let (entry, after) = split_entry(&rest);
                        conf.add_entry(s, entry, &origin)?;
                        rest = after.trim().to_string();
                    }
                }
            }
        }
        if let Some(s) = section.or(opening) {
            return Err(ConfError {
                origin: Some(Origin { file, line: text.split('\n').count() }),
                msg: format!("section {s} is not closed with '}}'"),
            });
        }
        Ok(conf)
    }

    fn add_entry(&mut self, s: Section, text: &str, origin: &Origin) -> Result<(), ConfError> {
        let err = |msg: String| ConfError { origin: Some(origin.clone()), msg };
        let (name, args) = split_word(text);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(format!("invalid entry name '{name}' (letters and digits only)")));
        }
        let attrs = parse_args(args).map_err(|m| err(format!("{name}: {m}")))?;
        let get = |key: &str| attrs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        for (k, _) in &attrs {
            if !s.allowed().contains(&k.as_str()) {
                self.diags.push(Diag {
                    origin: origin.clone(),
                    msg: format!("{name}: attribute '{k}' has no meaning in {s}; ignored"),
                    warning: true,
                });
            }
        }
        let cmd = get("cmd").ok_or_else(|| err(format!("{name}: missing cmd=")))?;
        if cmd.trim().is_empty() {
            return Err(err(format!("{name}: empty cmd")));
        }
        let int = |key: &str, v: Option<String>, dflt: i64| -> Result<i64, ConfError> {
            match v {
                None => Ok(dflt),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| err(format!("{name}: {key}={v} is not an integer"))),
            }
        };
        let origin = origin.clone();
        match s {
            Section::Start => self.start.push(StartEntry { name: name.into(), cmd, origin }),
            Section::Services => {
                if self.services.iter().any(|e| e.name == name) {
                    return Err(err(format!("service '{name}' is defined twice")));
                }
                let listen = get("listen").ok_or_else(|| err(format!("{name}: missing listen=")))?;
                if listen.is_empty() {
                    return Err(err(format!("{name}: empty listen=")));
                }
                let proto = match get("proto").as_deref().unwrap_or("tcp") {
                    "tcp" => Proto::Tcp,
                    "tcp4" => Proto::Tcp4,
                    "tcp6" => Proto::Tcp6,
                    "udp" => Proto::Udp,
                    "udp4" => Proto::Udp4,
                    "udp6" => Proto::Udp6,
                    p => return Err(err(format!("{name}: proto={p} (expected tcp, tcp4, tcp6, udp, udp4 or udp6)"))),
                };
                let nonneg = |key: &str, v: i64| -> Result<u32, ConfError> {
                    u32::try_from(v).map_err(|_| err(format!("{name}: {key}={v} must be 0 or more")))
                };
                let prefork = nonneg("prefork", int("prefork", get("prefork"), 0)?)?;
                let maxchild = match int("maxchild", get("maxchild"), -1)? {
                    -1 => None,
                    v => Some(nonneg("maxchild", v)?),
                };
                let maxforkrate = nonneg("maxforkrate", int("maxforkrate", get("maxforkrate"), 0)?)?;
                let babysit = match get("babysit") {
                    None => false,
                    Some(v) => match parse_bool(&v) {
                        Some(b) => b,
                        None => int("babysit", Some(v), 0)? != 0,
                    },
                };
                let maxfds = nonneg("maxfds", int("maxfds", get("maxfds"), 256)?)?;
                if maxchild.is_some_and(|m| m < prefork) {
                    return Err(err(format!("{name}: prefork={prefork} is more than maxchild={}", maxchild.unwrap_or(0))));
                }
                self.services.push(ServiceEntry {
                    name: name.into(),
                    cmd,
                    listen,
                    proto,
                    prefork,
                    maxchild,
                    maxforkrate,
                    babysit,
                    maxfds,
                    origin,
                });
            }
            Section::Events => {
                let mut period = nonneg_event(name, int("period", get("period"), 0)?, &err)?;
                let at = match get("at") {
                    None => None,
                    Some(v) => {
                        let hm = parse_hhmm(&v).ok_or_else(|| err(format!("{name}: at={v} is not a time 0000-2359")))?;
                        period = 1440;
                        Some(hm)
                    }
                };
                if period == 0 {
                    self.diags.push(Diag {
                        origin: origin.clone(),
                        msg: format!("event '{name}' has neither period= nor at=; it never runs"),
                        warning: true,
                    });
                }
                self.events.push(EventEntry { name: name.into(), cmd, period, at, origin });
            }
            Section::Daemon => {
                let wait = match get("wait") {
                    None => false,
                    Some(v) => parse_bool(&v).or_else(|| match v.as_str() {
                        "y" => Some(true),
                        "n" => Some(false),
                        _ => None,
                    }).ok_or_else(|| err(format!("{name}: wait={v} is not y or n")))?,
                };
                self.daemons.push(DaemonEntry { name: name.into(), cmd, wait, origin });
            }
        }
        Ok(())
    }
}

fn nonneg_event(name: &str, v: i64, err: &dyn Fn(String) -> ConfError) -> Result<u32, ConfError> {
    u32::try_from(v).map_err(|_| err(format!("{name}: period={v} must be 0 or more")))
}

/// `HHMM` or `HMM` (Cyrus reads at=400 as 04:00).
fn parse_hhmm(v: &str) -> Option<(u8, u8)> {
    if !(3..=4).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let split = v.len() - 2;
    let h: u8 = v[..split].parse().ok()?;
    let m: u8 = v[split..].parse().ok()?;
    (h < 24 && m < 60).then_some((h, m))
}

/// Drops a `#` comment that is not inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut in_q = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_q = !in_q,
            '#' if !in_q => return &line[..i],
            _ => {}
        }
    }
    line
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(|c: char| c.is_whitespace() || c == '{').unwrap_or(s.len());
    let end = if end == 0 && s.starts_with('{') { 1 } else { end };
    (&s[..end], &s[end..])
}

/// Splits at the first `}` outside quotes: (entry, rest starting with `}`).
fn split_entry(s: &str) -> (&str, &str) {
    let mut in_q = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_q = !in_q,
            '}' if !in_q => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

/// `key=value key="quoted value"` into pairs.
fn parse_args(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("'{key}' is not of the form key=value"));
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => val.push(c),
                        None => return Err(format!("{key}: unterminated quoted value")),
                    },
                    Some(c) => val.push(c),
                    None => return Err(format!("{key}: unterminated quoted value")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                val.push(c);
                chars.next();
            }
        }
        out.push((key.to_ascii_lowercase(), val));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<CyrusConf, ConfError> {
        CyrusConf::parse_str(Path::new("/etc/cyrus.conf"), t)
    }

    const SAMPLE: &str = r#"
# standard
START {
  recover	cmd="ctl_cyrusdb -r"
}
SERVICES
{
  imap		cmd="imapd" listen="imap" prefork=3
  imaps		cmd="imapd -s" listen="[::1]:993" proto=tcp6 prefork=1 maxchild=50
  lmtpunix	cmd="lmtpd" listen="/var/run/cyrus/socket/lmtp" maxfds=1024
  pop3 cmd="pop3d" listen="127.0.0.1:110" babysit=yes maxforkrate=0 # trailing comment
}
EVENTS {
  checkpoint	cmd="ctl_cyrusdb -c" period=30
  delprune	cmd="cyr_expire -E 3" at=400
}
DAEMON {
  idled cmd="idled" wait=y
}
"#;

    #[test]
    fn reads_every_section() {
        let c = parse(SAMPLE).unwrap();
        assert_eq!(c.start.len(), 1);
        assert_eq!(c.start[0].cmd, "ctl_cyrusdb -r");
        assert_eq!(c.services.len(), 4);
        let imaps = &c.services[1];
        assert_eq!((imaps.listen.as_str(), imaps.proto, imaps.prefork, imaps.maxchild), ("[::1]:993", Proto::Tcp6, 1, Some(50)));
        assert_eq!(c.services[0].maxchild, None);
        assert_eq!(c.services[2].maxfds, 1024);
        assert_eq!(c.services[0].maxfds, 256);
        let pop = &c.services[3];
        assert!(pop.babysit);
        assert_eq!((pop.effective_prefork(), pop.effective_maxforkrate()), (1, 10));
        assert_eq!(c.events[0].period, 30);
        assert_eq!((c.events[1].at, c.events[1].period), (Some((4, 0)), 1440));
        assert!(c.daemons[0].wait);
        assert_eq!(c.services[3].origin.line, 11);
        assert!(c.diags.is_empty(), "{:?}", c.diags);
    }

    #[test]
    fn one_line_sections_and_unquoted_values() {
        let c = parse("SERVICES { imap cmd=imapd listen=1143 }\nEVENTS {\n}\n").unwrap();
        assert_eq!(c.services[0].cmd, "imapd");
        assert_eq!(c.services[0].listen, "1143");
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("SERVICES {\n  imap cmd=\"imapd\"\n}\n", 2, "missing listen"),
            ("SERVICES {\n  imap listen=143\n}\n", 2, "missing cmd"),
            ("SERVICES {\n\n  im_ap cmd=\"x\" listen=1\n}\n", 3, "invalid entry name"),
            ("SERVICES {\n imap cmd=\"x\" listen=1 prefork=three\n}\n", 2, "not an integer"),
            ("SERVICES {\n imap cmd=\"x listen=1\n}\n", 2, "unterminated"),
            ("SERVICES {\n imap cmd=x listen=1 proto=sctp\n}\n", 2, "proto=sctp"),
            ("SERVICES {\n a cmd=x listen=1\n a cmd=y listen=2\n}\n", 3, "defined twice"),
            ("EVENTS {\n e cmd=x at=2460\n}\n", 2, "at=2460"),
            ("FOO {\n}\n", 1, "unknown section"),
            ("SERVICES {\n a cmd=x listen=1\n", 3, "not closed"),
            ("SERVICES {\n a cmd=x listen=1 prefork=5 maxchild=2\n}\n", 2, "more than maxchild"),
        ];
        for (text, line, what) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.origin.as_ref().map(|o| o.line), Some(line), "{text:?}: {e}");
            assert!(e.to_string().contains(what), "{text:?}: {e}");
            assert!(e.to_string().starts_with("/etc/cyrus.conf:"), "{e}");
        }
    }

    #[test]
    fn stray_attribute_is_a_warning() {
        let c = parse("START {\n r cmd=x prefork=2\n}\n").unwrap();
        assert_eq!(c.diags.len(), 1);
        assert!(c.diags[0].msg.contains("'prefork' has no meaning in START"), "{}", c.diags[0]);
    }
}
