"""timsieved (ManageSieve, RFC 5804) against real clients and a raw socket.

Tests that take the `srv` fixture run once per server in $SIEVE_SERVERS (default
"suite,cyrus"): our master + timsieved, and Debian's Cyrus 3.6 timsieved (skipped where
it is not installed), configured alike: admins: admin; users fred and barney (password
"pw", each with an INBOX) and admin ("secret") in a sasldb made by saslpasswd2;
`allowplaintext: no`; sasl_mech_list PLAIN LOGIN CRAM-MD5; a self-signed certificate
for STARTTLS; sieve_maxscripts 5 and sieve_maxscriptsize 32 (Cyrus's defaults).
Assertions shared by both are on what RFC 5804 fixes (response codes, literals), not
on human-readable text. The rest runs on the suite only.
"""

import base64
import hashlib
import hmac
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

import cyrus36
from suite import Instance, free_port, lmtp_send, make_cert, saslpasswd

SERVERS = [s.strip() for s in os.environ.get("SIEVE_SERVERS", "suite,cyrus").split(",") if s.strip()]
USERS = {"fred": "pw", "barney": "pw", "admin": "secret"}
SIVTEST = os.path.join(cyrus36.CYRUS_BIN, "sivtest")
SIEVESHELL = shutil.which("sieveshell") or "/usr/bin/sieveshell"
SIEVE_CONNECT = shutil.which("sieve-connect") or "/usr/bin/sieve-connect"

COMMON_CONF = (
    "admins: admin\n"
    "allowplaintext: no\n"
    "sasl_pwcheck_method: auxprop\n"
    "sasl_auxprop_plugin: sasldb\n"
    "sasl_mech_list: PLAIN LOGIN CRAM-MD5\n"
)


class SuiteSieve:
    name = "suite"

    def __init__(self, extra_conf=""):
        self.inst = inst = Instance(name="timsieved", extra_conf=COMMON_CONF + extra_conf)
        self.dir = inst.dir
        self.cert, key = make_cert(inst.dir)
        db = os.path.join(inst.dir, "config", "sasldb2")
        self.sievedir = os.path.join(inst.dir, "sieve")
        os.makedirs(self.sievedir)
        with open(inst.conf, "a") as f:
            f.write(f"sasl_sasldb_path: {db}\ntls_server_cert: {self.cert}\ntls_server_key: {key}\nsievedir: {self.sievedir}\n")
        for u in ("fred", "barney"):
            inst.create_mailbox(f"user.{u}")
        for u, pw in USERS.items():
            saslpasswd(db, "suite.test", u, pw)
        self.port = inst.port("sieve")
        self.lmtp_socket = os.path.join(inst.dir, "lmtp.sock")
        inst.write_cyrus_conf(SERVICES=f'  sieve cmd="timsieved" listen="127.0.0.1:{self.port}" prefork=1\n'
                                       f'  lmtpunix cmd="lmtpd" listen="{self.lmtp_socket}" prefork=0\n')
        inst._own()
        inst.start()
        self.log = inst.log

    def close(self):
        self.inst.close()


class CyrusSieve:
    """Debian's Cyrus 3.6: a cyrus36.CyrusInstance with this file's configuration."""

    name = "cyrus"

    def __init__(self):
        self.cy = cy = cyrus36.CyrusInstance()
        self.dir = d = cy.dir
        conf = os.path.join(d, "conf")
        self.cert, key = make_cert(d)
        self.sievedir = os.path.join(conf, "sieve")
        self.port = free_port()
        with open(cy.conf, "w") as f:
            f.write(COMMON_CONF + f"configdirectory: {conf}\npartition-default: {d}/part\nservername: cyrus.test\n"
                    f"sasl_sasldb_path: {d}/sasldb2\ntls_server_cert: {self.cert}\ntls_server_key: {key}\n"
                    f"sievedir: {self.sievedir}\nimap_allowplaintext: yes\nunixhierarchysep: no\naltnamespace: no\n")
        b, c = cyrus36.CYRUS_BIN, cy.conf
        with open(os.path.join(d, "cyrus.conf"), "w") as f:
            f.write(f'START {{\n  recover cmd="{b}/ctl_cyrusdb -C {c} -r"\n}}\nSERVICES {{\n'
                    f'  imap cmd="{b}/imapd -C {c}" listen="127.0.0.1:{cy.port}" prefork=0\n'
                    f'  sieve cmd="{b}/timsieved -C {c}" listen="127.0.0.1:{self.port}" prefork=0\n'
                    f'}}\nEVENTS {{\n}}\nDAEMON {{\n}}\n')
        for u, pw in USERS.items():
            saslpasswd(os.path.join(d, "sasldb2"), "cyrus.test", u, pw)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "cyrus:", d], check=True)
        cy.start()
        cy.create_users(["fred", "barney"])

    def close(self):
        self.cy.stop()


