//! ENVELOPE, BODYSTRUCTURE and BODY of the corpus, expectations written from
//! RFC 3501 7.4.2 and Cyrus's conventions (see the crate docs), sizes counted in
//! the files: a leaf's size is its body's octets, its lines the LFs in that body.

mod common;

use common::{corpus, same, thrice};

fn check(name: &str, envelope: &str, bodystructure: &str) -> message::Message {
    let m = message::parse(&corpus(name));
    same(m.envelope(), envelope);
    same(m.bodystructure(), bodystructure);
    m
}

#[test]
fn plain_text_without_content_type() {
    let alice = r#"("Alice Example" NIL "alice" "example.org")"#;
    let env = format!(
        r#"("Tue, 01 Jul 2003 10:52:37 +0200" "Lunch on Thursday?" {} ((NIL NIL "bob" "example.com")("Carol, C." NIL "carol" "example.com")) (("Dave D." NIL "dave" "example.net")) NIL NIL "<20030701085237.GA1234@example.org>")"#,
        thrice(alice)
    );
    let m = check(
        "plain.eml",
        &env,
        r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 65 6 NIL NIL NIL NIL)"#,
    );
    same(m.body(), r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 65 6)"#);
    assert_eq!(m.fields().subject.as_deref(), Some("Lunch on Thursday?"));
    assert_eq!(m.fields().date, Some(1_057_049_557));
    assert_eq!(m.fields().message_id.as_deref(), Some("<20030701085237.GA1234@example.org>"));
}

#[test]
fn multipart_alternative() {
    let bob = r#"("Bob B." NIL "bob" "example.com")"#;
    let env = format!(
        r#"("Tue, 1 Jul 2003 11:02:00 +0000" "Re: Lunch on Thursday?" {} (("Alice Example" NIL "alice" "example.org")) NIL NIL "<20030701085237.GA1234@example.org>" "<reply-1@example.com>")"#,
        thrice(bob)
    );
    let m = check(
        "alternative.eml",
        &env,
        r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 30 0 NIL NIL NIL NIL)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 37 0 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "----=_Part_0_1234.5678") NIL NIL NIL)"#,
    );
    same(
        m.body(),
        r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 30 0)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 37 0) "ALTERNATIVE")"#,
    );
}

