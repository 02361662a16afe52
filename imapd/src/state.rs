//! The state of one IMAP session — who is logged in, the namespace they see, the
//! selected mailbox, what they enabled — and what every command module asks of it:
//! names as the client writes them and as the store keeps them, rights, and the
//! untagged updates of the selected mailbox. The command loop that reads commands and
//! dispatches them is [`crate::session`]; the command modules use this state and
//! [`crate::reply`], never the loop.

use crate::selected::Selected;
use mboxlist::{InternalName, Namespace, Store, StoreError};
use service::{Conn, Worker};

pub struct Session<'a> {
    pub w: &'a Worker,
    pub store: Option<&'a Store>,
    /// The namespace as this user sees it (admins see the internal layout, as in
    /// Cyrus: no altnamespace).
    pub ns: Namespace,
    pub user: Option<String>,
    pub admin: bool,
    pub sel: Option<Selected>,
    pub(crate) failures: u32,
    /// Largest literal accepted outside APPEND (`maxword`), and for APPEND
    /// (`maxmessagesize`, 0: our own bound).
    pub(crate) max_word: u64,
    pub(crate) max_message: u64,
    /// A BYE was sent: the session ends after this command.
    pub(crate) closing: bool,
    /// This login, counted for maxlogins_per_host/user while the session lasts.
    pub(crate) proc_login: Option<service::procs::Login>,
    /// CONDSTORE/QRESYNC as enabled so far.
    pub mode: crate::sync::Enabled,
    /// The IDLE watch of a mailbox no longer selected, dropped once the reply that
    /// closed it has been sent: removing an inotify watch waits for an SRCU grace
    /// period, often tens of milliseconds.
    pub(crate) retired_watch: Option<mailbox::Watch>,
}

impl<'a> Session<'a> {
    pub(crate) fn new(w: &'a Worker, store: Option<&'a Store>) -> Session<'a> {
        let max_word = match w.config.get_int("maxword") {
            n if n > 0 => n as u64,
            _ => 128 * 1024,
        };
        let max_message = match w.config.get_int("maxmessagesize") {
            n if n > 0 => n as u64,
            _ => 256 * 1024 * 1024,
        };
        let ns = store.map(|s| s.ns.clone()).unwrap_or_default();
        Session { w, store, ns, user: None, admin: false, sel: None, failures: 0, max_word, max_message, closing: false, proc_login: None, mode: Default::default(), retired_watch: None }
    }

    pub fn userid(&self) -> &str {
        self.user.as_deref().unwrap_or("")
    }

    pub fn store(&self) -> &'a Store {
        self.store.expect("logged in implies a store")
    }

    /// The internal name of a mailbox name as the client wrote it.
    pub fn internal(&self, ext: &str) -> Result<InternalName, String> {
        let sep = self.ns.sep();
        let ext = ext.strip_suffix(sep).unwrap_or(ext);
        // `domain!name` is the internal form of another domain: admins only.
        if ext.contains('!') && !self.admin {
            return Err("Invalid mailbox name".into());
        }
        // A UTF-8 client's name is the modified UTF-7 one the store knows.
        let utf7;
        let ext = if self.mode.utf8 {
            utf7 = mboxlist::names::encode_mutf7(ext);
            utf7.as_str()
        } else {
            ext
        };
        if self.admin {
            return self.ns.to_internal_as_admin(self.userid(), ext).map_err(|e| e.to_string());
        }
        self.ns.to_internal(self.userid(), ext).map_err(|e| e.to_string())
    }

    pub fn external(&self, int: &InternalName) -> String {
        let ext = self.ns.to_external(self.userid(), int);
        if self.mode.utf8 { mboxlist::names::decode_mutf7(&ext) } else { ext }
    }

    /// Whether this user is an admin of `name`'s domain (see `Store::administers`).
    pub fn administers(&self, name: &InternalName) -> bool {
        self.admin && self.store().administers(self.userid(), name)
    }

    /// Rights of this user on `name`.
    pub fn rights(&self, name: &InternalName) -> Result<(mboxlist::Entry, mboxlist::Rights), StoreError> {
        let store = self.store();
        let e = store.lookup(name)?;
        let r = store.rights(self.userid(), name, &e);
        Ok((e, r))
    }

    // ---- selected state ----

    /// Rights follow the ACL at once (RFC 4314 §4): before each command in the
    /// selected state the mailbox's ACL is read again, so a right an admin removed is
    /// gone at this session's next command (and a granted one is there).
    pub fn refresh_rights(&mut self) {
        let (Some(store), Some(user), Some(sel)) = (self.store, self.user.as_deref(), self.sel.as_mut()) else { return };
        if let Ok(Some(e)) = store.list.lookup(&sel.name.0) {
            if e.uniqueid == sel.uniqueid && e.is_normal() {
                let now = store.rights(user, &sel.name, &e);
                if now != sel.rights {
                    log::info!("{}: rights of {user} now {now} (were {})", sel.name.0, sel.rights);
                    sel.rights = now;
                }
            }
        }
    }

    /// Untagged updates for the selected mailbox.
    pub fn updates(&mut self, conn: &mut Conn, allow_expunge: bool) {
        let store = self.store;
        if let Some(sel) = self.sel.as_mut() {
            // Deleted or renamed by another session: the mailbox is gone for this one
            // (as Cyrus, the session ends).
            let still = store.and_then(|st| st.list.lookup(&sel.name.0).ok().flatten()).is_some_and(|e| e.uniqueid == sel.uniqueid);
            if !still {
                conn.write(b"* BYE [NONEXISTENT] The selected mailbox has been deleted or renamed\r\n");
                self.sel = None;
                self.closing = true;
                return;
            }
            if let Err(e) = sel.update(conn, allow_expunge) {
                log::error!("{}: {e}", sel.name.0);
                conn.write_fmt(format_args!("* BYE [SERVERBUG] Mailbox damaged: {e}\r\n"));
                self.sel = None;
                self.closing = true;
            }
        }
    }

    /// Readies a parsed search program (SEARCH, SORT, THREAD): `$` becomes the saved
    /// result, and a MODSEQ key turns CONDSTORE on. Returns whether it has one (the
    /// answer then carries the highest modseq).
    pub fn prepare_program(&mut self, prog: &mut crate::search::Key) -> bool {
        if let Some(sel) = self.sel.as_ref() {
            crate::search::substitute_saved(prog, &sel.saved);
        }
        let with_modseq = crate::search::uses_modseq(prog);
        if with_modseq {
            self.enable_condstore();
        }
        with_modseq
    }

    /// Turns CONDSTORE on for the rest of the session (RFC 7162 3.1).
    pub fn enable_condstore(&mut self) {
        self.mode.condstore = true;
        if let Some(sel) = self.sel.as_mut() {
            sel.mode = self.mode;
        }
    }
}
