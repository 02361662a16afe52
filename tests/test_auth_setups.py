"""Authentication set-ups of a Cyrus site, each proven with the real daemons: the
suite's master and workers, and the password or ticket service run by the test
(tests/authd.py): saslauthd on a sasldb and on OpenLDAP, libsasl2's auxprop plugins,
an MIT KDC for GSSAPI, SCRAM/CRAM/DIGEST with channel binding, and TLS client
certificates for EXTERNAL. Logins go over IMAP (imaplib or a raw client), POP3
(poplib), LMTP AUTH (smtplib.LMTP) and, for GSSAPI, Debian's imtest/pop3test/
lmtptest/sivtest. Where the behaviour should match Cyrus, the same test also runs
against Debian's Cyrus 3.6 (`IMAP_SERVERS=suite,cyrus`); differences are asserted as
such. Bad input — a saslauthd that is down or hangs, LDAP filter characters in a
name, a principal of another realm, a certificate of another CA — is refused with a
`badlogin:` log line while the worker goes on serving.
"""

import base64
import hashlib
import hmac
import imaplib
import os
import poplib
import pwd
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

import authd
import cyrus36
from suite import Instance, make_cert, pop_login, saslpasswd

SERVERS = [s.strip() for s in os.environ.get("IMAP_SERVERS", "suite,cyrus").split(",") if s.strip()]
BASE = "allowplaintext: yes\nunixhierarchysep: no\naltnamespace: no\nadmins: admin\n"
USERS = (("fred", "fredpw"), ("admin", "secret"))


def cyrus_uid():
    pw = pwd.getpwnam("cyrus")
    return pw.pw_uid, pw.pw_gid


