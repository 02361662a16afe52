//! Where a user's Sieve scripts live and which one is active (the layout of Cyrus's
//! sievedir, so that a migrated site's scripts are found where they are).
//!
//! A user's directory is `sievedir/H/USER`, H being the first letter of USER in lower
//! case (`q` when it is not a to z) or, with `fulldirhash`, one of `A` to `W` hashed
//! from the whole userid up to its first dot. With `virtdomains`, `fred@example.org`
//! has `sievedir/domain/H/example.org/H/fred` (the domain hashed the same way) and a
//! user of `defaultdomain` has no domain part. Global scripts (those `include :global`
//! reads) are in `sievedir/global`, or `sievedir/domain/H/DOMAIN/global`.
//!
//! In a directory, a script is `NAME.script` (its source), and the active one is named
//! by the symbolic link `defaultbc`, whose target is `NAME.bc`. That is how Cyrus up to
//! 3.4 keeps scripts, and how Cyrus 3.6 still reads them for users whose mailboxes have
//! legacy (name-based) directories: checked against Debian's 3.6.1, its lmtpd compiles
//! `NAME.bc` from `NAME.script` when the bytecode is missing or older than the script,
//! and its timsieved moves `*.script` into the user's `#sieve` mailbox at the first
//! login. This store never writes Cyrus bytecode: the link is made although `NAME.bc`
//! does not exist (Cyrus's own `symlink()` does not check either), and a `NAME.bc` left
//! by Cyrus is removed whenever `NAME.script` changes, so that a Cyrus started again on
//! the same directory recompiles from the current source instead of running stale
//! bytecode.
//!
//! Not read: what Cyrus 3.6 keeps elsewhere. For users created by 3.6 without
//! `mailbox_legacy_dirs`, the directory is `sievedir/uuid/A/B/MAILBOXID` and holds only
//! bytecode; the sources of scripts managed under 3.6 are messages of the user's
//! `#sieve` mailbox. Those have to be exported to `NAME.script` files first.
//!
//! With `sieveusehomedir`, a user's one script is `~USER/.sieve` of the Unix account,
//! always active and read-only here (Cyrus's timsieved cannot manage it either). Cyrus
//! expects bytecode (made by `sievec`) there; this store reads it as a source and
//! refuses Cyrus bytecode.
//!
//! Writes are durable before they return: a script goes to a temporary file that is
//! fsynced, renamed to `NAME.script`, and the directory is fsynced; the link is replaced
//! by a rename the same way. Readers never see a half-written script or link.
//!
//! ```no_run
//! # fn f(cfg: &conf::Config) -> Result<(), sieve::store::Error> {
//! use sieve::store::{Limits, ScriptDir};
//! let dir = ScriptDir::for_user(cfg, "fred")?;
//! dir.have_space("vacation", 120, &Limits::from_config(cfg))?;
//! dir.put("vacation", b"require \"vacation\"; vacation \"Away.\";")?;
//! dir.set_active(Some("vacation"))?;
//! assert_eq!(dir.list()?, vec![("vacation".to_string(), true)]);
//! # Ok(()) }
//! ```

use conf::Config;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Longest script name, in bytes. Cyrus allows 1012, but a name longer than the file
/// system's 255-byte components minus `.script` fails there with an I/O error; this
/// bound leaves room for the temporary file's suffix.
pub const MAX_NAME_LEN: usize = 200;
/// The link naming the active script (Cyrus's DEFAULTBC_NAME).
pub const ACTIVE_LINK: &str = "defaultbc";
const SCRIPT_SUFFIX: &str = ".script";
const BYTECODE_SUFFIX: &str = ".bc";
/// The first bytes of a Cyrus bytecode file.
const BYTECODE_MAGIC: &[u8] = b"CyrSBytecode";
/// The name under which the `sieveusehomedir` script is listed.
pub const HOME_SCRIPT_NAME: &str = ".sieve";

