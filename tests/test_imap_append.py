"""BINARY (RFC 3516), MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469), run against the
suite and Debian's Cyrus 3.6 (test_imapd.py's `srv` fixture).

Run:  cd tests && python3 -m pytest -q test_imap_append.py
"""

import base64
import re

from test_imapd import ok, raw, srv, status, untagged  # noqa: F401 (srv is a fixture)

BLOB = bytes(range(256)) * 4  # every octet, NUL included
MSG = (
    b"From: a@example.com\r\nTo: fred@example.com\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(BLOB).replace(b"\n", b"\r\n")
    + b"--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=C3=A9 =\r\nsoft break\r\n"
    b"--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-weird\r\n\r\nabc\r\n"
    b"--B--\r\n"
)


def lit(data):
    return b"{%d+}\r\n" % len(data) + data


def literal_after(resp_text, label):
    """The literal (or literal8) data following `label` in a response."""
    i = resp_text.index(label) + len(label)
    m = re.match(rb" ~?\{(\d+)\}\r\n", resp_text[i:])
    assert m, resp_text[i:i + 40]
    start = i + m.end()
    return resp_text[start:start + int(m.group(1))], resp_text[i:i + 2] == b" ~"


def count(im):
    r = im.cmd(b"STATUS INBOX (MESSAGES)")
    return int(re.search(rb"MESSAGES (\d+)", r[0]).group(1))


def test_binary_fetch_and_literal8_append(srv):
    im = raw(srv)
    assert b"BINARY" in im.cmd(b"CAPABILITY")[0]
    r = im.cmd(b"APPEND INBOX ~" + lit(MSG))
    assert ok(r), r
    assert ok(im.cmd(b"SELECT INBOX"))
    r = im.cmd(b"FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.SIZE[2])")
    assert ok(r), r
    data, eight = literal_after(r[0], b"BINARY[1]")
    assert data == BLOB and eight, r  # a NUL inside: literal8
    assert re.search(rb"BINARY.SIZE\[1\] %d" % len(BLOB), r[0]), r
    # The CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1).
    assert re.search(rb"BINARY.SIZE\[2\] %d" % len("café soft break".encode()), r[0]), r
    r = im.cmd(b"FETCH 1 (BINARY.PEEK[2] BINARY.PEEK[1]<2.3>)")
    data, eight = literal_after(r[0], b"BINARY[2]")
    assert data == "café soft break".encode() and not eight, r
    data, _ = literal_after(r[0], b"BINARY[1]<2>")
    assert data == BLOB[2:5], r
    r = im.cmd(b"FETCH 1 (FLAGS)")
    assert b"\\Seen" not in r[0], r
    # BINARY[] is the whole message; without .PEEK it sets \Seen.
    r = im.cmd(b"FETCH 1 BINARY[]")
    data, _ = literal_after(r[0], b"BINARY[]")
    assert data == MSG and b"\\Seen" in r[0], r
    # An encoding the server does not know.
    r = im.cmd(b"FETCH 1 BINARY.PEEK[3]")
    # RFC 3516 4.3 wants [UNKNOWN-CTE]; Cyrus 3.6 answers a bare NO.
    assert status(r) == "NO" and (b"UNKNOWN-CTE" in r[1] or srv.name == "cyrus"), r
    for bad in [b"FETCH 1 BINARY[1.MIME]", b"FETCH 1 BINARY[HEADER]", b"FETCH 1 BINARY[0]", b"FETCH 1 BINARY.SIZE[1]<0.5>"]:
        r = im.cmd(bad)
        assert status(r) == "BAD", (bad, r)
    assert ok(im.cmd(b"NOOP"))


