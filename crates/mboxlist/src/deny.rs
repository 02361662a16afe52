//! Users denied access to services (Cyrus's `user_deny.db`, managed with `cyr_deny`):
//! per userid, a comma-separated list of wildmat patterns of cyrus.conf service names
//! (`*` for all, `!pop3*` to except some) and a message for the user.

use crate::MboxList;
use lmdb::{Transaction, WriteFlags};

/// One denial: the service patterns and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub services: String,
    pub message: String,
}

/// The message given when `cyr_deny` was not told one (Cyrus's text).
pub const DEFAULT_MESSAGE: &str = "Access to this service has been blocked";

fn err(e: lmdb::Error) -> String {
    e.to_string()
}

/// Whether `service` is among the comma-separated wildmat `patterns` (the last
/// pattern that matches decides, a `!` one excluding; INN's wildmat, as Cyrus), case
/// aside.
pub fn wildmat(patterns: &str, service: &str) -> bool {
    crate::wildmat::wildmat(patterns, service, true)
}

impl Denial {
    /// Whether this denial covers `service` (a cyrus.conf service name).
    pub fn covers(&self, service: &str) -> bool {
        wildmat(&self.services, service)
    }

    fn encode(&self) -> String {
        // Cyrus's version-2 record: "2 TAB services TAB message".
        format!("2\t{}\t{}", self.services, self.message)
    }

    fn decode(v: &[u8]) -> Option<Denial> {
        let text = std::str::from_utf8(v).ok()?;
        let mut f = text.splitn(3, '\t');
        (f.next()? == "2").then_some(())?;
        Some(Denial { services: f.next()?.to_string(), message: f.next().unwrap_or(DEFAULT_MESSAGE).to_string() })
    }
}

impl MboxList {
    /// Denies `userid` the services matching `services` (`*`: all).
    pub fn deny(&self, userid: &str, d: &Denial) -> Result<(), String> {
        let db = self.db("userdeny")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        txn.put(db, &userid, &d.encode(), WriteFlags::empty()).map_err(err)?;
        txn.commit().map_err(err)
    }

    /// Allows `userid` again; whether there was a denial.
    pub fn allow(&self, userid: &str) -> Result<bool, String> {
        let db = self.db("userdeny")?;
        let mut txn = self.env.begin_rw_txn().map_err(err)?;
        let had = match txn.del(db, &userid, None) {
            Ok(()) => true,
            Err(lmdb::Error::NotFound) => false,
            Err(e) => return Err(err(e)),
        };
        txn.commit().map_err(err)?;
        Ok(had)
    }

    /// The denial of `userid`, if any.
    pub fn denial(&self, userid: &str) -> Result<Option<Denial>, String> {
        let db = self.db("userdeny")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        match txn.get(db, &userid) {
            Ok(v) => Ok(Denial::decode(v)),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// Every denial, by userid.
    pub fn denials(&self) -> Result<Vec<(String, Denial)>, String> {
        use lmdb::Cursor;
        let db = self.db("userdeny")?;
        let txn = self.env.begin_ro_txn().map_err(err)?;
        let mut cur = txn.open_ro_cursor(db).map_err(err)?;
        let mut out = Vec::new();
        for item in cur.iter_start() {
            let (k, v) = item.map_err(err)?;
            if let Some(d) = Denial::decode(v) {
                out.push((String::from_utf8_lossy(k).into_owned(), d));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_patterns() {
        assert!(wildmat("*", "imap"));
        assert!(wildmat("imap*,pop3", "imaps"));
        assert!(!wildmat("imap*,pop3", "lmtp"));
        assert!(wildmat("*,!pop3*", "imap") && !wildmat("*,!pop3*", "pop3s"));
        assert!(!wildmat("", "imap"));
    }

    #[test]
    fn denials_are_kept_and_removed() {
        let d = std::env::temp_dir().join(format!("deny-test-{}", std::process::id()));
        let l = MboxList::open(&d, true).unwrap();
        let x = Denial { services: "imap,pop3".into(), message: "Account locked".into() };
        l.deny("fred@example.org", &x).unwrap();
        assert_eq!(l.denial("fred@example.org").unwrap(), Some(x.clone()));
        assert_eq!(l.denials().unwrap(), vec![("fred@example.org".to_string(), x)]);
        assert!(l.allow("fred@example.org").unwrap());
        assert!(!l.allow("fred@example.org").unwrap());
        assert_eq!(l.denial("fred@example.org").unwrap(), None);
        std::fs::remove_dir_all(d).unwrap();
    }
}