def start_server(name):
    if name == "cyrus" and not (cyrus36.available() and os.access(os.path.join(cyrus36.CYRUS_BIN, "timsieved"), os.X_OK)):
        pytest.skip("Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
    return SuiteSieve() if name == "suite" else CyrusSieve()


@pytest.fixture(params=SERVERS)
def srv(request):
    s = start_server(request.param)
    yield s
    s.close()


@pytest.fixture
def suite():
    s = SuiteSieve()
    yield s
    s.close()


# ---------------------------------------------------------------------------
# A raw ManageSieve client that keeps the exact bytes.


class Sieve:
    def __init__(self, srv, tls=True):
        self.srv = srv
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
        self.buf = b""
        self.caps, self.greeting = self.response()
        if tls:
            self.starttls()

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def full_line(self):
        """A line with the literals it announces folded in."""
        out = self.line()
        while (m := re.search(rb"\{(\d+)\+?\}\r\n$", out)):
            out += self.take(int(m.group(1)))
            out += self.line()
        return out

    def response(self):
        """(lines before the final one, the final OK/NO/BYE line), literals folded in."""
        body = []
        while True:
            ln = self.full_line()
            if re.match(rb"(OK|NO|BYE)\b", ln):
                return body, ln
            body.append(ln)

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, data):
        self.send(data + b"\r\n")
        return self.response()

    def starttls(self):
        _, ok = self.cmd(b"STARTTLS")
        assert ok.startswith(b"OK"), ok
        ctx = ssl.create_default_context(cafile=self.srv.cert)
        ctx.check_hostname = False
        self.sock = ctx.wrap_socket(self.sock)
        self.caps, final = self.response()
        assert final.startswith(b"OK"), final

    def auth_plain(self, user, pw=None, authz=""):
        pw = USERS[user] if pw is None else pw
        ir = base64.b64encode(f"{authz}\0{user}\0{pw}".encode())
        return self.cmd(b'AUTHENTICATE "PLAIN" "' + ir + b'"')[1]

    def close(self):
        self.sock.close()


def login(srv, user="fred", **kw):
    s = Sieve(srv)
    final = s.auth_plain(user, **kw)
    assert final.startswith(b"OK"), final
    return s


def cap(caps, name):
    """The value of a capability line ("NAME" "value"), True when it has none, else None."""
    for ln in caps:
        m = re.match(rb'"([^"]+)"(?: "([^"]*)")?\r\n$', ln)
        if m and m.group(1).decode().upper() == name:
            return m.group(2).decode() if m.group(2) is not None else True
    return None


def code(final):
    m = re.match(rb"(?:NO|OK|BYE) \(([^) ]+)", final)
    return m.group(1).decode() if m else None


def put(s, name, script):
    data = script.encode() if isinstance(script, str) else script
    return s.cmd(b'PUTSCRIPT "' + name.encode() + b'" {%d+}\r\n' % len(data) + data)[1]


def names(s):
    body, final = s.cmd(b"LISTSCRIPTS")
    assert final.startswith(b"OK"), final
    return sorted(ln.decode().rstrip("\r\n") for ln in body)


# ---------------------------------------------------------------------------
# The same session on both servers.


def test_greeting_starttls_and_plaintext_policy(srv):
    s = Sieve(srv, tls=False)
    assert cap(s.caps, "VERSION") == "1.0" and cap(s.caps, "IMPLEMENTATION")
    assert cap(s.caps, "STARTTLS") is True and cap(s.caps, "UNAUTHENTICATE") is True
    assert cap(s.caps, "NOTIFY") == "mailto"
    sieve = cap(s.caps, "SIEVE").split()
    for ext in ("fileinto", "reject", "envelope", "vacation", "imap4flags", "relational", "subaddress", "copy"):
        assert ext in sieve, ext
    mechs = cap(s.caps, "SASL").split()
    assert "CRAM-MD5" in mechs and "PLAIN" not in mechs, mechs
    assert s.auth_plain("fred").startswith(b"NO"), "no PLAIN without TLS"
    assert s.cmd(b"LISTSCRIPTS")[1].startswith(b"NO"), "not authenticated"
    s.starttls()
    assert cap(s.caps, "STARTTLS") is None, "not offered again under TLS"
    assert "PLAIN" in cap(s.caps, "SASL").split()
    assert s.auth_plain("fred", pw="wrong").startswith(b"NO")
    assert s.auth_plain("fred").startswith(b"OK")
    caps, final = s.cmd(b"CAPABILITY")
    assert final == b"OK\r\n" and cap(caps, "OWNER") == "fred"
    assert s.cmd(b'AUTHENTICATE "PLAIN"')[1].startswith(b"NO"), "already authenticated"
    assert s.cmd(b"LOGOUT")[1].startswith(b"OK")


