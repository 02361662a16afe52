"""Fault injection (issue 7, part 3): kill -9 of workers and master during a burst of
deliveries and APPENDs, a partition that fills up, index and cache files damaged under
an open session, LMDB readers left by killed processes, and a client that stops
reading in the middle of a large FETCH.

Each test runs a real master in a temporary directory (suite.Instance) and checks what
a client and the files on disk see afterwards. The full-partition tests mount a small
tmpfs and need root.

Run:  cd tests && python3 -m pytest -q test_faults.py
"""

import collections
import imaplib
import os
import poplib
import random
import re
import signal
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from suite import BIN, lmtp_send, pid_alive, wait_for

USERS = {"fred": "pw", "barney": "pw", "admin": "secret"}

BASE_CONF = ("allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
             "sasl_mech_list: PLAIN LOGIN\nadmins: admin\naltnamespace: no\nunixhierarchysep: yes\n")
# High enough never to refuse; it makes each session write its proc file, which names
# the worker serving a user (session_pid).
PROC_FILES = "maxlogins_per_user: 100000\n"


# ---------------------------------------------------------------------------
# Helpers (test_security.py uses them too).


def services(inst, imap=2, pop3=1, lmtp=1):
    return (f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork={lmtp}\n'
            f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork={imap}\n'
            f'  pop3 cmd="pop3d" listen="127.0.0.1:{inst.port("pop3")}" prefork={pop3}\n')


def mail_instance(make_instance, extra=PROC_FILES, users=("fred", "barney"), start=True, before_start=None, **svc):
    """An instance with sasldb users (fred, barney: "pw"; admin: "secret"), plaintext
    logins allowed, the "/" separator, and services imap, pop3 and lmtpunix. The
    users' INBOXes are made over IMAP by the admin (as a site would)."""
    inst = make_instance(extra_conf=BASE_CONF + extra)
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\n")
    if before_start:
        before_start(inst)
    inst.tool("mkimap")
    db = f"{inst.dir}/config/sasldb2"
    for u, pw in USERS.items():
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", "suite.test", u], input=pw.encode(), check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=services(inst, **svc))
    if not start:
        return inst
    inst.start()
    a = Raw(inst, "admin")
    for u in users:
        r = a.cmd(f"CREATE user/{u}")
        assert r.ok, r
    a.logout()
    return inst


class Resp:
    def __init__(self, untagged, tagged):
        self.untagged, self.tagged = untagged, tagged

    @property
    def status(self):
        parts = self.tagged.split(None, 2)
        return parts[1].decode() if len(parts) > 1 else ""

    @property
    def ok(self):
        return self.status == "OK"

    def __repr__(self):
        u = self.untagged[:3] + ([b"..."] if len(self.untagged) > 3 else [])
        return f"Resp({[x[:200] for x in u]!r}, {self.tagged[:300]!r})"


class Raw:
    """A byte-exact IMAP client: one command at a time or pipelined, literals read whole."""

    def __init__(self, inst, user=None, pw=None, rcvbuf=None, timeout=60, port=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port or inst.port("imap")))
        self.sock, self.buf, self.n = s, b"", 0
        self.greeting = self.readline()
        if user:
            r = self.cmd(f"LOGIN {user} {pw or USERS[user]}")
            assert r.ok, r

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response_line(self):
        """One response, with any literals inside it."""
        line = self.readline()
        while True:
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if not m:
                return line
            line += self.read_exact(int(m.group(1)))
            line += self.readline()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def tag(self):
        self.n += 1
        return f"t{self.n}".encode()

    def read_tagged(self, tag):
        untagged = []
        while True:
            line = self.response_line()
            if line.startswith(tag + b" "):
                return Resp(untagged, line)
            untagged.append(line)

    def cmd(self, text, literal=None):
        """Sends one command (with an optional synchronising literal) and returns its
        Resp; raises EOFError if the server closes the connection first."""
        t = self.tag()
        text = text if isinstance(text, bytes) else text.encode()
        if literal is not None:
            self.send(t + b" " + text + b" {%d}\r\n" % len(literal))
            line = self.readline()
            if not line.startswith(b"+"):
                return Resp([], line)
            self.send(literal + b"\r\n")
        else:
            self.send(t + b" " + text + b"\r\n")
        return self.read_tagged(t)

    def logout(self):
        try:
            self.cmd("LOGOUT")
        except (OSError, EOFError):
            pass
        self.sock.close()


