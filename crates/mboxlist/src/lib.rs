//! The mailbox list: one LMDB environment in `configdirectory/mailboxes.lmdb/`, with
//! the mailbox entries and their ACLs, quota roots and subscriptions ([`list`]), the
//! namespace rules that turn client names into internal ones and back ([`names`]),
//! where a mailbox's directory is in Cyrus's spool layouts ([`spool`]), and ACL
//! evaluation ([`acl`]).
//!
//! Open the environment after exec in each process, never before a fork (LMDB forbids
//! using an environment across fork). On open, reader slots left by killed processes
//! are cleared, so they never hold back writers.

pub mod acl;
pub mod deny;
pub mod groups;
pub mod ptscache;
mod dirs;
pub mod list;
pub mod metadata;
pub mod names;
pub mod seen;
pub mod spool;
pub mod store;
pub mod users;
pub mod wildmat;

pub use acl::{Acl, Rights};
pub use list::{Entry, Quota};
pub use names::{BadName, InternalName, Namespace};
pub use store::{Store, StoreError};

use lmdb::{Database, DatabaseFlags, Environment, EnvironmentFlags};
use std::path::{Path, PathBuf};

/// Directory of the environment, under configdirectory.
pub const DIR_NAME: &str = "mailboxes.lmdb";

/// The named databases of the environment.
pub const DATABASES: &[&str] = &["mailboxes", "quota", "subs", "annotations", "seen", "meta", "userdeny", "ptscache"];

/// Upper bound of the memory map (LMDB's file grows as needed up to this).
const MAP_SIZE: usize = 1 << 34;
const MAX_READERS: u32 = 1024;

/// The open mailbox list.
pub struct MboxList {
    pub(crate) env: Environment,
    path: PathBuf,
}

/// Path of the environment for a configdirectory.
pub fn env_path(configdirectory: &Path) -> PathBuf {
    configdirectory.join(DIR_NAME)
}

impl MboxList {
    /// Opens the environment, creating it and its databases if `create` is set.
    pub fn open(configdirectory: &Path, create: bool) -> Result<MboxList, String> {
        let path = env_path(configdirectory);
        if create {
            std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let env = Environment::new()
            .set_flags(EnvironmentFlags::NO_TLS)
            .set_max_dbs(DATABASES.len() as u32 + 4)
            .set_map_size(MAP_SIZE)
            .set_max_readers(MAX_READERS)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut dead = 0;
        // SAFETY: the environment pointer is valid while `env` lives.
        unsafe { lmdb_sys::mdb_reader_check(env.env(), &mut dead) };
        let list = MboxList { env, path };
        // Databases added by a later version are created in an older environment.
        for name in DATABASES {
            list.env
                .create_db(Some(name), DatabaseFlags::empty())
                .map_err(|e| format!("{}: database {name}: {e}", list.path.display()))?;
        }
        Ok(list)
    }

    /// A named database of the environment.
    pub fn db(&self, name: &str) -> Result<Database, String> {
        self.env.open_db(Some(name)).map_err(|e| format!("{}: database {name}: {e}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Forces the environment to disk.
    pub fn sync(&self) -> Result<(), String> {
        self.env.sync(true).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Number of entries in a database (for tools and tests).
    pub fn count(&self, name: &str) -> Result<usize, String> {
        use lmdb::{Cursor, Transaction};
        let db = self.db(name)?;
        let txn = self.env.begin_ro_txn().map_err(|e| e.to_string())?;
        let mut cur = txn.open_ro_cursor(db).map_err(|e| e.to_string())?;
        Ok(cur.iter_start().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_open() {
        let dir = std::env::temp_dir().join(format!("mboxlist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(MboxList::open(&dir, false).is_err());
        let l = MboxList::open(&dir, true).unwrap();
        assert_eq!(l.count("mailboxes").unwrap(), 0);
        drop(l);
        let l = MboxList::open(&dir, false).unwrap();
        assert!(l.db("quota").is_ok());
        assert!(l.path().join("data.mdb").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
