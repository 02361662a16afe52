//! Where broken MIME splits, rule by rule, with the BODYSTRUCTURE and sections that
//! Cyrus IMAPd 3.6.1 (Debian 12) served for the same stored messages (fetched over
//! IMAP by tests/test_mime_parity.py, which keeps comparing them). Byte-identical.

mod common;

use common::corpus;
use message::SectionKind::{self, Body, Header, Mime, Text};

fn parsed(name: &str) -> (Vec<u8>, message::Message) {
    let raw = corpus(name);
    let m = message::parse(&raw);
    (raw, m)
}

fn section<'r>(raw: &'r [u8], m: &message::Message, part: &[u32], kind: SectionKind) -> &'r [u8] {
    m.section(part, kind).map_or(&b"(none)"[..], |r| &raw[r])
}

#[track_caller]
fn bytes(got: &[u8], want: &[u8]) {
    assert!(got == want, "\n got: {}\nwant: {}", String::from_utf8_lossy(got), String::from_utf8_lossy(want));
}

/// RFC 2231 boundaries: `boundary*=utf-8''outer%2Db` splits at `--outer-b`,
/// `boundary*0`/`*1` join to `inner`, extended sections decode to `x yz`; an unknown
/// (empty) charset leaves the value as written, and parameters other than the boundary
/// stay in their `NAME*` form.
#[test]
fn rfc2231_boundaries() {
    let (raw, m) = parsed("rfc2231-boundary.eml");
    bytes(m.bodystructure(), b"(((\"TEXT\" \"PLAIN\" (\"CHARSET*\" \"iso-8859-1'fr'\") NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"NAME*\" {38}\r\nutf-8''%E2%82%AC%20euro.html%20%282%29) NIL NIL \"7BIT\" 11 0 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)((\"APPLICATION\" \"OCTET-STREAM\" (\"NAME*\" {18}\r\n''no%20charset.bin) NIL NIL \"7BIT\" 4 NIL (\"ATTACHMENT\" (\"FILENAME*\" {22}\r\niso-8859-1''caf%E9.txt \"FILENAME*1\" \"more\")) NIL NIL) \"RELATED\" (\"BOUNDARY*\" {18}\r\nus-ascii'en'x%20yz \"TYPE\" \"text/plain\") NIL NIL NIL)((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 53 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY*\" {13}\r\n''raw%2Dvalue) NIL NIL NIL) \"MIXED\" (\"BOUNDARY*\" {16}\r\nutf-8''outer%2Db) NIL NIL NIL)");
    bytes(section(&raw, &m, &[1, 1], Body), b"plain");
    bytes(section(&raw, &m, &[2], Body), b"--x yz\r\nContent-Type: application/octet-stream; name*=''no%20charset.bin\r\nContent-Disposition: attachment; filename*=iso-8859-1''caf%E9.txt; filename*1=more\r\n\r\ndata\r\n--x yz--\r\n");
    bytes(section(&raw, &m, &[3, 1], Body), b"unknown charset: the value as written is the boundary");
}

/// Unquoted values keep spaces and tspecials (`----=_NextPart_000_0012/a?b` is a
/// boundary), trailing blanks are dropped, an empty attribute is kept, an unclosed quote
/// ends the list.
#[test]
fn lenient_params() {
    let (raw, m) = parsed("lenient-params.eml");
    bytes(m.bodystructure(), b"((\"TEXT\" \"PLAIN\" (\"NAME\" \"two words.txt\" \"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 3 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"FORMAT\" \"flowed junk\" \"DELSP\" \"yes\" \"\" \"empty\" \"A\" \"=b\") NIL NIL \"7BIT\" 3 0 NIL NIL NIL NIL)(\"APPLICATION\" \"PDF\" (\"NAME\" {17}\r\nquoted\"escape.pdf \"X-A\" \"b@c:d\") NIL NIL \"7BIT\" 5 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\" \"FORMAT\" \"fixed\") NIL NIL \"7BIT\" 4 0 NIL (\"ATTACHMENT\" (\"FILENAME\" {10}\r\nr\xe9sum\xe9.txt)) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"----=_NextPart_000_0012/a?b\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[1], Body), b"one");
    bytes(section(&raw, &m, &[4], Body), b"four");
}

/// A valueless attribute right before `;` is skipped alone; `a=;` takes the next
/// parameter with it; a trailing `last=` is dropped; junk after a quoted value drops that
/// parameter; DEL is allowed and 8-bit spoils an attribute; empty type or subtype are
/// kept; a fold inside an unquoted value stays in it.
#[test]
fn param_edges() {
    let (raw, m) = parsed("param-edges.eml");
    bytes(m.bodystructure(), b"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"x\" \"FORMAT\" \"flowed\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"z\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"A\" \"b c\" \"D\" \"e\" \"H\" \"i\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"NAME\" \"x\x7fy\" \"N\x7fM\" \"1\" \"OK\" \"3\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"\" \"PLAIN\" (\"A\" \"1\") NIL NIL \"7BIT\" 1 NIL NIL NIL NIL)(\"TEXT\" \"\" (\"A\" \"1\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"A\" \"1\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"A\" {2}\r\nq\\) NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"A\" \"1\" \"B\" {8}\r\n2 3\r\n  4 \"C\" \"x y\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"p\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[10], Mime), b"Content-Type: text/plain; a=1;\r\n b=2 3\r\n  4; c=\"x\r\n y\"\r\n\r\n");
}

