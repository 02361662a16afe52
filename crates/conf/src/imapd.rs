//! imapd.conf: loading, checking and typed lookup.
//!
//! [`Config::load`] reads the file (with `\` line continuation and `@include:`), maps
//! the older alias names onto the current ones, and checks every value whose option
//! is in [`OPTIONS`](crate::options::OPTIONS) against its type. A malformed line or a
//! bad value is an error naming file:line: the caller must refuse to start. Unknown
//! names are kept as [`Diag`]nostics for the caller to log once.
//!
//! Lookups go through [`Config::for_service`]: with a service name set, `NAME_option`
//! overrides `option`, as in Cyrus (`imaps_tls_server_cert`).

use crate::cyrus_names::CYRUS_OPTION_NAMES;
use crate::options::{self, ALIASES, Kind, OPTIONS, OptDef};
use crate::value;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Includes deeper than this are refused (a loop, most likely).
const MAX_INCLUDE_DEPTH: usize = 8;

/// Where a line came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A configuration error that stops start-up.
#[derive(Debug)]
pub struct ConfError {
    pub origin: Option<Origin>,
    pub msg: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{o}: {}", self.msg),
            None => f.write_str(&self.msg),
        }
    }
}

impl std::error::Error for ConfError {}

/// Something worth one log line that does not stop start-up.
#[derive(Clone, Debug)]
pub struct Diag {
    pub origin: Origin,
    pub msg: String,
    /// True for what is likely a mistake (an unknown name); false for a note (a
    /// Cyrus option the suite does not use).
    pub warning: bool,
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.msg)
    }
}

#[derive(Clone, Debug)]
struct Entry {
    value: String,
    origin: Origin,
    via_alias: bool,
}

/// A loaded imapd.conf.
#[derive(Clone, Debug)]
pub struct Config {
    path: PathBuf,
    entries: HashMap<String, Entry>,
    /// Every value of an option Cyrus lets a file give more than once
    /// (`autocreate_acl`), in the file's order.
    repeated: Vec<(String, String)>,
    service: Option<String>,
    /// Unknown or unused option names, and other notes, for logging once.
    pub diags: Vec<Diag>,
    /// Every file read: the file itself and its `@include`s.
    files: Vec<PathBuf>,
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfError> {
        let mut cfg = Config {
            path: path.to_path_buf(),
            entries: HashMap::new(),
            repeated: Vec::new(),
            service: None,
            diags: Vec::new(),
            files: Vec::new(),
        };
        cfg.read_file(path, 0, None)?;
        Ok(cfg)
    }

    /// Parses `text` as if it were the file `path` (for tests and tools).
    pub fn parse_str(path: &Path, text: &str) -> Result<Config, ConfError> {
        let mut cfg = Config {
            path: path.to_path_buf(),
            entries: HashMap::new(),
            repeated: Vec::new(),
            service: None,
            diags: Vec::new(),
            files: Vec::new(),
        };
        cfg.parse_text(path, text, 0)?;
        Ok(cfg)
    }

    /// The same configuration, looked up as the service `name` of cyrus.conf.
    pub fn for_service(mut self, name: &str) -> Config {
        self.service = Some(name.to_string());
        self
    }

    /// The file this was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every file the configuration was read from (the file, then its `@include`s).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The service name lookups are made for, if any.
    pub fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    fn read_file(&mut self, path: &Path, depth: usize, from: Option<&Origin>) -> Result<(), ConfError> {
        let text = std::fs::read(path).map_err(|e| ConfError {
            origin: from.cloned(),
            msg: format!("cannot read {}: {e}", path.display()),
        })?;
        let text = String::from_utf8_lossy(&text);
        self.files.push(path.to_path_buf());
        self.parse_text(path, &text, depth)
    }

