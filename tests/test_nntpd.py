"""nntpd as a reader and transit server over the mail store: groups are shared
mailboxes under newsprefix, articles are read by number and by message id, posted,
fed by IHAVE/CHECK/TAKETHIS, and read back over IMAP. The protocol script runs
against the suite and Debian's Cyrus 3.6 nntpd (NNTP_SERVERS, default "suite,cyrus"),
so the expected replies are Cyrus's; where Cyrus differs it is recorded."""

import base64
import imaplib
import json
import nntplib
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import zlib

import pytest
import smtplib

import cyrus36
from cyrus36 import ok
from suite import Instance, descendants, free_port, lmtp_send, make_cert, saslpasswd, wait_for

SERVERS = [s.strip() for s in os.environ.get("NNTP_SERVERS", "suite,cyrus").split(",") if s.strip()]
CONF = ("allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_mech_list: PLAIN LOGIN\n"
        "admins: admin\nunixhierarchysep: no\naltnamespace: no\nnewsprefix: news\nallownewnews: yes\n"
        "maxmessagesize: 200000\n")
GROUPS = ("comp.test", "comp.other", "local.closed")


class Server:
    def __init__(self, kind):
        self.kind = kind
        if kind == "suite":
            self.inst = inst = Instance(name="nntp", extra_conf=CONF)
            db = os.path.join(inst.dir, "config", "sasldb2")
            with open(inst.conf, "a") as f:
                f.write(f"sasl_sasldb_path: {db}\n")
            inst.tool("mkimap")
            saslpasswd(db, "suite.test", "admin", "secret")
            for u in ("fred", "barney"):
                saslpasswd(db, "suite.test", u, "pw")
            self.port, self.imap_port = inst.port("nntp"), inst.port("imap")
            self.lmtp = os.path.join(inst.dir, "lmtp.sock")
            inst.write_cyrus_conf(SERVICES=(f'  imap cmd="imapd" listen="127.0.0.1:{self.imap_port}" prefork=0\n'
                                            f'  lmtpunix cmd="lmtpd" listen="{self.lmtp}" prefork=0\n'
                                            f'  nntp cmd="nntpd" listen="127.0.0.1:{self.port}" prefork=0\n'))
            inst._own()
            inst.start()
        else:
            if not cyrus36.available() or not os.access(os.path.join(cyrus36.CYRUS_BIN, "nntpd"), os.X_OK):
                pytest.skip("Debian's Cyrus 3.6 nntpd is not installed (scripts/deps --cyrus)")
            self.cy = cy = cyrus36.CyrusInstance(nntp=True)
            cyrus36.merge_conf(cy.conf, CONF)
            for u in ("fred", "barney"):
                cy.add_password(u, "pw")
            cy.start()
            self.port, self.imap_port, self.lmtp = cy.nntp_port, cy.port, cy.lmtp_socket
        a = cyrus36.login(self.imap_port, "admin", "secret")
        for g in GROUPS:
            assert ok(a.cmd(f"CREATE news.{g}".encode())), g
            assert ok(a.cmd(f"SETACL news.{g} anyone \"\"".encode()))
        for g in GROUPS[:2]:
            for who in ("fred", "barney", "anonymous"):
                assert ok(a.cmd(f"SETACL news.{g} {who} lrsp".encode()))
        assert ok(a.cmd(b"SETACL news.local.closed fred lrs"))
        # Cyrus 3.6.1 imapd dies on SETMETADATA of a mailbox outside user.*: its groups
        # get no description.
        self.described = kind == "suite"
        if self.described:
            assert ok(a.cmd(b'SETMETADATA news.comp.test (/shared/comment "Testing, testing")'))
        a.cmd(b"LOGOUT")

    def close(self):
        if self.kind == "suite":
            self.inst.close()
        else:
            self.cy.stop()

    def reader(self, user="fred"):
        n = nntplib.NNTP("127.0.0.1", self.port, timeout=20, readermode=True)
        if user:
            n.login(user, "pw")
        return n

    def raw(self):
        return Raw(self.port)

    def post(self, r, data):
        return post_raw(r, data)