def test_put_list_activate_get_delete_rename_and_codes(srv):
    s = login(srv)
    assert names(s) == []
    one = b'require "fileinto";\r\nfileinto "INBOX.Junk";\r\n'
    assert put(s, "one", one) == b"OK\r\n"
    assert put(s, "two", "keep;\r\n") == b"OK\r\n"
    assert s.cmd(b'PUTSCRIPT "three" "discard;"')[1] == b"OK\r\n", "a quoted script"
    assert names(s) == ['"one"', '"three"', '"two"']
    assert s.cmd(b'SETACTIVE "one"')[1] == b"OK\r\n"
    assert names(s) == ['"one" ACTIVE', '"three"', '"two"']
    body, final = s.cmd(b'GETSCRIPT "one"')
    assert final == b"OK\r\n" and body == [b"{%d}\r\n" % len(one) + one + b"\r\n"], body
    assert code(s.cmd(b'GETSCRIPT "nope"')[1]) == "NONEXISTENT"
    assert code(s.cmd(b'SETACTIVE "nope"')[1]) == "NONEXISTENT"
    assert code(s.cmd(b'DELETESCRIPT "one"')[1]) == "ACTIVE"
    assert code(s.cmd(b'DELETESCRIPT "nope"')[1]) == "NONEXISTENT"
    assert code(s.cmd(b'RENAMESCRIPT "two" "three"')[1]) == "ALREADYEXISTS"
    assert code(s.cmd(b'RENAMESCRIPT "nope" "four"')[1]) == "NONEXISTENT"
    assert s.cmd(b'RENAMESCRIPT "two" "four"')[1] == b"OK\r\n"
    assert s.cmd(b'DELETESCRIPT "three"')[1] == b"OK\r\n"
    assert names(s) == ['"four"', '"one" ACTIVE']
    assert s.cmd(b'SETACTIVE ""')[1] == b"OK\r\n"
    assert names(s) == ['"four"', '"one"']
    assert s.cmd(b'DELETESCRIPT "one"')[1] == b"OK\r\n", "no longer active"
    assert s.cmd(b'HAVESPACE "x" 1000')[1] == b"OK\r\n"
    assert code(s.cmd(b'HAVESPACE "x" 100000')[1]) == "QUOTA/MAXSIZE"
    for n in ("a", "b", "c", "d"):
        assert put(s, n, "keep;") == b"OK\r\n"
    assert code(s.cmd(b'HAVESPACE "x" 10')[1]) == "QUOTA/MAXSCRIPTS", "5 scripts"
    assert code(put(s, "x", "keep;")) == "QUOTA/MAXSCRIPTS"
    assert s.cmd(b'PUTSCRIPT "a/b" "keep;"')[1].startswith(b"NO"), "invalid name"
    assert s.cmd(b'PUTSCRIPT "" "keep;"')[1].startswith(b"NO"), "empty name"
    big = b"#" * (33 * 1024) + b"\r\nkeep;\r\n"
    final = s.cmd(b'PUTSCRIPT "a" {%d+}\r\n' % len(big) + big)[1]
    # Cyrus refuses the literal itself without a code; the suite says QUOTA/MAXSIZE.
    assert final.startswith(b"NO") and (srv.name == "cyrus" or code(final) == "QUOTA/MAXSIZE"), final
    assert s.cmd(b'NOOP "tag-1"')[1].startswith(b"OK (TAG ")
    assert s.cmd(b"NOOP")[1].startswith(b"OK")
    assert s.cmd(b"UNAUTHENTICATE")[1] == b"OK\r\n"
    assert s.cmd(b"LISTSCRIPTS")[1].startswith(b"NO")
    assert s.auth_plain("barney").startswith(b"OK"), "a new login after UNAUTHENTICATE"
    assert names(s) == [], "barney's own scripts"
    s.cmd(b"LOGOUT")


