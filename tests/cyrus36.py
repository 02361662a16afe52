"""Debian's Cyrus IMAPd 3.6 as a reference, laid in a temp dir beside ours.

Tests that check an expectation against Cyrus use `CyrusInstance`; they are skipped
only where Cyrus is not installed ($CYRUS_BIN, default /usr/lib/cyrus/bin). CI
installs it (scripts/deps --cyrus), so there they always run.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from suite import free_port, wait_for

CYRUS_BIN = os.environ.get("CYRUS_BIN", "/usr/lib/cyrus/bin")
ADMIN, PASSWORD = "admin", "secret"


def available():
    return os.access(os.path.join(CYRUS_BIN, "master"), os.X_OK) and os.access(os.path.join(CYRUS_BIN, "imapd"), os.X_OK)


class CyrusInstance:
    """extra_conf: lines added to imapd.conf; an option they set replaces the base
    line of that name (Cyrus 3.6 refuses an option given twice: exit 78);
    sieve=True adds a timsieved service on self.sieve_port, nntp=True an nntpd service
    on self.nntp_port (Debian's cyrus-nntpd)."""

    def __init__(self, extra_conf="", sieve=False, nntp=False):
        self.dir = tempfile.mkdtemp(prefix="cyrus36-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.lmtp_socket = os.path.join(self.dir, "lmtp.sock")
        self.pop_port = free_port()
        self.sieve_port = free_port() if sieve else None
        self.nntp_port = free_port() if nntp else None
        conf = os.path.join(self.dir, "conf")
        for d in ("db", "lock", "log", "proc", "quota", "sieve", "socket", "user"):
            os.makedirs(os.path.join(conf, d))
        os.makedirs(os.path.join(self.dir, "part"))
        self.conf = os.path.join(self.dir, "imapd.conf")
        with open(self.conf, "w") as f:
            f.write(_merge(
                f"configdirectory: {conf}\npartition-default: {self.dir}/part\nadmins: {ADMIN}\n"
                f"servername: cyrus.test\nallowplaintext: yes\nsasl_pwcheck_method: auxprop\n"
                f"sasl_auxprop_plugin: sasldb\nsasl_sasldb_path: {self.dir}/sasldb2\nsasl_mech_list: PLAIN LOGIN\n"
                f"altnamespace: no\nunixhierarchysep: no\nmunge8bit: no\n"
                f"idlesocket: {conf}/socket/idle\nlmtpsocket: {conf}/socket/lmtp\nnotifysocket: {conf}/socket/notify\n"
                f"sievedir: {conf}/sieve\n", extra_conf))
        with open(os.path.join(self.dir, "cyrus.conf"), "w") as f:
            f.write(
                f'START {{\n  recover cmd="{CYRUS_BIN}/ctl_cyrusdb -C {self.conf} -r"\n}}\n'
                f'SERVICES {{\n  imap cmd="{CYRUS_BIN}/imapd -C {self.conf}" listen="127.0.0.1:{self.port}" prefork=0\n'
                f'  lmtpunix cmd="{CYRUS_BIN}/lmtpd -C {self.conf}" listen="{self.lmtp_socket}" prefork=1\n'
                + (f'  pop3 cmd="{CYRUS_BIN}/pop3d -C {self.conf}" listen="127.0.0.1:{self.pop_port}" prefork=1\n'
                   if os.access(os.path.join(CYRUS_BIN, "pop3d"), os.X_OK) else "")
                + (f'  sieve cmd="{CYRUS_BIN}/timsieved -C {self.conf}" listen="127.0.0.1:{self.sieve_port}" prefork=0\n'
                   if sieve else "")
                + (f'  nntp cmd="{CYRUS_BIN}/nntpd -C {self.conf}" listen="127.0.0.1:{self.nntp_port}" prefork=0\n'
                   if nntp else "")
                + "}\n"
                "EVENTS {\n}\nDAEMON {\n}\n"
            )
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", os.path.join(self.dir, "sasldb2"), "-u", "cyrus.test", ADMIN],
                       input=PASSWORD.encode(), check=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("cyrus")
            for dirpath, _, files in os.walk(self.dir):
                for n in [dirpath] + [os.path.join(dirpath, x) for x in files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid)
        self.pidfile = os.path.join(self.dir, "master.pid")

    def start(self):
        subprocess.run([os.path.join(CYRUS_BIN, "master"), "-C", self.conf, "-M", os.path.join(self.dir, "cyrus.conf"),
                        "-p", self.pidfile, "-d"], check=True, timeout=30)
        wait_for(lambda: _connects(self.port), timeout=20, what="Cyrus imapd to listen")
        return self

    def add_password(self, user, password, realm="cyrus.test"):
        """A sasldb user; with virtdomains, `user@domain` logs in as user in realm domain."""
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", os.path.join(self.dir, "sasldb2"), "-u", realm, user],
                       input=password.encode(), check=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("cyrus")
            os.chown(os.path.join(self.dir, "sasldb2"), pw.pw_uid, pw.pw_gid)

    def create_users(self, users):
        """Creates user.NAME for each, as the admin over IMAP."""
        im = RawImap(self.port)
        assert im.cmd(b"LOGIN admin secret")[1].split()[1] == b"OK"
        for u in users:
            _, tagged = im.cmd(b"CREATE user." + u.encode())
            assert tagged.split()[1] == b"OK", tagged
        im.cmd(b"LOGOUT")

    def install_sieve(self, user, source, name="main"):
        """Makes `source` the user's active script where this Cyrus reads it: the
        directory mbpath -u -S names, NAME.script compiled by sievec to NAME.bc, and
        the defaultbc link."""
        r = subprocess.run([os.path.join(CYRUS_BIN, "mbpath"), "-C", self.conf, "-u", "-S", user],
                           capture_output=True, text=True, check=True)
        d = r.stdout.strip()
        os.makedirs(d, exist_ok=True)
        script = os.path.join(d, f"{name}.script")
        with open(script, "w") as f:
            f.write(source)
        subprocess.run([os.path.join(CYRUS_BIN, "sievec"), "-C", self.conf, script, os.path.join(d, f"{name}.bc")],
                       check=True, capture_output=True)
        link = os.path.join(d, "defaultbc")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(f"{name}.bc", link)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("cyrus")
            for dirpath, _, files in os.walk(os.path.join(self.dir, "conf", "sieve")):
                for n in [dirpath] + [os.path.join(dirpath, x) for x in files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid, follow_symlinks=False)

    def halt(self):
        """Stops Cyrus's master (and so its workers) and keeps the site's files."""
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=20, what="Cyrus master to stop")
        wait_for(lambda: not _connects(self.port), timeout=20, what="Cyrus imapd to stop listening")

    def stop(self):
        try:
            self.halt()
        except AssertionError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _merge(base, extra):
    """base's lines, less those whose option extra sets, then extra's."""
    keys = {line.split(":", 1)[0].strip() for line in extra.splitlines() if ":" in line}
    kept = [line for line in base.splitlines() if line.split(":", 1)[0].strip() not in keys]
    return "\n".join(kept) + "\n" + extra


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class RawImap:
    """A minimal IMAP client that returns responses as the exact bytes sent."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.n = 0
        self.greeting = self.readline()

    def readline(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def readn(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def cmd(self, text, literal=None):
        """Sends a command (with an optional non-synchronising literal at its end);
        returns (untagged bytes, tagged line)."""
        self.n += 1
        tag = b"T%d" % self.n
        if literal is None:
            self.sock.sendall(tag + b" " + text + b"\r\n")
        else:
            self.sock.sendall(tag + b" " + text + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        out = b""
        while True:
            line = self.readline()
            if line.startswith(tag + b" "):
                return out, line
            out += line
            while line.endswith(b"}\r\n") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-3].rstrip(b"+"))
                out += self.readn(n)
                line = self.readline()
                out += line


def ok(resp):
    """Whether a RawImap.cmd response is tagged OK."""
    return resp[1].split()[1] == b"OK"


def login(port, user, pw):
    """A RawImap session logged in as `user` (asserted)."""
    im = RawImap(port)
    r = im.cmd(f'LOGIN "{user}" "{pw}"'.encode())
    assert ok(r), (user, r)
    return im


def merge_conf(path, extra=""):
    """Appends `extra` to the imapd.conf at `path` keeping only the last line of each
    option: Cyrus refuses an option given twice (EX_CONFIG, silently)."""
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() + extra.splitlines() if ln.strip()]
    last = {ln.split(":", 1)[0]: i for i, ln in enumerate(lines)}
    with open(path, "w") as f:
        f.write("".join(ln + "\n" for i, ln in enumerate(lines) if last[ln.split(":", 1)[0]] == i))