class Raw:
    """A line-level NNTP client: every reply exactly as sent."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""
        self.greeting = self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out.decode("utf-8", "replace")

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def block(self):
        lines = []
        while (line := self.line()) != ".":
            lines.append(line[1:] if line.startswith("..") else line)
        return lines

    def multi(self, text):
        first = self.cmd(text)
        return first, (self.block() if first[:3] in ("100", "101", "211", "215", "220", "221", "222", "224", "225", "230", "231") and not (text.upper().startswith("GROUP")) else [])

    def login(self, user="fred", pw="pw"):
        assert self.cmd(f"AUTHINFO USER {user}").startswith("381")
        assert self.cmd(f"AUTHINFO PASS {pw}").startswith("281")

    def close(self):
        self.sock.close()


def article(subject, groups="comp.test", msgid=None, body="Hello\r\n.dotted line\r\nbye\r\n", extra=""):
    mid = f"Message-ID: {msgid}\r\n" if msgid else ""
    return (f"From: Fred <fred@example.org>\r\nNewsgroups: {groups}\r\nSubject: {subject}\r\n{mid}{extra}\r\n{body}").encode()


def post_raw(r, data):
    assert r.cmd("POST").startswith("340")
    text = b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in data.split(b"\r\n")[:-1]) + b".\r\n"
    r.sock.sendall(text)
    return r.line()


@pytest.fixture(scope="module", params=SERVERS)
def server(request):
    s = Server(request.param)
    # Five articles in comp.test, filed as a mailing-list archive is: over LMTP to the
    # shared folder (`+news.comp.test`).
    tag = f"{request.param}-{os.getpid()}"
    s.ids = []
    lm = smtplib.LMTP(s.lmtp)
    lm.ehlo("test")
    for i in range(5):
        mid = f"<art{i}.{tag}@example.org>"
        data = article(f"article {i}", "comp.test", mid, extra=f"References: <art{i - 1}.{tag}@example.org>\r\n" if i else "")
        assert lmtp_send(lm, "fred@example.org", ["+news.comp.test"], data)["+news.comp.test"][0] == 250
        s.ids.append(mid)
    lm.quit()
    yield s
    s.close()


def suite_only(server, why):
    """Posting and feeding are compared with the suite only: Cyrus 3.6.1's nntpd
    answers POST, IHAVE and TAKETHIS "441/436 ... (Permission denied)" at random
    (one post in three here), having stored the article or not."""
    if server.kind != "suite":
        pytest.skip(f"Cyrus 3.6.1 posts at random: {why}")


def test_greeting_capabilities_mode(server):
    r = server.raw()
    assert r.greeting.startswith("200 ")
    first, caps = r.multi("CAPABILITIES")
    assert first.startswith("101")
    assert "VERSION 2" in caps and "AUTHINFO USER SASL" in caps and "COMPRESS DEFLATE" in caps
    assert "IHAVE" in caps and "STREAMING" in caps and any(c.startswith("LIST ACTIVE") for c in caps)
    assert "READER" not in caps, "reader capabilities only after a login without allowanonymouslogin"
    assert r.cmd("MODE READER").startswith("200 ")
    assert r.cmd("MODE STREAM").startswith("203")
    assert r.cmd("MODE BOGUS").startswith("501")
    assert r.cmd("DATE").startswith("480") and r.cmd("GROUP comp.test").startswith("480"), "reading needs a login"
    assert r.cmd("AUTHINFO PASS pw").startswith("482"), "PASS before USER"
    assert r.cmd("AUTHINFO USER fred").startswith("381")
    assert r.cmd("AUTHINFO PASS wrong").startswith("481")
    r.login()
    assert r.cmd("DATE")[:4] == "111 " and len(r.cmd("DATE")) == 18
    first, caps = r.multi("CAPABILITIES")
    assert "READER" in caps and "OVER" in caps and "HDR" in caps and "NEWNEWS" in caps
    assert r.cmd("AUTHINFO USER fred").startswith("502"), "already authenticated"
    assert r.cmd("FROBNICATE").startswith("500")
    assert r.cmd("QUIT").startswith("205")


def test_group_listgroup_next_last(server):
    n = server.reader()
    resp, count, first, last, name = n.group("comp.test")
    assert (count, name) == (5, "comp.test") and last - first == 4
    r = server.raw()
    r.login()
    assert r.cmd("GROUP comp.test") == f"211 5 {first} {last} comp.test"
    head, nums = r.cmd("LISTGROUP comp.test"), r.block()
    assert head.startswith("211 5") and nums == [str(u) for u in range(first, last + 1)]
    head, nums = r.cmd(f"LISTGROUP comp.test {first + 1}-{first + 2}"), r.block()
    assert nums == [str(first + 1), str(first + 2)]
    assert r.cmd("LAST").startswith("422")
    assert r.cmd("NEXT") == f"223 {first + 1} {server.ids[1]}"
    assert r.cmd("LAST") == f"223 {first} {server.ids[0]}"
    assert r.cmd("GROUP nosuch.group").startswith("411")
    assert r.cmd("GROUP ../../etc").startswith("411")
    assert r.cmd("GROUP local.closed").startswith("211"), "fred may read local.closed"
    assert r.cmd("NEXT").startswith("420") or r.cmd("NEXT").startswith("421")
    r2 = server.raw()
    r2.login("barney")
    assert r2.cmd("GROUP local.closed").startswith("411"), "barney may not"
    n.quit()


def test_article_head_body_stat(server):
    r = server.raw()
    r.login()
    g = r.cmd("GROUP comp.test").split()
    first = int(g[2])
    head = r.cmd(f"ARTICLE {first}")
    assert head == f"220 {first} {server.ids[0]}"
    lines = r.block()
    sep = lines.index("")
    headers, body = lines[:sep], lines[sep + 1:]
    assert "Subject: article 0" in headers
    # Cyrus builds Xref from what its nntpd filed: for an article that came over LMTP
    # it names no group.
    xref = "Xref: cyrus.test" if server.kind == "cyrus" else f"Xref: suite.test comp.test:{first}"
    assert xref in headers, headers
    assert body == ["Hello", ".dotted line", "bye"]
    assert r.cmd(f"HEAD {first}") == f"221 {first} {server.ids[0]}"
    assert "" not in r.block()
    assert r.cmd(f"BODY {first}") == f"222 {first} {server.ids[0]}"
    assert r.block() == ["Hello", ".dotted line", "bye"]
    assert r.cmd(f"STAT {first + 3}") == f"223 {first + 3} {server.ids[3]}"
    if server.kind == "cyrus":
        # Cyrus 3.6 finds by message id only what nntpd itself filed (its duplicate
        # database); these came over LMTP.
        assert r.cmd(f"STAT {server.ids[4]}").startswith("430")
    else:
        assert r.cmd(f"STAT {server.ids[4]}") == f"223 0 {server.ids[4]}"
        assert r.cmd(f"ARTICLE {server.ids[2]}").startswith(f"220 0 {server.ids[2]}")
        xref = [h for h in r.block() if h.startswith("Xref:")][0]
        assert xref == f"Xref: suite.test comp.test:{first + 2}", xref
    assert r.cmd("ARTICLE 999999").startswith("423")
    assert r.cmd("ARTICLE <nosuch@example.org>").startswith("430")
    assert r.cmd("ARTICLE 1-2").startswith("501")
    assert r.cmd("ARTICLE bogus").startswith("501")


def test_over_hdr_xpat(server):
    r = server.raw()
    r.login()
    g = r.cmd("GROUP comp.test").split()
    first, last = int(g[2]), int(g[3])
    head, lines = r.cmd(f"OVER {first}-"), r.block()
    assert head.startswith("224") and len(lines) == 5
    f = lines[1].split("\t")
    # The From field as the header has it; Cyrus 3.6 rebuilds it from the ENVELOPE.
    assert f[0] == str(first + 1) and f[1] == "article 1"
    assert f[2] == ('"Fred" <fred@example.org>' if server.kind == "cyrus" else "Fred <fred@example.org>")
    assert f[4] == server.ids[1] and f[5] == server.ids[0] and int(f[6]) > 100 and f[7] == "3"
    assert f[8].startswith("Xref: ")
    head, lines = r.cmd(f"XOVER {first}-{first + 1}"), r.block()
    assert head.startswith("224") and len(lines) == 2
    head, lines = r.cmd(f"HDR Subject {first}-"), r.block()
    assert head.startswith("225") and lines[0] == f"{first} article 0" and len(lines) == 5
    if server.kind == "suite":
        head, lines = r.cmd(f"XHDR subject {server.ids[3]}"), r.block()
        assert head.startswith("221") and lines == ["0 article 3"]
    else:
        assert r.cmd(f"XHDR subject {server.ids[3]}").startswith("430"), "Cyrus: filed over LMTP"
    head, lines = r.cmd(f"XPAT Subject {first}-{last} *e?4"), r.block()
    assert head.startswith("221") and lines == [f"{last} article 4"]
    head, lines = r.cmd(f"HDR :lines {first}"), r.block()
    assert lines == [f"{first} 3"]
    assert r.cmd(f"OVER {last + 100}-").startswith("423")
    head, lines = r.multi("LIST OVERVIEW.FMT")
    assert head.startswith("215") and lines[:5] == ["Subject:", "From:", "Date:", "Message-ID:", "References:"]
    head, lines = r.multi("LIST HEADERS")
    assert head.startswith("215") and lines == [":", ":bytes", ":lines"]


def test_list_active_newsgroups(server):
    r = server.raw()
    if server.kind == "suite":
        # Anonymous (no login) sees the groups whose ACL lets anonymous read. (Cyrus
        # 3.6's nntpd drops the connection on LIST ACTIVE before a login.)
        head, lines = r.multi("LIST ACTIVE")
        assert head.startswith("215") and {ln.split()[0] for ln in lines} == {"comp.test", "comp.other"}
    r.login()
    head, lines = r.multi("LIST ACTIVE comp.*")
    assert sorted(ln.split()[0] for ln in lines) == ["comp.other", "comp.test"]
    assert all(ln.split()[3] == "y" for ln in lines)
    head, lines = r.multi("LIST ACTIVE *,!comp.other")
    # Cyrus 3.6 also lists the intermediate mailboxes it made (news.comp, news.local).
    names = sorted(ln.split()[0] for ln in lines if server.kind == "suite" or "." in ln.split()[0])
    assert names == ["comp.test", "local.closed"]
    assert [ln.split()[3] for ln in lines if ln.startswith("local.closed")] == ["n"], "fred may not post there"
    head, lines = r.multi("LIST NEWSGROUPS")
    assert head.startswith("215") and lines == (["comp.test\tTesting, testing"] if server.described else [])
    assert r.cmd("LIST BOGUS").startswith("501")
    assert r.cmd("LIST DISTRIBUTIONS").startswith("503")
    many = ",".join(f"x{i}.*" for i in range(60))
    head, lines = r.multi(f"LIST ACTIVE {many}")
    assert head.startswith("215") and lines == []


def test_newnews(server):
    r = server.raw()
    r.login()
    head, lines = r.multi("NEWNEWS comp.* 19700102 000000 GMT")
    # Cyrus 3.6 lists only what its nntpd filed (its duplicate database), not the
    # articles that came over LMTP; the suite reads the groups' indexes.
    want = set(server.ids) if server.kind == "suite" else set()
    assert head.startswith("230") and want <= set(lines) and len(lines) == len(set(lines))
    if server.kind == "cyrus":
        assert lines == []
    head, lines = r.multi("NEWNEWS comp.* 20990101 000000 GMT")
    assert head.startswith("230") and lines == []
    assert r.cmd("NEWNEWS comp.* 20241301 000000").startswith("501")


def test_post_refusals_and_limits(server):
    suite_only(server, "refusals")
    r = server.raw()
    r.login()
    before = r.cmd("GROUP comp.test").split()[1]
    assert server.post(r, b"Subject: no groups\r\nFrom: a@b\r\n\r\nx\r\n").startswith("441")
    assert server.post(r, article("nowhere", "no.such.group")).startswith("441")
    assert server.post(r, article("closed", "local.closed")).startswith("441"), "no p right"
    # An article already here is taken as received and not stored again. (Cyrus 3.6
    # keys its duplicate check on Message-ID and Date, and stores it again.)
    assert server.post(r, article("again", msgid=server.ids[0])).startswith("240")
    # Past maxmessagesize (200 000): refused after it was read, the session goes on.
    # (Cyrus 3.6's nntpd does not apply maxmessagesize: it takes the article.)
    assert server.post(r, article("big", body=("y" * 998 + "\r\n") * 300)).startswith("441")
    assert server.post(r, article("long line", body="z" * 70000 + "\r\n")).startswith("441")
    assert r.cmd("GROUP comp.test").split()[1] == before
    # A connection dropped in the middle of an article leaves nothing. (Cyrus 3.6
    # files what it got, now and then.)
    r2 = server.raw()
    r2.login()
    assert r2.cmd("POST").startswith("340")
    r2.sock.sendall(b"From: a@b\r\nNewsgroups: comp.test\r\nSubject: half\r\nMessage-ID: <half@x>\r\n\r\nhalf a bo")
    r2.close()
    time.sleep(0.5)
    assert r.cmd("GROUP comp.test").split()[1] == before
    assert r.cmd("STAT <half@x>").startswith("430")


def test_ihave_check_takethis(server):
    r = server.raw()
    # An article that came over LMTP is known here (lmtpd's duplicate record); Cyrus
    # 3.6 knows only what its nntpd filed, and asks for it again.
    assert r.cmd(f"CHECK {server.ids[0]}").startswith("438" if server.kind == "suite" else "238")
    suite_only(server, "feeding")
    assert r.cmd(f"IHAVE {server.ids[0]}").startswith("435")
    tag = f"{server.kind}{os.getpid()}"
    assert r.cmd(f"IHAVE {server.ids[0]}").startswith("435")
    assert r.cmd(f"CHECK {server.ids[0]}").startswith("438")
    mid = f"<feed1.{tag}@peer>"
    assert r.cmd(f"CHECK {mid}").startswith("238")
    assert r.cmd(f"IHAVE {mid}").startswith("335")
    r.sock.sendall(article("fed", "comp.other", mid) + b".\r\n")
    assert r.line().startswith("235")
    mid2 = f"<feed2.{tag}@peer>"
    r.sock.sendall(f"TAKETHIS {mid2}\r\n".encode() + article("taken", "comp.other", mid2, extra="Path: peer!poster\r\n") + b".\r\n")
    assert r.line().startswith("239")
    r.sock.sendall(f"TAKETHIS {mid2}\r\n".encode() + article("taken", "comp.other", mid2) + b".\r\n")
    assert r.line().startswith("439")
    r.login()
    assert r.cmd(f"HEAD {mid2}").startswith("221")
    path = [h for h in r.block() if h.startswith("Path:")]
    assert path and path[0].endswith("!peer!poster"), path


def test_read_back_over_imap(server):
    """What NNTP shows of a group is what IMAP shows of its mailbox."""
    r = server.raw()
    r.login()
    count = int(r.cmd("GROUP comp.test").split()[1])
    head, subjects_nntp = r.cmd("HDR Subject 1-"), r.block()
    im = imaplib.IMAP4("127.0.0.1", server.imap_port)
    im.login("fred", "pw")
    typ, data = im.select("news.comp.test", readonly=True)
    assert typ == "OK" and int(data[0]) == count >= 5
    typ, data = im.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = [d[1].decode().strip() for d in data if isinstance(d, tuple)]
    uids = [int(d[0].split(b"UID ")[1].split()[0]) for d in data if isinstance(d, tuple)]
    assert [f"{u} {t.removeprefix('Subject: ')}" for u, t in zip(uids, subjects)] == subjects_nntp
    im.logout()


def test_authinfo_sasl_and_compress(server):
    r = server.raw()
    first, caps = r.multi("CAPABILITIES")
    assert any(c.startswith("SASL ") and "PLAIN" in c for c in caps)
    plain = base64.b64encode(b"\0fred\0pw").decode()
    assert r.cmd(f"AUTHINFO SASL PLAIN {plain}").startswith("281")
    r = server.raw()
    assert r.cmd("AUTHINFO SASL PLAIN").startswith("383")
    assert r.cmd("*").startswith("481")
    assert r.cmd("AUTHINFO SASL PLAIN").startswith("383")
    assert r.cmd(base64.b64encode(b"\0fred\0wrong").decode()).startswith("481")
    # COMPRESS DEFLATE (RFC 8054): replies come deflated from then on.
    r = server.raw()
    r.login()
    assert r.cmd("COMPRESS DEFLATE").startswith("206")
    z, d = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
    r.sock.sendall(z.compress(b"DATE\r\n") + z.flush(zlib.Z_SYNC_FLUSH))
    out = b""
    while b"\r\n" not in out:
        out += d.decompress(r.sock.recv(4096))
    assert out.startswith(b"111 ")


def test_rights_follow_the_acl(server):
    if server.kind != "suite":
        pytest.skip("Cyrus 3.6 keeps the rights a session had when it opened the group")
    r = server.raw()
    r.login("barney")
    g = r.cmd("GROUP comp.other").split()
    assert r.cmd(f"STAT {g[2]}").startswith("223")
    a = cyrus36.login(server.imap_port, "admin", "secret")
    assert ok(a.cmd(b"SETACL news.comp.other barney lp"))
    assert r.cmd(f"ARTICLE {g[2]}").startswith("502")
    assert ok(a.cmd(b"SETACL news.comp.other barney lrsp"))
    assert r.cmd("GROUP comp.other").startswith("211")


def test_nntplib_reads_and_posts(server):
    suite_only(server, "nntplib posting")
    n = server.reader()
    resp, count, first, last, name = n.group("comp.test")
    resp, overviews = n.over((first, last))
    assert len(overviews) == count and overviews[0][1]["subject"] == "article 0"
    resp, info = n.article(server.ids[1])
    assert b"Hello" in b"\n".join(info.lines)
    resp = n.post(article("via nntplib", msgid=f"<lib.{server.kind}{os.getpid()}@example.org>"))
    assert resp.startswith("240")
    n.quit()


def test_crosspost_xref_and_headers(server):
    suite_only(server, "crossposting")
    r = server.raw()
    r.login()
    mid = f"<cross.{os.getpid()}@example.org>"
    assert server.post(r, article("crossed", "comp.test, comp.other,no.such.group", mid)).startswith("240")
    t = r.cmd("GROUP comp.test").split()[3]
    o = r.cmd("GROUP comp.other").split()[3]
    assert r.cmd(f"HEAD {mid}").startswith(f"221 0 {mid}")
    head = r.block()
    assert f"Xref: suite.test comp.other:{o} comp.test:{t}" in head, head
    assert "Path: suite.test!fred" in head and any(h.startswith("Date: ") for h in head)
    head, over = r.cmd(f"OVER {o}"), r.block()
    assert over[0].endswith(f"Xref: suite.test comp.other:{o} comp.test:{t}")
    # A POST without Message-ID gets one.
    reply = server.post(r, b"From: a@b\r\nNewsgroups: comp.other\r\nSubject: no id\r\n\r\nx\r\n")
    assert reply.startswith("240 <cmu-nntpd-") and reply.split()[1].endswith("@suite.test>"), reply
    assert r.cmd(f"STAT {reply.split()[1]}").startswith("223 0 ")


def test_cyr_expire_honours_the_expire_annotation(server):
    """cyr_expire expunges articles older than a group's /vendor/cmu/cyrus-imapd/expire
    (inherited from a parent mailbox), as Cyrus expires a news spool. (Not compared:
    Cyrus 3.6.1's imapd dies on SETMETADATA of a shared mailbox.)"""
    suite_only(server, "expiry")
    a = cyrus36.login(server.imap_port, "admin", "secret")
    for c in (b"CREATE news.arch", b"CREATE news.arch.old", b'SETACL news.arch.old fred lrsp',
              b'SETMETADATA news.arch (/shared/vendor/cmu/cyrus-imapd/expire "30")'):
        assert ok(a.cmd(c)), c
    r = server.raw()
    r.login()
    old = article("ancient", "arch.old", "<old.expire@x>", extra="Date: Wed, 1 Jan 2020 00:00:00 +0000\r\n")
    new = article("recent", "arch.old", "<new.expire@x>")
    assert server.post(r, old).startswith("240") and server.post(r, new).startswith("240")
    assert r.cmd("GROUP arch.old").startswith("211 2 ")
    # -x: nothing expunged; -a: annotations ignored.
    for flags in (["-E", "1", "-x"], ["-E", "1", "-a"]):
        server.inst.tool("cyr_expire", *flags)
        assert r.cmd("GROUP arch.old").startswith("211 2 ")
    out = server.inst.tool("cyr_expire", "-E", "1", "-v").stdout.decode()
    assert "news.arch.old: expired 1 messages older than 30.00 days" in out, out
    g = r.cmd("GROUP arch.old").split()
    assert g[1] == "1" and r.cmd("STAT <old.expire@x>").startswith("430")
    assert r.cmd("STAT <new.expire@x>").startswith("223")
    # The expunged article's file goes at a later -X run.
    server.inst.tool("cyr_expire", "-X", "0")
    assert r.cmd("ARTICLE <new.expire@x>").startswith("220")


NNTPTEST = os.path.join(cyrus36.CYRUS_BIN, "nntptest")


def test_nntptest_sasl(server, tmp_path):
    """Debian's nntptest (cyrus-clients) logs in with AUTHINFO SASL PLAIN and reads."""
    if not os.access(NNTPTEST, os.X_OK):
        pytest.skip("nntptest is not installed (cyrus-clients)")
    script = tmp_path / "script"
    script.write_bytes(b"GROUP comp.test\r\nQUIT\r\n")
    r = subprocess.run([NNTPTEST, "-p", str(server.port), "-m", "PLAIN", "-a", "fred", "-u", "fred", "-w", "pw",
                        "-f", str(script), "127.0.0.1"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert "Authenticated" in out and "211 " in out and "comp.test" in out, out
    r = subprocess.run([NNTPTEST, "-p", str(server.port), "-m", "PLAIN", "-a", "fred", "-u", "fred", "-w", "wrong",
                        "-f", str(script), "127.0.0.1"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert "Authenticated" not in out and "481" in out, out


def test_slrnpull_fetches_a_group(server, tmp_path):
    """slrnpull, a real newsreader's offline fetcher, headless: it logs in, reads the
    active list and pulls the group's overview and articles into its spool."""
    if not shutil.which("slrnpull"):
        pytest.skip("slrnpull is not installed (scripts/deps)")
    (tmp_path / "slrnpull.conf").write_text("default 1000 0 0\ncomp.test\n")
    (tmp_path / "authinfo").write_text("fred\npw\n")
    os.chmod(tmp_path / "authinfo", 0o600)
    r = subprocess.run(["slrnpull", "-d", str(tmp_path), "-h", f"127.0.0.1:{server.port}", "--fetch-score", "0"],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    spool = tmp_path / "news" / "comp" / "test"
    got = sorted(int(p.name) for p in spool.iterdir() if p.name.isdigit()) if spool.exists() else []
    assert r.returncode == 0 and len(got) >= 5, (r, (tmp_path / "log").read_text() if (tmp_path / "log").exists() else "")
    first = (spool / str(got[0])).read_text()
    assert "Subject: article 0" in first and "\n.dotted line\n" in first
    assert "comp.test" in (tmp_path / "data" / "active").read_text()


def test_rpost_posts_a_batch(server, tmp_path):
    """suck's rpost posts articles from a batch file (POST, AUTHINFO USER)."""
    suite_only(server, "rpost")
    if not shutil.which("rpost"):
        pytest.skip("rpost is not installed (suck, scripts/deps)")
    files = []
    for i in range(3):
        p = tmp_path / f"out{i}"
        p.write_bytes(article(f"rpost {i}", "comp.other", f"<rpost{i}.{os.getpid()}@x>"))
        files.append(str(p))
    (tmp_path / "batch").write_text("\n".join(files) + "\n")
    r = subprocess.run(["rpost", f"127.0.0.1:{server.port}", "-U", "fred", "-P", "pw", "-b", str(tmp_path / "batch")],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0 and out.count("240 ") == 3, out
    raw = server.raw()
    raw.login()
    for i in range(3):
        assert raw.cmd(f"STAT <rpost{i}.{os.getpid()}@x>").startswith("223 0 ")


def test_huge_article_and_hostile_patterns(server):
    """A 100 MB article past maxmessagesize is read to its end and refused, with the
    worker's memory bounded and nothing stored; pathological wildmats are answered
    at once."""
    suite_only(server, "maxmessagesize")
    r = server.raw()
    r.login()
    before = r.cmd("GROUP comp.test").split()[1]
    assert r.cmd("POST").startswith("340")
    r.sock.sendall(b"From: a@b\r\nNewsgroups: comp.test\r\nSubject: huge\r\nMessage-ID: <huge@x>\r\n\r\n")
    line = b"h" * 998 + b"\r\n"
    chunk = line * 1000
    for _ in range(100):
        r.sock.sendall(chunk)
    r.sock.sendall(b".\r\n")
    assert r.line().startswith("441")
    assert r.cmd("GROUP comp.test").split()[1] == before and r.cmd("STAT <huge@x>").startswith("430")
    # The worker held at most maxmessagesize of it (peak resident size well under 100 MB).
    hwm = []
    for pid in descendants(server.inst.proc.pid):
        try:
            if open(f"/proc/{pid}/comm").read().strip() == "nntpd":
                status = open(f"/proc/{pid}/status").read()
                hwm.append(int(status.split("VmHWM:")[1].split()[0]))
        except OSError:
            pass
    assert hwm and max(hwm) < 40_000, hwm
    t = time.monotonic()
    head, lines = r.multi("LIST ACTIVE " + "*a" * 200 + "b")
    assert head.startswith("215") and lines == []
    head, lines = r.multi("LIST ACTIVE " + ",".join(["x*y"] * 120))
    assert head.startswith("215") and lines == []
    assert r.cmd("LIST ACTIVE a[b]").startswith("501")
    assert time.monotonic() - t < 5
    assert r.cmd("QUIT").startswith("205")


@pytest.fixture(scope="module", params=SERVERS)
def tls_server(request):
    """A server whose passwords travel only under TLS: STARTTLS and nntps (-s)."""
    conf = CONF.replace("allowplaintext: yes", "allowplaintext: no")
    if request.param == "suite":
        inst = Instance(name="nntptls", extra_conf=conf)
        cert, key = make_cert(inst.dir)
        db = os.path.join(inst.dir, "config", "sasldb2")
        with open(inst.conf, "a") as f:
            f.write(f"sasl_sasldb_path: {db}\ntls_server_cert: {cert}\ntls_server_key: {key}\n")
        inst.tool("mkimap")
        saslpasswd(db, "suite.test", "fred", "pw")
        ports = (inst.port("nntp"), inst.port("nntps"))
        inst.write_cyrus_conf(SERVICES=(f'  nntp cmd="nntpd" listen="127.0.0.1:{ports[0]}" prefork=0\n'
                                        f'  nntps cmd="nntpd -s" listen="127.0.0.1:{ports[1]}" prefork=0\n'))
        inst._own()
        inst.start()
        yield ports
        inst.close()
    else:
        if not cyrus36.available() or not os.access(os.path.join(cyrus36.CYRUS_BIN, "nntpd"), os.X_OK):
            pytest.skip("Debian's Cyrus 3.6 nntpd is not installed (scripts/deps --cyrus)")
        cy = cyrus36.CyrusInstance(nntp=True)
        cert, key = make_cert(cy.dir)
        cyrus36.merge_conf(cy.conf, conf + f"tls_server_cert: {cert}\ntls_server_key: {key}\n")
        ports = (cy.nntp_port, free_port())
        cc = os.path.join(cy.dir, "cyrus.conf")
        with open(cc) as f:
            text = f.read()
        with open(cc, "w") as f:
            f.write(text.replace("}\nEVENTS", f'  nntps cmd="{cyrus36.CYRUS_BIN}/nntpd -s -C {cy.conf}" '
                                              f'listen="127.0.0.1:{ports[1]}" prefork=0\n}}\nEVENTS', 1))
        cy.add_password("fred", "pw")
        cy.start()
        yield ports
        cy.stop()


def test_starttls_and_nntps(tls_server):
    plain, nntps = tls_server
    r = Raw(plain)
    first, caps = r.multi("CAPABILITIES")
    assert "STARTTLS" in caps and not any(c.startswith("AUTHINFO USER") for c in caps), caps
    assert r.cmd("AUTHINFO USER fred").startswith("483")
    r.close()
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    n = nntplib.NNTP("127.0.0.1", plain, timeout=20)
    n.starttls(ctx)
    n.login("fred", "pw")
    assert "READER" in n.getcapabilities()
    n.quit()
    n = nntplib.NNTP_SSL("127.0.0.1", nntps, ssl_context=ctx, timeout=20)
    n.login("fred", "pw")
    assert n.date()[0].startswith("111")
    n.quit()


INNXMIT = "/opt/inn2/usr/lib/news/bin/innxmit"


def test_innxmit_feeds_by_takethis_and_ihave(server, tmp_path):
    """INN's innxmit, a real feeder, sends a batch of articles (INN's on-disk form,
    LF line ends) by CHECK/TAKETHIS and then, with -s, by IHAVE; each is read back
    over IMAP from the group's mailbox, and a second run sends nothing again."""
    suite_only(server, "innxmit feeding")
    if not os.access(INNXMIT, os.X_OK):
        pytest.skip("innxmit is not unpacked under /opt/inn2 (scripts/deps --cyrus)")
    for d in ("spool", "out", "db", "run", "tmp", "log"):
        (tmp_path / d).mkdir()
    (tmp_path / "inn.conf").write_text(
        f"pathnews: {tmp_path}\npathbin: /opt/inn2/usr/lib/news/bin\npathetc: {tmp_path}\npathdb: {tmp_path}/db\n"
        f"pathrun: {tmp_path}/run\npathtmp: {tmp_path}/tmp\npathlog: {tmp_path}/log\npathspool: {tmp_path}/spool\n"
        f"patharticles: {tmp_path}/spool\npathoutgoing: {tmp_path}/out\ndomain: example.org\n"
        "pathhost: feeder.example.org\nserver: 127.0.0.1\nmta: \"/bin/true %s\"\nhismethod: hisv6\n"
        "enableoverview: false\novmethod: tradindexed\n")
    (tmp_path / "storage.conf").write_text("")
    (tmp_path / "passwd.nntp").write_text("")
    env = dict(os.environ, INNCONF=str(tmp_path / "inn.conf"), LD_LIBRARY_PATH="/opt/inn2/usr/lib/news")
    tag = os.getpid()
    ids = []
    for mode in ("stream", "ihave"):
        files = []
        for i in range(5):
            mid = f"<inn.{mode}{i}.{tag}@feeder>"
            p = tmp_path / "spool" / f"{mode}{i}"
            p.write_bytes(article(f"fed by innxmit {mode} {i}", "comp.other", mid,
                                  extra="Path: feeder.example.org!poster\r\n").replace(b"\r\n", b"\n"))
            files.append(str(p))
            ids.append(mid)
        batch = tmp_path / "out" / f"batch.{mode}"
        for _ in range(2):
            batch.write_text("\n".join(files) + "\n")
            r = subprocess.run([INNXMIT, *(["-s"] if mode == "ihave" else []), "-t", "10", "-T", "60", "-P",
                                str(server.port), "127.0.0.1", str(batch)], env=env, capture_output=True, timeout=90)
            assert r.returncode == 0, r
    im = imaplib.IMAP4("127.0.0.1", server.imap_port)
    im.login("fred", "pw")
    assert im.select("news.comp.other", readonly=True)[0] == "OK"
    typ, data = im.search(None, "SUBJECT", "\"fed by innxmit\"")
    assert typ == "OK" and len(data[0].split()) == 10, data
    for mid in ids:
        typ, data = im.search(None, "HEADER", "Message-ID", mid)
        assert len(data[0].split()) == 1, (mid, data)
    im.logout()


def nntp_instance(name, conf):
    """A suite instance serving NNTP (and IMAP for its admin) with the groups
    comp.test and alt.misc (anyone may read and post) and the sasldb users fred and
    barney."""
    inst = Instance(name=name, extra_conf=CONF + conf)
    db = os.path.join(inst.dir, "config", "sasldb2")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {db}\n")
    inst.tool("mkimap")
    for u, pw in (("fred", "pw"), ("barney", "pw"), ("admin", "secret")):
        saslpasswd(db, "suite.test", u, pw)
    for g in ("comp.test", "alt.misc"):
        inst.create_mailbox(f"news.{g}", acl="anyone\tlrsp\t")
    port = inst.port("nntp")
    inst.write_cyrus_conf(SERVICES=(f'  nntp cmd="nntpd" listen="127.0.0.1:{port}" prefork=0\n'
                                    f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=0\n'))
    inst._own()
    inst.start()
    return inst, port


def test_newspeer_feeds_peers(server):
    """newspeer: an article filed here is offered to the peer by IHAVE when one of its
    groups matches the peer's wildmat, never to a peer its Path came through; the
    peer (another suite instance) stores it."""
    suite_only(server, "newspeer")
    peer, peer_port = nntp_instance("peer", "")
    here, port = nntp_instance("feeder", f"newspeer: 127.0.0.1:{peer_port}/comp.*\n")
    try:
        r = Raw(port)
        r.login()
        tag = os.getpid()
        assert post_raw(r, article("fed on", "comp.test", f"<fed.{tag}@x>")).startswith("240")
        assert post_raw(r, article("kept here", "alt.misc", f"<kept.{tag}@x>")).startswith("240")
        r.sock.sendall(f"IHAVE <loop.{tag}@x>\r\n".encode())
        assert r.line().startswith("335")
        r.sock.sendall(article("came from the peer", "comp.test", f"<loop.{tag}@x>",
                               extra="Path: 127.0.0.1!poster\r\n") + b".\r\n")
        assert r.line().startswith("235")
        p = Raw(peer_port)
        p.login()
        assert p.cmd(f"STAT <fed.{tag}@x>").startswith("223")
        assert p.cmd(f"HEAD <fed.{tag}@x>").startswith("221")
        assert any(h.startswith("Path: suite.test!suite.test!fred") for h in p.block())
        assert p.cmd(f"STAT <kept.{tag}@x>").startswith("430"), "alt.* is not fed"
        assert p.cmd(f"STAT <loop.{tag}@x>").startswith("430"), "not fed back where it came from"
        here.log.wait(re.escape(f"fed <fed.{tag}@x> to 127.0.0.1"))
    finally:
        here.close()
        peer.close()


def test_anonymous_reading(server):
    """allowanonymouslogin: a client that does not log in reads and posts as
    anonymous where the ACL lets anonymous; AUTHINFO USER anonymous takes any
    password. Without it, reading needs a login (test_greeting_capabilities_mode)."""
    suite_only(server, "anonymous")
    inst, port = nntp_instance("anon", "allowanonymouslogin: yes\n")
    try:
        r = Raw(port)
        first, caps = r.multi("CAPABILITIES")
        assert "READER" in caps
        assert r.cmd("GROUP comp.test").startswith("211 0 ")
        assert post_raw(r, article("anonymous post", "comp.test", f"<anon.{os.getpid()}@x>")).startswith("240")
        head = r.cmd(f"HEAD <anon.{os.getpid()}@x>")
        assert head.startswith("221") and "Path: suite.test!anonymous" in r.block()
        assert r.cmd("GROUP nosuch").startswith("411")
        assert r.cmd("AUTHINFO USER anonymous").startswith("381")
        assert r.cmd("AUTHINFO PASS me@example.org").startswith("281")
        inst.log.wait("login: .* anonymous me@example.org")
    finally:
        inst.close()


def test_overlong_and_odd_commands(server):
    """Overlong command lines, empty lines, unknown commands and arguments where none
    are taken get their RFC 3977 codes and the session goes on."""
    r = server.raw()
    r.login()
    # RFC 3977 3.1's 512 octets; Cyrus 3.6 reads on and answers the group.
    assert r.cmd("GROUP " + "x" * 600).startswith("501" if server.kind == "suite" else "411")
    assert r.cmd("").startswith("501")
    assert r.cmd("XYZZY").startswith("500")
    assert r.cmd("QUIT now").startswith("501")
    assert r.cmd("LIST ACTIVE a b c").startswith("501")
    assert r.cmd("NEWGROUPS 20240101").startswith("501")
    assert r.cmd("NEWGROUPS 20240101 250000").startswith("501")
    assert r.cmd("GROUP comp.test").startswith("211")


SENDMAIL = """#!/usr/bin/env python3
import json, os, sys, time
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sent")
os.makedirs(out, exist_ok=True)
data = sys.stdin.buffer.read()
name = os.path.join(out, "%.6f-%d" % (time.time(), os.getpid()))
with open(name + ".tmp", "w") as f:
    json.dump({"argv": sys.argv[1:], "input": data.decode("utf-8", "replace")}, f)
os.rename(name + ".tmp", name + ".json")
"""


def test_news2mail_and_post_addresses(server, tmp_path):
    """A group with a news2mail annotation gets each article mailed to that address
    through sendmail (Newsgroups renamed X-Newsgroups, Path and Xref left out, To
    added); newspostuser/newsaddheaders put the groups' post addresses in To and
    Reply-To of the stored article."""
    suite_only(server, "news2mail")
    inst, port = nntp_instance("news2mail", "newspostuser: post\nnewsaddheaders: to replyto\n"
                                            "defaultdomain: lists.example.org\n")
    try:
        mail = os.path.join(inst.dir, "sendmail")
        with open(mail, "w") as f:
            f.write(SENDMAIL)
        os.chmod(mail, 0o755)
        with open(inst.conf, "a") as f:
            f.write(f"sendmail: {mail}\n")
        a = cyrus36.login(inst.port("imap"), "admin", "secret")
        assert ok(a.cmd(b'SETMETADATA news.comp.test (/shared/vendor/cmu/cyrus-imapd/news2mail "list@example.org")'))
        r = Raw(port)
        r.login()
        mid = f"<n2m.{os.getpid()}@x>"
        assert post_raw(r, article("to the list", "comp.test,alt.misc", mid)).startswith("240")
        assert r.cmd(f"HEAD {mid}").startswith("221")
        head = r.block()
        assert "To: post+comp.test@lists.example.org, post+alt.misc@lists.example.org" in head, head
        assert "Reply-To: post+comp.test@lists.example.org, post+alt.misc@lists.example.org" in head, head
        sent_dir = os.path.join(inst.dir, "sent")
        wait_for(lambda: os.path.isdir(sent_dir) and os.listdir(sent_dir), timeout=10, what="news2mail")
        [name] = [n for n in os.listdir(sent_dir) if n.endswith(".json")]
        with open(os.path.join(sent_dir, name)) as f:
            got = json.load(f)
        assert got["argv"] == ["-i", "-f", "<>", "--", "list@example.org"], got
        text = got["input"]
        assert "X-Newsgroups: comp.test,alt.misc" in text and "\nPath:" not in text and "\nXref:" not in text
        assert "To: list@example.org, post+comp.test@lists.example.org" in text, text
        # Only the annotated group mails: an alt.misc article does not.
        assert post_raw(r, article("not mailed", "alt.misc", f"<n2m2.{os.getpid()}@x>")).startswith("240")
        time.sleep(0.5)
        assert len([n for n in os.listdir(sent_dir) if n.endswith(".json")]) == 1
    finally:
        inst.close()


def test_cancel_control_messages(server):
    """cancel <id>: carried out for the article's own poster, or where the newsmaster
    has the t right; refused (and logged) otherwise; the cancelled id stays known."""
    suite_only(server, "cancel")
    inst, port = nntp_instance("cancel", "newsmaster: news\n")
    try:
        a = cyrus36.login(inst.port("imap"), "admin", "secret")
        assert ok(a.cmd(b"SETACL news.alt.misc news lrst"))
        fred, barney = Raw(port), Raw(port)
        fred.login("fred")
        barney.login("barney")
        tag = os.getpid()
        for g in ("comp.test", "alt.misc"):
            assert post_raw(fred, article(f"fred in {g}", g, f"<{g}.{tag}@x>")).startswith("240")

        def cancel(who, g):
            return post_raw(who, article("cancel", "comp.test", f"<cancel.{g}.{who is fred}.{tag}@x>",
                                         extra=f"Control: cancel <{g}.{tag}@x>\r\n"))
        # barney may not cancel fred's comp.test article (the newsmaster has no t there).
        assert cancel(barney, "comp.test").startswith("240")
        assert fred.cmd(f"STAT <comp.test.{tag}@x>").startswith("223")
        inst.log.wait(re.escape(f"cancel of <comp.test.{tag}@x> in news.comp.test refused"))
        # In alt.misc the newsmaster has t: anyone's cancel goes through.
        assert cancel(barney, "alt.misc").startswith("240")
        assert fred.cmd(f"STAT <alt.misc.{tag}@x>").startswith("430")
        # The poster may cancel its own.
        assert cancel(fred, "comp.test").startswith("240")
        assert fred.cmd(f"STAT <comp.test.{tag}@x>").startswith("430")
        assert fred.cmd(f"IHAVE <comp.test.{tag}@x>").startswith("435"), "a cancelled id is not taken again"
    finally:
        inst.close()