/// Why a store operation was refused.
#[derive(Debug)]
pub enum Error {
    /// Not a valid script name (RFC 5804: not empty, no control characters, no
    /// U+2028/U+2029, UTF-8; here also no `/` and at most [`MAX_NAME_LEN`] bytes).
    InvalidName,
    /// A userid that cannot name a directory (empty, `.`, `..`, or with `/` or NUL).
    InvalidUser,
    NotFound,
    /// RENAMESCRIPT onto a name that exists.
    AlreadyExists,
    /// DELETESCRIPT of the active script.
    Active,
    /// A script larger than `sieve_maxscriptsize` (the limit in bytes).
    TooBig(u64),
    /// One more script than `sieve_maxscripts` allows (the limit).
    TooMany(u64),
    /// `sieveusehomedir`: the script is the user's own file.
    ReadOnly,
    Io(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidName => f.write_str("Invalid script name"),
            Error::InvalidUser => f.write_str("Invalid userid for a script directory"),
            Error::NotFound => f.write_str("Script does not exist"),
            Error::AlreadyExists => f.write_str("Script already exists"),
            Error::Active => f.write_str("Active script cannot be deleted"),
            Error::TooBig(max) => write!(f, "Script size is too large. Max script size is {max} bytes"),
            Error::TooMany(max) => write!(f, "You are only allowed {max} scripts on this server"),
            Error::ReadOnly => f.write_str("Scripts are kept in the home directory (sieveusehomedir) and cannot be changed here"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

/// The limits timsieved enforces (`sieve_maxscriptsize` in KB, `sieve_maxscripts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest script, in bytes.
    pub max_size: u64,
    /// Most scripts a user may have.
    pub max_scripts: u64,
}

impl Limits {
    pub fn from_config(cfg: &Config) -> Limits {
        Limits {
            max_size: (cfg.get_int("sieve_maxscriptsize").max(0) as u64).saturating_mul(1024),
            max_scripts: cfg.get_int("sieve_maxscripts").max(0) as u64,
        }
    }
}

/// Whether `name` may name a script (see [`Error::InvalidName`]).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.chars().any(|c| c == '/' || c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

pub use conf::dir_hash;

/// A part of a path that comes from a userid or domain: one plain component.
fn component(s: &str) -> Result<&str, Error> {
    if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\0') {
        return Err(Error::InvalidUser);
    }
    Ok(s)
}

/// The sievedir subdirectory of a domain: `domain/H/DOMAIN`.
fn domain_dir(root: &mut PathBuf, domain: &str, full: bool) -> Result<(), Error> {
    let domain = component(domain)?;
    root.push("domain");
    root.push(dir_hash(domain, full).to_string());
    root.push(domain);
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    /// A sievedir directory of scripts.
    Dir(PathBuf),
    /// `sieveusehomedir`: the one file `~USER/.sieve` (None: no such Unix user).
    Home(Option<PathBuf>),
}

/// One user's (or the global) Sieve scripts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptDir {
    place: Place,
}

impl ScriptDir {
    /// The scripts of `userid` (as logged in: `fred`, or `fred@example.org` with
    /// virtdomains) under the configuration's `sievedir`, or its home directory's
    /// `.sieve` with `sieveusehomedir`.
    pub fn for_user(cfg: &Config, userid: &str) -> Result<ScriptDir, Error> {
        let virtdomains = !matches!(cfg.get_str("virtdomains").unwrap_or("off").to_ascii_lowercase().as_str(), "off" | "no" | "0");
        let (local, domain) = match userid.rsplit_once('@') {
            Some((l, d)) if virtdomains => {
                let default = cfg.get_str("defaultdomain").is_some_and(|dd| dd.eq_ignore_ascii_case(d));
                (l, (!default).then(|| d.to_ascii_lowercase()))
            }
            _ => (userid, None),
        };
        if cfg.get_bool("sieveusehomedir") {
            return Ok(ScriptDir { place: Place::Home(home_dir(component(local)?).map(|h| h.join(HOME_SCRIPT_NAME))) });
        }
        let full = cfg.get_bool("fulldirhash");
        let mut p = PathBuf::from(cfg.get_str("sievedir").unwrap_or("/usr/sieve"));
        if let Some(d) = &domain {
            domain_dir(&mut p, d, full)?;
        }
        // Without virtdomains a userid with '@' stays whole, as in Cyrus.
        let user = component(if virtdomains { local } else { userid })?;
        p.push(dir_hash(user, full).to_string());
        p.push(user);
        Ok(ScriptDir { place: Place::Dir(p) })
    }

    /// The global scripts (of `domain` with virtdomains), which admins manage.
    pub fn global(cfg: &Config, domain: Option<&str>) -> Result<ScriptDir, Error> {
        let mut p = PathBuf::from(cfg.get_str("sievedir").unwrap_or("/usr/sieve"));
        if let Some(d) = domain {
            domain_dir(&mut p, &d.to_ascii_lowercase(), cfg.get_bool("fulldirhash"))?;
        }
        p.push("global");
        Ok(ScriptDir { place: Place::Dir(p) })
    }

