"""Who may log in: cyr_deny per service, hostile login names, the authorisation id
rules, each refusal one `badlogin:` log line that fail2ban-style tools can match;
over IMAP, POP3 and LMTP AUTH, with the worker serving the next client each time.
cyr_deny is also run against Debian's Cyrus 3.6 (its own cyr_deny), where installed.
"""

import base64
import os
import smtplib
import subprocess

import pytest

import cyrus36
from suite import BIN, Instance, pop_login, saslpasswd

SERVERS = [s.strip() for s in os.environ.get("IMAP_SERVERS", "suite,cyrus").split(",") if s.strip()]
CONF = ("allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_mech_list: PLAIN LOGIN\n"
        "admins: admin\nvirtdomains: userid\ndefaultdomain: suite.test\nunixhierarchysep: no\naltnamespace: no\n")
# Names saslpasswd2 stores, so that libsasl2 accepts their password and only the
# suite's own rules (Cyrus's userid character map) can refuse them.
HOSTILE_IN_SASLDB = ["evil*", "a/b", "x:y", "who?"]
# Names refused before or by libsasl2 (not in any database), each also a probe.
HOSTILE = ["fred@@suite.test", "*)(uid=*", "fred\x00admin", "../../etc", "fred@bücher.test", "A" * 300, "fred@-bad-.test",
           "admin@other.test", "", " fred", "pct%x"]


@pytest.fixture(scope="module")
def suite():
    inst = Instance(name="logins", extra_conf=CONF)
    db = os.path.join(inst.dir, "config", "sasldb2")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {db}\n")
    inst.tool("mkimap")
    # pct%x is in the sasldb too: its password must not make it pct@x.
    for u, pw in (("fred", "pw"), ("admin", "secret"), ("pct%x", "pw"), *((h, "pw") for h in HOSTILE_IN_SASLDB)):
        saslpasswd(db, "suite.test", u, pw)
    inst.write_cyrus_conf(SERVICES=(
        f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=1\n'
        f'  pop3 cmd="pop3d" listen="127.0.0.1:{inst.port("pop3")}" prefork=1\n'
        f'  lmtp cmd="lmtpd" listen="127.0.0.1:{inst.port("lmtp")}" prefork=1\n'))
    inst._own()
    inst.start()
    a = cyrus36.RawImap(inst.port("imap"))
    assert ok(a.cmd(b"LOGIN admin secret")) and ok(a.cmd(b"CREATE user.fred"))
    a.cmd(b"LOGOUT")
    yield inst
    inst.close()


def ok(r):
    return r[1].split()[1] == b"OK"


def imap_login(port, user, pw):
    im = cyrus36.RawImap(port)
    r = im.cmd(b'LOGIN "' + user.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'" "' + pw.encode() + b'"') \
        if "\x00" not in user and len(user) < 200 else im.cmd(b"LOGIN {%d+}\r\n" % len(user.encode()) + user.encode() + b" " + pw.encode())
    im.cmd(b"LOGOUT")
    return ok(r)


def lmtp_auth(port, authzid, authcid, pw):
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as lm:
        lm.ehlo("logins.test")
        token = base64.b64encode(f"{authzid}\0{authcid}\0{pw}".encode()).decode()
        code, _ = lm.docmd("AUTH", f"PLAIN {token}")
        return code == 235


