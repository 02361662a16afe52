"""smmapd (the socketmap service Postfix asks at SMTP time) and fud (the UDP "where
is my mail" service, proto=udp), against a real instance; Postfix's own postmap -q
does the socketmap lookups; the answers Cyrus 3.6's smmapd and fud give for the same
cases are checked to be the same."""

import os
import smtplib
import socket
import subprocess

import pytest

import cyrus36
from suite import lmtp_send, wait_for

POSTMAP = "/usr/sbin/postmap"


@pytest.fixture
def site(make_instance):
    inst = make_instance(extra_conf="altnamespace: no\nunixhierarchysep: no\n")
    inst.create_mailbox("user.fred", acl="fred\tlrswipkxtecdan\tanonymous\t0\t")
    inst.create_mailbox("user.fred.lists")
    inst.create_mailbox("user.barney")
    inst.create_mailbox("shared.news", acl="anyone\tlrsp\t")
    inst.create_mailbox("shared.private", acl="anyone\tlrs\t")
    inst.create_mailbox("shared.hidden", acl="admin\tlrswipkxtecdan\t")
    inst._own()
    inst.write_cyrus_conf(SERVICES=(
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=1\n'
        f'  smmap cmd="smmapd" listen="{inst.dir}/smmapd.sock" prefork=0\n'
        f'  smmapinet cmd="smmapd -p" listen="127.0.0.1:{inst.port("smmap")}" prefork=0\n'
        f'  fud cmd="fud" listen="127.0.0.1:{inst.port("fud")}" proto=udp prefork=0\n'))
    inst.start()
    return inst