#[test]
fn multipart_mixed_with_attachments() {
    let env = format!(
        r#"("Wed, 02 Jul 2003 09:00:00 -0400" "Quarterly report" {} ((NIL NIL "bob" "example.com")) NIL NIL NIL "<report-7@example.com>")"#,
        thrice(r#"("Carol" NIL "carol" "example.com")"#)
    );
    let text = r#"("TEXT" "PLAIN" ("CHARSET" "ISO-8859-1") NIL NIL "8BIT" 17 0 NIL NIL NIL NIL)"#;
    let pdf = r#"("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2.report@example.com>" "Q3 report" "BASE64" 20 NIL ("ATTACHMENT" ("FILENAME" "report.pdf" "SIZE" "12")) NIL NIL)"#;
    // RFC 2231: extended sections joined, kept encoded; '%' makes Cyrus send a literal.
    let notes = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\" \"NAME*\" {29}\r\nutf-8''na%C3%AFve%20notes.txt) NIL NIL \"7BIT\" 15 1 NIL (\"INLINE\" (\"FILENAME\" \"very long name.txt\")) (\"EN\" \"FR\") \"http://example.com/notes.txt\")";
    let bs = format!(r#"({text}{pdf}{notes} "MIXED" ("BOUNDARY" "=_mixed_boundary") NIL NIL NIL)"#);
    check("mixed-attachment.eml", &env, &bs);
}

#[test]
fn message_rfc822_nested_twice() {
    let env3 = format!(
        r#"("Tue, 01 Jul 2003 07:00:00 +0000" "hello" {} ((NIL NIL "dan" "example.org")) NIL NIL NIL NIL)"#,
        thrice(r#"("Alice" NIL "alice" "example.org")"#)
    );
    let bs3 = r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 24 1 NIL NIL NIL NIL)"#;
    let env2 = format!(
        r#"("Wed, 02 Jul 2003 08:00:00 +0000" "Fwd: hello" {} ((NIL NIL "eve" "example.net")) NIL NIL NIL "<fwd1@example.org>")"#,
        thrice(r#"("Dan" NIL "dan" "example.org")"#)
    );
    let bs2 = format!(
        r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 0 NIL NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL "original" "7BIT" 135 {env3} {bs3} 6 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "inner") NIL NIL NIL)"#
    );
    let env1 = format!(
        r#"("Thu, 03 Jul 2003 12:00:00 +0100" "Fwd: Fwd: hello" {} ((NIL NIL "bob" "example.com")) NIL NIL NIL "<fwd2@example.net>")"#,
        thrice(r#"("Eve" NIL "eve" "example.net")"#)
    );
    // An explicit text/plain without charset keeps its parameter list NIL (Cyrus).
    // Part 2 is 496 octets and 23 lines by RFC 2046, but Cyrus 3.6 keeps the CRLF
    // between "--inner--" and "--outer--" in it: 498 and 24, which we match.
    let bs1 = format!(
        r#"(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 0 NIL NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 498 {env2} {bs2} 24 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)"#
    );
    let m = check("rfc822-nested.eml", &env1, &bs1);
    let body3 = r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 24 1)"#;
    let body = format!(
        r#"(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 0)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 498 {env2} (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 0)("MESSAGE" "RFC822" NIL NIL "original" "7BIT" 135 {env3} {body3} 6) "MIXED") 24) "MIXED")"#
    );
    same(m.body(), &body);
}

#[test]
fn smime_multipart_signed() {
    let env = format!(
        r#"("Fri, 04 Jul 2003 10:00:00 +0000" "Signed message" {} (("Bob" NIL "bob" "example.com")) NIL NIL NIL "<signed-1@example.org>")"#,
        thrice(r#"("Alice" NIL "alice" "example.org")"#)
    );
    check(
        "smime-signed.eml",
        &env,
        r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 12 0 NIL NIL NIL NIL)("APPLICATION" "PKCS7-SIGNATURE" ("NAME" "smime.p7s") NIL NIL "BASE64" 104 NIL ("ATTACHMENT" ("FILENAME" "smime.p7s")) NIL NIL) "SIGNED" ("PROTOCOL" "application/pkcs7-signature" "MICALG" "sha-256" "BOUNDARY" "----SIG") NIL NIL NIL)"#,
    );
}

