"""Users appear as Cyrus makes them: the autocreate_* options, at first login and at
first delivery, in the user's domain; the same checks against Debian's Cyrus 3.6
(IMAP_SERVERS, default "suite,cyrus").
"""

import os
import re
import smtplib

import pytest

import cyrus36
from cyrus36 import ok
from suite import Instance, lmtp_send, saslpasswd

SERVERS = [s.strip() for s in os.environ.get("IMAP_SERVERS", "suite,cyrus").split(",") if s.strip()]
PW = "pw"
SCRIPT = 'require "fileinto";\nif header :contains "subject" "plus" { fileinto "INBOX.Plus"; }\n'
USERS = {"newbie": None, "stranger": None, "newbie@a.test": "a.test", "late@a.test": "a.test"}


def conf(d):
    return (
        "virtdomains: userid\n"
        "defaultdomain: main.test\n"
        "admins: admin\n"
        "allowplaintext: yes\n"
        "unixhierarchysep: no\n"
        "altnamespace: no\n"
        "sasl_pwcheck_method: auxprop\n"
        "sasl_auxprop_plugin: sasldb\n"
        "sasl_mech_list: PLAIN LOGIN\n"
        "autocreate_quota: 1000\n"
        "autocreate_quota_messages: 50\n"
        "autocreate_post: yes\n"
        "autocreate_inbox_folders: Drafts | Sent | Trash | Spam | Plus\n"
        "autocreate_subscribe_folders: Drafts|Sent\n"
        "autocreate_subscribe_sharedfolders: Lobby\n"
        "autocreate_acl: Plus anyone p\n"
        "autocreate_users: newbie newbie@a.test late@a.test\n"
        "xlist-junk: Spam\n"
        "xlist-drafts: Drafts\n"
        f"autocreate_sieve_script: {d}/welcome.sieve\n"
    )