def test_syntax_error_answered_with_its_line(srv):
    s = login(srv)
    for script, line in ((b'require "fileinto";\r\nkeep;\r\nfileinto 42;\r\nkeep;\r\n', 3), (b"keep;\r\nnosuchcommand;\r\n", 2)):
        for cmd in (b'PUTSCRIPT "bad" {%d+}\r\n' % len(script) + script, b"CHECKSCRIPT {%d+}\r\n" % len(script) + script):
            _, final = s.cmd(cmd)
            assert final.startswith(b"NO") and re.search(rb"line %d\b" % line, final), final
    assert names(s) == [], "nothing stored"
    assert s.cmd(b'CHECKSCRIPT "keep;"')[1] == b"OK\r\n"
    s.cmd(b"LOGOUT")


# ---------------------------------------------------------------------------
# The suite only.


def test_layout_on_disk_is_cyrus_sievedir(suite):
    s = login(suite)
    assert put(s, "filter", "keep;\r\n") == b"OK\r\n"
    assert s.cmd(b'SETACTIVE "filter"')[1] == b"OK\r\n"
    d = os.path.join(suite.sievedir, "f", "fred")
    assert open(os.path.join(d, "filter.script"), "rb").read() == b"keep;\r\n"
    assert os.readlink(os.path.join(d, "defaultbc")) == "filter.bc"
    # A directory Cyrus made (bytecode beside each script) is read as it is.
    b = os.path.join(suite.sievedir, "b", "barney")
    os.makedirs(b)
    with open(os.path.join(b, "vac.script"), "wb") as f:
        f.write(b'require "vacation";\r\nvacation "Away";\r\n')
    with open(os.path.join(b, "vac.bc"), "wb") as f:
        f.write(b"CyrSBytecode\0\0\0\x1f")
    os.symlink("vac.bc", os.path.join(b, "defaultbc"))
    suite.inst._own()
    s2 = login(suite, "barney")
    assert names(s2) == ['"vac" ACTIVE']
    assert put(s2, "vac", "keep;") == b"OK\r\n"
    assert not os.path.exists(os.path.join(b, "vac.bc")), "stale bytecode removed"
    assert os.readlink(os.path.join(b, "defaultbc")) == "vac.bc"
    suite.log.wait(r"timsieved\[\d+\]: login: \[127\.0\.0\.1\] fred PLAIN TLSv1\.[23] .*User logged in")
    s.cmd(b"LOGOUT")
    suite.log.wait(r"timsieved\[\d+\]: Logout: \[127\.0\.0\.1\] fred")


def test_the_script_put_here_runs_at_delivery(suite):
    s = login(suite)
    assert put(s, "no", 'require "reject";\r\nif header :contains "subject" "spam" { reject "no spam here"; }\r\n') == b"OK\r\n"
    assert s.cmd(b'SETACTIVE "no"')[1] == b"OK\r\n"
    lm = smtplib.LMTP(suite.lmtp_socket, timeout=15)
    lm.ehlo("test")
    for subject, want in (("spam offer", 550), ("hello", 250)):
        msg = f"From: a@example.com\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@x>\r\n\r\nhi\r\n".encode()
        assert lmtp_send(lm, "a@example.com", ["fred"], msg)["fred"][0] == want, subject
    assert s.cmd(b'SETACTIVE ""')[1] == b"OK\r\n"
    msg = b"From: a@example.com\r\nSubject: spam again\r\nMessage-ID: <again@x>\r\n\r\nhi\r\n"
    assert lmtp_send(lm, "a@example.com", ["fred"], msg)["fred"][0] == 250, "no script active"
    lm.quit()
    s.cmd(b"LOGOUT")


