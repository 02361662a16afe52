"""IMAP4rev2 (RFC 9051), UTF8=ACCEPT (RFC 6855), SEARCHRES (RFC 5182) and REPLACE
(RFC 8508). Debian's Cyrus 3.6 offers none of them, so each test runs against the
servers that advertise its capability (the `srv` fixture of test_imapd.py) and is
skipped, saying so, for the others.

Run:  cd tests && python3 -m pytest -q test_imap_rev2.py
"""

import re

import pytest

from test_imapd import deliver, message, ok, raw, srv, status, untagged  # noqa: F401 (srv is a fixture)


def needs(im, srv, cap):
    if cap not in im.cmd(b"CAPABILITY")[0].split():
        pytest.skip(f"{srv.name} does not offer {cap.decode()}")


def lit(data):
    return b"{%d+}\r\n" % len(data) + data


def test_searchres(srv):
    deliver(srv, "fred", [message(f"s{i}", f"body {i}\r\n") for i in range(1, 7)])
    im = raw(srv)
    needs(im, srv, b"SEARCHRES")
    assert ok(im.cmd(b"SELECT INBOX"))
    # SAVE alone: no ESEARCH, the result kept as $.
    r = im.cmd(b"SEARCH RETURN (SAVE) OR SUBJECT s2 SUBJECT s5")
    assert ok(r) and not untagged(r, b"ESEARCH") and not untagged(r, b"SEARCH"), r
    r = im.cmd(b"FETCH $ (UID)")
    assert [int(x) for x in re.findall(rb"\* (\d+) FETCH", r[0])] == [2, 5], r
    assert ok(im.cmd(b"STORE $ +FLAGS (\\Flagged)"))
    r = im.cmd(b"SEARCH FLAGGED")
    assert b"* SEARCH 2 5\r\n" in r[0], r
    r = im.cmd(b"UID SEARCH NOT $")
    assert b"* SEARCH 1 3 4 6\r\n" in r[0], r
    # SAVE with MIN keeps only the first; $ follows expunges.
    r = im.cmd(b"SEARCH RETURN (SAVE MIN) ALL")
    assert b"MIN 1" in r[0], r
    r = im.cmd(b"FETCH $ (UID)")
    assert len(untagged(r, b"FETCH")) == 1, r
    assert ok(im.cmd(b"SEARCH RETURN (SAVE) UID 3:4"))
    assert ok(im.cmd(b"STORE 3 +FLAGS.SILENT (\\Deleted)"))
    assert ok(im.cmd(b"EXPUNGE"))
    r = im.cmd(b"UID FETCH $ (UID)")
    assert re.findall(rb"UID (\d+)", r[0]) == [b"4"], r
    assert ok(im.cmd(b"UID EXPUNGE $")) or True


def test_replace(srv):
    im = raw(srv)
    needs(im, srv, b"REPLACE")
    assert ok(im.cmd(b"CREATE Drafts")) or ok(im.cmd(b"CREATE INBOX/Drafts"))
    assert ok(im.cmd(b"APPEND INBOX (\\Draft) " + lit(b"Subject: draft 1\r\n\r\nfirst\r\n")))
    assert ok(im.cmd(b"SELECT INBOX"))
    r = im.cmd(b"REPLACE 1 INBOX (\\Draft \\Seen) " + lit(b"Subject: draft 2\r\n\r\nsecond\r\n"))
    assert ok(r), r
    assert re.search(rb"\* OK \[APPENDUID \d+ 2\]", r[0]) and b"* 1 EXPUNGE" in r[0] and b"EXISTS" in r[0], r
    r = im.cmd(b"UID FETCH 1:* (UID FLAGS BODY.PEEK[TEXT])")
    assert b"UID 2" in r[0] and b"UID 1 " not in r[0] and b"second" in r[0], r
    # Into another mailbox; a failing append leaves the old message alone.
    r = im.cmd(b"UID REPLACE 2 INBOX/nowhere " + lit(b"Subject: x\r\n\r\nx\r\n"))
    assert status(r) == "NO" and b"TRYCREATE" in r[1], r
    r = im.cmd(b"UID REPLACE 99 INBOX " + lit(b"Subject: x\r\n\r\nx\r\n"))
    assert status(r) == "NO", r
    r = im.cmd(b"REPLACE 1:2 INBOX " + lit(b"Subject: x\r\n\r\nx\r\n"))
    assert status(r) in ("NO", "BAD"), r
    r = im.cmd(b"STATUS INBOX (MESSAGES)")
    assert b"MESSAGES 1" in r[0], r


def test_utf8_accept_names_and_append(srv):
    im = raw(srv)
    needs(im, srv, b"UTF8=ACCEPT")
    name = "Entwürfe & 日本".encode()
    other = raw(srv)
    assert ok(other.cmd(b'CREATE "INBOX/Entw&APw-rfe &- &ZeVnLA-"'))  # the same name in modified UTF-7
    r = im.cmd(b"ENABLE UTF8=ACCEPT")
    assert b"* ENABLED UTF8=ACCEPT" in r[0], r
    r = im.cmd(b'LIST "" "INBOX/*"')
    assert "INBOX/Entwürfe & 日本".encode() in r[0], r
    r = im.cmd(b'SELECT "INBOX/' + name + b'"')
    assert ok(r), r
    r = im.cmd(b'APPEND "INBOX/' + name + b'" UTF8 (~' + lit("Subject: Grüße\r\n\r\nhallo\r\n".encode()) + b")")
    assert ok(r), r
    r = other.cmd(b'STATUS "INBOX/Entw&APw-rfe &- &ZeVnLA-" (MESSAGES)')
    assert b"MESSAGES 1" in r[0], r
    r = im.cmd(b'CREATE "INBOX/' + "Ordner ñ".encode() + b'"')
    assert ok(r), r
    r = other.cmd(b'LIST "" "INBOX/Ordner*"')
    assert b"INBOX/Ordner &APE-" in r[0], r


def test_imap4rev2_behaviour(srv):
    deliver(srv, "fred", [message(f"r{i}") for i in range(1, 4)])
    im = raw(srv)
    needs(im, srv, b"IMAP4rev2")
    assert b"IMAP4rev1" in im.cmd(b"CAPABILITY")[0]  # both, side by side
    r = im.cmd(b"ENABLE IMAP4rev2")
    assert b"* ENABLED IMAP4rev2" in r[0], r
    r = im.cmd(b"SELECT INBOX")
    assert ok(r) and b"RECENT" not in r[0] and b"[UNSEEN" not in r[0] and b'* LIST () "/" INBOX' in r[0], r
    r = im.cmd(b"FETCH 1:* (FLAGS)")
    assert b"\\Recent" not in r[0], r
    r = im.cmd(b"SEARCH ALL")
    assert re.search(rb'\* ESEARCH \(TAG "T\d+"\) ALL 1:3\r\n', r[0]) and not untagged(r, b"SEARCH"), r
    r = im.cmd(b"UID SEARCH SUBJECT nothing-like-this")
    assert re.search(rb'\* ESEARCH \(TAG "T\d+"\) UID\r\n', r[0]), r
    assert ok(im.cmd(b"STORE 2 +FLAGS.SILENT (\\Deleted)"))
    r = im.cmd(b"STATUS INBOX (DELETED MESSAGES)")
    assert b"DELETED 1" in r[0], r
    deliver(srv, "fred", [message("r4")])
    r = im.cmd(b"NOOP")
    assert b"* 4 EXISTS" in r[0] and b"RECENT" not in r[0], r
    r = im.cmd(b"SELECT INBOX")
    assert b"[CLOSED]" in r[0], r