    /// The scripts of an explicit directory.
    pub fn at(dir: impl Into<PathBuf>) -> ScriptDir {
        ScriptDir { place: Place::Dir(dir.into()) }
    }

    /// The directory (or, with sieveusehomedir, the file) this store reads.
    pub fn path(&self) -> Option<&Path> {
        match &self.place {
            Place::Dir(d) => Some(d),
            Place::Home(f) => f.as_deref(),
        }
    }

    fn dir(&self) -> Result<&Path, Error> {
        match &self.place {
            Place::Dir(d) => Ok(d),
            Place::Home(_) => Err(Error::ReadOnly),
        }
    }

    fn script_path(&self, name: &str) -> Result<PathBuf, Error> {
        if !valid_name(name) {
            return Err(Error::InvalidName);
        }
        Ok(self.dir()?.join(format!("{name}{SCRIPT_SUFFIX}")))
    }

    /// Every script, sorted by name, with whether it is the active one.
    pub fn list(&self) -> Result<Vec<(String, bool)>, Error> {
        let dir = match &self.place {
            Place::Home(f) => return Ok(f.as_ref().filter(|f| f.is_file()).map(|_| vec![(HOME_SCRIPT_NAME.to_string(), true)]).unwrap_or_default()),
            Place::Dir(d) => d,
        };
        let active = self.active_name();
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e?;
            // Regular files only, as Cyrus lists them (a link is never a script).
            if !e.file_type()?.is_file() {
                continue;
            }
            let file = e.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(SCRIPT_SUFFIX)) else { continue };
            if valid_name(name) {
                out.push((name.to_string(), active.as_deref() == Some(name)));
            }
        }
        out.sort();
        Ok(out)
    }

    /// How many scripts there are.
    pub fn count(&self) -> Result<u64, Error> {
        Ok(self.list()?.len() as u64)
    }

    /// Whether `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        match &self.place {
            Place::Home(f) => name == HOME_SCRIPT_NAME && f.as_ref().is_some_and(|f| f.is_file()),
            Place::Dir(_) => self.script_path(name).is_ok_and(|p| p.is_file()),
        }
    }

    /// The file that holds the source of `name` (it may not exist); `None` when
    /// there can be no such script. lmtpd stats it to reuse a compiled script.
    pub fn file(&self, name: &str) -> Result<Option<PathBuf>, Error> {
        Ok(match &self.place {
            Place::Home(Some(f)) if name == HOME_SCRIPT_NAME => Some(f.clone()),
            Place::Home(_) => None,
            Place::Dir(_) => Some(self.script_path(name)?),
        })
    }

    /// The source of `name`, `None` when there is no such script.
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(path) = self.file(name)? else { return Ok(None) };
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a script `name` of `size` bytes may be stored (HAVESPACE, and before
    /// PUTSCRIPT): refused when too large, or when it would be one script too many
    /// (replacing an existing script never counts as one more).
    pub fn have_space(&self, name: &str, size: u64, limits: &Limits) -> Result<(), Error> {
        if !valid_name(name) {
            return Err(Error::InvalidName);
        }
        if size > limits.max_size {
            return Err(Error::TooBig(limits.max_size));
        }
        if !self.exists(name) && self.count()? >= limits.max_scripts {
            return Err(Error::TooMany(limits.max_scripts));
        }
        Ok(())
    }

    /// Stores `source` as `name` (replacing it if it exists), durably.
    pub fn put(&self, name: &str, source: &[u8]) -> Result<(), Error> {
        let path = self.script_path(name)?;
        let dir = self.dir()?;
        ensure_dir(dir)?;
        let tmp = dir.join(format!("{name}{SCRIPT_SUFFIX}.NEW.{}", std::process::id()));
        let written = (|| {
            let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            f.write_all(source)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        remove_if_there(&dir.join(format!("{name}{BYTECODE_SUFFIX}")))?;
        sync_dir(dir)?;
        Ok(())
    }

    /// Removes `name`; the active script is refused.
    pub fn delete(&self, name: &str) -> Result<(), Error> {
        let path = self.script_path(name)?;
        if self.active_name().as_deref() == Some(name) {
            return Err(Error::Active);
        }
        match fs::remove_file(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::NotFound),
            r => r?,
        }
        let dir = self.dir()?;
        remove_if_there(&dir.join(format!("{name}{BYTECODE_SUFFIX}")))?;
        sync_dir(dir)?;
        Ok(())
    }

    /// Renames `old` to `new`, which must not exist; an active script stays active.
    pub fn rename(&self, old: &str, new: &str) -> Result<(), Error> {
        let (from, to) = (self.script_path(old)?, self.script_path(new)?);
        if !from.is_file() {
            return Err(Error::NotFound);
        }
        // link(2) refuses an existing target, so two sessions cannot both win.
        match fs::hard_link(&from, &to) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(Error::AlreadyExists),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::NotFound),
            r => r?,
        }
        if self.active_name().as_deref() == Some(old) {
            self.set_active(Some(new))?;
        }
        fs::remove_file(&from)?;
        let dir = self.dir()?;
        for n in [old, new] {
            remove_if_there(&dir.join(format!("{n}{BYTECODE_SUFFIX}")))?;
        }
        sync_dir(dir)?;
        Ok(())
    }

    /// Makes `name` the active script, or with `None` leaves no script active.
    pub fn set_active(&self, name: Option<&str>) -> Result<(), Error> {
        let dir = self.dir()?;
        let link = dir.join(ACTIVE_LINK);
        match name {
            Some(n) => {
                if !self.script_path(n)?.is_file() {
                    return Err(Error::NotFound);
                }
                let tmp = dir.join(format!("{ACTIVE_LINK}.NEW.{}", std::process::id()));
                let _ = fs::remove_file(&tmp);
                std::os::unix::fs::symlink(format!("{n}{BYTECODE_SUFFIX}"), &tmp)?;
                if let Err(e) = fs::rename(&tmp, &link) {
                    let _ = fs::remove_file(&tmp);
                    return Err(e.into());
                }
            }
            None => remove_if_there(&link)?,
        }
        sync_dir(dir)?;
        Ok(())
    }

    /// The name of the active script, as the `defaultbc` link gives it (the script
    /// itself may be missing).
    pub fn active_name(&self) -> Option<String> {
        let dir = match &self.place {
            Place::Home(f) => return f.as_ref().filter(|f| f.is_file()).map(|_| HOME_SCRIPT_NAME.to_string()),
            Place::Dir(d) => d,
        };
        let target = fs::read_link(dir.join(ACTIVE_LINK)).ok()?;
        // Cyrus writes a relative `NAME.bc`; take the last component of anything else.
        let file = target.file_name()?.to_str()?;
        file.strip_suffix(BYTECODE_SUFFIX).filter(|n| valid_name(n)).map(str::to_string)
    }

    /// The active script's name and source, for delivery. `None` when no script is
    /// active, or the active one has no source here (logged: a Cyrus 3.6 script kept
    /// in `#sieve`, or Cyrus bytecode in `~/.sieve`).
    pub fn active(&self) -> Option<(String, Vec<u8>)> {
        let name = self.active_name()?;
        let where_ = self.path().map(|p| p.display().to_string()).unwrap_or_default();
        match self.get(&name) {
            Ok(Some(src)) if src.starts_with(BYTECODE_MAGIC) => {
                log::warn!("{where_}: {name} is Cyrus bytecode, not a Sieve script; it is not run");
                None
            }
            Ok(Some(src)) => Some((name, src)),
            Ok(None) => {
                log::warn!("{where_}: {ACTIVE_LINK} names {name}{BYTECODE_SUFFIX} but there is no {name}{SCRIPT_SUFFIX}; no script is run");
                None
            }
            Err(e) => {
                log::error!("{where_}: cannot read the active script {name}: {e}");
                None
            }
        }
    }
}