def test_hostile_names_are_refused_logged_and_the_workers_go_on(suite):
    ports = {"imap": suite.port("imap"), "pop3": suite.port("pop3"), "lmtp": suite.port("lmtp")}
    for name in HOSTILE_IN_SASLDB + HOSTILE:
        if "\x00" not in name:
            assert not imap_login(ports["imap"], name, "pw"), name
            # (POP3's USER takes the word after one space: " fred" is fred there.)
            assert name.startswith(" ") or not pop_login(ports["pop3"], name, "pw"), name
        # (libsasl2 itself trims the spaces around an authentication id in an exchange.)
        assert name.startswith(" ") or not lmtp_auth(ports["lmtp"], "", name, "pw"), name
        # The same worker processes serve the next good login at once.
        assert imap_login(ports["imap"], "fred", "pw") and pop_login(ports["pop3"], "fred", "pw")
        assert lmtp_auth(ports["lmtp"], "", "fred", "pw")
    # libsasl2 accepted these passwords; the suite's rules refused the names, saying why.
    for name in HOSTILE_IN_SASLDB:
        for svc in ("imap", "pop3", "lmtp"):
            # (In an exchange the name is refused by libsasl2's canon_user callback, before
            # any password check, and the line carries libsasl2's error around the reason.)
            lines = suite.log.grep(rf"{svc}d\[\d+\]: badlogin: .* {name.replace('*', '[*]').replace('?', '[?]')} (.*: )?invalid userid")
            assert lines, (svc, name, suite.log.lines[-20:])
    # Case and the default domain fold into one user, as Cyrus's username_tolower.
    assert imap_login(ports["imap"], "FRED", "pw") and imap_login(ports["imap"], "fred@suite.test", "pw")


def test_authorisation_id_needs_an_admin(suite):
    lmtp = suite.port("lmtp")
    assert not lmtp_auth(lmtp, "fred", "evil*", "pw")
    assert lmtp_auth(lmtp, "fred", "admin", "secret")
    im = cyrus36.RawImap(suite.port("imap"))
    token = base64.b64encode(b"admin\0fred\0pw").decode()
    assert not ok(im.cmd(f"AUTHENTICATE PLAIN {token}".encode()))
    assert suite.log.grep(r"badlogin: .* fred .*may not act as admin|badlogin: .*PLAIN")


class Target:
    def __init__(self, kind, suite):
        self.kind = kind
        if kind == "suite":
            self.imap, self.pop, self.conf, self.bin = suite.port("imap"), suite.port("pop3"), suite.conf, BIN
        else:
            if not cyrus36.available():
                pytest.skip("Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
            self.cy = cy = cyrus36.CyrusInstance(extra_conf="")
            cy.add_password("fred", "pw")
            cy.start()
            cy.create_users(["fred"])
            self.imap, self.pop, self.conf, self.bin = cy.port, cy.pop_port, cy.conf, cyrus36.CYRUS_BIN

    def deny(self, *args):
        r = subprocess.run([os.path.join(self.bin, "cyr_deny"), "-C", self.conf, *args], capture_output=True, text=True, timeout=30)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "cyrus:", os.path.dirname(self.conf)], check=False)
        return r

    def close(self):
        if self.kind == "cyrus":
            self.cy.stop()


@pytest.mark.parametrize("kind", SERVERS)
def test_cyr_deny_per_service(suite, kind):
    t = Target(kind, suite)
    try:
        assert imap_login(t.imap, "fred", "pw") and pop_login(t.pop, "fred", "pw")
        r = t.deny("-s", "pop3*", "-m", "Use IMAP please", "fred")
        assert r.returncode == 0, r.stderr
        assert imap_login(t.imap, "fred", "pw"), kind
        assert not pop_login(t.pop, "fred", "pw"), kind
        listed = t.deny("-l").stdout
        assert "fred" in listed and "pop3*" in listed, listed
        assert t.deny("-s", "*", "fred").returncode == 0
        assert not imap_login(t.imap, "fred", "pw"), kind
        assert t.deny("-a", "fred").returncode == 0
        assert imap_login(t.imap, "fred", "pw") and pop_login(t.pop, "fred", "pw")
        if kind == "suite":
            assert suite.log.grep(r"pop3d\[\d+\]: badlogin: .* fred user 'fred' denied access to service 'pop3': Use IMAP please")
            assert suite.log.grep(r"imapd\[\d+\]: badlogin: .* fred user 'fred' denied access to service 'imap'")
    finally:
        t.close()