def lmtp_client(inst, timeout=30):
    lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=timeout)
    lm.ehlo("mta.test")
    return lm


def message(mid, body=b"hello\r\n", extra=b""):
    return b"From: a@example.org\r\nTo: fred@example.org\r\nSubject: " + mid.encode() + b"\r\nMessage-ID: <" + \
        mid.encode() + b">\r\n" + extra + b"\r\n" + body


def message_ids(inst, user, mailbox="INBOX"):
    """Message-IDs of a mailbox as its owner sees them over IMAP (a Counter)."""
    im = Raw(inst, user)
    r = im.cmd(f"EXAMINE {mailbox}")
    assert r.ok, r
    r = im.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    im.logout()
    ids = collections.Counter()
    if r.status == "NO" and b"No matching" in r.tagged:
        return ids
    assert r.ok, r
    for line in r.untagged:
        m = re.search(rb"Message-ID: <([^>]*)>", line, re.I)
        if m:
            ids[m.group(1).decode()] += 1
    return ids


def deaths(inst, program=None):
    """master's log lines of children killed by a signal we did not send."""
    return [l for l in inst.log.grep(r"signaled to death") if program is None or f"/{program} " in l]


def mailbox_dir(root, user):
    return os.path.join(root, "user", user)


def fill_from_files(inst, user, count, make):
    """Lays count message files in a user's INBOX directory and rebuilds its index with
    reconstruct (much faster than delivering them one by one)."""
    d = mailbox_dir(os.path.join(inst.dir, "spool"), user)
    for i in range(1, count + 1):
        with open(os.path.join(d, f"{i}."), "wb") as f:
            f.write(make(i))
    inst.tool("reconstruct", f"user.{user}")


def rss_kb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def session_pid(inst, user):
    """The pid of the worker whose proc file says it serves user (one such session)."""
    procdir = os.path.join(inst.dir, "config", "proc")

    def find():
        for n in os.listdir(procdir):
            try:
                with open(os.path.join(procdir, n)) as f:
                    fields = f.read().strip().split("\t")
            except OSError:
                continue
            if len(fields) >= 3 and fields[2] == user and pid_alive(int(n)):
                return int(n)
        return None
    return wait_for(find, timeout=10, what=f"proc file of {user}'s session")


# ---------------------------------------------------------------------------
# 1. kill -9 of workers and master during a burst.


def _restart_master(inst):
    old = inst.proc
    old.wait(10)
    inst.start(wait_ready=False)
    inst.log.wait(rf"master\[{inst.proc.pid}\]: process started; ready for work", timeout=30)