/// Creates `dir` and its missing parents (mode 0755, as Cyrus), each made durable by
/// an fsync of its parent.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        ensure_dir(parent)?;
    }
    match fs::DirBuilder::new().mode(0o755).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        r => r?,
    }
    match dir.parent() {
        Some(p) => sync_dir(p),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// The home directory of the Unix user `name`.
fn home_dir(name: &str) -> Option<PathBuf> {
    nix::unistd::User::from_name(name).ok().flatten().map(|u| u.dir).filter(|d| !d.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory, removed when dropped.
    struct Tmp(PathBuf);

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    impl std::ops::Deref for Tmp {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    fn tmp() -> Tmp {
        let d = std::env::temp_dir().join(format!("sieve-store-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Tmp(d)
    }

    fn cfg(text: &str) -> Config {
        Config::parse_str(Path::new("/t/imapd.conf"), text).unwrap()
    }

    fn path_of(c: &Config, user: &str) -> PathBuf {
        ScriptDir::for_user(c, user).unwrap().path().unwrap().to_path_buf()
    }

    #[test]
    fn layout_as_cyrus() {
        let c = cfg("sievedir: /s\n");
        assert_eq!(path_of(&c, "fred"), Path::new("/s/f/fred"));
        assert_eq!(path_of(&c, "Fred"), Path::new("/s/f/Fred"));
        assert_eq!(path_of(&c, "9lives"), Path::new("/s/q/9lives"));
        assert_eq!(path_of(&c, "john.doe"), Path::new("/s/j/john.doe"));
        // Without virtdomains the whole userid is one name.
        assert_eq!(path_of(&c, "fred@example.org"), Path::new("/s/f/fred@example.org"));
        let v = cfg("sievedir: /s\nvirtdomains: userid\ndefaultdomain: example.com\n");
        assert_eq!(path_of(&v, "fred@Example.ORG"), Path::new("/s/domain/e/example.org/f/fred"));
        assert_eq!(path_of(&v, "fred@example.com"), Path::new("/s/f/fred"));
        assert_eq!(path_of(&v, "fred"), Path::new("/s/f/fred"));
        assert_eq!(ScriptDir::global(&v, None).unwrap().path().unwrap(), Path::new("/s/global"));
        assert_eq!(ScriptDir::global(&v, Some("example.org")).unwrap().path().unwrap(), Path::new("/s/domain/e/example.org/global"));
        assert_eq!(path_of(&cfg(""), "fred"), Path::new("/usr/sieve/f/fred"));
        for bad in ["", ".", "..", "a/b", "x\0y"] {
            assert!(matches!(ScriptDir::for_user(&c, bad), Err(Error::InvalidUser)), "{bad:?}");
        }
        assert!(matches!(ScriptDir::for_user(&v, "fred@../x"), Err(Error::InvalidUser)));
    }

    #[test]
    fn fulldirhash_places_the_user_dir() {
        let c = cfg("sievedir: /s\nfulldirhash: yes\n");
        assert_eq!(path_of(&c, "fred"), PathBuf::from(format!("/s/{}/fred", dir_hash("fred", true))));
    }

    #[test]
    fn names() {
        for ok in ["a", "My Filter", "vacation.old", ".hidden", "ünïcödé", &"x".repeat(MAX_NAME_LEN)] {
            assert!(valid_name(ok), "{ok:?}");
        }
        for bad in ["", "a/b", "a\nb", "a\rb", "tab\t", "nul\0", "del\u{7f}", "c1\u{85}", "ls\u{2028}", "ps\u{2029}", &"x".repeat(MAX_NAME_LEN + 1)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn put_list_activate_get_rename_delete() {
        let t = tmp();
        let d = t.join("f/fred");
        let s = ScriptDir::at(&d);
        assert_eq!(s.list().unwrap(), vec![], "a missing directory is an empty one");
        assert!(s.active().is_none());
        s.put("one", b"keep;\r\n").unwrap();
        s.put("two", b"discard;\r\n").unwrap();
        assert_eq!(fs::read(d.join("one.script")).unwrap(), b"keep;\r\n");
        assert_eq!(s.list().unwrap(), vec![("one".into(), false), ("two".into(), false)]);
        s.set_active(Some("two")).unwrap();
        assert_eq!(fs::read_link(d.join("defaultbc")).unwrap(), Path::new("two.bc"));
        assert_eq!(s.list().unwrap(), vec![("one".into(), false), ("two".into(), true)]);
        assert_eq!(s.active(), Some(("two".into(), b"discard;\r\n".to_vec())));
        assert!(matches!(s.delete("two"), Err(Error::Active)));
        assert!(matches!(s.set_active(Some("nope")), Err(Error::NotFound)));
        assert!(matches!(s.rename("one", "two"), Err(Error::AlreadyExists)));
        assert!(matches!(s.rename("nope", "x"), Err(Error::NotFound)));
        s.rename("two", "three").unwrap();
        assert_eq!(s.active_name().as_deref(), Some("three"), "renaming the active script keeps it active");
        assert_eq!(s.get("three").unwrap().unwrap(), b"discard;\r\n");
        assert!(s.get("two").unwrap().is_none());
        s.put("one", b"stop;").unwrap();
        assert_eq!(s.get("one").unwrap().unwrap(), b"stop;", "put replaces");
        s.delete("one").unwrap();
        assert!(matches!(s.delete("one"), Err(Error::NotFound)));
        s.set_active(None).unwrap();
        s.set_active(None).unwrap();
        assert!(fs::symlink_metadata(d.join("defaultbc")).is_err());
        s.delete("three").unwrap();
        assert_eq!(s.list().unwrap(), vec![]);
        let left: Vec<_> = fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "no temporary file left: {left:?}");
        assert!(matches!(s.put("a/b", b""), Err(Error::InvalidName)));
        assert!(matches!(s.get("../x"), Err(Error::InvalidName)));
    }

    #[test]
    fn a_directory_cyrus_made_is_read_and_stale_bytecode_goes() {
        let d = tmp();
        let d = &*d;
        fs::write(d.join("filter.script"), b"require \"fileinto\";\r\nfileinto \"Junk\";\r\n").unwrap();
        fs::write(d.join("filter.bc"), b"CyrSBytecode\0\0\0\x1f").unwrap();
        fs::write(d.join("old.script"), b"keep;").unwrap();
        fs::write(d.join("orphan.bc"), b"CyrSBytecode").unwrap();
        std::os::unix::fs::symlink("filter.bc", d.join("defaultbc")).unwrap();
        fs::write(d.join("x.script.NEW.123"), b"half").unwrap();
        let s = ScriptDir::at(d);
        assert_eq!(s.list().unwrap(), vec![("filter".into(), true), ("old".into(), false)]);
        assert_eq!(s.active().unwrap().0, "filter");
        s.put("filter", b"keep;").unwrap();
        assert!(!d.join("filter.bc").exists(), "bytecode of the old source removed");
        assert_eq!(s.active().unwrap().1, b"keep;");
        // An absolute link target (older tools) names the same script.
        fs::remove_file(d.join("defaultbc")).unwrap();
        std::os::unix::fs::symlink(d.join("old.bc"), d.join("defaultbc")).unwrap();
        assert_eq!(s.active_name().as_deref(), Some("old"));
        // A link to bytecode without its source (a Cyrus 3.6 #sieve script): nothing runs.
        s.set_active(Some("old")).unwrap();
        fs::remove_file(d.join("old.script")).unwrap();
        assert!(s.active().is_none());
    }

    #[test]
    fn space_limits() {
        let t = tmp();
        let s = ScriptDir::at(&*t);
        let lim = Limits { max_size: 100, max_scripts: 2 };
        s.have_space("a", 100, &lim).unwrap();
        assert!(matches!(s.have_space("a", 101, &lim), Err(Error::TooBig(100))));
        s.put("a", b"keep;").unwrap();
        s.put("b", b"keep;").unwrap();
        assert!(matches!(s.have_space("c", 1, &lim), Err(Error::TooMany(2))));
        s.have_space("a", 1, &lim).expect("replacing is not one more");
        assert!(matches!(s.have_space("", 1, &lim), Err(Error::InvalidName)));
        assert_eq!(Limits::from_config(&cfg("")), Limits { max_size: 32 * 1024, max_scripts: 5 });
        assert_eq!(Limits::from_config(&cfg("sieve_maxscriptsize: 1\nsieve_maxscripts: 0\n")), Limits { max_size: 1024, max_scripts: 0 });
    }

    #[test]
    fn home_directory_script() {
        let c = cfg("sieveusehomedir: yes\n");
        let root = ScriptDir::for_user(&c, "root").unwrap();
        let home = home_dir("root").unwrap();
        assert_eq!(root.path().unwrap(), home.join(".sieve"));
        assert!(matches!(root.put("x", b"keep;"), Err(Error::ReadOnly)));
        assert!(matches!(root.set_active(None), Err(Error::ReadOnly)));
        let nobody = ScriptDir::for_user(&c, "no-such-unix-user-here").unwrap();
        assert_eq!(nobody.path(), None);
        assert_eq!(nobody.list().unwrap(), vec![]);
        assert!(nobody.active().is_none());
        // Read as a script, Cyrus bytecode refused.
        let t = tmp();
        let f = t.join(".sieve");
        let s = ScriptDir { place: Place::Home(Some(f.clone())) };
        assert!(s.active().is_none());
        fs::write(&f, b"keep;").unwrap();
        assert_eq!(s.list().unwrap(), vec![(HOME_SCRIPT_NAME.into(), true)]);
        assert_eq!(s.active(), Some((HOME_SCRIPT_NAME.into(), b"keep;".to_vec())));
        fs::write(&f, b"CyrSBytecode\0\0\0\x1f").unwrap();
        assert!(s.active().is_none());
    }
}
