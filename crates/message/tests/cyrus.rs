//! Cases where RFC 3501 leaves room, with the ENVELOPE and BODYSTRUCTURE that
//! Cyrus IMAPd 3.6.1 (Debian 12) sent for the same stored message: address
//! oddities, parameter case, RFC 2231 joins, empty and folded fields, junk fields,
//! boundary padding. Our output must be byte-identical.

mod common;

use common::{corpus, same};

fn check(name: &str, envelope: &str, bodystructure: &str) {
    let m = message::parse(&corpus(name));
    same(m.envelope(), envelope);
    same(m.bodystructure(), bodystructure);
}

#[test]
fn address_oddities() {
    check(
        "addresses.eml",
        concat!(
            r#"("1 Jan 2020" "second subject wins?" ((NIL NIL "fred" "unspecified-domain")) ((NIL NIL "fred" "unspecified-domain")) "#,
            r#"((NIL NIL "A Group" NIL)("Chris Jones" NIL "c" "public.example")(NIL NIL "joe" "example.org")("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL)) "#,
            "((NIL NIL \"\" \"unspecified-domain\")({14}\r\nJoe \"Q\" Public NIL \"jqp\" \"example.com\")(NIL NIL \"jdoe\" \"example.org\")({16}\r\nGiant; \"Big\" Box NIL \"sysservices\" \"example.net\")) ",
            "(({9}\r\n100% Real NIL \"real\" \"example.com\")(\"Pete\" NIL \"pete\" \"silly.test\")) ",
            r#"((NIL NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL)("Comment" NIL "a" "b.c")) "<x@y>" "  <folded@example.com>")"#,
        ),
        r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 6 1 NIL NIL NIL NIL)"#,
    );
}

#[test]
fn parameters_and_extension_fields() {
    check(
        "params.eml",
        r#"(NIL "params" NIL NIL NIL NIL NIL NIL NIL NIL)"#,
        "(\"TEXT\" \"PLAIN\" (\"FORMAT\" \"flowed\" \"DELSP\" \"yes\") \"<id@x>  \" {22}\r\nA \"quoted\" description \"X-UUENCODE\" 6 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"INLINE\" NIL) (\"EN\") \"foo.txt\")",
    );
}

#[test]
fn multipart_inside_multipart() {
    check(
        "nested-alternative.eml",
        r#"(NIL "nested" NIL NIL NIL NIL NIL NIL NIL NIL)"#,
        r#"((("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 0 NIL NIL NIL NIL)("TEXT" "HTML" NIL NIL NIL "7BIT" 11 0 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "alt") NIL NIL NIL)("IMAGE" "PNG" NIL NIL NIL "BASE64" 12 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "out") NIL NIL NIL)"#,
    );
    // The CRLF after "--alt--" stays in part 1, as Cyrus serves BODY[1].
    let raw = corpus("nested-alternative.eml");
    let m = message::parse(&raw);
    let one = m.section(&[1], message::SectionKind::Body).map(|r| &raw[r]);
    assert!(one.is_some_and(|b| b.starts_with(b"--alt\r\n") && b.ends_with(b"--alt--\r\n")));
}

#[test]
fn rfc2231_simple_and_extended_sections() {
    check(
        "rfc2231-mixed.eml",
        r#"(NIL "2231" NIL NIL NIL NIL NIL NIL NIL NIL)"#,
        "(\"APPLICATION\" \"OCTET-STREAM\" (\"TITLE*\" {20}\r\n''simple%20%E2%82%AC \"NAME*\" {20}\r\nutf-8''%E2%82%AC.txt) NIL NIL \"7BIT\" 3 NIL (\"ATTACHMENT\" (\"FILENAME*\" {16}\r\nutf-8''a%20b%20c)) NIL NIL)",
    );
}

#[test]
fn empty_and_padded_fields() {
    check(
        "empty-fields.eml",
        r#"("Mon, 1 Jan 2001 00:00:00 +0000  " "" ((NIL NIL "a" "b.c")) ((NIL NIL "a" "b.c")) ((NIL NIL "a" "b.c")) NIL NIL NIL NIL "<m@x>")"#,
        r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 3 1 NIL NIL NIL NIL)"#,
    );
}

#[test]
fn junk_content_fields_are_ignored() {
    check(
        "bad-fields.eml",
        r#"(NIL "bad cte" NIL NIL NIL NIL NIL NIL NIL NIL)"#,
        r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 3 1 NIL NIL NIL NIL)"#,
    );
}

#[test]
fn boundary_padding_and_longer_boundaries() {
    check(
        "boundary-padding.eml",
        r#"(NIL "padding and prefix boundary" NIL NIL NIL NIL NIL NIL NIL NIL)"#,
        r#"(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 21 2 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "ab") NIL NIL NIL)"#,
    );
}

/// A part whose first line is no field: that line is read as its MIME header, up
/// to the empty line or the next delimiter, and the part is empty.
#[test]
fn headerless_part_reads_as_header() {
    let raw = corpus("headerless-part.eml");
    let m = message::parse(&raw);
    same(
        m.bodystructure(),
        r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 0 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL)"#,
    );
    let get = |n, kind| m.section(&[n], kind).map(|r| &raw[r]);
    assert_eq!(get(1, message::SectionKind::Mime), Some(&b"no headers here"[..]));
    assert_eq!(get(1, message::SectionKind::Body), Some(&b""[..]));
    assert_eq!(get(2, message::SectionKind::Mime), Some(&b"Content-Type: text/plain"[..]));
    assert_eq!(get(3, message::SectionKind::Mime), Some(&b"\r\n"[..]));
    assert_eq!(get(3, message::SectionKind::Body), Some(&b"blank first"[..]));
}