def test_kill_9_of_workers_and_master_during_a_burst_loses_nothing(make_instance):
    inst = mail_instance(make_instance, imap=2, pop3=1, lmtp=1)
    rnd = random.Random(1234)
    stop = threading.Event()
    lock = threading.Lock()
    acked = {"lmtp": set(), "append": set()}
    tried = {"lmtp": set(), "append": set()}
    errors = collections.Counter()
    kills = collections.Counter()

    def lmtp_loop():
        i = 0
        while not stop.is_set():
            mid = f"lmtp.{i}@burst"
            i += 1
            with lock:
                tried["lmtp"].add(mid)
            try:
                lm = lmtp_client(inst, timeout=10)
                r = lmtp_send(lm, "a@b", ["fred"], message(mid))
                if r["fred"][0] == 250:
                    with lock:
                        acked["lmtp"].add(mid)
                try:
                    lm.quit()
                except (OSError, smtplib.SMTPException):
                    pass
            except (OSError, smtplib.SMTPException, AssertionError):
                errors["lmtp"] += 1
                time.sleep(0.02)

    def append_loop(name):
        i = 0
        im = None
        while not stop.is_set():
            try:
                if im is None:
                    im = Raw(inst, "barney", timeout=10)
                mid = f"append.{name}.{i}@burst"
                i += 1
                with lock:
                    tried["append"].add(mid)
                r = im.cmd("APPEND INBOX", message(mid, body=b"x" * rnd.randint(10, 20000) + b"\r\n"))
                if r.ok:
                    with lock:
                        acked["append"].add(mid)
            except (OSError, EOFError, AssertionError):
                errors["append"] += 1
                im = None
                time.sleep(0.02)
        if im is not None:
            im.logout()

    def pop_loop():
        while not stop.is_set():
            try:
                p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
                p.user("barney")
                p.pass_("pw")
                p.stat()
                p.quit()
            except (OSError, poplib.error_proto, EOFError):
                errors["pop3"] += 1
                time.sleep(0.05)

    def killer():
        while not stop.is_set():
            time.sleep(rnd.uniform(0.05, 0.25))
            try:
                kids = [(p, c) for p, c in inst.workers().items() if c in ("imapd", "pop3d", "lmtpd")]
            except Exception:
                continue
            if not kids:
                continue
            pid, comm = rnd.choice(kids)
            try:
                os.kill(pid, signal.SIGKILL)
                kills[comm] += 1
            except OSError:
                pass

    threads = [threading.Thread(target=f, args=a, daemon=True)
               for f, a in ((lmtp_loop, ()), (append_loop, ("a",)), (append_loop, ("b",)), (pop_loop, ()), (killer, ()))]
    for t in threads:
        t.start()
    old_workers = set()
    try:
        for round_ in range(2):
            time.sleep(4)
            # master itself: kill -9, leaving its pidfile and unix socket behind.
            old_pid = inst.proc.pid
            old_workers |= set(inst.workers())
            os.kill(old_pid, signal.SIGKILL)
            kills["master"] += 1
            time.sleep(0.5)
            assert os.path.exists(inst.pidfile), "test premise: a killed master leaves its pidfile"
            _restart_master(inst)
            assert inst.proc.pid != old_pid
            with open(inst.pidfile) as f:
                assert int(f.read().strip()) == inst.proc.pid
        time.sleep(4)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    # The old workers died with their master (none keeps an old listener or lock).
    wait_for(lambda: not [p for p in old_workers if pid_alive(p)], timeout=15,
             what=f"old workers to exit: {[p for p in old_workers if pid_alive(p)]}")
    # The new master replaces killed workers and serves every service.
    wait_for(lambda: len(inst.workers("imapd")) >= 2 and len(inst.workers("lmtpd")) >= 1, timeout=20,
             what=f"workers replaced (have {inst.workers()})")
    assert kills["master"] == 2 and sum(kills.values()) >= 15, kills
    assert len(acked["lmtp"]) >= 20 and len(acked["append"]) >= 20, ({k: len(v) for k, v in acked.items()}, errors)
    lm = lmtp_client(inst)
    assert lmtp_send(lm, "a@b", ["fred"], message("after@burst"))["fred"][0] == 250
    lm.quit()
    # Every acknowledged message is there exactly once; an unacknowledged one at most once.
    for user, kind in (("fred", "lmtp"), ("barney", "append")):
        have = message_ids(inst, user)
        missing = acked[kind] - set(have)
        assert not missing, f"{kind}: acknowledged but missing: {sorted(missing)[:10]} (kills {kills})"
        doubled = {m: n for m, n in have.items() if n > 1}
        assert not doubled, f"{kind}: {len(doubled)} stored more than once: {sorted(doubled.items())[:10]}"
        stray = set(have) - tried[kind] - {"after@burst"}
        assert not stray, stray
        out = inst.tool("reconstruct", "-q", f"user.{user}").stdout
        assert out == b"", f"reconstruct found something to fix in user.{user}: {out!r}"
    print(f"kills {dict(kills)}, acked { {k: len(v) for k, v in acked.items()} }, client errors {dict(errors)}")


