//! FETCH BODY[section] ranges, checked by slicing the stored message, and the
//! decoded search text of the TEXT/* parts.

mod common;

use common::corpus;
use message::SectionKind::{self, Body, Header, Mime, Text};

fn slice<'a>(raw: &'a [u8], m: &message::Message, part: &[u32], kind: SectionKind) -> Option<&'a [u8]> {
    m.section(part, kind).map(|r| &raw[r])
}

#[track_caller]
fn is(raw: &[u8], m: &message::Message, part: &[u32], kind: SectionKind, want: &str) {
    let got = slice(raw, m, part, kind).map(String::from_utf8_lossy);
    assert_eq!(got.as_deref(), Some(want), "section {part:?} {kind:?}");
}

#[test]
fn single_part_message() {
    let raw = corpus("plain.eml");
    let m = message::parse(&raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |i| i + 4);
    assert_eq!(m.section(&[], Body), Some(0..raw.len()));
    assert_eq!(m.section(&[], Header), Some(0..split));
    assert_eq!(m.section(&[], Text), Some(split..raw.len()));
    assert_eq!(m.header_size(), split);
    assert_eq!(m.size(), raw.len());
    // Part 1 of a non-multipart message is its body; its MIME header is the header.
    assert_eq!(m.section(&[1], Body), Some(split..raw.len()));
    assert_eq!(m.section(&[1], Mime), Some(0..split));
    for (part, kind) in [(&[][..], Mime), (&[2][..], Body), (&[0][..], Body), (&[1, 1][..], Body), (&[1][..], Header), (&[1][..], Text)] {
        assert_eq!(m.section(part, kind), None, "{part:?} {kind:?}");
    }
}

#[test]
fn multipart_parts_and_mime_headers() {
    let raw = corpus("alternative.eml");
    let m = message::parse(&raw);
    is(&raw, &m, &[1], Body, "Yes, see you at the caf=C3=A9.");
    is(&raw, &m, &[1], Mime, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
    is(&raw, &m, &[2], Body, "<p>Yes, see you at the caf=C3=A9.</p>");
    let text = slice(&raw, &m, &[], Text).map(|t| t.starts_with(b"This is a multi-part") && t.ends_with(b"--\r\n"));
    assert_eq!(text, Some(true));
    assert_eq!(m.section(&[3], Body), None);
    assert_eq!(m.section(&[1, 1], Body), None);
    assert_eq!(m.section(&[2], Header), None);
}

#[test]
fn message_rfc822_numbering_descends() {
    let raw = corpus("rfc822-nested.eml");
    let m = message::parse(&raw);
    is(&raw, &m, &[1], Body, "See below.");
    is(&raw, &m, &[2], Mime, "Content-Type: message/rfc822\r\n\r\n");
    let two = slice(&raw, &m, &[2], Body).unwrap_or_default();
    assert!(two.starts_with(b"From: Dan <dan@example.org>\r\n") && two.ends_with(b"How are you?\r\n--inner--\r\n"));
    let header2 = slice(&raw, &m, &[2], Header).unwrap_or_default();
    assert!(header2.starts_with(b"From: Dan") && header2.ends_with(b"boundary=inner\r\n\r\n"));
    let text2 = slice(&raw, &m, &[2], Text).unwrap_or_default();
    assert!(text2.starts_with(b"--inner\r\n") && text2.ends_with(b"--inner--\r\n"));
    is(&raw, &m, &[2, 1], Body, "Forwarding.");
    is(&raw, &m, &[2, 2], Mime, "Content-Type: message/rfc822\r\nContent-Description: original\r\n\r\n");
    is(
        &raw,
        &m,
        &[2, 2],
        Header,
        "From: Alice <alice@example.org>\r\nTo: dan@example.org\r\nSubject: hello\r\nDate: Tue, 01 Jul 2003 07:00:00 +0000\r\n\r\n",
    );
    is(&raw, &m, &[2, 2], Text, "Hello Dan.\r\nHow are you?");
    // The enclosed message is not multipart: its part 1 is its body, MIME its header.
    is(&raw, &m, &[2, 2, 1], Body, "Hello Dan.\r\nHow are you?");
    assert_eq!(m.section(&[2, 2, 1], Mime), m.section(&[2, 2], Header));
    for part in [&[2, 3][..], &[2, 2, 2], &[2, 2, 1, 1], &[3], &[1, 1]] {
        assert_eq!(m.section(part, Body), None, "{part:?}");
    }
    assert_eq!(m.section(&[1], Header), None);
    assert_eq!(m.section(&[2, 1], Text), None);
}

#[test]
fn digest_part_without_mime_header() {
    let raw = corpus("digest.eml");
    let m = message::parse(&raw);
    is(&raw, &m, &[1], Mime, "\r\n");
    is(&raw, &m, &[1], Header, "From: a@example.com\r\nSubject: one\r\n\r\n");
    is(&raw, &m, &[1, 1], Body, "First.");
    is(&raw, &m, &[2], Body, "Not a message.");
}

#[test]
fn broken_messages_have_sane_sections() {
    // No empty line: the whole message is header (Cyrus), the body empty.
    let raw = corpus("no-blank-line.eml");
    let m = message::parse(&raw);
    is(&raw, &m, &[], Header, "From: a@example.com\r\nSubject: no separator\r\nThis line is the body.\r\nAnd so is this.\r\n");
    is(&raw, &m, &[1], Body, "");
    let raw = corpus("missing-final-boundary.eml");
    let m = message::parse(&raw);
    is(&raw, &m, &[2], Body, "second, and the message was cut here\r\n");
    let raw = corpus("bare-lf.eml");
    let m = message::parse(&raw);
    is(&raw, &m, &[1], Body, "one\ntwo");
    is(&raw, &m, &[2], Mime, "Content-Type: text/html\n\n");
}

fn texts(name: &str) -> Vec<String> {
    let raw = corpus(name);
    message::parse(&raw).text_parts(&raw).map(|t| t.into_owned()).collect()
}

#[test]
fn search_text_is_decoded() {
    assert_eq!(texts("alternative.eml"), ["Yes, see you at the café.", "<p>Yes, see you at the café.</p>"]);
    assert_eq!(texts("mixed-attachment.eml"), ["Voilà le rapport.", "notes\r\nline two"]);
    assert_eq!(texts("rfc822-nested.eml"), ["See below.", "Forwarding.", "Hello Dan.\r\nHow are you?"]);
    assert_eq!(texts("8bit.eml"), ["Schöne Grüße!\r\n"]);
    assert_eq!(texts("smime-signed.eml"), ["Signed text."]);
    let raw = b"Content-Type: text/plain; charset=iso-8859-2\r\nContent-Transfer-Encoding: base64\r\n\r\nWmG/87PmIGfqtmyx\r\nIGphvPE=\r\n";
    let m = message::parse(raw);
    assert_eq!(m.search_text(raw), "Zażółć gęślą jaźń");
}

#[test]
fn search_text_borrows_when_nothing_to_decode() {
    let raw = corpus("plain.eml");
    let m = message::parse(&raw);
    let parts: Vec<_> = m.text_parts(&raw).collect();
    assert!(matches!(parts.as_slice(), [std::borrow::Cow::Borrowed(_)]));
    // A shorter file than the one parsed (a caller's mistake) gives no text, no panic.
    assert_eq!(m.text_parts(&raw[..10]).count(), 0);
}