    fn parse_text(&mut self, path: &Path, text: &str, depth: usize) -> Result<(), ConfError> {
        let mut lines = text.split('\n').enumerate().peekable();
        while let Some((i, first)) = lines.next() {
            let lineno = i + 1;
            let origin = Origin { file: path.to_path_buf(), line: lineno };
            // A `\` at the very end joins the next line, with nothing inserted.
            let mut line = first.strip_suffix('\r').unwrap_or(first).to_string();
            while line.ends_with('\\') {
                line.pop();
                match lines.next() {
                    Some((_, next)) => line.push_str(next.strip_suffix('\r').unwrap_or(next)),
                    None => break,
                }
            }
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let err = |msg: String| ConfError { origin: Some(origin.clone()), msg };
            let Some((key, val)) = trimmed.split_once(':') else {
                return Err(err(format!("no ':' in line \"{}\"", shorten(trimmed))));
            };
            let key = key.trim_end();
            let val = val.trim();
            if key == "@include" {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(err(format!("@include nested deeper than {MAX_INCLUDE_DEPTH}")));
                }
                let inc = Path::new(val);
                let inc = if inc.is_relative() {
                    path.parent().unwrap_or(Path::new(".")).join(inc)
                } else {
                    inc.to_path_buf()
                };
                self.read_file(&inc, depth + 1, Some(&origin))?;
                continue;
            }
            if key.is_empty()
                || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(err(format!("invalid option name \"{}\"", shorten(key))));
            }
            let key = key.to_ascii_lowercase();
            let canon = canonical_name(&key);
            match classify(&canon) {
                Known::Ours(def) => {
                    value::check(def.kind, val).map_err(|m| err(format!("{canon}: {m}")))?;
                }
                Known::Cyrus => self.diags.push(Diag {
                    origin: origin.clone(),
                    msg: format!("option '{key}' is a Cyrus option this suite does not use; ignored"),
                    warning: false,
                }),
                Known::No => {
                    // A suggestion costs an edit distance against every known name:
                    // a few are helpful, thousands (a hostile or wrong file) are not.
                    let unknown = self.diags.iter().filter(|d| d.warning).count();
                    let msg = match (unknown < MAX_SUGGESTIONS).then(|| suggest(&key)).flatten() {
                        Some(s) => format!("unknown option '{key}' (did you mean '{s}'?)"),
                        None => format!("unknown option '{key}'"),
                    };
                    self.diags.push(Diag { origin: origin.clone(), msg, warning: true });
                }
            }
            let via_alias = canon != key;
            if via_alias && self.entries.get(&canon).is_some_and(|e| !e.via_alias) {
                // An alias never overrides the current name, whatever the order.
                continue;
            }
            if REPEATABLE.contains(&canon.as_str()) {
                self.repeated.push((canon.clone(), val.to_string()));
            }
            self.entries.insert(canon, Entry { value: val.to_string(), origin, via_alias });
        }
        Ok(())
    }

    /// The raw value of `name`, honouring the service prefix, or the table's default.
    pub fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(options::lookup(name).is_some(), "option {name} is not in the table");
        if let Some(svc) = &self.service {
            if let Some(e) = self.entries.get(&format!("{svc}_{name}")) {
                return Some(&e.value);
            }
        }
        if let Some(e) = self.entries.get(name) {
            return Some(&e.value);
        }
        options::lookup(name).and_then(|d| if d.is_prefix() { None } else { d.default })
    }

    /// Where `name` (as [`get`](Self::get) resolves it) was set, if it was set.
    pub fn origin_of(&self, name: &str) -> Option<&Origin> {
        if let Some(svc) = &self.service {
            if let Some(e) = self.entries.get(&format!("{svc}_{name}")) {
                return Some(&e.origin);
            }
        }
        self.entries.get(name).map(|e| &e.origin)
    }

    /// A string option; `None` when unset with no default.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name)
    }

    /// A boolean option (values were checked at load).
    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name).and_then(value::parse_bool).unwrap_or(false)
    }

    /// An integer option.
    pub fn get_int(&self, name: &str) -> i64 {
        self.get(name).and_then(value::parse_int).unwrap_or(0)
    }

    /// A duration option.
    pub fn get_duration(&self, name: &str) -> Duration {
        let unit = match options::lookup(name).map(|d| d.kind) {
            Some(Kind::Duration(u)) => u,
            _ => 's',
        };
        self.get(name).and_then(|v| value::parse_duration(v, unit)).unwrap_or_default()
    }

    /// Every value given for an option that may be repeated ([`REPEATABLE`]), in
    /// order (`get` gives the last).
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        debug_assert!(REPEATABLE.contains(&name), "option {name} is not repeatable");
        self.repeated.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// A list option, split on whitespace.
    pub fn get_list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Every `PREFIXNAME: value` pair for a prefix option such as `partition-`, as
    /// (NAME, value), sorted by NAME.
    pub fn prefixed(&self, prefix: &str) -> Vec<(String, String)> {
        debug_assert!(prefix.ends_with('-') || prefix.ends_with('_'));
        let mut v: Vec<(String, String)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| {
                let rest = k.strip_prefix(prefix)?;
                (!rest.is_empty()).then(|| (rest.to_string(), e.value.clone()))
            })
            .collect();
        v.sort();
        v
    }
}