#[test]
fn eight_bit_headers_are_literals() {
    let env = format!(
        "(\"Sat, 05 Jul 2003 10:00:00 +0200\" {{17}}\r\nGrüße aus Köln {} (({{6}}\r\nAndré NIL \"andre\" \"example.fr\")) NIL NIL NIL \"<8bit@example.de>\")",
        thrice("({13}\r\nJörg Müller NIL \"joerg\" \"example.de\")")
    );
    let m = check("8bit.eml", &env, r#"("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 18 1 NIL NIL NIL NIL)"#);
    assert_eq!(m.fields().subject.as_deref(), Some("Grüße aus Köln"));
    assert_eq!(m.fields().from.as_deref(), Some("Jörg Müller <joerg@example.de>"));
}

#[test]
fn groups_route_sender_reply_to() {
    let env = r#"("Sun, 06 Jul 2003 10:00:00 -0700" "Groups" (("Team Lead" NIL "lead" "example.com")) ((NIL NIL "secretary" "example.com")) ((NIL NIL "list" "example.com")) ((NIL NIL "Project Team" NIL)(NIL NIL "ann" "example.com")("Ben B." NIL "ben" "example.com")(NIL NIL NIL NIL)(NIL NIL "outsider" "example.org")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ((NIL "@relay.example.net" "hidden" "example.com")) "<a@example.com> <b@example.com>" "<groups@example.com>")"#;
    check("groups.eml", env, r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)"#);
}

#[test]
fn rfc2047_raw_in_envelope_decoded_for_search() {
    let subject = "=?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?5pel5pys6Kqe?= =?KOI8-R?B?8NLJ18XU?= =?Shift_JIS?B?grGC8YLJgr+CzQ==?= and =?ISO-2022-JP?B?GyRCJEskWyRzGyhC?=";
    let env = format!(
        r#"("Mon, 07 Jul 2003 10:00:00 +0900" "{subject}" {} (("=?iso-8859-1?q?J=F6rg?=" NIL "joerg" "example.de")("=?x-unknown?q?who?=" NIL "who" "example.com")) NIL NIL NIL "<2047@example.jp>")"#,
        thrice(r#"("=?UTF-8?Q?Andr=C3=A9?=" NIL "andre" "example.fr")"#)
    );
    let m = check("rfc2047.eml", &env, r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)"#);
    let f = m.fields();
    assert_eq!(f.subject.as_deref(), Some("Café日本語Приветこんにちは and にほん"));
    assert_eq!(f.from.as_deref(), Some("André <andre@example.fr>"));
    assert_eq!(f.to.as_deref(), Some("Jörg <joerg@example.de>, =?x-unknown?q?who?= <who@example.com>"));
}

#[test]
fn digest_parts_default_to_message_rfc822() {
    let inner_env = format!(r#"(NIL "one" {} NIL NIL NIL NIL NIL)"#, thrice(r#"(NIL NIL "a" "example.com")"#));
    let part1 = format!(
        r#"("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 43 {inner_env} ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 6 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)"#
    );
    let bs = format!(
        r#"({part1}("TEXT" "PLAIN" NIL NIL NIL "7BIT" 14 0 NIL NIL NIL NIL) "DIGEST" ("BOUNDARY" "d") NIL NIL NIL)"#
    );
    let env = format!(r#"(NIL "Digest 1" {} ((NIL NIL "list" "example.com")) NIL NIL NIL NIL)"#, thrice(r#"(NIL NIL "list-admin" "example.com")"#));
    check("digest.eml", &env, &bs);
}

#[test]
fn missing_final_boundary_ends_last_part_at_end() {
    let env = format!(r#"(NIL "truncated" {} NIL NIL NIL NIL NIL)"#, thrice(r#"(NIL NIL "a" "example.com")"#));
    check(
        "missing-final-boundary.eml",
        &env,
        r#"(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 0 NIL NIL NIL NIL)("TEXT" "PLAIN" NIL NIL NIL "7BIT" 38 1 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "b1") NIL NIL NIL)"#,
    );
}

#[test]
fn no_blank_line_after_header() {
    // A line that is no field does not end the header; only an empty line does.
    let env = format!(r#"(NIL "no separator" {} NIL NIL NIL NIL NIL)"#, thrice(r#"(NIL NIL "a" "example.com")"#));
    let m = check("no-blank-line.eml", &env, r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)"#);
    assert_eq!(m.header_size(), 85);
}

#[test]
fn boundary_that_never_appears_gives_one_empty_part() {
    let env = format!(r#"(NIL "wrong boundary" {} NIL NIL NIL NIL NIL)"#, thrice(r#"(NIL NIL "a" "example.com")"#));
    let raw = corpus("boundary-never.eml");
    let m = check(
        "boundary-never.eml",
        &env,
        r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "nothere") NIL NIL NIL)"#,
    );
    // The part lies at the end of the message; the text is the multipart's preamble.
    assert_eq!(m.section(&[1], message::SectionKind::Mime), Some(raw.len()..raw.len()));
    assert_eq!(m.section(&[1], message::SectionKind::Body), Some(raw.len()..raw.len()));
    assert!(m.section(&[], message::SectionKind::Text).is_some_and(|r| raw[r].starts_with(b"--elsewhere")));
}

#[test]
fn bare_lf_line_ends() {
    let env = format!(r#"(NIL "bare LF" {} NIL NIL NIL NIL NIL)"#, thrice(r#"(NIL NIL "a" "example.com")"#));
    check(
        "bare-lf.eml",
        &env,
        r#"(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)("TEXT" "HTML" NIL NIL NIL "7BIT" 12 0 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "x") NIL NIL NIL)"#,
    );
}

#[test]
fn nul_octets_go_out_as_spaces() {
    let env = format!("(NIL {{8}}\r\nnul here {} NIL NIL NIL NIL NIL)", thrice(r#"(NIL NIL "a" "example.com")"#));
    check("nul.eml", &env, r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 16 1 NIL NIL NIL NIL)"#);
}