/// A nested multipart that reuses its parent's boundary: the parent's delimiters win, so
/// its close ends both; the rest is the parent's epilogue.
#[test]
fn boundary_reuse() {
    let (raw, m) = parsed("boundary-reuse.eml");
    bytes(m.bodystructure(), b"(((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 11 0 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"same\") NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"same\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[1], Body), b"--same\r\nContent-Type: text/plain\r\n\r\nplain\r\n--same\r\nContent-Type: text/html\r\n\r\n<p>html</p>");
    bytes(section(&raw, &m, &[1, 2], Body), b"<p>html</p>");
}

/// An enclosing delimiter inside an inner multipart starts another inner part; an
/// enclosing close ends the inner multiparts too.
#[test]
fn outer_delimiter_inside() {
    let (raw, m) = parsed("outer-delimiter-inside.eml");
    bytes(m.bodystructure(), b"(((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 9 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 28 0 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 114 (NIL \"enclosed\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 9 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"deep\") NIL NIL NIL) 6 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[1, 2], Body), b"taken by the inner multipart");
    bytes(section(&raw, &m, &[2], Body), b"Subject: enclosed\r\nContent-Type: multipart/mixed; boundary=\"deep\"\r\n\r\n--deep\r\nContent-Type: text/plain\r\n\r\ndeep text");
    bytes(section(&raw, &m, &[2], Text), b"--deep\r\nContent-Type: text/plain\r\n\r\ndeep text");
}

/// A delimiter inside a part header ends it without the line break before it: the part is
/// empty (a message/rfc822 an empty default part, a multipart zero parts).
#[test]
fn header_cut() {
    let (raw, m) = parsed("header-cut.eml");
    bytes(m.bodystructure(), b"((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 27 1 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)(\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 12 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[1], Mime), b"Content-Type: message/rfc822");
    bytes(section(&raw, &m, &[1], Body), b"");
    bytes(section(&raw, &m, &[2], Mime), b"Content-Type: multipart/mixed; boundary=\"c\"\r\nX-Junk: yes");
    bytes(section(&raw, &m, &[3], Mime), b"Content-Type: text/plain\r\nno empty line");
    bytes(section(&raw, &m, &[4], Body), b"empty line then delimiter\r\n");
    bytes(section(&raw, &m, &[5], Mime), b"");
}

/// Zero-part multiparts (no boundary; never delimited inside a message) show as empty
/// TEXT/PLAIN parts; their bytes stay in the message/rfc822 part around them. An empty
/// boundary matches `--` alone.
#[test]
fn zero_part() {
    let (raw, m) = parsed("zero-part.eml");
    bytes(m.bodystructure(), b"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL \"forwarded\" \"7BIT\" 113 (NIL \"inner without boundary\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 14 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"\") NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"z\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[1], Body), b"");
    bytes(section(&raw, &m, &[2], Body), b"Subject: inner without boundary\r\nContent-Type: multipart/mixed; charset=x\r\n\r\ninner text\r\nthat is hidden from TEXT");
    bytes(section(&raw, &m, &[2], Text), b"");
    bytes(section(&raw, &m, &[3, 1], Body), b"empty boundary");
    bytes(section(&raw, &m, &[4], Body), b"");
}

/// Blanks and anything after them follow a delimiter; `--dX` and `--dd` are text; `--d--
/// junk` closes; after the close `--d` is epilogue.
#[test]
fn delimiter_forms() {
    let (raw, m) = parsed("delimiter-forms.eml");
    bytes(m.bodystructure(), b"((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 9 1 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 28 1 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"d\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[1], Body), b"one\r\n--dd");
    bytes(section(&raw, &m, &[2], Body), b"\r\ntwo, after two empty lines");
}

/// Digest parts default to message/rfc822, a multipart inside one to text/plain; a digest
/// part without the empty line takes the message header as its MIME header.
#[test]
fn digest_mixed() {
    let (raw, m) = parsed("digest-mixed.eml");
    bytes(m.bodystructure(), b"((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 21 (NIL \"first\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 3 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 13 0 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 3 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 39 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"m\") NIL NIL NIL) \"DIGEST\" (\"BOUNDARY\" \"dg\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[1], Body), b"Subject: first\r\n\r\none");
    bytes(section(&raw, &m, &[3], Body), b"two");
    bytes(section(&raw, &m, &[3], Mime), b"Subject: no empty line before the message header\r\nFrom: b@example.com\r\n\r\n");
    bytes(section(&raw, &m, &[3], Header), b"two");
    bytes(section(&raw, &m, &[4, 1], Body), b"default text in a mixed inside a digest");
}

/// A close delimiter without a line end at the very end: the line break after the inner
/// close stays in the message/rfc822 part, and the delimiter lines count.
#[test]
fn close_at_eof() {
    let (raw, m) = parsed("close-at-eof.eml");
    bytes(m.bodystructure(), b"((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 110 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"i\") NIL NIL NIL) 8 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"o\") NIL NIL NIL)");
    bytes(section(&raw, &m, &[2], Body), b"Subject: inner\r\nContent-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\ninner\r\n--i--\r\n");
}

/// A field name written with a blank before its colon is not that field (Cyrus
/// reads the name up to the colon); a repeated field replaces the earlier one.
#[test]
fn field_names() {
    let (_, m) = parsed("field-names.eml");
    bytes(m.bodystructure(), b"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 1 0 NIL NIL NIL NIL)(\"IMAGE\" \"GIF\" NIL \"<b>\" NIL \"7BIT\" 1 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 0 NIL NIL (\"FR\" \"DE\") NIL)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 0 NIL (\"ATTACHMENT\" (\"FILENAME*\" {15}\r\nutf-8''a%20b%41)) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"p\") NIL NIL NIL)");
}