class Target:
    """The suite or Cyrus 3.6 with imapd.conf lines `conf`, users `mailboxes`
    created; .imap, .pop and (suite only) .lmtp ports; .log (suite only)."""

    def __init__(self, kind, conf, mailboxes=("fred",), services="", ports=()):
        self.kind, self.log, self.lmtp = kind, None, None
        if kind == "suite":
            self.inst = inst = Instance(name="auth", extra_conf=BASE + conf)
            self.ports = {p: inst.port(p) for p in ports}
            inst.tool("mkimap")
            inst.write_cyrus_conf(SERVICES=(
                f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=1\n'
                f'  pop3 cmd="pop3d" listen="127.0.0.1:{inst.port("pop3")}" prefork=1\n'
                f'  lmtp cmd="lmtpd" listen="127.0.0.1:{inst.port("lmtp")}" prefork=1\n' + services.format(inst=inst)))
            for u in mailboxes:
                inst.create_mailbox(f"user.{u}")
            inst._own()
            inst.start()
            self.imap, self.pop, self.lmtp, self.log = inst.port("imap"), inst.port("pop3"), inst.port("lmtp"), inst.log
        else:
            if not cyrus36.available():
                pytest.skip("Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
            self.cy = cyrus36.CyrusInstance(extra_conf=conf)
            self.cy.start()
            self.imap, self.pop = self.cy.port, self.cy.pop_port
            self.mailboxes = mailboxes

    def make_mailboxes(self):
        """Cyrus: the users' INBOXes, made by the admin over IMAP (once logins work)."""
        if self.kind == "cyrus" and self.mailboxes:
            self.cy.create_users(list(self.mailboxes))

    def close(self):
        if self.kind == "suite":
            self.inst.close()
        else:
            self.cy.stop()

    stop = close  # for authd.cleanup


@pytest.fixture
def tmp():
    """A temp dir the workers (user cyrus) can reach (pytest's own is root's alone)."""
    d = tempfile.mkdtemp(prefix="auth-setups-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def imap_login(port, user, password, timeout=30):
    """(ok, tagged line, seconds) of one LOGIN on a fresh connection."""
    im = cyrus36.RawImap(port)
    im.sock.settimeout(timeout)
    t = time.monotonic()
    _, tagged = im.cmd(b'LOGIN "' + user.encode() + b'" "' + password.encode() + b'"')
    took = time.monotonic() - t
    try:
        im.cmd(b"LOGOUT")
    except (OSError, EOFError):
        pass
    return tagged.split()[1] == b"OK", tagged, took


def imap_plain(port, user, password, authz=""):
    im = cyrus36.RawImap(port)
    token = base64.b64encode(f"{authz}\0{user}\0{password}".encode())
    _, tagged = im.cmd(b"AUTHENTICATE PLAIN " + token)
    im.cmd(b"LOGOUT")
    return tagged.split()[1] == b"OK"


def pop_answer(port, user, password):
    """The server's answer to PASS (after USER)."""
    p = poplib.POP3("127.0.0.1", port, timeout=30)
    try:
        p.user(user)
        return p.pass_(password).decode()
    except poplib.error_proto as e:
        return str(e.args[0].decode() if isinstance(e.args[0], bytes) else e.args[0])
    finally:
        try:
            p.quit()
        except (poplib.error_proto, OSError, EOFError):
            pass


def lmtp_plain(port, user, password):
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as lm:
        lm.ehlo("auth.test")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, _ = lm.docmd("AUTH", f"PLAIN {token}")
        return code == 235


def sasldb_for_saslauthd(tmp, users):
    """A test sasldb holding users in every realm libsasl2 may ask saslauthd for (the
    server's name, as Cyrus and the suite are set up here, and this host's name,
    which saslauthd's sasldb backend takes when the request has no realm)."""
    db = os.path.join(tmp, "saslauthd-sasldb2")
    for realm in {"suite.test", "cyrus.test", socket.gethostname()}:
        for u, pw in users:
            saslpasswd(db, realm, u, pw)
    return db


# ---- 1. sasl_pwcheck_method: saslauthd (saslauthd -a sasldb) ----

def saslauthd_conf(mux):
    return f"sasl_pwcheck_method: saslauthd\nsasl_saslauthd_path: {mux}\nsasl_mech_list: PLAIN LOGIN\n"


@pytest.mark.parametrize("kind", SERVERS)
def test_saslauthd_sasldb(tmp, kind):
    sd = authd.Saslauthd(tmp, "sasldb", sasldb=sasldb_for_saslauthd(tmp, USERS))
    t = None
    try:
        assert sd.check("fred", "fredpw", realm="suite.test") and not sd.check("fred", "wrong", realm="suite.test")
        t = Target(kind, saslauthd_conf(sd.mux))
        t.make_mailboxes()
        assert imap_login(t.imap, "fred", "fredpw")[0], kind
        assert not imap_login(t.imap, "fred", "wrong")[0], kind
        assert imap_plain(t.imap, "fred", "fredpw"), kind
        assert pop_login(t.pop, "fred", "fredpw") and not pop_login(t.pop, "fred", "wrong"), kind
        if t.lmtp:
            assert lmtp_plain(t.lmtp, "fred", "fredpw") and not lmtp_plain(t.lmtp, "fred", "wrong")
            t.log.wait(r"imapd\[\d+\]: badlogin: .* plaintext fred ")
    finally:
        authd.cleanup(t, sd)


def no_worker_died(t):
    """No worker of the suite's master ended other than cleanly (master logs each exit)."""
    return not t.log.grep(r"master\[\d+\]: process .*(signaled to death|exited, status [1-9])")


@pytest.mark.parametrize("kind", SERVERS)
def test_saslauthd_down_is_a_clean_no(tmp, kind):
    """No saslauthd at the socket's path: NO at once, every time, on the same worker.
    The suite says the service is unavailable (IMAP [UNAVAILABLE], POP3 [SYS/TEMP],
    LMTP 454: a client should not ask for another password); Cyrus 3.6 answers
    "NO Login failed: generic failure" and "-ERR [AUTH] Invalid login"."""
    mux = os.path.join(tmp, "nothing-here", "mux")
    t = Target(kind, saslauthd_conf(mux), mailboxes=())
    try:
        for _ in range(3):
            ok, tagged, took = imap_login(t.imap, "fred", "fredpw")
            assert not ok and tagged.split()[1] == b"NO" and took < 5, (kind, tagged, took)
            assert (b"[UNAVAILABLE]" in tagged) == (kind == "suite"), (kind, tagged)
            assert pop_answer(t.pop, "fred", "fredpw").startswith(
                "-ERR [SYS/TEMP]" if kind == "suite" else "-ERR [AUTH]"), kind
        if t.lmtp:
            with smtplib.LMTP("127.0.0.1", t.lmtp, timeout=30) as lm:
                lm.ehlo("auth.test")
                assert lm.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0fred\0fredpw").decode())[0] == 454
        if t.log:
            t.log.wait(r"imapd\[\d+\]: badlogin: .* plaintext fred .*cannot connect to saslauthd")
            t.log.wait(r"pop3d\[\d+\]: badlogin: .* fred .*cannot connect to saslauthd")
            assert no_worker_died(t)
    finally:
        t.close()


HANG_LIMIT = 3


@pytest.mark.parametrize("kind", SERVERS)
def test_saslauthd_hanging_is_bounded(tmp, kind):
    """A saslauthd that accepts and never answers: the suite answers NO after
    password_check_timeout (3 s here; 15 s by default) with a badlogin line, and the
    same worker then logs the next user in once saslauthd is back. Cyrus 3.6 (libsasl2
    reads saslauthd's answer with no time limit) does not answer at all."""
    mux = os.path.join(tmp, "hang", "mux")
    hang = authd.HangingSocket(mux)
    t = Target(kind, saslauthd_conf(mux) + f"password_check_timeout: {HANG_LIMIT}\n", mailboxes=())
    sd = None
    try:
        if kind == "cyrus":
            with pytest.raises(socket.timeout):
                imap_login(t.imap, "fred", "fredpw", timeout=2 * HANG_LIMIT + 4)
            return
        pid = set(t.inst.workers("imapd"))
        im = cyrus36.RawImap(t.imap)
        start = time.monotonic()
        _, tagged = im.cmd(b"LOGIN fred fredpw")
        took = time.monotonic() - start
        assert tagged.split()[1] == b"NO" and HANG_LIMIT <= took < HANG_LIMIT + 3, (tagged, took)
        assert b"[UNAVAILABLE]" in tagged
        t.log.wait(rf"imapd\[\d+\]: badlogin: .* plaintext fred .*no answer within {HANG_LIMIT} s")
        _, tagged = im.cmd(b"AUTHENTICATE PLAIN " + base64.b64encode(b"\0fred\0fredpw"))
        assert tagged.split()[1] == b"NO"
        assert not pop_login(t.pop, "fred", "fredpw")
        t.log.wait(r"pop3d\[\d+\]: badlogin: .*no answer within")
        # saslauthd is back at the same path: the same session and worker log in.
        hang.stop()
        os.unlink(mux)
        sd = authd.Saslauthd(tmp, "sasldb", sasldb=sasldb_for_saslauthd(tmp, USERS))
        os.replace(sd.mux, mux)
        _, tagged = im.cmd(b"LOGIN fred fredpw")
        assert tagged.split()[1] == b"OK", tagged
        im.cmd(b"LOGOUT")
        assert set(t.inst.workers("imapd")) >= pid and no_worker_died(t)
    finally:
        authd.cleanup(hang, sd, t)


# ---- 2. saslauthd -a ldap against OpenLDAP's slapd ----

def not_alice(sd):
    """The requests saslauthd logged for other names than alice (and the admin, who
    makes Cyrus's mailboxes)."""
    return [line for line in sd.text().splitlines()
            if "[user=" in line and "[user=alice]" not in line and "[user=admin]" not in line]


@pytest.mark.parametrize("kind", SERVERS)
def test_saslauthd_ldap(tmp, kind):
    ldap = authd.Slapd(tmp, users=[("alice", "alicepw"), ("admin", "secret"), ("fred", "fredpw")])
    sd, t = None, None
    try:
        sd = authd.Saslauthd(tmp, "ldap", conf=(f"ldap_servers: {ldap.uri}\nldap_search_base: {authd.PEOPLE}\n"
                                                 "ldap_filter: (uid=%u)\nldap_auth_method: bind\n"))
        # saslauthd escapes filter characters itself: neither name finds an entry.
        assert sd.check("alice", "alicepw") and not sd.check("alice", "nope")
        for hostile in ("*", "*)(uid=*", "alice)(|(uid=*"):
            assert not sd.check(hostile, "alicepw"), hostile
        asked_before = not_alice(sd)
        assert len(asked_before) == 3, sd.text()
        t = Target(kind, saslauthd_conf(sd.mux), mailboxes=("alice",))
        t.make_mailboxes()
        assert imap_login(t.imap, "alice", "alicepw")[0] and imap_plain(t.imap, "alice", "alicepw")
        assert not imap_login(t.imap, "alice", "fredpw")[0]
        assert pop_login(t.pop, "alice", "alicepw")
        for hostile in ("*", "*)(uid=*"):
            assert not imap_login(t.imap, hostile, "alicepw")[0], (kind, hostile)
            assert not imap_plain(t.imap, hostile, "alicepw"), (kind, hostile)
            assert not pop_login(t.pop, hostile, "alicepw"), (kind, hostile)
            if t.lmtp:
                assert not lmtp_plain(t.lmtp, hostile, "alicepw")
        # Neither server asked saslauthd about them (Cyrus's canon_user callback and the
        # suite's refuse the names first): only alice's logins reached it.
        assert not_alice(sd) == asked_before, kind
        if t.log:
            t.log.wait(r"imapd\[\d+\]: badlogin: .* [*][)][(]uid=[*] ")
            t.log.wait(r"lmtpd\[\d+\]: badlogin: .* [*][)][(]uid=[*]")
            # The workers went on: a good login after the refusals.
            assert imap_login(t.imap, "alice", "alicepw")[0] and lmtp_plain(t.lmtp, "alice", "alicepw")
    finally:
        authd.cleanup(t, sd, ldap)


# ---- 3. sasl_pwcheck_method: auxprop with the ldapdb plugin ----

@pytest.mark.parametrize("kind", SERVERS)
def test_auxprop_ldapdb(tmp, kind):
    """libsasl2's ldapdb auxprop plugin reads userPassword from slapd, binding as a
    proxy user (DIGEST-MD5) that may act for each user (authzTo): plaintext logins
    and the shared-secret mechanisms work from the directory's passwords."""
    authd.need("/usr/lib/x86_64-linux-gnu/sasl2/libldapdb.so")
    ldap = authd.Slapd(tmp, users=[("fred", "fredpw"), ("admin", "secret")], proxy=("ldapproxy", "proxypw"))
    conf = (f"sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: ldapdb\nsasl_ldapdb_uri: {ldap.uri}\n"
            "sasl_ldapdb_id: ldapproxy\nsasl_ldapdb_pw: proxypw\nsasl_ldapdb_mech: DIGEST-MD5\n"
            "sasl_mech_list: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\n")
    t = None
    try:
        t = Target(kind, conf)
        t.make_mailboxes()
        assert imap_login(t.imap, "fred", "fredpw")[0], kind
        assert not imap_login(t.imap, "fred", "wrong")[0], kind
        assert imap_auth(t.imap, "CRAM-MD5", cram_md5("fred", "fredpw")), kind
        scram = Scram("sha256", "fred", "fredpw")
        assert imap_auth(t.imap, "SCRAM-SHA-256", scram) and scram.verified, kind
        assert pop_login(t.pop, "fred", "fredpw"), kind
        assert not imap_login(t.imap, "nobody", "fredpw")[0], kind
        if t.lmtp:
            assert lmtp_plain(t.lmtp, "fred", "fredpw") and not lmtp_plain(t.lmtp, "fred", "wrong")
            t.log.wait(r"imapd\[\d+\]: badlogin: .* plaintext fred ")
            # slapd down: a clean NO, and the worker serves again once it is back.
            ldap.stop()
            ok, tagged, _ = imap_login(t.imap, "fred", "fredpw")
            assert not ok and tagged.split()[1] == b"NO", tagged
            assert b"[UNAVAILABLE]" in tagged, tagged
    finally:
        authd.cleanup(t, ldap)


# ---- 4. GSSAPI with an MIT KDC ----

CYRUS_CLIENTS = "/usr/lib/cyrus/bin"


def cyrus_client(tool, port, env, *args, stdin=b""):
    """Runs Debian's imtest/pop3test/lmtptest/sivtest against localhost:port; its
    whole output."""
    path = os.path.join(CYRUS_CLIENTS, tool)
    authd.need(path)
    r = subprocess.run([path, "-m", "GSSAPI", *args, "-p", str(port), "localhost"], input=stdin, env=env,
                       capture_output=True, timeout=60)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def loginrealms_target(kdc, conf, mallory, kind="suite"):
    """With the other realm in loginrealms, its users log in."""
    t = Target(kind, conf + f"loginrealms: {kdc.other}\n", mailboxes=())
    out = cyrus_client("imtest", t.imap, mallory, "-a", f"mallory@{kdc.other}", "-u", f"mallory@{kdc.other}",
                       stdin=b". LOGOUT\r\n")
    assert "Authenticated." in out, (kind, out)
    return t


GSSAPI_SERVICES = '  sieve cmd="timsieved" listen="127.0.0.1:{inst.ports[sieve]}" prefork=0\n'


@pytest.mark.parametrize("kind", SERVERS)
def test_gssapi_with_an_mit_kdc(tmp, kind, monkeypatch):
    kdc = authd.Kdc(tmp, owner=cyrus_uid())
    kdc.add_user("fred", "fredpw")
    kdc.add_user("mallory", "mallorypw", realm=kdc.other)
    # Master hands its environment to the workers: the keytab is found through
    # KRB5_KTNAME, as Cyrus sites set it.
    for k in ("KRB5_CONFIG", "KRB5_KTNAME"):
        monkeypatch.setenv(k, kdc.env[k])
    monkeypatch.setenv("KRB5RCACHETYPE", "none")
    conf = "servername: localhost\nsasl_mech_list: GSSAPI PLAIN\n"
    t = None
    try:
        t = Target(kind, conf, services=GSSAPI_SERVICES, ports=("sieve",))
        if kind == "cyrus":
            t.cy.add_password("admin", "secret", realm="localhost")
        t.make_mailboxes()
        fred = kdc.kinit(f"fred@{kdc.realm}", "fredpw", os.path.join(tmp, "fred.cc"))
        out = cyrus_client("imtest", t.imap, fred, "-a", "fred", "-u", "fred", stdin=b". SELECT INBOX\r\n. LOGOUT\r\n")
        assert "Authenticated." in out and re.search(r"^\. OK \[READ-WRITE\]", out, re.M), (kind, out)
        out = cyrus_client("pop3test", t.pop, fred, "-a", "fred", "-u", "fred", stdin=b"STAT\r\nQUIT\r\n")
        assert "Authenticated." in out and "+OK 0 0" in out, (kind, out)
        # A client that insists on a SASL security layer (integrity, -k 1): Cyrus
        # offers GSSAPI's layers; the suite offers none (TLS is its layer: see README,
        # Not built yet), so that client gives up.
        out = cyrus_client("imtest", t.imap, fred, "-a", "fred", "-u", "fred", "-k", "1", stdin=b". LOGOUT\r\n")
        assert ("Authenticated." in out) == (kind == "cyrus"), (kind, out)
        mallory = kdc.kinit(f"mallory@{kdc.other}", "mallorypw", os.path.join(tmp, "mallory.cc"))
        out = cyrus_client("imtest", t.imap, mallory, "-a", f"mallory@{kdc.other}", "-u", f"mallory@{kdc.other}",
                           stdin=b". LOGOUT\r\n")
        # Refused by both (Cyrus: "NO authentication failure").
        assert "Authenticated." not in out and "A01 NO" in out, (kind, out)
        if kind == "cyrus":
            t.close()
            t = loginrealms_target(kdc, conf, mallory, kind)
            return
        # The default realm is stripped (libsasl2's GSSAPI plugin), as in Cyrus.
        t.log.wait(r"imapd\[\d+\]: login: .* fred GSSAPI")
        t.log.wait(r"pop3d\[\d+\]: login: .* fred GSSAPI")
        other = kdc.other.lower()
        t.log.wait(rf"imapd\[\d+\]: badlogin: .* GSSAPI mallory@{other} cross-realm login mallory@{other} denied")
        out = cyrus_client("lmtptest", t.lmtp, fred, "-a", "fred", "-u", "fred", stdin=b"QUIT\r\n")
        assert "Authenticated." in out, out
        out = cyrus_client("sivtest", t.ports["sieve"], fred, "-a", "fred", "-u", "fred", stdin=b"LISTSCRIPTS\r\nLOGOUT\r\n")
        assert "Authenticated." in out, out
        t.log.wait(r"timsieved\[\d+\]: login: .* fred GSSAPI")
        # The worker goes on: fred again after mallory's refusal.
        out = cyrus_client("imtest", t.imap, fred, "-a", "fred", "-u", "fred", stdin=b". LOGOUT\r\n")
        assert "Authenticated." in out and no_worker_died(t)
        t.close()
        t = loginrealms_target(kdc, conf, mallory)
        # The suite's userid keeps the realm, lowered as every domain.
        t.log.wait(rf"imapd\[\d+\]: login: .* mallory@{kdc.other.lower()} GSSAPI")
    finally:
        authd.cleanup(t, kdc)


# ---- 5. SCRAM-SHA-1/-256 (and -PLUS over TLS), CRAM-MD5, DIGEST-MD5 on a sasldb ----

class Scram:
    """An RFC 5802 SCRAM client as an imaplib authenticator; `cb` = (type, data)
    uses channel binding (the -PLUS mechanisms)."""

    def __init__(self, hname, user, password, cb=None):
        self.h, self.user, self.pw, self.cb = hname, user, password, cb
        self.gs2 = f"p={cb[0]},," if cb else "n,,"
        self.bare = f"n={user},r={base64.b64encode(os.urandom(18)).decode()}"
        self.state, self.verified = 0, False

    def mac(self, key, msg):
        return hmac.new(key, msg.encode(), self.h).digest()

    def __call__(self, challenge):
        self.state += 1
        if self.state == 1:
            return (self.gs2 + self.bare).encode()
        if self.state == 2:
            first = challenge.decode()
            f = dict(kv.split("=", 1) for kv in first.split(","))
            salted = hashlib.pbkdf2_hmac(self.h, self.pw.encode(), base64.b64decode(f["s"]), int(f["i"]))
            client_key = self.mac(salted, "Client Key")
            cbind = base64.b64encode(self.gs2.encode() + (self.cb[1] if self.cb else b"")).decode()
            final = f"c={cbind},r={f['r']}"
            auth = f"{self.bare},{first},{final}"
            proof = bytes(a ^ b for a, b in zip(client_key, self.mac(hashlib.new(self.h, client_key).digest(), auth)))
            self.expect = base64.b64encode(self.mac(self.mac(salted, "Server Key"), auth)).decode()
            return f"{final},p={base64.b64encode(proof).decode()}".encode()
        self.verified = challenge.decode() == f"v={self.expect}"
        return b""


def cram_md5(user, password):
    return lambda chal: f"{user} {hmac.new(password.encode(), chal, 'md5').hexdigest()}".encode()


def digest_md5(user, password, uri):
    """An RFC 2831 client (qop=auth) as an imaplib authenticator."""
    def md5(b):
        return hashlib.md5(b).digest()

    def step(chal):
        d = {k: v.strip('"') for k, v in re.findall(r'([\w-]+)=("(?:[^"\\]|\\.)*"|[^,]*)', chal.decode())}
        if "rspauth" in d or not d:
            return b""
        realm, nonce, cnonce, nc = d.get("realm", ""), d["nonce"], base64.b64encode(os.urandom(12)).decode(), "00000001"
        a1 = md5(f"{user}:{realm}:{password}".encode()) + f":{nonce}:{cnonce}".encode()
        a2 = f"AUTHENTICATE:{uri}".encode()
        resp = hashlib.md5(f"{md5(a1).hex()}:{nonce}:{nc}:{cnonce}:auth:{md5(a2).hex()}".encode()).hexdigest()
        return (f'username="{user}",realm="{realm}",nonce="{nonce}",cnonce="{cnonce}",nc={nc},qop=auth,'
                f'digest-uri="{uri}",response={resp},charset=utf-8').encode()
    return step


def imap_auth(port, mech, authobject, tls12=False, tls13=False, keylog=None):
    """AUTHENTICATE mech with authobject (plain connection, or STARTTLS limited to
    TLS 1.2 with tls12, or to 1.3, its secrets in the key log file `keylog`);
    authobject is then a function of the TLS socket."""
    im = imaplib.IMAP4("127.0.0.1", port, timeout=15)
    try:
        if tls12 or tls13:
            ctx = client_ctx()
            if tls12:
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            else:
                ctx.minimum_version = ssl.TLSVersion.TLSv1_3
                ctx.keylog_filename = keylog
            im.starttls(ssl_context=ctx)
            authobject = authobject(im.sock)
        typ, _ = im.authenticate(mech, authobject)
        return typ == "OK"
    except imaplib.IMAP4.error:
        return False
    finally:
        try:
            im.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            pass


def tls_exporter(sock, keylog):
    """The tls-exporter channel binding of a TLS 1.3 client socket (RFC 9266: the
    exporter with label EXPORTER-Channel-Binding, no context, 32 bytes), computed as
    RFC 8446 7.5 says from the exporter secret python's ssl module wrote to the key
    log (it cannot export keying material itself)."""
    with open(keylog) as f:
        secret = next(bytes.fromhex(line.split()[2]) for line in f if line.startswith("EXPORTER_SECRET "))
    h = "sha384" if sock.cipher()[0].endswith("SHA384") else "sha256"
    empty = hashlib.new(h, b"").digest()

    def expand_label(key, label, context, length):
        label = b"tls13 " + label
        info = length.to_bytes(2, "big") + bytes([len(label)]) + label + bytes([len(context)]) + context
        out, block = b"", b""
        while len(out) < length:
            block = hmac.new(key, block + info + bytes([len(out) // len(empty) + 1]), h).digest()
            out += block
        return out[:length]

    derived = expand_label(secret, b"EXPORTER-Channel-Binding", empty, len(empty))
    return expand_label(derived, b"exporter", empty, 32)


SHARED_MECHS = "PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS"


@pytest.mark.parametrize("kind", SERVERS)
def test_shared_secret_mechanisms(tmp, kind):
    host = "suite.test" if kind == "suite" else "cyrus.test"
    cert, key = make_cert(tmp)
    conf = f"sasl_mech_list: {SHARED_MECHS}\ntls_server_cert: {cert}\ntls_server_key: {key}\n"
    if kind == "suite":
        db = os.path.join(tmp, "sasldb2")
        saslpasswd(db, host, "fred", "fredpw")
        os.chown(db, *cyrus_uid())
        conf += f"sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_sasldb_path: {db}\n"
    t = Target(kind, conf)
    try:
        if kind == "cyrus":
            t.cy.add_password("fred", "fredpw")
        t.make_mailboxes()
        for mech, h in (("SCRAM-SHA-1", "sha1"), ("SCRAM-SHA-256", "sha256")):
            good = Scram(h, "fred", "fredpw")
            assert imap_auth(t.imap, mech, good) and good.verified, (kind, mech)
            assert not imap_auth(t.imap, mech, Scram(h, "fred", "wrong")), (kind, mech)
            # Channel binding (tls-unique under TLS 1.2): the right binding logs in and
            # the server proves itself; another binding is refused.
            plus = {}
            assert imap_auth(t.imap, mech + "-PLUS", lambda s: plus.setdefault(
                "c", Scram(h, "fred", "fredpw", ("tls-unique", s.get_channel_binding("tls-unique")))), tls12=True), (kind, mech)
            assert plus["c"].verified
            assert not imap_auth(t.imap, mech + "-PLUS", lambda s: Scram(h, "fred", "fredpw", ("tls-unique", b"\0" * 12)),
                                 tls12=True), (kind, mech)
            # Under TLS 1.3 tls-unique is not defined (RFC 9266 gives tls-exporter), but
            # Cyrus 3.6 binds to the Finished message there too: the suite takes both.
            assert imap_auth(t.imap, mech + "-PLUS", lambda s: Scram(
                h, "fred", "fredpw", ("tls-unique", s.get_channel_binding("tls-unique"))), tls13=True), (kind, mech)
            # tls-exporter (RFC 9266): the suite takes it; Cyrus 3.6 (up to 3.12) names
            # its binding tls-unique only, so its libsasl2 refuses p=tls-exporter.
            keylog, bound = os.path.join(tmp, f"keylog-{mech}"), {}
            ok = imap_auth(t.imap, mech + "-PLUS", lambda s: bound.setdefault("c", Scram(
                h, "fred", "fredpw", ("tls-exporter", tls_exporter(s, keylog)))), tls13=True, keylog=keylog)
            assert (ok, bound["c"].verified) == ((True, True) if kind == "suite" else (False, False)), (kind, mech)
            assert not imap_auth(t.imap, mech + "-PLUS", lambda s: Scram(h, "fred", "fredpw", ("tls-exporter", b"\0" * 32)),
                                 tls13=True, keylog=keylog), (kind, mech)
        assert imap_auth(t.imap, "CRAM-MD5", cram_md5("fred", "fredpw")), kind
        assert not imap_auth(t.imap, "CRAM-MD5", cram_md5("fred", "wrong")), kind
        assert imap_auth(t.imap, "DIGEST-MD5", digest_md5("fred", "fredpw", f"imap/{host}")), kind
        assert not imap_auth(t.imap, "DIGEST-MD5", digest_md5("fred", "wrong", f"imap/{host}")), kind
        if t.lmtp:
            with smtplib.LMTP("127.0.0.1", t.lmtp, timeout=15) as lm:
                lm.ehlo("auth.test")
                lm.user, lm.password = "fred", "fredpw"
                assert lm.auth("CRAM-MD5", lm.auth_cram_md5)[0] == 235
            t.log.wait(r"imapd\[\d+\]: login: .* fred SCRAM-SHA-256-PLUS")
            t.log.wait(r"imapd\[\d+\]: badlogin: .* DIGEST-MD5 fred ")
    finally:
        t.close()


# ---- 6. EXTERNAL with TLS client certificates ----

def client_ctx(cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def imap_external(port, cert, implicit=False):
    """(ok, answer) of AUTHENTICATE EXTERNAL after STARTTLS (or on implicit TLS) with
    client certificate `cert`; a handshake refused by the server is (False, error)."""
    try:
        if implicit:
            im = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_ctx(cert), timeout=15)
        else:
            im = imaplib.IMAP4("127.0.0.1", port, timeout=15)
            im.starttls(ssl_context=client_ctx(cert))
        typ, data = im.authenticate("EXTERNAL", lambda _: b"")
        im.logout()
        return typ == "OK", data
    except (imaplib.IMAP4.error, ssl.SSLError, OSError, EOFError) as e:
        return False, str(e)


def pop_external(port, cert, implicit=False):
    try:
        if implicit:
            p = poplib.POP3_SSL("127.0.0.1", port, context=client_ctx(cert), timeout=15)
        else:
            p = poplib.POP3("127.0.0.1", port, timeout=15)
            p.stls(context=client_ctx(cert))
        r = p._shortcmd("AUTH EXTERNAL =")
        p.quit()
        return r.startswith(b"+OK")
    except (poplib.error_proto, ssl.SSLError, OSError, EOFError):
        return False


def lmtp_external(port, cert):
    try:
        with smtplib.LMTP("127.0.0.1", port, timeout=15) as lm:
            lm.ehlo("auth.test")
            lm.starttls(context=client_ctx(cert))
            lm.ehlo("auth.test")
            return lm.docmd("AUTH", "EXTERNAL =")[0] == 235
    except (smtplib.SMTPException, ssl.SSLError, OSError):
        return False


def sieve_external(port, cert):
    """ManageSieve: STARTTLS, then AUTHENTICATE "EXTERNAL" with an empty response."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=15)
        f = s.makefile("rb")
        while not f.readline().startswith(b"OK"):
            pass
        s.sendall(b"STARTTLS\r\n")
        assert f.readline().startswith(b"OK")
        t = client_ctx(cert).wrap_socket(s)
        f = t.makefile("rb")
        while not f.readline().startswith(b"OK"):
            pass
        t.sendall(b'AUTHENTICATE "EXTERNAL" ""\r\n')
        line = f.readline()
        t.close()
        return line.startswith(b"OK")
    except (ssl.SSLError, OSError, AssertionError):
        return False


def resumes(port, cert, version):
    """Whether a second implicit-TLS connection resumes the first one's session (a
    session id or ticket under TLS 1.2, a ticket under 1.3)."""
    ctx = client_ctx(cert)
    ctx.minimum_version = ctx.maximum_version = version
    first = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=15))
    first.recv(200)
    session = first.session
    first.close()
    again = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=15), session=session)
    greeting = again.recv(200)
    reused = again.session_reused
    again.close()
    return greeting.startswith(b"* OK") and reused


def tls_conf(tmp, ca):
    cert, key = make_cert(tmp)
    return (f"tls_server_cert: {cert}\ntls_server_key: {key}\ntls_client_ca_file: {ca.cert}\n"
            "sasl_mech_list: PLAIN LOGIN EXTERNAL\n")


EXTERNAL_SERVICES = (
    '  imaps cmd="imapd -s" listen="127.0.0.1:{inst.ports[imaps]}" prefork=0\n'
    '  pop3s cmd="pop3d -s" listen="127.0.0.1:{inst.ports[pop3s]}" prefork=0\n'
    '  sieve cmd="timsieved" listen="127.0.0.1:{inst.ports[sieve]}" prefork=0\n')


@pytest.mark.parametrize("kind", SERVERS)
def test_external_with_client_certificates(tmp, kind):
    ca, other = authd.TestCA(tmp, "ca"), authd.TestCA(tmp, "other-ca")
    fred, stranger = ca.client("fred"), other.client("fred")
    hostile = ca.client("*)(uid=*")
    conf = tls_conf(tmp, ca) + "imaps_tls_client_certs: require\n"
    t = Target(kind, conf, services=EXTERNAL_SERVICES, ports=("imaps", "pop3s", "sieve"))
    try:
        t.make_mailboxes()
        assert imap_external(t.imap, fred)[0], kind
        assert pop_external(t.pop, fred), kind
        assert not imap_external(t.imap, None)[0], kind          # no certificate: no EXTERNAL
        assert not imap_external(t.imap, stranger)[0], kind      # another CA: handshake refused
        assert not imap_external(t.imap, hostile)[0], kind
        assert imap_external(t.imap, fred)[0], kind              # the worker goes on
        if kind == "cyrus":
            return
        assert imap_external(t.ports["imaps"], fred, implicit=True)[0]
        assert not imap_external(t.ports["imaps"], None, implicit=True)[0]   # require
        # Peer verification on: resuming a session needs a session id context, or
        # OpenSSL fails the handshake instead of resuming.
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            assert resumes(t.ports["imaps"], fred, version), version
        assert pop_external(t.ports["pop3s"], fred, implicit=True) and not pop_external(t.ports["pop3s"], stranger, implicit=True)
        assert lmtp_external(t.lmtp, fred) and not lmtp_external(t.lmtp, stranger)
        assert sieve_external(t.ports["sieve"], fred) and not sieve_external(t.ports["sieve"], stranger)
        assert not pop_external(t.pop, stranger)
        for svc in ("imapd", "pop3d", "lmtpd", "timsieved"):
            t.log.wait(rf"{svc}\[\d+\]: badlogin: .* EXTERNAL - client certificate refused: unable to get local issuer")
        t.log.wait(r"imapd\[\d+\]: badlogin: .* EXTERNAL [*][)][(]uid=[*] .*invalid userid")
        t.log.wait(r"imapd\[\d+\]: login: .* fred EXTERNAL")
        assert imap_external(t.imap, fred)[0] and no_worker_died(t)
    finally:
        t.close()
