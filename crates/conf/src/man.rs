//! Generation of man/imapd.conf.5 from the option table.
//!
//! `cargo run -p conf --bin gen-imapd-conf-man > man/imapd.conf.5` rewrites the page;
//! the test below fails when the page in the tree differs from what the table gives.

use crate::options::{ALIASES, Kind, OPTIONS};

fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') { format!("\\&{s}") } else { s }
}

fn kind_text(k: Kind) -> String {
    match k {
        Kind::Str => "string".into(),
        Kind::Bool => "boolean".into(),
        Kind::Int => "integer".into(),
        Kind::Duration(u) => format!("duration (bare number: {})", match u {
            's' => "seconds",
            'm' => "minutes",
            'h' => "hours",
            _ => "days",
        }),
        Kind::Enum(w) => format!("one of: {}", w.join(", ")),
        Kind::List(w) if w.is_empty() => "list of words".into(),
        Kind::List(w) => format!("list of: {}", w.join(", ")),
    }
}

/// The whole imapd.conf(5) page.
pub fn imapd_conf_page() -> String {
    let mut p = String::new();
    p.push_str(r#".\" Generated from crates/conf/src/options/table.rs by gen-imapd-conf-man; do not edit.
.TH IMAPD.CONF 5 "" "mail suite" "File Formats"
.SH NAME
imapd.conf \- configuration file of the mail suite's daemons
.SH DESCRIPTION
Every daemon of the suite reads
.I /etc/imapd.conf
or the file given with
.BR \-C .
Each line has the form
.RS
.B option: value
.RE
Blank lines and lines whose first non-blank character is
.B #
are ignored.
A
.B \e
as the last character of a line joins the next line to it, with nothing inserted.
A line
.B @include: file
reads another file at that point; a relative name is taken from the directory of the including file.
.PP
Booleans take yes, on, t, true or 1 and no, off, f, false or 0.
Durations are a number followed by a unit, d, h, m or s, and units add up
(1h30m is 90 minutes); a number without a unit is in the unit named for the option.
.PP
Any option may be given for one service only by putting the service's name from
.BR cyrus.conf (5)
and an underscore before it:
.B imaps_tls_server_cert
overrides
.B tls_server_cert
for the service named imaps.
.PP
A line that cannot be read (no colon, a bad option name, a value of the wrong type)
stops the daemon at start, with the file name and line number in the message.
An unknown option is logged once, as a warning naming file and line and the closest known name.
An option that Cyrus IMAP documents but this suite does not use is logged as ignored.
.SH OPTIONS
The options the suite reads, with their type and default.
"#);
    for d in OPTIONS {
        let name = if d.is_prefix() { format!("{}NAME", d.name) } else { d.name.to_string() };
        let name = name.replace("_NAME", "_OPTION");
        p.push_str(".TP\n");
        p.push_str(&format!(".BR \"{}\" \": {}\"\n", roff_escape(&name), match d.default {
            None => "<unset>".to_string(),
            Some("") => "<empty>".to_string(),
            Some(v) => roff_escape(v),
        }));
        p.push_str(&format!("{}\n", roff_escape(d.desc)));
        p.push_str(&format!("Type: {}.\n", roff_escape(&kind_text(d.kind))));
    }
    p.push_str(".SH ALIASES\nThese older names are read as the current ones; SERVICE stands for a service name.\nWhere both are given, the current name wins.\n");
    for (old, new) in ALIASES {
        let (old, new) = if old.contains('*') {
            (old.replace('*', "SERVICE"), format!("SERVICE_{new}"))
        } else {
            (old.to_string(), new.to_string())
        };
        p.push_str(&format!(".TP\n.B {}\nis read as\n.BR {} .\n", roff_escape(&old), roff_escape(&new)));
    }
    p.push_str(".SH SEE ALSO\n.BR cyrus.conf (5),\n.BR master (8)\n");
    p
}

#[cfg(test)]
mod tests {
    #[test]
    fn man_page_matches_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../man/imapd.conf.5");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == super::imapd_conf_page(),
            "man/imapd.conf.5 is out of date: run `cargo run -q -p conf --bin gen-imapd-conf-man > man/imapd.conf.5`"
        );
    }
}