def test_master_restarted_at_once_after_kill_9_serves_at_once(make_instance):
    """master killed while many workers hold sessions, and started again at once (as
    an init system does): its old workers still hold the listeners for a moment; the
    new master waits for them (up to 3 s) instead of leaving the services unbound until
    its 5 s retry, so clients are served again within a second."""
    inst = mail_instance(make_instance, imap=60, pop3=1, lmtp=1)
    inst.wait_workers("imapd", 60, timeout=30, at_least=True)
    sessions = [Raw(inst, "fred") for _ in range(50)]
    old = set(inst.workers())
    os.kill(inst.proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    _restart_master(inst)
    served = None
    while time.monotonic() - t0 < 10:
        try:
            r = Raw(inst, timeout=2)
            if r.greeting.startswith(b"* OK"):
                served = time.monotonic() - t0
                r.logout()
                break
        except OSError:
            time.sleep(0.02)
    for s in sessions:
        s.sock.close()
    assert served is not None and served < 1.5, f"first greeting {served} s after the kill"
    assert not [p for p in old if pid_alive(p)], "old workers outlived their master"
    assert not inst.log.grep(r"cannot listen"), inst.log.grep(r"cannot listen")
    print(f"served again {served * 1000:.0f} ms after the kill")


# ---------------------------------------------------------------------------
# 2. A partition that fills up.


@pytest.fixture
def small_fs(request):
    """A 4 MiB tmpfs, unmounted at teardown (skips unless root and mount works)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounts = []

    def mount(path, size="4m"):
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"mount -t tmpfs failed: {r.stderr.decode(errors='replace')}")
        mounts.append(path)
        return path
    yield mount
    for p in reversed(mounts):
        subprocess.run(["umount", "-l", p], check=False)


@pytest.mark.parametrize("layout", ["spool_only", "spool_and_config"])
def test_full_partition_temporary_failures_no_torn_files_and_recovery(make_instance, small_fs, layout):
    def lay(inst):
        small_fs(os.path.join(inst.dir, "fs"))
        text = open(inst.conf).read().replace(f"partition-default: {inst.dir}/spool", f"partition-default: {inst.dir}/fs/spool")
        os.makedirs(f"{inst.dir}/fs/spool")
        if layout == "spool_and_config":
            # configdirectory on the full filesystem too (mailbox list, deliver
            # databases, proc files); sasldb stays where it is.
            text = text.replace(f"configdirectory: {inst.dir}/config", f"configdirectory: {inst.dir}/fs/config")
            os.makedirs(f"{inst.dir}/fs/config")
        with open(inst.conf, "w") as f:
            f.write(text)
    inst = mail_instance(make_instance, before_start=lay, imap=1, pop3=0, lmtp=1)
    spool = f"{inst.dir}/fs/spool"
    lm = lmtp_client(inst)
    im = Raw(inst, "fred")
    assert im.cmd("SELECT INBOX").ok
    acked, lmtp_fail, append_fail = {}, [], []
    bodies = {}
    for i in range(400):
        mid = f"full.{i}@x"
        body = (f"{mid} ".encode() * 4000)[:60_000] + b"\r\n"
        bodies[mid] = body
        if i % 2 == 0:
            r = lmtp_send(lm, "a@b", ["fred"], message(mid, body))["fred"]
            if r[0] == 250:
                acked[mid] = "lmtp"
            else:
                lmtp_fail.append(r)
        else:
            r = im.cmd("APPEND INBOX", message(mid, body))
            if r.ok:
                acked[mid] = "append"
            else:
                append_fail.append(r.tagged)
        if len(lmtp_fail) >= 3 and len(append_fail) >= 3:
            break
    print(f"{layout}: {len(acked)} stored before full; LMTP answers {lmtp_fail[:1]}, APPEND answers {append_fail[:1]}")
    df = os.statvfs(f"{inst.dir}/fs")
    assert lmtp_fail and append_fail, (len(acked), lmtp_fail[:2], append_fail[:2], df.f_bavail)
    # LMTP: temporary, and saying why (RFC 3463 4.3.1 "mail system full"), so the MTA
    # keeps the mail.
    assert all(c == 452 and t.startswith(b"4.3.1 ") for c, t in lmtp_fail), lmtp_fail[:3]
    # IMAP: NO [OVERQUOTA] (not BAD, not [SERVERBUG], not a dropped connection).
    assert all(t.split()[1:3] == [b"NO", b"[OVERQUOTA]"] for t in append_fail), append_fail[:3]
    # The sessions still work while the disk is full.
    assert im.cmd("NOOP").ok
    assert lm.noop()[0] == 250
    assert not deaths(inst), deaths(inst)
    # Everything acknowledged is there once and whole.
    have = message_ids(inst, "fred")
    assert set(acked) <= set(have), f"acknowledged but missing: {sorted(set(acked) - set(have))}"
    assert not [m for m, n in have.items() if n > 1], have
    r = im.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] BODY.PEEK[TEXT])")
    assert r.ok, r
    for line in r.untagged:
        mid = re.search(rb"Message-ID: <([^>]*)>", line, re.I).group(1).decode()
        assert bodies[mid] in line, f"{mid} is not whole"
    # No message file that the index does not count (a torn one would be brought back
    # by the next reconstruct).
    r = im.cmd("UID SEARCH ALL")
    uids = {int(x) for x in r.untagged[0].split()[2:]}
    files = {int(n[:-1]) for n in os.listdir(mailbox_dir(spool, "fred")) if n.endswith(".") and n[:-1].isdigit()}
    assert files == uids, f"files not in the index: {sorted(files - uids)}, records without a file: {sorted(uids - files)}"
    full_reconstruct = inst.tool("reconstruct", "-q", "user.fred", check=False)
    # Nor half-written temporary files left behind by the failed appends.
    torn = [n for n in os.listdir(mailbox_dir(spool, "fred")) if not (n.startswith("cyrus.") or n.endswith("."))]
    # (asserted at the end, so that the recovery below is checked too)
    # Free space the way a user would: expunge, then cyr_expire removes the files.
    assert im.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)").ok
    r = im.cmd("EXPUNGE")
    assert r.ok, f"EXPUNGE on a full disk: {r}"
    time.sleep(1.1)  # cyr_expire -X 0 takes records expunged before this second
    inst.tool("cyr_expire", "-X", "0")
    free = os.statvfs(f"{inst.dir}/fs").f_bavail * os.statvfs(f"{inst.dir}/fs").f_frsize
    if free < 1_000_000:
        listing = subprocess.run(["ls", "-laR", f"{inst.dir}/fs"], capture_output=True, text=True).stdout
        status = im.cmd("STATUS INBOX (MESSAGES)")
        raise AssertionError(f"cyr_expire -X 0 freed too little: {free} bytes free; {status}\n{listing[:3000]}")
    r = lmtp_send(lm, "a@b", ["fred"], message("after@x"))["fred"]
    assert r[0] == 250, r
    r = im.cmd("APPEND INBOX", message("after2@x"))
    assert r.ok, r
    lm.quit()
    im.logout()
    assert set(message_ids(inst, "fred")) == {"after@x", "after2@x"}
    out = inst.tool("reconstruct", "-q", "user.fred").stdout
    assert out == b"", f"reconstruct found something to fix: {out!r}"
    if full_reconstruct.returncode != 0:
        print("note: reconstruct -q on the full disk failed:", full_reconstruct.stderr.decode(errors="replace").strip())
    assert not torn, f"half-written files left behind by failed deliveries/APPENDs: {torn}"
    print(f"{layout}: {len(acked)} stored, LMTP {lmtp_fail[0]}, APPEND {append_fail[0]!r}")
    inst.stop()


# ---------------------------------------------------------------------------
# 3. Index or cache damaged while a session has the mailbox selected.


def _damage(path, how):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        if how == "flip":
            # Flip bytes in the middle of the file and near its end (records, entries).
            for off in (size // 2, size - 40, 200):
                f.seek(off)
                b = f.read(4)
                f.seek(off)
                f.write(bytes(x ^ 0xA5 for x in b))
        else:
            f.truncate(max(size // 3, 130))


def _noflags(line):
    return re.sub(rb"FLAGS \([^)]*\) ", b"", line)


@pytest.mark.parametrize("target,how", [("index", "flip"), ("index", "truncate"), ("cache", "flip"), ("cache", "truncate")])
def test_damaged_index_or_cache_under_an_open_session(make_instance, target, how):
    inst = mail_instance(make_instance, imap=3, pop3=0)
    lm = lmtp_client(inst)
    for i in range(30):
        assert lmtp_send(lm, "a@b", ["fred"], message(f"f.{i}@x"))["fred"][0] == 250
    for i in range(3):
        assert lmtp_send(lm, "a@b", ["barney"], message(f"b.{i}@x"))["barney"][0] == 250
    a = Raw(inst, "fred")
    assert a.cmd("CREATE INBOX/keep").ok
    assert a.cmd("APPEND INBOX/keep", message("keep@x")).ok
    assert a.cmd("SELECT INBOX").ok
    before = a.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)")
    assert before.ok and len(before.untagged) == 30
    b = Raw(inst, "barney")
    assert b.cmd("SELECT INBOX").ok
    d = os.path.join(inst.dir, "spool", "user", "fred")
    _damage(os.path.join(d, f"cyrus.{target}"), how)
    # The session that has it open: an error, or the very same answers; never others.
    outcomes = []
    for c in ("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)", "NOOP", "FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)",
              "STORE 5 +FLAGS (\\Flagged)"):
        try:
            r = a.cmd(c)
        except EOFError:
            outcomes.append("closed")
            break
        outcomes.append(r.status)
        if c.startswith("FETCH") and r.ok:
            assert r.untagged == before.untagged, f"damaged {target} gave different answers: {r}"
        if any(l.startswith(b"* BYE") for l in r.untagged):
            outcomes.append("BYE")
            break
    # A new session: SELECT or FETCH fails, or gives the same answers.
    c = Raw(inst, "fred")
    r = c.cmd("SELECT INBOX")
    if r.ok:
        r2 = c.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)")
        if r2.ok:
            assert [_noflags(l) for l in r2.untagged] == [_noflags(l) for l in before.untagged], r2
        outcomes.append(("new", r2.status))
    else:
        outcomes.append(("new", r.status))
    c.logout()
    print("outcomes", outcomes)
    errors = [o for o in outcomes if o in ("NO", "BAD", "BYE", "closed") or (isinstance(o, tuple) and o[1] in ("NO", "BAD"))]
    if target == "index":
        # A cache entry that fails its CRC may be rebuilt from the message file (the
        # same answers, checked above); a damaged index record has no such fallback.
        assert errors, f"damage to cyrus.{target} went unnoticed: {outcomes}"
    # Delivery to the damaged mailbox: never 250 for a message that is then lost.
    r = lmtp_send(lm, "a@b", ["fred"], message("during@x"))["fred"]
    assert r[0] in (250, 451, 452), r
    delivered_during = r[0] == 250
    # Other sessions and mailboxes are unaffected.
    assert b.cmd("FETCH 1:* (FLAGS ENVELOPE)").ok
    assert b.cmd("STORE 1 +FLAGS (\\Seen)").ok
    assert lmtp_send(lm, "a@b", ["barney"], message("b.after@x"))["barney"][0] == 250
    k = Raw(inst, "fred")
    assert k.cmd("SELECT INBOX/keep").ok and k.cmd("FETCH 1 (ENVELOPE)").ok
    k.logout()
    assert not deaths(inst), f"a worker crashed: {deaths(inst)}"
    # reconstruct repairs it: every message is back, once.
    inst.tool("reconstruct", "user.fred")
    want = {f"f.{i}@x" for i in range(30)} | ({"during@x"} if delivered_during else set())
    have = message_ids(inst, "fred")
    assert set(have) >= want and max(have.values()) == 1, (sorted(want - set(have)), have)
    n = Raw(inst, "fred")
    assert n.cmd("SELECT INBOX").ok
    r = n.cmd("FETCH 1:* (UID RFC822.SIZE ENVELOPE)")
    assert r.ok and len(r.untagged) == len(have), r
    assert n.cmd("STORE 1 +FLAGS (\\Flagged)").ok
    assert n.cmd("APPEND INBOX", message("after@x")).ok
    n.logout()
    assert lmtp_send(lm, "a@b", ["fred"], message("after.lmtp@x"))["fred"][0] == 250
    assert inst.tool("reconstruct", "-q", "user.fred").stdout == b""
    # The old session: ended, or works again on the rebuilt files.
    try:
        r = a.cmd("NOOP")
        assert r.status in ("OK", "NO", "BAD") and not deaths(inst)
    except (EOFError, OSError):
        pass
    lm.quit()
    assert not deaths(inst), deaths(inst)


@pytest.mark.parametrize("target", ["index", "cache"])
def test_truncation_during_a_fetch_in_progress_does_not_kill_the_worker(make_instance, target):
    """The worker is blocked writing a large FETCH (the client reads nothing) while its
    mmap'd file is truncated under it; then the client reads on. A read through the
    old mapping past the new end of file is SIGBUS unless the server guards it."""
    inst = mail_instance(make_instance, imap=1, pop3=0)
    big_header = b"".join(b"X-Filler-%d: %s\r\n" % (j, b"h" * 180) for j in range(40))
    fill_from_files(inst, "fred", 600, lambda i: message(f"t.{i}@x", extra=big_header))
    s = Raw(inst, "fred", rcvbuf=4096)
    assert s.cmd("SELECT INBOX").ok
    s.send(b"f1 FETCH 1:* (UID ENVELOPE BODY.PEEK[HEADER])\r\n")
    s.readline()  # the first bytes are on their way
    time.sleep(1.0)  # the worker fills the socket buffers and blocks in write
    d = os.path.join(inst.dir, "spool", "user", "fred")
    _damage(os.path.join(d, f"cyrus.{target}"), "truncate")
    time.sleep(0.2)
    result = None
    try:
        while True:
            line = s.response_line()
            if line.startswith(b"f1 ") or line.startswith(b"* BYE"):
                result = line
                break
    except (EOFError, OSError) as e:
        result = repr(e)
    time.sleep(0.5)
    assert not deaths(inst), f"the worker died while serving a FETCH over a truncated cyrus.{target}: {deaths(inst)} (client saw {result!r})"
    inst.tool("reconstruct", "user.fred")
    assert len(message_ids(inst, "fred")) == 600


# ---------------------------------------------------------------------------
# 4. LMDB readers left by killed processes.


def _readers(inst):
    """pids in the reader table of the mailbox list (mdb_stat -r)."""
    r = subprocess.run(["mdb_stat", "-r", os.path.join(inst.dir, "config", "mailboxes.lmdb")], capture_output=True, timeout=30)
    pids = []
    for line in r.stdout.decode().splitlines():
        f = line.split()
        if len(f) == 3 and f[0].isdigit():
            pids.append(int(f[0]))
    return pids


def _timed(f, limit, what):
    t = time.monotonic()
    out = f()
    dt = time.monotonic() - t
    assert dt < limit, f"{what} took {dt:.1f}s"
    return out


# A process that opens the mailbox list's environment (liblmdb through ctypes), begins a
# read transaction and waits to be killed.
_LMDB_READER = r"""
import ctypes, sys, time
lib = ctypes.CDLL("liblmdb.so.0")
env, txn = ctypes.c_void_p(), ctypes.c_void_p()
assert lib.mdb_env_create(ctypes.byref(env)) == 0
lib.mdb_env_set_maxdbs(env, 16)
lib.mdb_env_set_maxreaders(env, 1024)
lib.mdb_env_set_mapsize(env, ctypes.c_size_t(1 << 34))
rc = lib.mdb_env_open(env, sys.argv[1].encode(), 0x200000 | 0x20000, 0o644)  # MDB_NOTLS | MDB_RDONLY
assert rc == 0, rc
rc = lib.mdb_txn_begin(env, None, 0x20000, ctypes.byref(txn))
assert rc == 0, rc
print("reading", flush=True)
time.sleep(3600)
"""

_HAVE_LIBLMDB = any(os.path.exists(f"{d}/liblmdb.so.0") for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"))


@pytest.mark.skipif(not os.access("/usr/bin/mdb_stat", os.X_OK) or not _HAVE_LIBLMDB,
                    reason="mdb_stat and liblmdb (lmdb-utils, liblmdb0) are not installed")
def test_lmdb_reader_left_by_a_killed_worker_does_not_block_writers(make_instance):
    inst = mail_instance(make_instance, imap=2, pop3=0)
    # 3000 mailboxes, loaded in one go, so that LIST's answer outgrows the socket buffers.
    lines = "".join(f"user.fred.f{i:05d}\tdefault\tuser-fred-f{i:05d}\t{1_700_000_000}\tfred\tlrswipkxtecdan\t\n"
                    for i in range(3000))
    inst.tool("ctl_mboxlist", "-u", input=lines.encode())
    killed = []
    for round_ in range(6):
        s = Raw(inst, "fred", rcvbuf=2048)
        pid = session_pid(inst, "fred")
        # LIST and LSUB/STATUS-return pipelined; read nothing; the worker stalls mid-answer.
        s.send(b'l1 LIST "" "*"\r\nl2 LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN)\r\nl3 LIST "" "INBOX/*" RETURN (STATUS (MESSAGES))\r\n')
        time.sleep(0.3 + 0.2 * round_)
        in_table = pid in _readers(inst)
        os.kill(pid, signal.SIGKILL)
        killed.append((pid, in_table))
        s.sock.close()
        inst.log.wait(rf"pid:{pid} signaled to death by signal 9")
    # A pipelined run of CREATEs killed part-way (a writer killed inside its transaction).
    for round_ in range(4):
        s = Raw(inst, "fred")
        pid = session_pid(inst, "fred")
        s.send(b"".join(b"c%d CREATE INBOX/k%d-%d\r\n" % (i, round_, i) for i in range(200)))
        time.sleep(0.05 + 0.1 * round_)
        os.kill(pid, signal.SIGKILL)
        killed.append((pid, None))
        s.sock.close()
    # Processes that opened the environment and hold a read transaction, killed -9.
    held = []
    for _ in range(3):
        proc = subprocess.Popen(["python3", "-c", _LMDB_READER, os.path.join(inst.dir, "config", "mailboxes.lmdb")],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "reading", "the LMDB reader did not start"
        held.append(proc)
    stale = [p.pid for p in held]
    assert set(stale) <= set(_readers(inst)), (stale, _readers(inst))
    for proc in held:
        proc.kill()
        proc.wait()
    killed += [(p, True) for p in stale]
    # Writers go on, quickly: CREATE/DELETE by another session, lmtpd deliveries.
    w = Raw(inst, "barney")
    for i in range(5):
        _timed(lambda: w.cmd(f"CREATE INBOX/new{i}"), 5, "CREATE after killed readers")
        r = _timed(lambda: w.cmd(f"DELETE INBOX/new{i}"), 5, "DELETE after killed readers")
        assert r.ok, r
    r = _timed(lambda: w.cmd("CREATE INBOX/final"), 5, "CREATE")
    assert r.ok, r
    lm = lmtp_client(inst)
    for i in range(5):
        r = _timed(lambda: lmtp_send(lm, "a@b", ["barney+final", "fred"], message(f"lmdb.{i}@x")), 5, "LMTP delivery")
        assert [c for c, _ in r.values()] == [250, 250], r
    lm.quit()
    r = w.cmd('LIST "" "*"')
    assert r.ok and len(r.untagged) >= 1, r
    w.logout()
    # Stale reader slots are cleared (mdb_reader_check when an environment is opened).
    dead = [p for p in _readers(inst) if not pid_alive(p)]
    assert not dead, f"stale LMDB reader slots of killed processes: {dead} (killed {killed})"
    print(f"killed {killed}")


# ---------------------------------------------------------------------------
# 5. A slow client does not hold locks that stop deliveries.


SLOW_SECONDS = float(os.environ.get("SLOW_CLIENT_SECONDS", "30"))


def test_slow_client_mid_fetch_does_not_stop_deliveries_or_other_sessions(make_instance):
    inst = mail_instance(make_instance, imap=2, pop3=0, lmtp=1)
    fill_from_files(inst, "fred", 200, lambda i: message(f"s.{i}@x", body=(b"%d " % i) * 30000 + b"\r\n"))
    slow = Raw(inst, "fred", rcvbuf=4096)
    assert slow.cmd("SELECT INBOX").ok
    slow.send(b"s1 FETCH 1:* BODY[]\r\n")
    slow.readline()
    other = Raw(inst, "fred")
    assert other.cmd("SELECT INBOX").ok
    lm = lmtp_client(inst)
    lat_lmtp, lat_other = [], []
    t_end = time.monotonic() + SLOW_SECONDS
    i = 0
    while time.monotonic() < t_end:
        t = time.monotonic()
        r = lmtp_send(lm, "a@b", ["fred"], message(f"slow.{i}@x"))["fred"]
        lat_lmtp.append(time.monotonic() - t)
        assert r[0] == 250, r
        t = time.monotonic()
        assert other.cmd(f"STORE {150 + i % 40} +FLAGS (\\Flagged)").ok
        if i % 3 == 0:
            assert other.cmd(f"STORE {190 - i // 3} +FLAGS.SILENT (\\Deleted)").ok
            r = other.cmd("EXPUNGE")
            assert r.ok, r
        lat_other.append(time.monotonic() - t)
        i += 1
        time.sleep(max(0, 1.0 - (time.monotonic() - t)))
    lm.quit()
    # The slow client reads on: its FETCH completes, and the session goes on.
    slow.sock.settimeout(120)
    fetched = 0
    while True:
        line = slow.response_line()
        if line.startswith(b"s1 "):
            break
        fetched += line.startswith(b"* ") and b" FETCH " in line[:20]
    assert line.split()[1] in (b"OK", b"NO"), line
    assert fetched >= 180, fetched
    assert slow.cmd("NOOP").ok
    slow.logout()
    other.logout()
    assert not deaths(inst)
    assert max(lat_lmtp) < 1.0, f"LMTP delivery latencies while a client stalls: max {max(lat_lmtp):.2f}s {sorted(lat_lmtp)[-5:]}"
    assert max(lat_other) < 2.0, f"STORE/EXPUNGE latencies: max {max(lat_other):.2f}s"
    have = message_ids(inst, "fred")
    assert {f"slow.{j}@x" for j in range(i)} <= set(have)
    print(f"{i} deliveries during the stall: LMTP max {max(lat_lmtp):.3f}s, STORE/EXPUNGE max {max(lat_other):.3f}s")