impl Config {
    /// Every option line in effect, as (name, value), sorted by name (aliases under
    /// their current name); for `cyr_info`.
    pub fn entries(&self) -> Vec<(&str, &str)> {
        let mut v: Vec<(&str, &str)> = self.entries.iter().map(|(k, e)| (k.as_str(), e.value.as_str())).collect();
        v.sort();
        v
    }

    /// Like [`prefixed`](Self::prefixed), with this service's `SERVICE_PREFIXNAME`
    /// lines overriding the plain ones (`imap_sasl_mech_list` over `sasl_mech_list`).
    pub fn prefixed_for_service(&self, prefix: &str) -> Vec<(String, String)> {
        let mut map: std::collections::BTreeMap<String, String> = self.prefixed(prefix).into_iter().collect();
        if let Some(svc) = &self.service {
            for (k, v) in self.prefixed(&format!("{svc}_{prefix}")) {
                map.insert(k, v);
            }
        }
        map.into_iter().collect()
    }
}

/// Options a file may give more than once, each line adding a value (Cyrus's
/// "overflow strings"); see [`Config::get_all`].
pub const REPEATABLE: &[&str] = &["autocreate_acl"];

/// Maps an older alias to the current name; other names are returned unchanged.
pub fn canonical_name(key: &str) -> String {
    for (old, new) in ALIASES {
        if let Some((pre, post)) = old.split_once('*') {
            if let Some(mid) = key.strip_prefix(pre).and_then(|r| r.strip_suffix(post)) {
                if !mid.is_empty() && mid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return format!("{mid}_{new}");
                }
            }
        } else if key == *old {
            return new.to_string();
        }
        // A service prefix before an alias: imaps_tls_cert_file.
        if !old.contains('*') {
            if let Some(svc) = key.strip_suffix(old).and_then(|r| r.strip_suffix('_')) {
                if !svc.is_empty() && svc.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return format!("{svc}_{new}");
                }
            }
        }
    }
    key.to_string()
}

enum Known {
    /// In our table (possibly behind a service prefix).
    Ours(&'static OptDef),
    /// A Cyrus option the suite does not read.
    Cyrus,
    No,
}

fn is_cyrus_name(name: &str) -> bool {
    name.starts_with("sasl_")
        || CYRUS_OPTION_NAMES.iter().any(|c| {
            if c.ends_with('-') {
                name.len() > c.len() && name.starts_with(c)
            } else {
                *c == name
            }
        })
}

/// Whether `name` (with no service prefix) is an option of the suite's or of Cyrus 3.6's
/// (for `cyr_info conf-lint`, which decides service prefixes itself).
pub fn is_known_option(name: &str) -> bool {
    options::lookup(name).is_some() || is_cyrus_name(name)
}

fn classify(name: &str) -> Known {
    if let Some(d) = options::lookup(name) {
        return Known::Ours(d);
    }
    if is_cyrus_name(name) {
        return Known::Cyrus;
    }
    // SERVICE_option: try each '_' as the end of a service name.
    for (i, _) in name.match_indices('_') {
        let (svc, rest) = (&name[..i], &name[i + 1..]);
        if svc.is_empty() || !svc.bytes().all(|b| b.is_ascii_alphanumeric()) {
            // Every longer prefix holds this '_' too: none is a service name.
            break;
        }
        if let Some(d) = options::lookup(rest) {
            return Known::Ours(d);
        }
        if is_cyrus_name(rest) {
            return Known::Cyrus;
        }
    }
    Known::No
}

/// The closest known name to `key` (ours first, then Cyrus's), if close enough to be a
/// likely typing mistake.
pub fn suggest(key: &str) -> Option<String> {
    let limit = (key.len() / 3).clamp(1, 4);
    // No option name is near this long: a mistyped one is not (and the edit distance
    // against every name would cost len x names, for each line of a hostile file).
    if key.len() > MAX_SUGGEST_LEN {
        return None;
    }
    let ours = OPTIONS.iter().map(|d| d.name);
    let theirs = CYRUS_OPTION_NAMES.iter().copied();
    let mut best: Option<(usize, &str)> = None;
    for cand in ours.chain(theirs) {
        if !cand.ends_with('-') && cand.len().abs_diff(key.len()) > limit {
            continue; // the distance is at least the difference in length
        }
        // Compare a prefix option with the same length of the key.
        let k = if cand.ends_with('-') { &key[..cand.len().min(key.len())] } else { key };
        let bound = best.map_or(limit, |(bd, _)| bd.saturating_sub(1));
        if let Some(d) = edit_distance_within(k, cand, bound) {
            best = Some((d, cand));
            if d == 0 {
                break;
            }
        }
    }
    best.map(|(_, name)| name.to_string())
}

/// Unknown options past this many in one configuration get no "did you mean".
const MAX_SUGGESTIONS: usize = 16;

/// Longer keys get no "did you mean" (the longest option name is under 50 bytes).
const MAX_SUGGEST_LEN: usize = 64;

/// The edit distance of a and b if it is at most `limit`, else None (found without
/// finishing the table: a row whose every cell is past the limit ends it).
fn edit_distance_within(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
            row_min = row_min.min(cur[j]);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[b.len()] <= limit).then_some(prev[b.len()])
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfError> {
        Config::parse_str(Path::new("/etc/imapd.conf"), text)
    }