def test_cram_md5_without_tls_and_sasl_exchanges(suite):
    s = Sieve(suite, tls=False)
    s.send(b'AUTHENTICATE "CRAM-MD5"\r\n')
    challenge = base64.b64decode(s.full_line().split(b"\r\n", 1)[1].strip())
    digest = hmac.new(b"pw", challenge, hashlib.md5).hexdigest()
    _, final = s.cmd(b'"' + base64.b64encode(f"fred {digest}".encode()) + b'"')
    assert final == b"OK\r\n", final
    assert names(s) == []
    s.close()
    # "*" cancels; a LOGIN exchange with literals; wrong base64.
    s = Sieve(suite)
    s.send(b'AUTHENTICATE "CRAM-MD5"\r\n')
    s.full_line()
    assert s.cmd(b'"*"')[1].startswith(b"NO")
    s.send(b'AUTHENTICATE "LOGIN"\r\n')
    s.full_line()
    u = base64.b64encode(b"fred")
    s.send(b"{%d+}\r\n" % len(u) + u + b"\r\n")
    s.full_line()
    p = base64.b64encode(b"pw")
    assert s.cmd(b"{%d+}\r\n" % len(p) + p)[1] == b"OK\r\n"
    s.close()
    s = Sieve(suite)
    assert s.cmd(b'AUTHENTICATE "PLAIN" "!!!notbase64"')[1].startswith(b"NO")
    ir = base64.b64encode(b"\0fred\0pw")
    assert s.cmd(b'AUTHENTICATE "PLAIN" {%d+}\r\n' % len(ir) + ir)[1] == b"OK\r\n", "initial response as a literal"
    s.close()
    s = Sieve(suite)
    assert s.cmd(b'authenticate PLAIN "' + ir + b'"')[1] == b"OK\r\n", "an unquoted mechanism, any case"
    s.close()


def test_admin_proxy_and_global_scripts(suite):
    s = login(suite, "admin", authz="fred")
    assert cap(s.cmd(b"CAPABILITY")[0], "OWNER") == "fred"
    assert put(s, "from-admin", "keep;") == b"OK\r\n"
    assert os.path.exists(os.path.join(suite.sievedir, "f", "fred", "from-admin.script"))
    s.close()
    s = login(suite, "admin")
    assert put(s, "global-one", "keep;") == b"OK\r\n"
    assert os.path.exists(os.path.join(suite.sievedir, "global", "global-one.script"))
    s.close()
    s = Sieve(suite)
    assert s.auth_plain("barney", authz="fred").startswith(b"NO"), "only admins may act for others"
    suite.log.wait(r"login: \[127\.0\.0\.1\] fred PLAIN .*proxied by admin")


def test_dropped_connection_mid_literal_then_a_new_session(suite):
    workers = suite.inst.wait_workers("timsieved", 1)
    for _ in range(3):
        s = login(suite)
        s.send(b'PUTSCRIPT "half" {1000+}\r\nkeep;' + b"#" * 100)
        s.close()
    s = login(suite)
    assert names(s) == [], "nothing stored"
    assert put(s, "whole", "keep;") == b"OK\r\n"
    s.cmd(b"LOGOUT")
    assert not os.path.exists(os.path.join(suite.sievedir, "f", "fred", "half.script"))
    assert set(workers) <= set(suite.inst.workers("timsieved")), "the first worker lives on"
    assert not suite.log.grep(r"signaled|panicked|exited, status [1-9]"), suite.log.text()