def netstrings(address, *keys, family=socket.AF_UNIX):
    """Asks each key on one connection; the decoded replies."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(address)
    out = []
    for k in keys:
        req = f"cyrus {k}".encode()
        s.sendall(b"%d:%s," % (len(req), req))
        out.append(read_netstring(s))
    s.close()
    return out


def read_netstring(s):
    buf = b""
    while b":" not in buf:
        chunk = s.recv(1)
        if not chunk:
            return None
        buf += chunk
    n = int(buf[:-1])
    data = b""
    while len(data) < n + 1:
        chunk = s.recv(n + 1 - len(data))
        if not chunk:
            return None
        data += chunk
    assert data.endswith(b","), data
    return data[:-1].decode()


def test_socketmap_answers(site):
    sock = f"{site.dir}/smmapd.sock"
    replies = netstrings(sock, "fred", "fred+lists", "fred+nosuch@suite.test", "nobody", "+shared.news", "+shared.private",
                         "+shared.hidden", "+shared.nosuch", "Fred")
    assert replies == ["OK fred", "OK fred+lists", "OK fred+nosuch@suite.test", "NOTFOUND Mailbox does not exist",
                       "OK +shared.news", "PERM Permission denied", "NOTFOUND Mailbox does not exist",
                       "NOTFOUND Mailbox does not exist", "OK Fred"], replies
    assert not os.path.exists(site.mailbox_dir("user.fred") + "/../nobody"), "no mailbox made"
    # Over quota: TEMP, as lmtpd's 452.
    site.tool("quota", "--set", "user.barney", "1")
    lm = smtplib.LMTP(f"{site.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    lmtp_send(lm, "a@b", ["barney"], b"Subject: big\r\n\r\n" + b"x" * 3000 + b"\r\n")
    lm.quit()
    assert netstrings(sock, "barney") == ["TEMP Over quota"]
    # Denied by cyr_deny for smmapd: NOTFOUND with the denial's text.
    site.tool("cyr_deny", "-s", "smmapd", "-m", "gone fishing", "fred")
    assert netstrings(sock, "fred") == ["NOTFOUND gone fishing"]
    site.tool("cyr_deny", "-a", "fred")
    # -p: the +detail is not looked at.
    assert netstrings(("127.0.0.1", site.port("smmap")), "fred+nosuch", family=socket.AF_INET) == ["OK fred+nosuch"]


def test_socketmap_bad_input_keeps_serving(site):
    sock = f"{site.dir}/smmapd.sock"
    for bad in (b"abc", b"5:cyrus,", b"3:abc;", b"99999999:x", b"4:fred,"):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(sock)
        s.sendall(bad)
        s.shutdown(socket.SHUT_WR)
        reply = read_netstring(s)
        assert reply is None or reply.startswith("PERM "), (bad, reply)
        s.close()
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.close()
    assert netstrings(sock, "fred") == ["OK fred"], "still serving"


@pytest.mark.skipif(not os.access(POSTMAP, os.X_OK), reason="needs Postfix's postmap (scripts/deps --cyrus)")
def test_postfix_socketmap_lookup(site):
    table = f"socketmap:unix:{site.dir}/smmapd.sock:cyrus"
    confdir = os.path.join(site.dir, "postfix")
    os.makedirs(confdir)
    with open(os.path.join(confdir, "main.cf"), "w") as f:
        f.write("compatibility_level = 3.6\n")
    r = subprocess.run([POSTMAP, "-c", confdir, "-q", "fred@suite.test", table], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, "fred@suite.test\n"), r
    r = subprocess.run([POSTMAP, "-c", confdir, "-q", "nobody@suite.test", table], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout) == (1, ""), r
    r = subprocess.run([POSTMAP, "-c", confdir, "-q", "+shared.private", table], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r


def fud(port, request, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(request, ("127.0.0.1", port))
    data, _ = s.recvfrom(1024)
    s.close()
    return data


def test_fud_answers(site):
    port = site.port("fud")
    assert fud(port, b"nobody|INBOX") == b"UNKNOWN\0"
    assert fud(port, b"barney|INBOX") == b"PERMDENY\0", "no 0 right for anonymous"
    first = fud(port, b"fred|INBOX").decode().split("|")
    assert first[:3] == ["fred", "INBOX", "0"] and first[3] == "0"
    lm = smtplib.LMTP(f"{site.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    for _ in range(3):
        lmtp_send(lm, "a@b", ["fred"], b"Subject: hi\r\n\r\nx\r\n")
    lm.quit()
    user, box, recent, lastread, arrived = fud(port, b"fred|INBOX").decode().split("|")
    assert (user, box, recent, lastread) == ("fred", "INBOX", "3", "0")
    assert abs(int(arrived) - int(__import__("time").time())) < 60
    # A shared mailbox: no \Seen state for wilma yet, so everything is new to her.
    assert fud(port, b"wilma|shared.news").decode().split("|")[:3] == ["wilma", "shared.news", "0"]
    assert fud(port, b"wilma|shared.nosuch") == b"UNKNOWN\0"
    # Bad datagrams are ignored (no '|') or answered; the service keeps answering.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for junk in (b"", b"no separator", b"\xff\xfe|\x00", b"|", b"x" * 600):
        s.sendto(junk, ("127.0.0.1", port))
    s.close()
    assert fud(port, b"nobody|INBOX") == b"UNKNOWN\0"
    assert len(site.workers("fud")) == 1, "one fud serves every datagram"


@pytest.mark.skipif(not cyrus36.available() or not os.access(os.path.join(cyrus36.CYRUS_BIN, "smmapd"), os.X_OK),
                    reason="Debian's Cyrus 3.6 is not installed")
def test_answers_match_cyrus36(site):
    cy = cyrus36.CyrusInstance()
    try:
        smsock = os.path.join(cy.dir, "smmapd.sock")
        fud_port = cyrus36.free_port()
        conf = os.path.join(cy.dir, "cyrus.conf")
        with open(conf) as f:
            text = f.read()
        text = text.replace("}\nEVENTS", f'  smmap cmd="{cyrus36.CYRUS_BIN}/smmapd -C {cy.conf}" listen="{smsock}" prefork=0\n'
                                         f'  fud cmd="{cyrus36.CYRUS_BIN}/fud -C {cy.conf}" listen="127.0.0.1:{fud_port}" proto=udp prefork=0\n'
                                         "}\nEVENTS", 1)
        with open(conf, "w") as f:
            f.write(text)
        cy.start()
        im = cyrus36.RawImap(cy.port)
        assert im.cmd(b"LOGIN admin secret")[1].split()[1] == b"OK"
        for cmd in (b"CREATE user.fred", b"CREATE user.barney", b"CREATE shared.news", b"CREATE shared.private",
                    b'SETACL shared.news anyone lrsp', b'SETACL shared.private anyone lrs', b'SETACL user.fred anonymous 0'):
            assert im.cmd(cmd)[1].split()[1] == b"OK", cmd
        im.cmd(b"LOGOUT")
        wait_for(lambda: os.path.exists(smsock), what="Cyrus's smmapd socket")
        keys = ("fred", "nobody", "+shared.news", "+shared.private", "+shared.nosuch")
        assert netstrings(smsock, *keys) == netstrings(f"{site.dir}/smmapd.sock", *keys)
        for req in (b"nobody|INBOX", b"barney|INBOX"):
            assert fud(fud_port, req) == fud(site.port("fud"), req), req
        theirs, ours = fud(fud_port, b"fred|INBOX").split(b"|"), fud(site.port("fud"), b"fred|INBOX").split(b"|")
        assert theirs[:3] == ours[:3] == [b"fred", b"INBOX", b"0"]
    finally:
        cy.stop()