    #[test]
    fn basic_lines_comments_and_defaults() {
        let c = parse("# comment\n\nconfigdirectory: /var/lib/imap\n  servername:  mail.example.org  \n").unwrap();
        assert_eq!(c.get_str("configdirectory"), Some("/var/lib/imap"));
        assert_eq!(c.get_str("servername"), Some("mail.example.org"));
        assert_eq!(c.get_str("defaultpartition"), Some("default"));
        assert_eq!(c.get_duration("timeout"), Duration::from_secs(32 * 60));
        assert!(c.diags.is_empty(), "{:?}", c.diags);
    }

    #[test]
    fn continuation_joins_lines() {
        let c = parse("tls_versions:\\\n  tls1_2 \\\n tls1_3\n").unwrap();
        assert_eq!(c.get_list("tls_versions"), vec!["tls1_2", "tls1_3"]);
    }

    #[test]
    fn service_prefix_overrides() {
        let c = parse("tls_server_cert: /a.pem\nimaps_tls_server_cert: /b.pem\n").unwrap();
        assert_eq!(c.clone().for_service("imaps").get_str("tls_server_cert"), Some("/b.pem"));
        assert_eq!(c.clone().for_service("imap").get_str("tls_server_cert"), Some("/a.pem"));
        assert_eq!(c.get_str("tls_server_cert"), Some("/a.pem"));
        assert!(c.diags.is_empty(), "{:?}", c.diags);
    }

    #[test]
    fn aliases_map_to_current_names() {
        let c = parse("tls_cert_file: /old.pem\ntls_imap_cert_file: /imap.pem\ntls_pop3_key_file: /k\nlmtp_tls_ca_file: /ca\n").unwrap();
        assert_eq!(c.get_str("tls_server_cert"), Some("/old.pem"));
        let imap = c.clone().for_service("imap");
        assert_eq!(imap.get_str("tls_server_cert"), Some("/imap.pem"));
        assert_eq!(c.clone().for_service("pop3").get_str("tls_server_key"), Some("/k"));
        assert_eq!(c.clone().for_service("lmtp").get_str("tls_client_ca_file"), Some("/ca"));
        assert!(c.diags.is_empty(), "{:?}", c.diags);
    }

    #[test]
    fn current_name_beats_alias_in_either_order() {
        let c = parse("tls_server_cert: /new\ntls_cert_file: /old\n").unwrap();
        assert_eq!(c.get_str("tls_server_cert"), Some("/new"));
        let c = parse("tls_cert_file: /old\ntls_server_cert: /new\n").unwrap();
        assert_eq!(c.get_str("tls_server_cert"), Some("/new"));
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let e = parse("configdirectory: /x\nthis line has no colon\n").unwrap_err();
        assert_eq!(e.origin.as_ref().unwrap().line, 2);
        assert!(e.to_string().starts_with("/etc/imapd.conf:2: "), "{e}");
        let e = parse("\n\nbad key: 1\n").unwrap_err();
        assert_eq!(e.origin.unwrap().line, 3);
        let e = parse("syslog_facility: LOCAL9\n").unwrap_err();
        assert!(e.to_string().contains(":1: syslog_facility"), "{e}");
        let e = parse("timeout: soon\n").unwrap_err();
        assert!(e.to_string().contains("duration"), "{e}");
        let e = parse("imap_timeout: 5x\n").unwrap_err();
        assert!(e.to_string().contains("imap_timeout"), "{e}");
    }

