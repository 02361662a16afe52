//! imapd as a library: the binary (`main.rs`) serves sessions; the parsers are public
//! so that the fuzz targets (`fuzz/`) and tests reach them. Modules: [`parse`] (the
//! grammar), [`session`] (command loop, authentication, states), [`messages`] (FETCH,
//! STORE, SEARCH, EXPUNGE, COPY, MOVE), [`append`] (APPEND, MULTIAPPEND, CATENATE,
//! REPLACE), [`selected`] (the selected mailbox and its untagged updates), [`sync`]
//! (CONDSTORE, QRESYNC), [`fetch`], [`search`], [`sort`] (SORT, THREAD), [`folders`]
//! (mailbox commands), [`metadata`] (METADATA), [`access`] (ACL, QUOTA),
//! [`telemetry`]. See imapd(8).

pub mod access;
pub mod append;
pub mod fetch;
pub mod messages;
pub mod metadata;
pub mod folders;
pub mod parse;
pub mod reply;
pub mod search;
pub mod selected;
pub mod session;
pub mod sort;
pub mod state;
pub mod sync;
pub mod telemetry;

/// Parses one command as the session would (tag, name, arguments) without running
/// it: for fuzzing the grammar. Returns the command name, or the BAD text.
pub fn parse_command(cmd: &[u8]) -> Result<String, String> {
    use parse::Parser;
    let tag_end = cmd.iter().position(|&c| c == b' ').unwrap_or(cmd.len());
    if !parse::valid_tag(&cmd[..tag_end]) {
        return Err("Invalid tag".into());
    }
    let mut p = Parser::new(cmd);
    p.pos = tag_end;
    p.sp()?;
    let mut name = p.keyword()?;
    if name == "UID" {
        p.sp()?;
        name = p.keyword()?;
    }
    match name.as_str() {
        "FETCH" => {
            p.sp()?;
            p.seqset()?;
            p.sp()?;
            fetch::parse_items(&mut p)?;
            if p.eat(b' ') {
                sync::parse_fetch_mods(&mut p)?;
            }
        }
        "SEARCH" => {
            p.sp()?;
            search::parse_return(&mut p)?;
            if p.word("CHARSET") {
                p.sp()?;
                p.astring()?;
                p.sp()?;
            }
            search::parse_program(&mut p)?;
        }
        "SORT" => {
            p.sp()?;
            search::parse_return(&mut p)?;
            sort::parse_criteria(&mut p)?;
            p.sp()?;
            p.astring()?;
            p.sp()?;
            search::parse_program(&mut p)?;
        }
        "THREAD" => {
            p.sp()?;
            let alg = p.keyword()?;
            sortthread::Algorithm::from_name(&alg).ok_or("Invalid Thread algorithm")?;
            p.sp()?;
            p.astring()?;
            p.sp()?;
            search::parse_program(&mut p)?;
        }
        "STORE" => {
            p.sp()?;
            p.seqset()?;
            p.sp()?;
            if p.peek() == Some(b'(') {
                sync::parse_store_mods(&mut p)?;
                p.sp()?;
            }
            p.keyword()?;
            p.sp()?;
            p.flag_list(true)?;
        }
        "COPY" | "MOVE" => {
            p.sp()?;
            p.seqset()?;
            p.sp()?;
            p.mailbox()?;
        }
        "APPEND" => {
            p.sp()?;
            p.mailbox()?;
            p.sp()?;
            append::message_syntax(&mut p)?;
            while p.eat(b' ') {
                append::message_syntax(&mut p)?;
            }
        }
        "LIST" | "LSUB" => {
            p.sp()?;
            p.astring()?;
            p.sp()?;
            p.list_mailbox()?;
        }
        "LOGIN" | "RENAME" | "SETACL" => {
            p.sp()?;
            p.astring()?;
            p.sp()?;
            p.astring()?;
        }
        "SELECT" | "EXAMINE" => {
            p.sp()?;
            p.mailbox()?;
            if p.eat(b' ') {
                sync::parse_select_params(&mut p)?;
            }
        }
        "REPLACE" => {
            p.sp()?;
            p.seqset()?;
            p.sp()?;
            p.mailbox()?;
            p.sp()?;
            append::message_syntax(&mut p)?;
        }
        "GETMETADATA" | "SETMETADATA" => return metadata::syntax(&name, &mut p).map(|()| name),
        "CREATE" | "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" | "GETACL" | "MYRIGHTS" | "GETQUOTAROOT" => {
            p.sp()?;
            p.mailbox()?;
        }
        _ => return Ok(name),
    }
    p.end()?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::parse_command;

    #[test]
    fn grammar_of_the_extensions() {
        for good in [
            &b"a SELECT INBOX (QRESYNC (1 2 1:5 (1:2 3:4)))"[..],
            b"a UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 5 VANISHED)",
            b"a STORE 1 (UNCHANGEDSINCE 7) +FLAGS (\\Seen)",
            b"a GETMETADATA (DEPTH infinity MAXSIZE 10) INBOX (/private/comment /shared)",
            b"a SETMETADATA INBOX (/private/comment NIL /shared/comment \"x\")",
            b"a UID REPLACE 4 Drafts (\\Draft) {3+}\r\nabc",
            b"a APPEND INBOX CATENATE (TEXT {2+}\r\nab URL \"/INBOX/;UID=1\")",
            b"a FETCH $ (BINARY.PEEK[1]<0.10> BINARY.SIZE[2] EMAILID SAVEDATE PREVIEW)",
        ] {
            assert!(parse_command(good).is_ok(), "{}: {:?}", String::from_utf8_lossy(good), parse_command(good));
        }
        for bad in [
            &b"a SELECT INBOX (QRESYNC (0 2))"[..],
            b"a FETCH 1 FLAGS (VANISHED)",
            b"a STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)",
            b"a GETMETADATA INBOX comment",
            b"a SETMETADATA INBOX (/private/comment)",
            b"a APPEND INBOX CATENATE (FOO {1+}\r\nx)",
        ] {
            assert!(parse_command(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
