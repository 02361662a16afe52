"""Test harness: a fresh instance of the suite in a temporary directory.

An `Instance` lays imapd.conf and cyrus.conf (from the caller's sections, with free
loopback ports), binds a private syslog socket that the daemons log to
(`syslog_socket`), starts the real `master`, and tears everything down afterwards.

Binaries come from $SUITE_BIN, else target/debug of this checkout.
When the tests run as root, the instance is handed to the `cyrus` user, which master
drops to (as it would on a real site).
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SUITE_BIN", os.path.join(ROOT, "target", "debug"))
RUN_AS = "cyrus"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def make_cert(d):
    """A self-signed certificate for localhost and 127.0.0.1 in d: (cert, key) paths."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    os.chmod(key, 0o644)
    return cert, key


def saslpasswd(db, realm, user, pw):
    """Adds user@realm with password pw to the sasldb db, with saslpasswd2."""
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", realm, user], input=pw.encode(), check=True)


class SyslogSink:
    """A unix datagram socket standing in for /dev/log; keeps every line received."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.lines.append(data.decode("utf-8", "replace"))

    def text(self):
        with self.lock:
            return "\n".join(self.lines)

    def grep(self, pattern):
        rx = re.compile(pattern)
        with self.lock:
            return [l for l in self.lines if rx.search(l)]

    def wait(self, pattern, timeout=10.0):
        return wait_for(lambda: self.grep(pattern), timeout, what=f"log line /{pattern}/\n--- log so far:\n{self.text()}")

    def close(self):
        self.running = False
        self.sock.close()


def proc_stat(pid):
    """(state, ppid, comm) of a process, from /proc/PID/stat (comm may hold spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    rest = stat[stat.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), stat[stat.index("(") + 1:stat.rindex(")")]


def _live_by_parent():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                state, ppid, comm = proc_stat(int(d))
            except (OSError, ValueError, IndexError):
                continue
            if state != "Z":
                kids.setdefault(ppid, []).append((int(d), comm))
    return kids


def children_of(pid):
    """Live (not zombie) child pids of pid, with their command names."""
    return dict(_live_by_parent().get(pid, []))


def descendants(root):
    """Live descendants of root, at any depth: {pid: comm}."""
    kids, out, todo = _live_by_parent(), {}, [root]
    while todo:
        for pid, comm in kids.get(todo.pop(), []):
            out[pid] = comm
            todo.append(pid)
    return out


def smaps(pid):
    """/proc/PID/smaps_rollup in kB: {"Rss": ..., "Pss": ..., ...}."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                out[k] = int(v.split()[0])
    return out


def pid_alive(pid):
    try:
        return proc_stat(pid)[0] != "Z"
    except (OSError, ValueError, IndexError):
        return False


class Instance:
    """One configured instance; start() runs master."""

    def __init__(self, services="", start="", events="", daemons="", extra_conf="", name="inst"):
        self.dir = tempfile.mkdtemp(prefix=f"suite-{name}-")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "imapd.conf")
        self.cyrus_conf = os.path.join(self.dir, "cyrus.conf")
        self.pidfile = os.path.join(self.dir, "master.pid")
        self.logsock = os.path.join(self.dir, "log.sock")
        self.stderr_path = os.path.join(self.dir, "master.stderr")
        self.ports = {}
        for d in ("config", "spool"):
            os.makedirs(os.path.join(self.dir, d))
        self.write_conf(extra_conf)
        self.sections = {"START": start, "SERVICES": services, "EVENTS": events, "DAEMON": daemons}
        self.write_cyrus_conf()
        self.log = SyslogSink(self.logsock)
        self.proc = None
        self.as_root = os.geteuid() == 0
        self._own()

    def port(self, name):
        """A free loopback port for the service `name`, the same on every call."""
        if name not in self.ports:
            self.ports[name] = free_port()
        return self.ports[name]

    def write_conf(self, extra=""):
        text = (
            f"configdirectory: {self.dir}/config\n"
            f"partition-default: {self.dir}/spool\n"
            f"syslog_socket: {self.dir}/log.sock\n"
            f"servername: suite.test\n"
        )
        if os.geteuid() == 0:
            text += f"cyrus_user: {RUN_AS}\n"
        with open(self.conf, "w") as f:
            f.write(text + extra)

    def write_cyrus_conf(self, **sections):
        self.sections = getattr(self, "sections", {})
        self.sections.update(sections)
        text = ""
        for name in ("START", "SERVICES", "EVENTS", "DAEMON"):
            body = self.sections.get(name, "")
            text += f"{name} {{\n{body}\n}}\n"
        with open(self.cyrus_conf, "w") as f:
            f.write(text)

    def conf_line(self, text):
        """The line number of imapd.conf holding text."""
        with open(self.conf) as f:
            for i, line in enumerate(f, 1):
                if text in line:
                    return i
        raise AssertionError(f"{text!r} not in {self.conf}")

    def tool(self, name, *args, input=None, check=True):
        """Runs an admin tool of the suite on this instance, as the instance's owner."""
        r = subprocess.run([os.path.join(BIN, name), "-C", self.conf, *args], input=input, capture_output=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"{name} {args} failed: {r.stderr.decode(errors='replace')}")
        self._own()
        return r

    def _own(self):
        if self.as_root:
            pw = pwd.getpwnam(RUN_AS)
            for dirpath, dirnames, filenames in os.walk(self.dir):
                for n in [dirpath] + [os.path.join(dirpath, x) for x in filenames]:
                    if n != self.logsock:
                        try:
                            os.chown(n, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
                        except FileNotFoundError:
                            pass  # a stage file renamed by a running delivery meanwhile

    def create_mailbox(self, name, acl=None):
        """Creates a mailbox as an administrator would without IMAP: an entry loaded
        with ctl_mboxlist -u, then reconstruct lays its files."""
        if not os.path.exists(os.path.join(self.dir, "config", "mailboxes.lmdb")):
            self.tool("mkimap")
        parts = name.split(".")
        owner = parts[1] if parts[0] == "user" and len(parts) > 1 else None
        if acl is None:
            acl = f"{owner}\tlrswipkxtecdan\t" if owner else ""
        line = f"{name}\tdefault\t{name.replace('.', '-')}\t{1_700_000_000}\t{acl}\n"
        self.tool("ctl_mboxlist", "-u", input=line.encode())
        os.makedirs(self.mailbox_dir(name), exist_ok=True)
        self.tool("reconstruct", name)

    def mailbox_dir(self, name, meta=False):
        """The directory of a mailbox (internal name) as the store lays it out, from
        mbpath, so that the helpers hold in every layout."""
        r = subprocess.run([os.path.join(BIN, "mbpath"), "-C", self.conf, *(["-m"] if meta else []), name],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"mbpath {name} failed: {r.stderr.decode(errors='replace')}")
        return r.stdout.decode().rstrip("\n")

    def messages(self, name):
        """The message files of a mailbox, by UID."""
        d = self.mailbox_dir(name)
        out = {}
        for f in os.listdir(d):
            if f.endswith(".") and f[:-1].isdigit():
                with open(os.path.join(d, f), "rb") as fh:
                    out[int(f[:-1])] = fh.read()
        return out

    def message_path(self, name, uid):
        return os.path.join(self.mailbox_dir(name), f"{uid}.")

    def cmd(self, *extra):
        return [os.path.join(BIN, "master"), "-C", self.conf, "-M", self.cyrus_conf, "-p", self.pidfile, *extra]

    def start(self, wait_ready=True, extra_args=()):
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(self.cmd(*extra_args), stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)
        if wait_ready:
            self.log.wait(r"master\[\d+\]: process started; ready for work", timeout=15)
        return self

    def stderr_text(self):
        with open(self.stderr_path) as f:
            return f.read()

    def workers(self, name=None):
        """Live children of master (optionally only those whose comm is name)."""
        kids = children_of(self.proc.pid)
        return {p: c for p, c in kids.items() if name is None or c == name}

    def wait_workers(self, name, count, timeout=10.0, at_least=False):
        """Waits until master has exactly count workers called name (or at least count:
        a worker that served a session and went back to waiting is kept beside the one
        master forked to replace it while it was busy)."""
        def enough():
            kids = self.workers(name)
            return (len(kids) >= count if at_least else len(kids) == count) and kids
        return wait_for(enough, timeout, what=f"{count} {name} workers (have {self.workers(name)})")

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def close(self):
        kids = self.workers() if self.proc and self.proc.poll() is None else {}
        self.stop()
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.log.close()
        if getattr(self, "stderr", None):
            self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def pop_login(port, user, pw, timeout=10):
    """Whether USER/PASS logs user in on a fresh POP3 connection (poplib)."""
    import poplib
    p = poplib.POP3("127.0.0.1", port, timeout=timeout)
    try:
        p.user(user)
        p.pass_(pw)
        return True
    except poplib.error_proto:
        return False
    finally:
        try:
            p.quit()
        except (poplib.error_proto, OSError, EOFError):
            pass


def read_line(sock, timeout=5.0):
    """Reads one CRLF-terminated line from a socket (for protocols without a client)."""
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            break
        buf += c
    return buf


def lmtp_send(lm, sender, rcpts, msg, mail_options=()):
    """One LMTP transaction on an smtplib.LMTP after LHLO, reading the one reply per
    accepted recipient that LMTP gives after the message (smtplib's sendmail reads
    only one). Returns {rcpt: (code, text)} for every recipient."""
    code, text = lm.mail(sender, list(mail_options))
    if code != 250:
        raise AssertionError(f"MAIL: {code} {text}")
    result, accepted = {}, []
    for r in rcpts:
        code, text = lm.rcpt(r)
        if code == 250:
            accepted.append(r)
        else:
            result[r] = (code, text)
    if not accepted:
        lm.rset()
        return result
    lm.putcmd("data")
    code, text = lm.getreply()
    if code != 354:
        raise AssertionError(f"DATA: {code} {text}")
    import re as _re
    data = _re.sub(rb"(?m)^\.", b"..", msg)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    lm.send(data + b".\r\n")
    for r in accepted:
        result[r] = lm.getreply()
    return result
