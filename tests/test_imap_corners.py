"""IMAP4rev1 corners checked against Debian's Cyrus 3.6 (test_imapd.py's `srv`
fixture): LIST-EXTENDED's RECURSIVEMATCH, LSUB's \\Noselect parents, the order of
MOVE's answers within one mailbox, SEARCH on addresses written with comments, and
EXAMINE's \\Recent.

Run:  cd tests && python3 -m pytest -q test_imap_corners.py
"""

import re

from test_imapd import ok, raw, srv, status  # noqa: F401 (srv is a fixture)


def lit(data):
    return b"{%d+}\r\n" % len(data) + data


def lines(r):
    return [l for l in r[0].split(b"\r\n") if l]


def names(r, word=b"LIST"):
    """{name: (attributes, rest)} of LIST/LSUB lines."""
    out = {}
    for l in lines(r):
        m = re.match(rb"\* " + word + rb" \(([^)]*)\) \"/\" (\S+)(.*)", l)
        if m:
            out[m.group(2)] = (set(m.group(1).split()), m.group(3))
    return out


def setup_tree(im):
    for c in [b"CREATE INBOX/a", b"CREATE INBOX/a/b", b"CREATE INBOX/c", b"CREATE INBOX/Sent (USE (\\Sent))",
              b"SUBSCRIBE INBOX/a/b", b"SUBSCRIBE INBOX/Sent"]:
        assert ok(im.cmd(c)), c


def test_list_recursivematch(srv):
    im = raw(srv)
    setup_tree(im)
    r = im.cmd(b'LIST (RECURSIVEMATCH) "" "*"')
    assert status(r) == "BAD", r
    r = im.cmd(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    n = names(r)
    assert list(n) == [b"INBOX"] and b'CHILDINFO ("SUBSCRIBED")' in n[b"INBOX"][1], r
    r = im.cmd(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "INBOX/%"')
    n = names(r)
    assert set(n) == {b"INBOX/Sent", b"INBOX/a"}, r
    assert b"CHILDINFO" in n[b"INBOX/a"][1] and b"\\Subscribed" not in n[b"INBOX/a"][0], r
    assert b"\\Subscribed" in n[b"INBOX/Sent"][0] and b"CHILDINFO" not in n[b"INBOX/Sent"][1], r
    # Without RECURSIVEMATCH the parent is not there.
    r = im.cmd(b'LIST (SUBSCRIBED) "" "INBOX/%"')
    assert set(names(r)) == {b"INBOX/Sent"}, r


def test_lsub_noselect_parents_and_attributes(srv):
    im = raw(srv)
    setup_tree(im)
    r = im.cmd(b'LSUB "" "%"')
    n = names(r, b"LSUB")
    assert n == {b"INBOX": ({b"\\Noselect", b"\\HasChildren"}, b"")}, r
    r = im.cmd(b'LSUB "" "INBOX/%"')
    n = names(r, b"LSUB")
    assert n == {b"INBOX/Sent": ({b"\\Sent"}, b""), b"INBOX/a": ({b"\\Noselect", b"\\HasChildren"}, b"")}, r
    r = im.cmd(b'LSUB "" "*"')
    n = names(r, b"LSUB")
    assert n == {b"INBOX/Sent": ({b"\\Sent"}, b""), b"INBOX/a/b": (set(), b"")}, r


def test_move_within_the_selected_mailbox(srv):
    im = raw(srv)
    for i in range(3):
        assert ok(im.cmd(b"APPEND INBOX " + lit(b"Subject: m%d\r\n\r\nx\r\n" % i)))
    assert ok(im.cmd(b"SELECT INBOX"))
    r = im.cmd(b"MOVE 1 INBOX")
    assert ok(r), r
    ls = lines(r)
    # COPYUID, then the EXPUNGE, then the new EXISTS.
    kinds = [re.sub(rb"\d+", b"n", l.split(b"]")[0]) for l in ls]
    assert kinds[0].startswith(b"* OK [COPYUID"), r
    assert ls.index(b"* 1 EXPUNGE") < ls.index(b"* 3 EXISTS"), r
    r = im.cmd(b"FETCH 1:* (UID)")
    assert re.findall(rb"UID (\d+)", r[0]) == [b"2", b"3", b"4"], r


def test_search_addresses_with_comments(srv):
    im = raw(srv)
    msg = (b"From: Joe (comment) <joe (c)@ (d) example.com>\r\nTo: \"Ann\" <ann @ example.org>\r\n"
           b"Cc: bob (x) @ (y) example.net\r\nSubject: s\r\n\r\nb\r\n")
    assert ok(im.cmd(b"APPEND INBOX " + lit(msg)))
    assert ok(im.cmd(b"APPEND INBOX " + lit(b"From: x@y.z\r\nSubject: t\r\n\r\nb\r\n")))
    assert ok(im.cmd(b"EXAMINE INBOX"))
    for q, want in [(b"FROM joe@example.com", b"1"), (b"FROM Joe", b"1"), (b"TO ann@example.org", b"1"),
                    (b"CC bob@example.net", b"1"), (b"FROM comment", b""), (b"FROM x@y.z", b"2"), (b"TO example", b"1")]:
        r = im.cmd(b"SEARCH " + q)
        assert re.search(rb"\* SEARCH ?" + want + rb"\r\n", r[0]), (q, r)


def test_examine_shows_recent_without_taking_it(srv):
    im = raw(srv)
    for i in range(2):
        assert ok(im.cmd(b"APPEND INBOX " + lit(b"Subject: r%d\r\n\r\nx\r\n" % i)))
    r = im.cmd(b"EXAMINE INBOX")
    assert b"* 2 RECENT" in r[0], r
    r = im.cmd(b"FETCH 1:* (FLAGS)")
    assert r[0].count(b"\\Recent") == 2, r
    other = raw(srv)
    r = other.cmd(b"SELECT INBOX")
    assert b"* 2 RECENT" in r[0], r  # still there for the first SELECT
    r = raw(srv).cmd(b"EXAMINE INBOX")
    assert b"* 0 RECENT" in r[0], r  # taken by that SELECT
