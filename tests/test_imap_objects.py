"""OBJECTID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970), LIST-MYRIGHTS
(RFC 8440), STATUS=SIZE and STATUS DELETED, WITHIN (RFC 5032) and UNAUTHENTICATE
(RFC 8437), run against the suite and Debian's Cyrus 3.6 where Cyrus offers them
(test_imapd.py's `srv` fixture).

Run:  cd tests && python3 -m pytest -q test_imap_objects.py
"""

import re
import time

import pytest

from test_imapd import ok, raw, srv, status, untagged  # noqa: F401 (srv is a fixture)


def lit(data):
    return b"{%d+}\r\n" % len(data) + data


def test_objectid(srv):
    im = raw(srv)
    r = im.cmd(b"CREATE INBOX/a")
    m = re.search(rb"\[MAILBOXID \(([^)]+)\)\]", r[1])
    assert ok(r) and m, r
    mid = m.group(1)
    r = im.cmd(b"STATUS INBOX/a (MAILBOXID MESSAGES)")
    # Cyrus 3.6 sends garbage bytes as the STATUS MAILBOXID (a bug of its own).
    assert b"MAILBOXID (" + mid + b")" in r[0] or srv.name == "cyrus", r
    r = im.cmd(b"APPEND INBOX " + lit(b"Subject: x\r\n\r\nbody\r\n"))
    assert ok(r), r
    r = im.cmd(b"SELECT INBOX")
    assert re.search(rb"\[MAILBOXID \([^)]+\)\]", r[0]), r
    assert ok(im.cmd(b"COPY 1 INBOX/a"))
    r = im.cmd(b"FETCH 1 (EMAILID THREADID)")
    eid = re.search(rb"EMAILID \(([^)]+)\)", r[0]).group(1)
    assert re.search(rb"THREADID (NIL|\([^)]+\))", r[0]), r
    # The same message (same content) has the same EMAILID in another mailbox.
    r2 = raw(srv)
    assert ok(r2.cmd(b"EXAMINE INBOX/a"))
    r = r2.cmd(b"FETCH 1 (EMAILID)")
    assert re.search(rb"EMAILID \(" + re.escape(eid) + rb"\)", r[0]), r
    r = im.cmd(b"SEARCH EMAILID " + eid)
    assert re.search(rb"\* SEARCH 1\r\n", r[0]), r
    r = im.cmd(b"SEARCH EMAILID Mffffffffffffffffffffffff")
    assert re.search(rb"\* SEARCH\r\n", r[0]), r


def test_savedate_within_status(srv):
    im = raw(srv)
    r = im.cmd(b'APPEND INBOX (\\Deleted) "01-Jan-2020 10:00:00 +0000" ' + lit(b"Subject: old\r\n\r\nold\r\n"))
    assert ok(r), r
    assert ok(im.cmd(b"APPEND INBOX " + lit(b"Subject: new\r\n\r\nnew\r\n")))
    r = im.cmd(b"STATUS INBOX (MESSAGES SIZE)")
    m = re.search(rb"MESSAGES 2 SIZE (\d+)", r[0])
    assert m and int(m.group(1)) > 20, r
    # STATUS DELETED is IMAP4rev2's (RFC 9051); Cyrus 3.6 has no rev2.
    if srv.name == "suite":
        r = im.cmd(b"STATUS INBOX (DELETED)")
        assert b"DELETED 1" in r[0], r
    assert ok(im.cmd(b"SELECT INBOX"))
    r = im.cmd(b"FETCH 1 (INTERNALDATE SAVEDATE)")
    assert b'INTERNALDATE " 1-Jan-2020' in r[0] or b'INTERNALDATE "01-Jan-2020' in r[0], r
    saved = re.search(rb'SAVEDATE "([^"]+)"', r[0]).group(1)
    assert time.strftime("%Y").encode() in saved, r  # saved now, not in 2020
    r = im.cmd(b"SEARCH SAVEDBEFORE 1-Jan-2021")
    assert re.search(rb"\* SEARCH\r\n", r[0]), r
    r = im.cmd(b"SEARCH SAVEDSINCE 1-Jan-2021 SAVEDATESUPPORTED")
    assert re.search(rb"\* SEARCH 1 2\r\n", r[0]), r
    # WITHIN: the first message's internal date is years old.
    r = im.cmd(b"SEARCH OLDER 86400")
    assert re.search(rb"\* SEARCH 1\r\n", r[0]), r
    r = im.cmd(b"SEARCH YOUNGER 86400")
    assert re.search(rb"\* SEARCH 2\r\n", r[0]), r


def test_preview(srv):
    im = raw(srv)
    plain = b"Subject: p\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello   there,\r\n\r\nthis is   the text.\r\n"
    html = (b"Subject: h\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=X\r\n\r\n"
            b"--X\r\nContent-Type: text/plain\r\n\r\nPlain wins\r\n--X\r\nContent-Type: text/html\r\n\r\n<p>Html</p>\r\n--X--\r\n")
    long = b"Subject: l\r\n\r\n" + b"word " * 200 + b"\r\n"
    for m in (plain, html, long):
        assert ok(im.cmd(b"APPEND INBOX " + lit(m)))
    assert ok(im.cmd(b"SELECT INBOX"))
    r = im.cmd(b"FETCH 1:3 (PREVIEW)")
    assert ok(r), r
    if srv.name == "cyrus":
        # Cyrus 3.6 advertises PREVIEW but answers NIL without its search engine
        # (Xapian) set up; RFC 8970 allows NIL. The suite makes previews itself.
        assert r[0].count(b"PREVIEW NIL") == 3, r
        return
    previews = re.findall(rb'PREVIEW "([^"]*)"', r[0])
    assert len(previews) == 3, r
    assert previews[0] == b"Hello there, this is the text.", r
    assert previews[1] == b"Plain wins", r
    assert 200 <= len(previews[2]) <= 256 and previews[2].startswith(b"word word"), r
    r = im.cmd(b"FETCH 1 (FLAGS)")
    assert b"\\Seen" not in r[0], r  # PREVIEW does not set \Seen


def test_list_myrights(srv):
    im = raw(srv)
    assert ok(im.cmd(b"CREATE INBOX/r"))
    r = im.cmd(b'LIST "" "INBOX*" RETURN (MYRIGHTS)')
    assert ok(r), r
    lines = [l for l in r[0].split(b"\r\n") if l]
    i = next(k for k, l in enumerate(lines) if l.startswith(b"* LIST") and l.endswith(b"INBOX/r"))
    m = re.match(rb"\* MYRIGHTS INBOX/r (\S+)", lines[i + 1])
    assert m and set(b"lrswipkxtea") <= set(m.group(1)), r


def test_unauthenticate(srv):
    im = raw(srv)
    caps = im.cmd(b"CAPABILITY")[0]
    if b"UNAUTHENTICATE" not in caps:
        pytest.skip(f"{srv.name} does not offer UNAUTHENTICATE")
    assert ok(im.cmd(b"SELECT INBOX"))
    r = im.cmd(b"UNAUTHENTICATE")
    assert ok(r), r
    r = im.cmd(b"SELECT INBOX")
    assert status(r) == "BAD", r
    r = im.cmd(b"LOGIN barney pw")
    assert ok(r), r
    r = im.cmd(b'LIST "" INBOX')
    assert ok(r) and b"INBOX" in r[0], r