    #[test]
    fn unknown_option_suggests_closest() {
        let c = parse("tls_sever_cert: /x\nfoo_bar_baz_qux: 1\n").unwrap();
        assert_eq!(c.diags.len(), 2);
        assert!(c.diags[0].msg.contains("did you mean 'tls_server_cert'"), "{}", c.diags[0]);
        assert_eq!(c.diags[0].origin.line, 1);
        assert!(!c.diags[1].msg.contains("did you mean"), "{}", c.diags[1]);
    }

    #[test]
    fn cyrus_options_we_do_not_read_are_noted_not_misspelt() {
        let c = parse("allowusermoves: true\nsasl_pwcheck_method: auxprop\npop3_anyoneuseracl: 1\nimap_sasl_mech_list: PLAIN\n").unwrap();
        assert_eq!(c.diags.len(), 2, "sasl_ options are read (by the sasl crate)");
        let imap = c.clone().for_service("imap");
        assert_eq!(imap.prefixed_for_service("sasl_"), vec![("mech_list".into(), "PLAIN".into()), ("pwcheck_method".into(), "auxprop".into())]);
        assert!(c.diags.iter().all(|d| d.msg.contains("does not use")), "{:?}", c.diags);
    }

    #[test]
    fn repeated_options_keep_every_value() {
        let c = parse("autocreate_acl: Plus anyone p\nautocreate_acl: Plus bob lr\n").unwrap();
        assert_eq!(c.get_all("autocreate_acl"), vec!["Plus anyone p", "Plus bob lr"]);
        assert_eq!(c.get_str("autocreate_acl"), Some("Plus bob lr"));
    }

    #[test]
    fn partitions_by_prefix() {
        let c = parse("partition-default: /a\npartition-b: /b\nmetapartition-default: /m\n").unwrap();
        assert_eq!(
            c.prefixed("partition-"),
            vec![("b".into(), "/b".into()), ("default".into(), "/a".into())]
        );
        assert_eq!(c.prefixed("metapartition-"), vec![("default".into(), "/m".into())]);
    }

    #[test]
    fn include_is_followed_and_loops_are_stopped() {
        let dir = std::env::temp_dir().join(format!("conf-inc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.conf"), "servername: a\n@include: b.conf\n").unwrap();
        std::fs::write(dir.join("b.conf"), "configdirectory: /b\n").unwrap();
        let c = Config::load(&dir.join("a.conf")).unwrap();
        assert_eq!(c.get_str("configdirectory"), Some("/b"));
        std::fs::write(dir.join("loop.conf"), "@include: loop.conf\n").unwrap();
        let e = Config::load(&dir.join("loop.conf")).unwrap_err();
        assert!(e.msg.contains("nested"), "{e}");
        let e = parse("@include: /nonexistent/x.conf\n").unwrap_err();
        assert!(e.to_string().starts_with("/etc/imapd.conf:1: cannot read"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("configdirectroy").as_deref(), Some("configdirectory"));
        assert_eq!(suggest("partitoin-default").as_deref(), Some("partition-"));
        assert_eq!(suggest("zzzzzzzzzzzzzzzz"), None);
    }
}

#[cfg(test)]
mod sample_tests {
    use super::*;
    use crate::CyrusConf;

    /// The sample and dev configurations in conf/ load cleanly: no error, and no
    /// warning (notes about Cyrus options the suite does not read are allowed).
    #[test]
    fn sample_configs_load_without_warnings() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf");
        for dir in ["dev", "site"] {
            let c = Config::load(&root.join(dir).join("imapd.conf")).unwrap();
            assert!(c.diags.iter().all(|d| !d.warning), "{dir}: {:?}", c.diags);
            let cc = CyrusConf::load(&root.join(dir).join("cyrus.conf")).unwrap();
            assert!(cc.diags.is_empty(), "{dir}: {:?}", cc.diags);
            assert!(!cc.services.is_empty());
        }
    }
}