def test_multiappend_all_or_nothing(srv):
    im = raw(srv)
    a = b"Subject: one\r\n\r\nbody one\r\n"
    b = b"Subject: two\r\n\r\nbody two\r\n"
    r = im.cmd(b"APPEND INBOX (\\Seen) " + lit(a) + b' (\\Flagged $Work) "01-Jan-2024 10:00:00 +0000" ' + lit(b))
    assert ok(r), r
    m = re.search(rb"\[APPENDUID (\d+) (\d+):(\d+)\]", r[1])
    assert m and int(m.group(3)) == int(m.group(2)) + 1, r
    assert count(im) == 2
    assert ok(im.cmd(b"EXAMINE INBOX"))
    r = im.cmd(b"FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[])")
    first, second = r[0].split(b"* 2 FETCH")
    assert b"\\Seen" in first and b"\\Flagged" in second, r
    assert b"$Work" in r[0] and b"1-Jan-2024 10:00:00 +0000" in r[0] and b"body two" in r[0], r
    # The third message is bad: none of the three goes in.
    r = im.cmd(b"APPEND INBOX " + lit(a) + b" " + lit(b) + b" " + lit(b""))
    assert status(r) in ("NO", "BAD"), r
    assert count(im) == 2
    r = im.cmd(b"APPEND INBOX " + lit(a) + b" (\\Bogus" + b" " + lit(b))
    assert status(r) == "BAD", r
    assert count(im) == 2
    # Into a mailbox that does not exist: TRYCREATE, nothing anywhere.
    r = im.cmd(b"APPEND INBOX/nowhere " + lit(a) + b" " + lit(b))
    assert status(r) == "NO" and b"TRYCREATE" in r[1], r
    assert count(im) == 2


def test_catenate_urls_and_refusals(srv):
    im = raw(srv)
    r = im.cmd(b"APPEND INBOX " + lit(MSG))
    assert ok(r), r
    uv = int(re.search(rb"APPENDUID (\d+) ", r[1]).group(1))
    head = b"From: b@example.com\r\nSubject: built\r\n\r\n"
    r = im.cmd(b"APPEND INBOX CATENATE (TEXT " + lit(head) + b' URL "/INBOX;UIDVALIDITY=%d/;UID=1/;SECTION=2" TEXT ' % uv + lit(b"-- end\r\n") + b")")
    assert ok(r), r
    assert ok(im.cmd(b"EXAMINE INBOX"))
    r = im.cmd(b"FETCH 2 BODY.PEEK[]")
    part2 = MSG.split(b"quoted-printable\r\n\r\n")[1].split(b"\r\n--B")[0] + b"\r\n"
    data, _ = literal_after(r[0], b"BODY[]")
    assert data == head + part2[:-2] + b"-- end\r\n" or data == head + part2 + b"-- end\r\n", (data, part2)
    # A whole message by URL, and a partial one.
    r = im.cmd(b'APPEND INBOX CATENATE (URL "/INBOX/;UID=1")')
    assert ok(r), r
    n = count(im)
    # Refused: a message of another user, a bad UIDVALIDITY, a missing UID, a bad
    # URL; nothing is appended.
    barney = raw(srv, "barney")
    assert ok(barney.cmd(b"APPEND INBOX " + lit(b"Subject: secret\r\n\r\nsecret\r\n")))
    for url in [b"/user/barney/;UID=1", b"/INBOX;UIDVALIDITY=%d/;UID=1" % (uv + 1), b"/INBOX/;UID=99", b"/INBOX/;UID=x",
                b"/INBOX/;UID=1/;SECTION=9.9.HEADERX"]:
        r = im.cmd(b'APPEND INBOX CATENATE (TEXT ' + lit(b"x: y\r\n\r\n") + b' URL "' + url + b'")')
        # Cyrus 3.6 leaves [BADURL] off for a section it cannot parse; the suite
        # always gives it (RFC 4469 5).
        assert status(r) == "NO" and (b"BADURL" in r[1] or (srv.name == "cyrus" and b"SECTION=9" in url)), (url, r)
    assert count(im) == n
    r = im.cmd(b"APPEND INBOX CATENATE (FOO " + lit(b"x") + b")")
    assert status(r) == "BAD", r
    assert ok(im.cmd(b"NOOP"))
