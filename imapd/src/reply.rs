//! The tagged answers every command module gives (`OK`, `NO`, `BAD`), and the NO a
//! store error becomes.

use mboxlist::StoreError;
use service::Conn;

pub(crate) fn bad(conn: &mut Conn, tag: &str, msg: &str) {
    conn.write_fmt(format_args!("{tag} BAD {msg}\r\n"));
}

pub(crate) fn no(conn: &mut Conn, tag: &str, msg: &str) {
    conn.write_fmt(format_args!("{tag} NO {msg}\r\n"));
}

pub(crate) fn ok(conn: &mut Conn, tag: &str, msg: &str) {
    conn.write_fmt(format_args!("{tag} OK {msg}\r\n"));
}

/// The response text of a store error.
pub fn store_no(conn: &mut Conn, tag: &str, e: &StoreError) {
    match e {
        StoreError::NotFound(_) => no(conn, tag, "[NONEXISTENT] Mailbox does not exist"),
        StoreError::Exists(_) => no(conn, tag, "[ALREADYEXISTS] Mailbox already exists"),
        StoreError::BadName(m) => no(conn, tag, &format!("[CANNOT] Invalid mailbox name: {m}")),
        StoreError::OverQuota(_) => {
            service::metrics::inc(service::metrics::Slot::QUOTA_REFUSED);
            no(conn, tag, "[OVERQUOTA] Over quota")
        }
        StoreError::Denied(_) => no(conn, tag, "[NOPERM] Permission denied"),
        StoreError::Internal(m) => {
            log::error!("{m}");
            no(conn, tag, "[SERVERBUG] Internal error")
        }
        // RFC 5530 has no code for a full disk; [OVERQUOTA] is what clients show as
        // "no room" (Dovecot answers the same), and the text says it is temporary.
        StoreError::NoSpace(m) => {
            log::error!("{m}");
            no(conn, tag, "[OVERQUOTA] Not enough disk space, try again later")
        }
    }
}

/// `TAG OK Completed`.
pub(crate) fn done(conn: &mut Conn, tag: &str) {
    ok(conn, tag, "Completed");
}