def test_oversized_literal_is_refused_without_being_held(suite):
    s = login(suite)
    n = 100 * 1024 * 1024
    s.send(b'PUTSCRIPT "huge" {%d+}\r\n' % n)
    chunk = b"#" * (1 << 20)
    for _ in range(n // len(chunk)):
        s.send(chunk)
    s.send(b"\r\n")
    _, final = s.response()
    assert code(final) == "QUOTA/MAXSIZE", final
    assert s.cmd(b"NOOP")[1].startswith(b"OK"), "the session goes on"
    assert names(s) == []
    pid = next(iter(suite.inst.workers("timsieved")))
    with open(f"/proc/{pid}/status") as f:
        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
    assert hwm < 32 * 1024, f"worker peaked at {hwm} kB"
    s.cmd(b"LOGOUT")


def test_bad_input_and_limits(suite):
    s = login(suite)
    for bad in (b"FOO", b"PUTSCRIPT", b'PUTSCRIPT "x"', b"GETSCRIPT x y z", b'"quoted" first', b"HAVESPACE \"a\" notanumber",
                b'SETACTIVE "open', b"X" * 200_000):
        assert s.cmd(bad)[1].startswith(b"NO"), bad[:40]
    # A syntax error before a literal: the literal is skipped, never run as commands.
    assert s.cmd(b'PUTSCRIPT "a\\q" {8+}\r\nLOGOUT\r\n')[1].startswith(b"NO")
    assert s.cmd(b"NOOP")[1].startswith(b"OK")
    # A name with a control character, a huge number.
    assert s.cmd(b'PUTSCRIPT {3+}\r\na\tb "keep;"')[1].startswith(b"NO")
    assert code(s.cmd(b'HAVESPACE "a" 99999999999')[1]) == "QUOTA/MAXSIZE"
    s.cmd(b"LOGOUT")


def test_user_without_mailbox_and_maxscripts_setting():
    srv = SuiteSieve(extra_conf="sieve_maxscripts: 1\n")
    try:
        s = Sieve(srv)
        assert s.auth_plain("admin", authz="nobody").startswith(b"NO"), "no INBOX, no scripts"
        s = login(srv)
        assert put(s, "a", "keep;") == b"OK\r\n"
        assert code(put(s, "b", "keep;")) == "QUOTA/MAXSCRIPTS"
        assert put(s, "a", "discard;") == b"OK\r\n", "replacing is not one more"
    finally:
        srv.close()


# ---------------------------------------------------------------------------
# Real clients.


@pytest.mark.skipif(not os.access(SIVTEST, os.X_OK), reason="sivtest is not installed (cyrus-clients)")
@pytest.mark.parametrize("mech,tls", [("PLAIN", True), ("CRAM-MD5", False)])
def test_sivtest(suite, mech, tls):
    args = [SIVTEST, "-p", str(suite.port), "-m", mech, "-a", "fred", "-u", "fred", "-w", "pw"]
    if tls:
        args[1:1] = ["-t", ""]
    script = 'PUTSCRIPT "siv" {5+}\r\nkeep;\r\nSETACTIVE "siv"\r\nLISTSCRIPTS\r\nGETSCRIPT "siv"\r\nLOGOUT\r\n'
    r = subprocess.run(args + ["127.0.0.1"], input=script.encode(), capture_output=True, timeout=60)
    out = r.stdout.decode(errors="replace")
    assert "Authenticated" in out or "authenticated" in out.lower(), out + r.stderr.decode(errors="replace")
    assert '"siv" ACTIVE' in out and "keep;" in out, out


@pytest.mark.skipif(not os.access(SIEVESHELL, os.X_OK), reason="sieveshell is not installed (cyrus-clients)")
def test_sieveshell(suite, tmp_path):
    f = tmp_path / "shellfilter"
    f.write_bytes(b'require "fileinto";\r\nif header :contains "subject" "x" { fileinto "INBOX.x"; }\r\n')
    out_file = tmp_path / "back"

    def run(cmds):
        r = subprocess.run([SIEVESHELL, "--user=fred", "--authname=fred", "--password=pw", f"--exec={cmds}",
                            f"127.0.0.1:{suite.port}"], capture_output=True, timeout=60, cwd=tmp_path)
        return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")

    out = run(f"put {f}\nactivate shellfilter\nlist\nget shellfilter {out_file}\n")
    assert re.search(r"shellfilter\s+<- active", out), out
    assert out_file.read_bytes() == f.read_bytes()
    out = run("deactivate\ndelete shellfilter\nlist\n")
    assert "shellfilter" not in out.split("list", 1)[-1], out
    assert not os.path.exists(os.path.join(suite.sievedir, "f", "fred", "shellfilter.script"))


@pytest.mark.skipif(not os.access(SIEVE_CONNECT, os.X_OK), reason="sieve-connect is not installed (scripts/deps --cyrus)")
def test_sieve_connect(suite, tmp_path):
    local = tmp_path / "conn.sieve"
    local.write_bytes(b'require ["fileinto", "imap4flags"];\r\nif size :over 1M { addflag "\\\\Flagged"; }\r\nkeep;\r\n')

    def run(*args):
        r = subprocess.run([SIEVE_CONNECT, "--nosrv", "--server", "127.0.0.1", "--port", str(suite.port), "--user", "fred",
                            "--passwordfd", "0", "--tlscafile", suite.cert, "--notlsverify", *args],
                           input=b"pw\n", capture_output=True, timeout=60, cwd=tmp_path)
        assert r.returncode == 0, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        return r.stdout.decode(errors="replace")

    run("--upload", "--localsieve", str(local), "--remotesieve", "conn")
    run("--activate", "--remotesieve", "conn")
    assert re.search(r"conn\s+ACTIVE|conn.*active", run("--list"), re.I)
    back = tmp_path / "back.sieve"
    run("--download", "--remotesieve", "conn", "--localsieve", str(back))
    assert back.read_bytes() == local.read_bytes()
    run("--deactivate")
    run("--delete", "--remotesieve", "conn")
    assert "conn" not in run("--list")
    suite.log.wait(r"timsieved\[\d+\]: login: \[127\.0\.0\.1\] fred \S+ TLSv1")