class Server:
    def __init__(self, kind):
        self.kind = kind
        if kind == "suite":
            self.inst = inst = Instance(name="autocreate")
            d = inst.dir
            inst.write_conf(conf(d) + f"sasl_sasldb_path: {d}/config/sasldb2\nsievedir: {d}/sieve\n")
            db = os.path.join(d, "config", "sasldb2")
            inst.tool("mkimap")
            saslpasswd(db, "suite.test", "admin", "secret")
            for u, realm in USERS.items():
                saslpasswd(db, realm or "suite.test", u.split("@")[0], PW)
            self.lmtp, self.port = os.path.join(d, "lmtp.sock"), inst.port("imap")
            inst.write_cyrus_conf(SERVICES=(f'  lmtpunix cmd="lmtpd" listen="{self.lmtp}" prefork=0\n'
                                            f'  imap cmd="imapd" listen="127.0.0.1:{self.port}" prefork=0\n'))
            self.dir = d
        else:
            if not cyrus36.available():
                pytest.skip("Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
            self.cy = cy = cyrus36.CyrusInstance()
            self.dir = d = cy.dir
            cyrus36.merge_conf(cy.conf, conf(d))
            for u, realm in USERS.items():
                cy.add_password(u.split("@")[0], PW, realm or "cyrus.test")
            self.lmtp, self.port = cy.lmtp_socket, cy.port
        with open(os.path.join(d, "welcome.sieve"), "w") as f:
            f.write(SCRIPT)
        if kind == "suite":
            self.inst._own()
            self.inst.start()
        else:
            os.chmod(os.path.join(d, "welcome.sieve"), 0o644)
            self.cy.start()
        a = self.login("admin", "secret")
        assert ok(a.cmd(b"CREATE Lobby")) and ok(a.cmd(b"SETACL Lobby anyone lr"))
        assert ok(a.cmd(b"CREATE Lobby@a.test")) and ok(a.cmd(b"SETACL Lobby@a.test anyone lr"))
        a.cmd(b"LOGOUT")

    def login(self, user, pw=PW):
        return cyrus36.login(self.port, user, pw)

    def close(self):
        if self.kind == "suite":
            self.inst.close()
        else:
            self.cy.stop()



def names(resp):
    out = {}
    for line in resp[0].split(b"\r\n"):
        m = re.match(rb'\* (?:LIST|LSUB) \(([^)]*)\) "." (.*)$', line)
        if m:
            out[m.group(2).decode()] = sorted(f.decode() for f in m.group(1).split() if f.decode() in ("\\Junk", "\\Drafts", "\\Sent", "\\Trash"))
    return out


@pytest.fixture(scope="module", params=SERVERS)
def server(request):
    s = Server(request.param)
    yield s
    s.close()


def cyrus_dies_in_a_domain(server, user):
    """Debian's Cyrus 3.6 imapd and lmtpd exit while autocreating a user of a virtual
    domain (checked here, so that a Cyrus that stops doing so is noticed)."""
    if server.kind != "cyrus" or "@" not in user:
        return False
    im = cyrus36.RawImap(server.port)
    with pytest.raises((EOFError, ConnectionError)):
        im.cmd(f'LOGIN "{user}" "{PW}"'.encode())
    return True


@pytest.mark.parametrize("user", ["newbie", "newbie@a.test"])
def test_first_login_makes_the_inbox_and_everything_around_it(server, user):
    if cyrus_dies_in_a_domain(server, user):
        return
    im = server.login(user)
    listed = names(im.cmd(b'LIST "" "*" RETURN (SPECIAL-USE)'))
    # Debian's Cyrus 3.6 does not set the xlist-FLAG special uses on autocreated folders.
    uses = server.kind == "suite"
    assert listed == {"INBOX": [], "INBOX.Drafts": ["\\Drafts"] * uses, "INBOX.Sent": [], "INBOX.Trash": [],
                      "INBOX.Spam": ["\\Junk"] * uses, "INBOX.Plus": [], "Lobby": []}, (server.kind, listed)
    subs = names(im.cmd(b'LSUB "" "*"'))
    assert sorted(subs) == ["INBOX", "INBOX.Drafts", "INBOX.Sent", "Lobby"], (server.kind, subs)
    q = im.cmd(b"GETQUOTAROOT INBOX")
    assert re.search(rb"STORAGE 0 1000", q[0]) and re.search(rb"MESSAGE 0 50", q[0]), q
    acl = im.cmd(b"GETACL INBOX.Plus")
    assert b" anyone p" in acl[0], acl
    im.cmd(b"LOGOUT")
    # The first Sieve script is active: a message about "plus" is filed there.
    with smtplib.LMTP(server.lmtp) as lm:
        lm.ehlo("autocreate.test")
        m = b"From: a@x.test\r\nSubject: plus one\r\nMessage-ID: <%s@x.test>\r\n\r\nhi\r\n" % os.urandom(5).hex().encode()
        assert lmtp_send(lm, "a@x.test", [user], m)[user][0] == 250
    im = server.login(user)
    st = im.cmd(b"STATUS INBOX.Plus (MESSAGES)")
    assert b"MESSAGES 1" in st[0], (server.kind, st)
    im.cmd(b"LOGOUT")


def test_first_delivery_makes_the_inbox(server):
    if server.kind == "cyrus":
        pytest.skip("Debian's Cyrus 3.6 lmtpd exits autocreating a user of a virtual domain (see above)")
    with smtplib.LMTP(server.lmtp) as lm:
        lm.ehlo("autocreate.test")
        res = lmtp_send(lm, "a@x.test", ["late@a.test"], b"From: a@x.test\r\nSubject: hello\r\n\r\nhi\r\n")
    assert res["late@a.test"][0] == 250, res
    im = server.login("late@a.test")
    assert b"MESSAGES 1" in im.cmd(b"STATUS INBOX (MESSAGES)")[0]
    im.cmd(b"LOGOUT")


def test_only_autocreate_users_and_never_admins(server):
    im = server.login("stranger")
    r = im.cmd(b"SELECT INBOX")
    assert not ok(r), (server.kind, r)
    im.cmd(b"LOGOUT")
    with smtplib.LMTP(server.lmtp) as lm:
        lm.ehlo("autocreate.test")
        res = lmtp_send(lm, "a@x.test", ["stranger", "nobody@a.test"], b"Subject: x\r\n\r\nx\r\n")
    assert res["stranger"][0] == 550 and res["nobody@a.test"][0] == 550, res
    a = server.login("admin", "secret")
    assert not ok(a.cmd(b"SELECT INBOX"))
    assert not re.search(rb"user\.stranger|user\.admin|nobody", a.cmd(b'LIST "" "*"')[0])
    a.cmd(b"LOGOUT")
