//! The script commands of the authenticated state (RFC 5804 2.5 to 2.12): HAVESPACE,
//! PUTSCRIPT, CHECKSCRIPT, LISTSCRIPTS, SETACTIVE, GETSCRIPT, DELETESCRIPT,
//! RENAMESCRIPT, on the user's [`ScriptDir`](sieve::store::ScriptDir).
//!
//! Answers and response codes are Cyrus's (QUOTA/MAXSIZE, QUOTA/MAXSCRIPTS,
//! NONEXISTENT, ACTIVE, ALREADYEXISTS), with TRYLATER for a failure of the disk. A
//! script is checked by the Sieve engine with the extensions `sieve_extensions` allows
//! before it is stored; an error is answered with its line.

use crate::session::Session;
use crate::wire::{Token, put_string, response};
use service::Conn;
use sieve::store::Error;

/// Whether `cmd` (upper case) is a script command.
pub fn is_command(cmd: &str) -> bool {
    matches!(cmd, "HAVESPACE" | "PUTSCRIPT" | "CHECKSCRIPT" | "LISTSCRIPTS" | "SETACTIVE" | "GETSCRIPT" | "DELETESCRIPT" | "RENAMESCRIPT")
}

/// A script name argument as text (names are UTF-8; anything else is invalid).
fn name(t: &[u8]) -> &str {
    // An invalid name maps to "" which every store operation refuses.
    std::str::from_utf8(t).unwrap_or("")
}

/// Runs a script command for the logged-in user (the caller checked the state).
pub fn command(s: &mut Session, conn: &mut Conn, cmd: &str, args: &[Token]) {
    let Some(user) = s.user.as_ref() else { return };
    let dir = &user.scripts;
    let result = match (cmd, args) {
        ("HAVESPACE", [Token::Str(n), Token::Num(size)]) => dir.have_space(name(n), *size, &s.limits),
        ("PUTSCRIPT", [Token::Str(n), Token::Str(src)]) => match dir.have_space(name(n), src.len() as u64, &s.limits) {
            Ok(()) => match check(s, src) {
                Ok(()) => dir.put(name(n), src),
                Err(e) => return conn.write(&response("NO", None, Some(&e))),
            },
            Err(e) => Err(e),
        },
        ("CHECKSCRIPT", [Token::Str(src)]) => {
            if src.len() as u64 > s.limits.max_size {
                Err(Error::TooBig(s.limits.max_size))
            } else if let Err(e) = check(s, src) {
                return conn.write(&response("NO", None, Some(&e)));
            } else {
                Ok(())
            }
        }
        ("LISTSCRIPTS", []) => match dir.list() {
            Ok(list) => {
                let mut out = Vec::new();
                for (n, active) in list {
                    put_string(&mut out, n.as_bytes());
                    out.extend_from_slice(if active { b" ACTIVE\r\n" } else { b"\r\n" });
                }
                out.extend_from_slice(b"OK\r\n");
                return conn.write(&out);
            }
            Err(e) => Err(e),
        },
        ("SETACTIVE", [Token::Str(n)]) if n.is_empty() => dir.set_active(None),
        ("SETACTIVE", [Token::Str(n)]) => dir.set_active(Some(name(n))),
        ("GETSCRIPT", [Token::Str(n)]) => match dir.get(name(n)) {
            Ok(Some(src)) => {
                // Always a literal, as Cyrus sends it (RFC 5804 2.9).
                let mut out = format!("{{{}}}\r\n", src.len()).into_bytes();
                out.extend_from_slice(&src);
                out.extend_from_slice(b"\r\nOK\r\n");
                return conn.write(&out);
            }
            Ok(None) => Err(Error::NotFound),
            Err(e) => Err(e),
        },
        ("DELETESCRIPT", [Token::Str(n)]) => dir.delete(name(n)),
        ("RENAMESCRIPT", [Token::Str(old), Token::Str(new)]) => match dir.rename(name(old), name(new)) {
            Err(Error::AlreadyExists) => {
                return conn.write(&response("NO", Some("ALREADYEXISTS"), Some(&format!("Script {} already exists", name(new)))));
            }
            r => r,
        },
        _ => return conn.write(&response("NO", None, Some(&format!("Invalid arguments to {cmd}")))),
    };
    match result {
        Ok(()) => {
            log::debug!("{} {cmd} done for {}", conn.peer, user.userid);
            conn.write(&response("OK", None, None));
        }
        Err(e) => {
            let code = match &e {
                Error::NotFound => Some("NONEXISTENT"),
                Error::Active => Some("ACTIVE"),
                Error::AlreadyExists => Some("ALREADYEXISTS"),
                Error::TooBig(_) => Some("QUOTA/MAXSIZE"),
                Error::TooMany(_) => Some("QUOTA/MAXSCRIPTS"),
                Error::Io(err) => {
                    log::error!("{cmd} for {}: {}: {err}", user.userid, dir.path().map(|p| p.display().to_string()).unwrap_or_default());
                    Some("TRYLATER")
                }
                Error::InvalidName | Error::InvalidUser | Error::ReadOnly => None,
            };
            let text = match &e {
                Error::Io(_) => "Error on the server's disk, try again later".to_string(),
                e => e.to_string(),
            };
            conn.write(&response("NO", code, Some(&text)));
        }
    }
}

/// Checks a script with the engine, with the extensions the site allows: the error
/// text for `NO` when it does not compile.
fn check(s: &Session, src: &[u8]) -> Result<(), String> {
    sieve::compile(src, &s.exts).map(|_| ()).map_err(|e| format!("line {}: {} (column {})", e.line, e.message, e.column))
}
