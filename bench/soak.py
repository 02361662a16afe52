#!/usr/bin/env python3
"""suite soak: a bounded load and soak run of imapd, pop3d and lmtpd under one master.

Lays a private instance in a temp dir (loopback ports and a unix LMTP socket only),
with sasldb users user0..userN-1 (one shared password) and `admin`, each user's INBOX
and one folder `Soak` made by the admin over IMAP, optionally a few messages already
delivered to each INBOX (--prefill), and then, for --minutes after a --warmup ramp:

  - --imap-conns logged-in IMAP connections (plain LOGIN, a --tls-fraction of them
    after STARTTLS): --idle-fraction of them IDLE on INBOX (DONE and IDLE again every
    --idle-min..--idle-max seconds, fetching what arrived); the others run a client-like
    mix with --think-min..--think-max seconds between commands: SELECT, UID FETCH
    (FLAGS / ENVELOPE / BODY.PEEK[] / BODYSTRUCTURE), UID SEARCH, UID STORE +/-FLAGS,
    APPEND (to Soak, some to INBOX for POP3 to delete), EXPUNGE of messages the soak
    appended to Soak and flagged \\Deleted itself, LIST/STATUS, NOOP; each session logs
    out and in again after about --session-minutes;
  - --pop-per-min POP3 sessions a minute: USER/PASS, STAT, UIDL, RETR of a few, TOP 0
    of the last few, DELE only of messages the soak APPENDed to INBOX for that purpose,
    QUIT;
  - LMTP deliveries at a steady --lmtp-rate a second (over --lmtp-conns connections)
    to random users, each with a unique Message-ID written to a delivery log.

Delivered messages are never flagged \\Deleted nor expunged, and messages the soak
appended are deleted only by UID (APPENDUID) or after reading their Message-ID, so at
the end, reading every mailbox of every user over IMAP (UID FETCH 1:*
BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]), the check is exact: every delivered
Message-ID is in its user's INBOX exactly once (and nowhere else), every appended one
that was not deleted is in its folder exactly once, every deleted one is gone, and
nothing unknown is there.

With --kill-per-min N and/or --kill-master K (fault injection), a random imapd, pop3d
or lmtpd worker is SIGKILLed N times a minute and master K times (started again at
once on the same pidfile); connections cut by a kill are counted apart, not as errors,
failed deliveries are retried as an MTA would (--lmtp-retries), and the same
exactly-once check must hold: nothing acknowledged lost, nothing stored twice.

Recorded and printed: errors by kind (any unexpected NO/BAD/BYE, timeout, disconnect,
POP3 -ERR, LMTP reply other than 250, a worker that died or logged a panic/IOERROR),
latency percentiles per command, the PSS of the imapd/pop3d/lmtpd workers and the
RSS/PSS of master after the warm-up, every --sample-seconds and at the end, and the
exactly-once check. Exit status 1 if there was any error or the check failed (the
instance directory is then kept, with syslog.txt and soak/deliveries.log).

    python3 bench/soak.py [--minutes 10] [--imap-conns 300] [--idle-fraction 0.333]
        [--pop-per-min 20] [--lmtp-rate 50] [--users 100] [--kill-per-min 0]
        [--kill-master 0] [--json FILE] [--keep] ...

Run as root (master drops to `cyrus`) with the suite built; binaries from --bin, else
$SUITE_BIN, else target/release. A soak, not a timed test: tests/test_soak.py runs a
short one in CI.
"""

import argparse
import collections
import json
import os
import queue
import random
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import suite  # noqa: E402
from suite import descendants, smaps  # noqa: E402

PASSWORD = "soak-pw"
ADMIN, ADMIN_PW = "admin", "soak-admin-pw"
FOLDER = "Soak"

# --------------------------------------------------------------------------- bookkeeping


class SoakError(Exception):
    def __init__(self, kind, detail=""):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = collections.defaultdict(list)
        self.errors = collections.Counter()
        self.samples = []
        self.counts = collections.Counter()
        # Under fault injection (--kill-per-min, --kill-master), a connection cut by a
        # kill is expected: counted apart, not as an error.
        self.tolerate = ()
        self.tolerated = collections.Counter()

    def ok(self, name, secs):
        with self.lock:
            self.lat[name].append(secs)

    def count(self, name, n=1):
        with self.lock:
            self.counts[name] += n

    def error(self, kind, detail=""):
        with self.lock:
            if self.tolerate and kind.startswith(self.tolerate):
                self.tolerated[kind] += 1
                return
            self.errors[kind] += 1
            if len(self.samples) < 200:
                self.samples.append({"time": time.strftime("%H:%M:%S"), "kind": kind, "detail": str(detail)[:400]})


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


class Registry:
    """What the soak put into the store: deliveries and its own APPENDs, by Message-ID."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.delivered = {}   # mid -> [user, state]   state: ok | refused | uncertain
        self.appended = {}    # mid -> [user, folder, uid, state]   state: kept | pending | deleted | uncertain
        self.by_folder = collections.defaultdict(dict)  # (user, folder) -> {uid: mid} of kept appends
        self.log = open(path, "a", buffering=1)
        self.n = 0

    def next_id(self):
        with self.lock:
            self.n += 1
            return self.n

    def delivery(self, user, mid, state, detail=""):
        with self.lock:
            self.delivered[mid] = [user, state]
            self.log.write(f"{time.time():.3f} {user} {mid} {state} {detail}\n".rstrip() + "\n")

    def append(self, user, folder, uid, mid, state):
        with self.lock:
            self.appended[mid] = [user, folder, uid, state]
            if state == "kept" and uid is not None:
                self.by_folder[(user, folder)][uid] = mid

    def take_for_delete(self, user, folder, rnd, k):
        """Up to k kept appended messages of (user, folder), marked pending."""
        with self.lock:
            d = self.by_folder[(user, folder)]
            uids = rnd.sample(sorted(d), min(k, len(d)))
            out = {}
            for u in uids:
                mid = d.pop(u)
                self.appended[mid][3] = "pending"
                out[u] = mid
            return out

    def set_state(self, mid, state):
        with self.lock:
            if mid in self.appended:
                self.appended[mid][3] = state

    def close(self):
        self.log.close()


# --------------------------------------------------------------------------- messages

WORDS = ("report meeting budget quarter review project schedule team office plan update customer account invoice "
         "order shipment release server network backup storage mailbox calendar travel hotel flight agenda minutes "
         "draft proposal contract policy training deadline figures summary forecast revenue cost estimate approval "
         "request question answer issue ticket support service system version change test results data analysis "
         "design document comments feedback notes lunch dinner weekend holiday family garden weather coffee morning "
         "evening tomorrow yesterday monday friday please thanks regards attached below above following soon later").split()
NAMES = ["Alice Smith", "Bob Jones", "Carol Taylor", "David Brown", "Erin Wilson", "Frank Walker", "Grace Evans",
         "Heidi White", "Ivan Roberts", "Judy Wright"]
SEARCH_KEYS = [b"UNSEEN", b"FLAGGED", b"SEEN", b'SUBJECT "report"', b'SUBJECT "budget"', b'FROM "alice"',
               b'FROM "walker"', b"SINCE 1-Jan-2025", b'BODY "coffee"', b"LARGER 8000", b"OR FLAGGED ANSWERED",
               b'HEADER Message-ID "soak-a"', b"NOT SEEN SMALLER 4000"]
FLAGS = [b"\\Seen", b"\\Flagged", b"\\Answered", b"$SoakLabel", b"\\Seen \\Flagged"]


def make_message(rnd, to, mid, extra_header=""):
    name = rnd.choice(NAMES)
    addr = name.lower().replace(" ", ".") + "@example.org"
    subject = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 6))).capitalize()
    lines = []
    for _ in range(rnd.randint(5, 60)):
        lines.append(" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 12))))
    text = "\r\n".join(lines) + "\r\n"
    h = (f"From: {name} <{addr}>\r\nTo: <{to}@suite.test>\r\nSubject: {subject}\r\n"
         f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\nMessage-ID: {mid}\r\n{extra_header}"
         "MIME-Version: 1.0\r\n")
    r = rnd.random()
    if r < 0.6:
        return (h + "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text).encode()
    b = f"=_soak_{rnd.getrandbits(32):08x}"
    if r < 0.85:
        html = "<html><body>\r\n" + "".join(f"<p>{x}</p>\r\n" for x in lines) + "</body></html>\r\n"
        return (h + f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n--{b}\r\n'
                "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text + f"\r\n--{b}\r\n"
                "Content-Type: text/html; charset=us-ascii\r\n\r\n" + html + f"\r\n--{b}--\r\n").encode()
    import base64
    blob = base64.encodebytes(rnd.randbytes(rnd.randint(1500, 15000))).decode().replace("\n", "\r\n")
    return (h + f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\n'
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text + f"\r\n--{b}\r\n"
            'Content-Type: application/pdf; name="report.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + blob + f"\r\n--{b}--\r\n").encode()


# --------------------------------------------------------------------------- IMAP client

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n")
UIDS = re.compile(rb"UID (\d+)")
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")
EXISTS_LINE = re.compile(rb"^\* (\d+) EXISTS\r\n$")
BAD_UNTAGGED = re.compile(rb"(?m)^\* (BYE|NO|BAD)\b[^\r\n]*")
MSGID = re.compile(rb"(?im)^Message-ID:\s*(<[^>\r\n]*>)")


class Imap:
    """A raw IMAP client: one command at a time, read to its tagged reply (literals
    skipped by size), latency recorded per label, every failure a SoakError."""

    def __init__(self, port, stats, timeout, tls_ctx=None):
        self.stats, self.timeout = stats, timeout
        self.buf = bytearray()
        self.n = 0
        t = time.monotonic()
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except socket.timeout:
            raise SoakError("timeout:imap:CONNECT")
        except OSError as e:
            raise SoakError("connect:imap", repr(e))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        g = self._guard("GREETING", self.readline)
        if not g.startswith(b"* OK"):
            raise SoakError("imap_greeting", g)
        stats.ok("CONNECT", time.monotonic() - t)
        if tls_ctx:
            self.cmd("STARTTLS", b"STARTTLS")
            self.sock = self._guard("TLS handshake", tls_ctx.wrap_socket, self.sock)

    def _fill(self):
        d = self.sock.recv(1 << 18)
        if not d:
            raise EOFError("connection closed by the server")
        self.buf += d

    def readline(self):
        i = self.buf.find(b"\r\n")
        while i < 0:
            start = max(len(self.buf) - 1, 0)
            self._fill()
            i = self.buf.find(b"\r\n", start)
        line = bytes(self.buf[:i + 2])
        del self.buf[:i + 2]
        return line

    def _guard(self, label, fn, *a):
        try:
            return fn(*a)
        except socket.timeout:
            raise SoakError(f"timeout:imap:{label}", f"no answer in {self.timeout}s")
        except (EOFError, ConnectionError, ssl.SSLError) as e:
            raise SoakError(f"disconnect:imap:{label}", repr(e))

    def read_tagged(self, tag):
        needle = b"\r\n" + tag + b" "
        buf = self.buf
        pos = 0
        while len(buf) < len(tag) + 1:
            self._fill()
        if buf.startswith(tag + b" "):
            t = -2
        else:
            while True:
                m = LITERAL.search(buf, pos)
                t = buf.find(needle, pos, m.start() if m else len(buf))
                if t >= 0:
                    break
                if m:
                    end = m.end() + int(m.group(1))
                    while len(buf) < end:
                        self._fill()
                    pos = end
                    continue
                pos = max(pos, len(buf) - 40)
                self._fill()
        e = buf.find(b"\r\n", t + 2)
        while e < 0:
            self._fill()
            e = buf.find(b"\r\n", t + 2)
        data, tagged = bytes(buf[:t + 2]), bytes(buf[t + 2:e + 2])
        del buf[:e + 2]
        return data, tagged

    def _check(self, label, data, tagged, bye_ok=False):
        st = tagged.split(b" ", 2)[1:2]
        if st != [b"OK"]:
            raise SoakError(f"imap_{(st or [b'?'])[0].decode(errors='replace')}:{label}", tagged.strip())
        for m in BAD_UNTAGGED.finditer(data):
            if m.group(1) == b"BYE" and bye_ok:
                continue
            raise SoakError(f"imap_untagged_{m.group(1).decode()}:{label}", m.group(0))

    def cmd(self, label, text, bye_ok=False):
        self.n += 1
        tag = b"s%d" % self.n
        t = time.monotonic()

        def go():
            self.sock.sendall(tag + b" " + text + b"\r\n")
            return self.read_tagged(tag)
        data, tagged = self._guard(label, go)
        self._check(label, data, tagged, bye_ok)
        self.stats.ok(label, time.monotonic() - t)
        return data, tagged

    def append(self, folder, flags, msg):
        self.n += 1
        tag = b"s%d" % self.n
        t = time.monotonic()

        def go():
            self.sock.sendall(tag + b" APPEND " + folder.encode() + b" (" + flags + b") {%d}\r\n" % len(msg))
            while True:
                line = self.readline()
                if line.startswith(b"+"):
                    break
                if line.startswith(tag + b" "):
                    return b"", line
            self.sock.sendall(msg + b"\r\n")
            return self.read_tagged(tag)
        data, tagged = self._guard("APPEND", go)
        self._check("APPEND", data, tagged)
        self.stats.ok("APPEND", time.monotonic() - t)
        m = APPENDUID.search(tagged)
        return int(m.group(1)) if m else None

    def readline_within(self, seconds):
        """One line (with any literal it announces), or None if nothing came in time."""
        if b"\r\n" not in self.buf:
            self.sock.settimeout(max(seconds, 0.01))
            try:
                self._fill()
            except socket.timeout:
                return None
            finally:
                self.sock.settimeout(self.timeout)
        line = self.readline()
        m = LITERAL.search(line)
        if m and m.end() == len(line):
            need = int(m.group(1))
            while len(self.buf) < need:
                self._fill()
            del self.buf[:need]
            line += self.readline()
        return line

    def idle(self, seconds, stop):
        """IDLE for `seconds` (or until stop); returns the number of EXISTS seen."""
        self.n += 1
        tag = b"s%d" % self.n
        t = time.monotonic()

        def begin():
            self.sock.sendall(tag + b" IDLE\r\n")
            while True:
                line = self.readline()
                if line.startswith(b"+"):
                    return
                if line.startswith(tag + b" ") or line.startswith(b"* BYE"):
                    raise SoakError("imap_IDLE_refused:IDLE", line.strip())
        self._guard("IDLE", begin)
        self.stats.ok("IDLE", time.monotonic() - t)
        deadline = time.monotonic() + seconds
        seen = 0
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            line = self._guard("IDLE_WAIT", self.readline_within, min(left, 1.0))
            if line is None:
                continue
            if EXISTS_LINE.match(line):
                seen += 1
            elif BAD_UNTAGGED.match(line):
                raise SoakError("imap_untagged_in_IDLE", line.strip())
        t = time.monotonic()

        def done():
            self.sock.sendall(b"DONE\r\n")
            return self.read_tagged(tag)
        data, tagged = self._guard("DONE", done)
        self._check("DONE", data, tagged)
        self.stats.ok("DONE", time.monotonic() - t)
        return seen

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def uid_list(data):
    return sorted({int(x) for x in UIDS.findall(data)})


# --------------------------------------------------------------------------- POP3 and LMTP clients


class Pop:
    def __init__(self, port, stats, timeout):
        self.stats, self.timeout = stats, timeout
        self.buf = bytearray()
        t = time.monotonic()
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except socket.timeout:
            raise SoakError("timeout:pop3:CONNECT")
        except OSError as e:
            raise SoakError("connect:pop3", repr(e))
        g = self._guard("GREETING", self.readline)
        if not g.startswith(b"+OK"):
            raise SoakError("pop3_greeting", g)
        stats.ok("POP3 CONNECT", time.monotonic() - t)

    def _guard(self, label, fn, *a):
        try:
            return fn(*a)
        except socket.timeout:
            raise SoakError(f"timeout:pop3:{label}", f"no answer in {self.timeout}s")
        except (EOFError, ConnectionError) as e:
            raise SoakError(f"disconnect:pop3:{label}", repr(e))

    def readline(self):
        i = self.buf.find(b"\r\n")
        while i < 0:
            d = self.sock.recv(1 << 18)
            if not d:
                raise EOFError("connection closed by the server")
            start = max(len(self.buf) - 1, 0)
            self.buf += d
            i = self.buf.find(b"\r\n", start)
        line = bytes(self.buf[:i + 2])
        del self.buf[:i + 2]
        return line

    def cmd(self, label, text, multi=False, record=True):
        t = time.monotonic()

        def go():
            self.sock.sendall(text + b"\r\n")
            first = self.readline()
            if not first.startswith(b"+OK"):
                return first, None
            if not multi:
                return first, []
            lines = []
            while True:
                line = self.readline()
                if line == b".\r\n":
                    return first, lines
                lines.append(line[1:] if line.startswith(b"..") else line)
        first, lines = self._guard(label, go)
        if lines is None:
            raise SoakError(f"pop3_ERR:{label}", first.strip())
        if record:
            self.stats.ok("POP3 " + label, time.monotonic() - t)
        return first, lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Lmtp:
    def __init__(self, path, timeout):
        self.timeout = timeout
        self.buf = bytearray()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            raise SoakError("connect:lmtp", repr(e))
        self._guard("GREETING", self.reply, b"220")
        self.sock.sendall(b"LHLO soak.example.org\r\n")
        self._guard("LHLO", self.reply, b"250")

    def _guard(self, label, fn, *a):
        try:
            return fn(*a)
        except socket.timeout:
            raise SoakError(f"timeout:lmtp:{label}", f"no answer in {self.timeout}s")
        except (EOFError, ConnectionError) as e:
            raise SoakError(f"disconnect:lmtp:{label}", repr(e))

    def reply(self, want):
        while True:
            i = self.buf.find(b"\r\n")
            while i < 0:
                d = self.sock.recv(65536)
                if not d:
                    raise EOFError("LMTP connection closed")
                self.buf += d
                i = self.buf.find(b"\r\n")
            line = bytes(self.buf[:i])
            del self.buf[:i + 2]
            if line[3:4] != b"-":
                if line[:3] != want:
                    raise SoakError(f"lmtp_{line[:3].decode(errors='replace')}", line)
                return line

    def deliver(self, rcpt, msg):
        """Raises SoakError; self.sent then says whether the message had been sent."""
        self.sent = False
        try:
            self.sock.sendall(b"MAIL FROM:<soak@example.org>\r\nRCPT TO:<" + rcpt.encode() + b">\r\nDATA\r\n")
            self.reply(b"250"), self.reply(b"250"), self.reply(b"354")
            self.sock.sendall(re.sub(rb"(?m)^\.", b"..", msg) + b".\r\n")
            self.sent = True
            self.reply(b"250")
        except socket.timeout:
            raise SoakError(f"timeout:lmtp:{'DATA' if self.sent else 'MAIL'}", f"no answer in {self.timeout}s")
        except (EOFError, ConnectionError) as e:
            raise SoakError(f"disconnect:lmtp:{'DATA' if self.sent else 'MAIL'}", repr(e))

    def close(self):
        try:
            self.sock.sendall(b"QUIT\r\n")
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------- processes

def memory_sample(master_pid, t0):
    s = {"t": round(time.monotonic() - t0, 1)}
    try:
        m = smaps(master_pid)
        s["master_rss_kb"], s["master_pss_kb"] = m.get("Rss", 0), m.get("Pss", 0)
        s["master_anon_kb"] = m.get("Anonymous", 0)
        s["master_fds"] = len(os.listdir(f"/proc/{master_pid}/fd"))
    except OSError:
        pass
    for comm in ("imapd", "pop3d", "lmtpd"):
        s[f"{comm}_n"] = 0
        s[f"{comm}_pss_kb"] = 0
        s[f"{comm}_anon_kb"] = 0
    for pid, comm in descendants(master_pid).items():
        if comm in ("imapd", "pop3d", "lmtpd"):
            try:
                sm = smaps(pid)
                s[f"{comm}_pss_kb"] += sm.get("Pss", 0)
                s[f"{comm}_anon_kb"] += sm.get("Anonymous", 0)
                s[f"{comm}_n"] += 1
            except OSError:
                pass
    s["workers_pss_kb"] = s["imapd_pss_kb"] + s["pop3d_pss_kb"] + s["lmtpd_pss_kb"]
    s["workers_anon_kb"] = s["imapd_anon_kb"] + s["pop3d_anon_kb"] + s["lmtpd_anon_kb"]
    s["imapd_anon_per"] = s["imapd_anon_kb"] // max(1, s["imapd_n"])
    return s


# --------------------------------------------------------------------------- the instance


class Server:
    def __init__(self, args):
        for b in ("master", "imapd", "pop3d", "lmtpd", "mkimap"):
            if not os.access(os.path.join(suite.BIN, b), os.X_OK):
                raise SystemExit(f"{suite.BIN}/{b} is missing: build the suite (or set --bin / SUITE_BIN)")
        self.inst = suite.Instance(name="soak", extra_conf=(
            "allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
            f"admins: {ADMIN}\n"))
        self.dir = self.inst.dir
        self.drain = None
        self.args = args
        try:
            self._lay(args)
        except BaseException:
            self.inst.close()
            raise

    def _lay(self, a):
        inst, d = self.inst, self.dir
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        self.cert = cert
        db = os.path.join(d, "config", "sasldb2")
        with open(inst.conf, "a") as f:
            f.write(f"sasl_sasldb_path: {db}\ntls_server_cert: {cert}\ntls_server_key: {key}\n")
        inst.tool("mkimap")
        for u, pw in [(ADMIN, ADMIN_PW)] + [(f"user{i}", PASSWORD) for i in range(a.users)]:
            subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", "suite.test", u], input=pw.encode(), check=True)
        os.makedirs(os.path.join(d, "soak"))
        inst._own()
        self.imap_port, self.pop_port = inst.port("imap"), inst.port("pop3")
        self.lmtp = os.path.join(d, "lmtp.sock")
        inst.write_cyrus_conf(SERVICES=(
            f'  imap cmd="imapd" listen="127.0.0.1:{self.imap_port}" prefork={a.prefork} '
            f'maxchild={a.imap_conns + 100}\n'
            f'  pop3 cmd="pop3d" listen="127.0.0.1:{self.pop_port}" prefork=2 maxchild=50\n'
            f'  lmtpunix cmd="lmtpd" listen="{self.lmtp}" prefork={a.lmtp_conns} maxchild={a.lmtp_conns + 8}\n'))

    def start(self):
        self.inst.start()
        # The syslog sink is a thread of this process; under load it would take the GIL
        # for every line. A separate process takes the socket over (the daemons
        # reconnect) and keeps the lines in a file.
        self.inst.log.close()
        os.unlink(self.inst.logsock)
        code = ("import os,socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\n"
                "os.chmod(sys.argv[1],0o666)\nf=open(sys.argv[2],'ab',buffering=0)\n"
                "while True:\n f.write(s.recv(65536)+b'\\n')\n")
        self.syslog = os.path.join(self.dir, "syslog.txt")
        self.drain = subprocess.Popen([sys.executable, "-c", code, self.inst.logsock, self.syslog],
                                      stdin=subprocess.DEVNULL)
        suite.wait_for(lambda: os.path.exists(self.inst.logsock), timeout=5, what="the syslog drain")

        def listening():
            try:
                socket.create_connection(("127.0.0.1", self.imap_port), timeout=1).close()
                return True
            except OSError:
                return False
        suite.wait_for(listening, timeout=20, what="imapd to listen")

    @property
    def master_pid(self):
        return self.inst.proc.pid

    def restart_master(self, timeout=30):
        """After master was killed: starts it again with the same command (its pidfile
        and unix sockets are left behind) and waits until it says it is ready; returns
        the seconds that took."""
        t = time.monotonic()
        self.inst.proc.wait(10)
        self.inst.stderr.close()
        self.inst.start(wait_ready=False)
        pid = self.inst.proc.pid
        suite.wait_for(lambda: f"master[{pid}]: process started; ready for work" in self.log_text(),
                       timeout=timeout, what=f"the restarted master ({pid}) to be ready")
        return time.monotonic() - t

    def log_text(self):
        try:
            with open(self.syslog, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def stop(self, keep):
        left = descendants(self.master_pid) if self.inst.proc and self.inst.proc.poll() is None else {}
        if keep:
            self.inst.stop()
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.inst.log.close()
        else:
            self.inst.close()
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        if self.drain:
            self.drain.kill()
            self.drain.wait()
            self.drain = None


def setup_mailboxes(srv, a, stats):
    """The admin creates user/userN and its Soak folder; returns (separator, the users' name of Soak)."""
    im = Imap(srv.imap_port, stats, a.timeout)
    im.cmd("LOGIN", f"LOGIN {ADMIN} {ADMIN_PW}".encode())
    data, _ = im.cmd("LIST", b'LIST "" ""')
    m = re.search(rb'\* LIST \([^)]*\) "(.)"', data)
    sep = m.group(1).decode() if m else "."
    for i in range(a.users):
        im.cmd("CREATE", f"CREATE user{sep}user{i}".encode())
        im.cmd("CREATE", f"CREATE user{sep}user{i}{sep}{FOLDER}".encode())
    im.cmd("LOGOUT", b"LOGOUT", bye_ok=True)
    im.close()
    im = Imap(srv.imap_port, stats, a.timeout)
    im.cmd("LOGIN", f"LOGIN user0 {PASSWORD}".encode())
    data, _ = im.cmd("NAMESPACE", b"NAMESPACE")
    m = re.search(rb'\* NAMESPACE \(\("([^"]*)"', data)
    prefix = m.group(1).decode() if m else ""
    folder = prefix + FOLDER
    data, _ = im.cmd("LIST", b'LIST "" "*"')
    if folder.encode() not in data:
        raise SoakError("setup", f"user0 does not see {folder}: {data!r}")
    im.cmd("LOGOUT", b"LOGOUT", bye_ok=True)
    im.close()
    return sep, folder


# --------------------------------------------------------------------------- the load


class Soak:
    def __init__(self, a, srv, folder, out_dir):
        self.a, self.srv, self.folder = a, srv, folder
        self.stats = Stats()
        self.reg = Registry(os.path.join(out_dir, "deliveries.log"))
        self.stop = threading.Event()
        self.lmtp_stop = threading.Event()
        self.tls_ctx = ssl.create_default_context(cafile=srv.cert)
        self.tls_ctx.check_hostname = False
        self.pop_busy = set()
        self.pop_lock = threading.Lock()
        self.lmtp_lag = []
        self.idle_exists = 0
        self.lock = threading.Lock()
        self.runid = f"{os.getpid()}.{int(time.time())}"

    # ---- LMTP

    def deliver_one(self, conn, user, mid, msg, previous):
        """One attempt; `previous` is the state an earlier attempt left (None, refused,
        uncertain): a retry after an uncertain one stays uncertain if it fails too."""
        t = time.monotonic()
        try:
            conn.deliver(user, msg)
        except SoakError as e:
            self.stats.error(e.kind, f"{user} {mid}: {e.detail}")
            state = "uncertain" if conn.sent or previous == "uncertain" else "refused"
            self.reg.delivery(user, mid, state, e.kind)
            raise
        self.stats.ok("LMTP delivery", time.monotonic() - t)
        self.reg.delivery(user, mid, "ok", "retry" if previous else "")

    def lmtp_worker(self, k, jobs):
        """Delivers jobs over one connection at a time; a failed delivery is tried again
        (the same message, on a new connection) up to --lmtp-retries times, as an MTA
        would: duplicate suppression must then keep it to one copy."""
        rnd = random.Random(self.a.seed * 1000 + k)
        conn, used, limit = None, 0, rnd.randint(100, 300)
        while True:
            job = jobs.get()
            if job is None:
                break
            n, due, user = job
            if due is not None:
                lag = time.monotonic() - due
                with self.lock:
                    self.lmtp_lag.append(lag)
            mid = f"<soak-d.{n}.{self.runid}@soak.test>"
            msg = make_message(rnd, user, mid)
            state = None
            for attempt in range(1 + self.a.lmtp_retries):
                if attempt:
                    self.stats.count("LMTP retries")
                    time.sleep(0.2 * attempt)
                if conn is None:
                    try:
                        conn = Lmtp(self.srv.lmtp, self.a.timeout)
                    except SoakError as e:
                        self.stats.error(e.kind, e.detail)
                        state = state or "refused"
                        self.reg.delivery(user, mid, state, e.kind)
                        continue
                try:
                    self.deliver_one(conn, user, mid, msg, state)
                    used += 1
                    if used >= limit:
                        conn.close()
                        conn, used, limit = None, 0, rnd.randint(100, 300)
                    break
                except SoakError:
                    state = self.reg.delivered[mid][1]
                    conn.close()
                    conn = None
        if conn:
            conn.close()

    def run_lmtp_pool(self, jobs_iter):
        """Runs a fixed list of (n, due, user) jobs over the pool; returns when all are done."""
        jobs = queue.Queue()
        ws = [threading.Thread(target=self.lmtp_worker, args=(k, jobs), daemon=True) for k in range(self.a.lmtp_conns)]
        for w in ws:
            w.start()
        for j in jobs_iter:
            jobs.put(j)
        for _ in ws:
            jobs.put(None)
        for w in ws:
            w.join()

    def lmtp_scheduler(self, jobs, t_start):
        rnd = random.Random(self.a.seed + 77)
        i = 0
        while not self.lmtp_stop.is_set():
            due = t_start + i / self.a.lmtp_rate
            now = time.monotonic()
            if due > now:
                if self.lmtp_stop.wait(due - now):
                    break
            jobs.put((self.reg.next_id(), due, f"user{rnd.randrange(self.a.users)}"))
            i += 1

    # ---- IMAP

    def login(self, user, rnd):
        tls = rnd.random() < self.a.tls_fraction
        im = Imap(self.srv.imap_port, self.stats, self.a.timeout, self.tls_ctx if tls else None)
        try:
            im.cmd("LOGIN", f"LOGIN {user} {PASSWORD}".encode())
        except BaseException:
            im.close()
            raise
        return im

    def imap_session_loop(self, k, idle):
        a = self.a
        rnd = random.Random(a.seed * 7919 + k)
        user = f"user{k % a.users}"
        if self.stop.wait(k * a.warmup / max(1, a.imap_conns) * 0.8):
            return
        while not self.stop.is_set():
            im = None
            try:
                im = self.login(user, rnd)
                self.stats.count("IMAP logins")
                if idle:
                    self.idle_session(im, user, rnd)
                else:
                    self.active_session(im, user, rnd)
                # At the end every session logs out in the same instant, and this
                # client's threads then wait on each other: timed apart.
                im.cmd("LOGOUT at stop" if self.stop.is_set() else "LOGOUT", b"LOGOUT", bye_ok=True)
            except SoakError as e:
                self.stats.error(e.kind, f"{user}: {e.detail}")
                self.stop.wait(1)
            except Exception as e:  # noqa: BLE001 - a client bug still counts, loudly
                self.stats.error("client:" + type(e).__name__, f"{user}: {e!r}")
                self.stop.wait(1)
            finally:
                if im:
                    im.close()

    def session_end(self, rnd):
        m = self.a.session_minutes
        return time.monotonic() + (rnd.uniform(0.5, 1.5) * m * 60 if m > 0 else 1e12)

    def idle_session(self, im, user, rnd):
        a = self.a
        data, _ = im.cmd("SELECT", b"SELECT INBOX")
        data, _ = im.cmd("FETCH FLAGS", b"UID FETCH 1:* (FLAGS)")
        uids = uid_list(data)
        end = self.session_end(rnd)
        while not self.stop.is_set() and time.monotonic() < end:
            seen = im.idle(rnd.uniform(a.idle_min, a.idle_max), self.stop)
            if seen:
                with self.lock:
                    self.idle_exists += seen
                last = uids[-1] if uids else 0
                data, _ = im.cmd("FETCH ENVELOPE", b"UID FETCH %d:* (UID FLAGS ENVELOPE)" % (last + 1))
                uids = sorted(set(uids) | set(uid_list(data)))

    def active_session(self, im, user, rnd):
        a = self.a
        st = {"uids": []}

        def select_inbox():
            im.cmd("SELECT", b"SELECT INBOX")
            data, _ = im.cmd("FETCH FLAGS", b"UID FETCH 1:* (FLAGS)")
            st["uids"] = uid_list(data)

        def some(k):
            u = st["uids"]
            if not u:
                return None
            i = rnd.randrange(len(u))
            return u[i:i + k]

        def fetch_flags():
            data, _ = im.cmd("FETCH FLAGS", b"UID FETCH 1:* (FLAGS)")
            st["uids"] = uid_list(data)

        def fetch_env():
            w = some(20)
            if w:
                im.cmd("FETCH ENVELOPE", b"UID FETCH %d:%d (UID FLAGS ENVELOPE)" % (w[0], w[-1]))

        def fetch_body():
            w = some(1)
            if w:
                im.cmd("FETCH BODY[]", b"UID FETCH %d (UID BODY.PEEK[])" % w[0])

        def fetch_struct():
            w = some(5)
            if w:
                im.cmd("FETCH BODYSTRUCTURE", b"UID FETCH %d:%d (BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])"
                       % (w[0], w[-1]))

        def search():
            im.cmd("SEARCH", b"UID SEARCH " + rnd.choice(SEARCH_KEYS))

        def store():
            w = some(rnd.choice((1, 1, 1, 3, 10)))
            if w:
                op = rnd.choice((b"+FLAGS", b"-FLAGS", b"+FLAGS.SILENT", b"-FLAGS.SILENT"))
                im.cmd("STORE", b"UID STORE %d:%d %s (%s)" % (w[0], w[-1], op, rnd.choice(FLAGS)))

        def append():
            n = self.reg.next_id()
            to_inbox = rnd.random() < a.pop_append_fraction
            kind = "soak-pop" if to_inbox else "soak-a"
            folder = "INBOX" if to_inbox else self.folder
            mid = f"<{kind}.{n}.{self.runid}@soak.test>"
            msg = make_message(rnd, user, mid, "X-Soak: appended\r\n")
            self.reg.append(user, folder, None, mid, "uncertain")
            uid = im.append(folder, rnd.choice((b"\\Seen", b"", b"\\Seen \\Flagged")), msg)
            if uid is None:
                raise SoakError("imap_no_APPENDUID:APPEND", mid)
            self.reg.append(user, folder, uid, mid, "kept")
            if to_inbox:
                st["uids"].append(uid)

        def expunge():
            take = self.reg.take_for_delete(user, self.folder, rnd, rnd.randint(1, 5))
            if not take:
                return
            im.cmd("SELECT", b"SELECT " + self.folder.encode())
            uset = b",".join(b"%d" % u for u in sorted(take))
            im.cmd("STORE", b"UID STORE " + uset + b" +FLAGS.SILENT (\\Deleted)")
            im.cmd("EXPUNGE", b"EXPUNGE")
            for mid in take.values():
                self.reg.set_state(mid, "deleted")
            select_inbox()

        def list_status():
            im.cmd("LIST", b'LIST "" "*"')
            im.cmd("STATUS", b"STATUS " + self.folder.encode() + b" (MESSAGES UNSEEN UIDNEXT)")

        def noop():
            im.cmd("NOOP", b"NOOP")

        actions = [(select_inbox, 6), (fetch_flags, 6), (fetch_env, 14), (fetch_body, 18), (fetch_struct, 5),
                   (search, 10), (store, 14), (append, 10), (expunge, 6), (list_status, 5), (noop, 6)]
        fns, weights = zip(*actions)
        select_inbox()
        end = self.session_end(rnd)
        while not self.stop.is_set() and time.monotonic() < end:
            if self.stop.wait(rnd.uniform(a.think_min, a.think_max)):
                break
            rnd.choices(fns, weights)[0]()

    # ---- POP3

    def pop_scheduler(self):
        rnd = random.Random(self.a.seed + 99)
        if self.a.pop_per_min <= 0:
            return
        interval = 60.0 / self.a.pop_per_min
        nxt = time.monotonic() + rnd.uniform(0, interval)
        threads = []
        while True:
            if self.stop.wait(max(0, nxt - time.monotonic())):
                break
            nxt += interval
            with self.pop_lock:
                free = [u for u in range(self.a.users) if u not in self.pop_busy]
                if not free:
                    continue
                u = rnd.choice(free)
                self.pop_busy.add(u)
            th = threading.Thread(target=self.pop_session, args=(u, random.Random(rnd.getrandbits(32))), daemon=True)
            th.start()
            threads.append(th)
        for th in threads:
            th.join(self.a.timeout * 3)

    def pop_session(self, u, rnd):
        user = f"user{u}"
        p = None
        dele = []
        try:
            p = Pop(self.srv.pop_port, self.stats, self.a.timeout)
            t = time.monotonic()
            p.cmd("USER", f"USER {user}".encode(), record=False)
            p.cmd("PASS", f"PASS {PASSWORD}".encode(), record=False)
            self.stats.ok("POP3 USER+PASS", time.monotonic() - t)
            first, _ = p.cmd("STAT", b"STAT")
            n = int(first.split()[1])
            p.cmd("UIDL", b"UIDL", multi=True)
            look = set(rnd.sample(range(1, n + 1), min(n, rnd.randint(1, 3))))
            for i in sorted(look):
                _, lines = p.cmd("RETR", b"RETR %d" % i, multi=True)
                self._pop_consider(b"".join(lines), i, dele)
            for i in range(max(1, n - 4), n + 1):
                if i not in look:
                    _, lines = p.cmd("TOP", b"TOP %d 0" % i, multi=True)
                    self._pop_consider(b"".join(lines), i, dele)
            for i, mid in dele:
                self.reg.set_state(mid, "pending")
                p.cmd("DELE", b"DELE %d" % i)
            p.cmd("QUIT", b"QUIT")
            for _, mid in dele:
                self.reg.set_state(mid, "deleted")
            self.stats.count("POP3 sessions")
            self.stats.count("POP3 deleted", len(dele))
        except SoakError as e:
            self.stats.error(e.kind, f"{user}: {e.detail}")
        except Exception as e:  # noqa: BLE001
            self.stats.error("client:" + type(e).__name__, f"{user}: {e!r}")
        finally:
            if p:
                p.close()
            with self.pop_lock:
                self.pop_busy.discard(u)

    def _pop_consider(self, msg, i, dele):
        m = MSGID.search(msg.split(b"\r\n\r\n", 1)[0])
        if m and m.group(1).startswith(b"<soak-pop."):
            dele.append((i, m.group(1).decode()))

    # ---- the check

    def check(self):
        """Reads every mailbox of every user; compares with the registry."""
        a = self.a
        found = collections.defaultdict(list)  # mid -> [(user, mailbox)]
        nomid = []
        lock = threading.Lock()
        users = list(range(a.users))
        errs = []

        def reader():
            while True:
                with lock:
                    if not users:
                        return
                    u = users.pop()
                user = f"user{u}"
                try:
                    im = Imap(self.srv.imap_port, self.stats, a.timeout * 4)
                    im.cmd("check LOGIN", f"LOGIN {user} {PASSWORD}".encode())
                    data, _ = im.cmd("check LIST", b'LIST "" "*"')
                    boxes = [m.group(1).decode() if m.group(1) is not None else m.group(2).decode()
                             for m in re.finditer(rb'\* LIST \([^)]*\) (?:"[^"]*"|NIL) (?:"([^"]*)"|(\S+))\r\n', data)]
                    for box in boxes:
                        im.cmd("check EXAMINE", b'EXAMINE "' + box.encode() + b'"')
                        data, _ = im.cmd("check FETCH", b"UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                        starts = [m.start() for m in re.finditer(rb"(?m)^\* \d+ FETCH \(", data)]
                        parsed = 0
                        for st in starts:
                            lm = LITERAL.search(data, st)
                            if not lm:
                                continue
                            size = int(lm.group(1))
                            lit = data[lm.end():lm.end() + size]
                            tail_end = data.find(b"\r\n", lm.end() + size)
                            around = data[st:lm.start()] + data[lm.end() + size:tail_end]
                            um = UIDS.search(around)
                            uid = int(um.group(1)) if um else None
                            mm = MSGID.search(lit)
                            parsed += 1
                            with lock:
                                if mm:
                                    found[mm.group(1).decode()].append((user, box, uid))
                                else:
                                    nomid.append((user, box, uid))
                        if parsed != len(starts):
                            with lock:
                                errs.append(f"{user} {box}: {len(starts)} FETCH replies, {parsed} parsed")
                    im.cmd("check LOGOUT", b"LOGOUT", bye_ok=True)
                    im.close()
                except SoakError as e:
                    with lock:
                        errs.append(f"{user}: {e}")

        ths = [threading.Thread(target=reader) for _ in range(8)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()

        res = {"read_errors": errs, "lost": [], "duplicated": [], "misplaced": [], "unknown": [], "no_message_id": nomid,
               "deleted_present": [], "appended_lost": [], "appended_duplicated": [], "uncertain_duplicated": []}
        delivered_ok = 0
        for mid, (user, state) in self.reg.delivered.items():
            where = found.get(mid, [])
            if state == "ok":
                delivered_ok += 1
                if not where:
                    res["lost"].append((user, mid))
                elif len(where) > 1:
                    res["duplicated"].append((user, mid, where))
                elif where[0][0] != user or where[0][1] != "INBOX":
                    res["misplaced"].append((user, mid, where))
            elif state == "refused" and where:
                res["misplaced"].append((user, mid, where))
            elif state == "uncertain" and len(where) > 1:
                res["uncertain_duplicated"].append((user, mid, where))
        appended = collections.Counter()
        for mid, (user, folder, uid, state) in self.reg.appended.items():
            where = found.get(mid, [])
            appended[state] += 1
            if state == "kept":
                if not where:
                    res["appended_lost"].append((user, folder, uid, mid))
                elif len(where) > 1 or where[0][0] != user or where[0][1] != folder or where[0][2] != uid:
                    res["appended_duplicated"].append((user, folder, uid, mid, where))
            elif state == "deleted" and where:
                res["deleted_present"].append((user, folder, uid, mid, where))
            elif len(where) > 1:
                res["appended_duplicated"].append((user, folder, uid, mid, where))
        for mid in found:
            if mid not in self.reg.delivered and mid not in self.reg.appended:
                res["unknown"].append((mid, found[mid]))
        res["delivered_ok"] = delivered_ok
        res["delivered_found_once"] = delivered_ok - len(res["lost"]) - len(res["duplicated"]) - len(res["misplaced"])
        res["appended"] = dict(appended)
        res["messages_read"] = sum(len(v) for v in found.values()) + len(nomid)
        res["ok"] = not any(res[k] for k in ("read_errors", "lost", "duplicated", "misplaced", "unknown", "no_message_id",
                                             "deleted_present", "appended_lost", "appended_duplicated",
                                             "uncertain_duplicated"))
        return res


# --------------------------------------------------------------------------- running it


class Killer:
    """Fault injection during the soak: SIGKILL of a random imapd/pop3d/lmtpd worker
    --kill-per-min times a minute, and of master itself --kill-master times (spread over
    the measured period; master is started again at once, as an init system would)."""

    def __init__(self, a, srv, t_meas, stop):
        self.a, self.srv, self.t_meas, self.stop = a, srv, t_meas, stop
        self.rnd = random.Random(a.seed + 4242)
        self.killed = {}            # pid -> comm
        self.kills = collections.Counter()
        self.restart_seconds = []
        self.errors = []

    def run(self):
        a = self.a
        span = a.minutes * 60
        master_at = [self.t_meas + span * (i + 1) / (a.kill_master + 1) for i in range(a.kill_master)]
        next_worker = time.monotonic() + (60 / a.kill_per_min if a.kill_per_min > 0 else 1e12)
        while not self.stop.is_set():
            now = time.monotonic()
            due = min([next_worker] + master_at)
            if due > now:
                if self.stop.wait(min(due - now, 1.0)):
                    break
                continue
            if master_at and now >= master_at[0]:
                master_at.pop(0)
                self.kill_master()
            else:
                next_worker += 60 / a.kill_per_min
                self.kill_worker()

    def kill_worker(self):
        try:
            kids = [(p, c) for p, c in suite.children_of(self.srv.master_pid).items() if c in ("imapd", "pop3d", "lmtpd")]
        except OSError:
            return
        if not kids:
            return
        pid, comm = self.rnd.choice(sorted(kids))
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            return
        self.killed[pid] = comm
        self.kills[comm] += 1

    def kill_master(self):
        pid = self.srv.master_pid
        workers = descendants(pid)
        os.kill(pid, signal.SIGKILL)
        self.kills["master"] += 1
        self.killed.update(workers)
        try:
            self.restart_seconds.append(self.srv.restart_master())
        except AssertionError as e:
            self.errors.append(str(e))
            return
        # Every worker of the killed master goes with it (none keeps serving, holding
        # an old listener or a lock).
        try:
            suite.wait_for(lambda: not [p for p in workers if suite.pid_alive(p)], timeout=15,
                           what="the killed master's workers to exit")
        except AssertionError:
            self.errors.append(f"workers of the killed master still alive: {[p for p in workers if suite.pid_alive(p)]}")


def server_log_findings(text, killed=()):
    """Lines of the instance's syslog that show a server fault, by kind; the deaths of
    processes the soak killed itself (pids in `killed`) are `killed_by_soak`."""
    kinds = {
        "worker_signaled": re.compile(r"signaled to death"),
        "worker_exit_nonzero": re.compile(r"exited, status [1-9]"),
        "panic": re.compile(r"panick"),
        "IOERROR/DBERROR": re.compile(r"IOERROR|DBERROR"),
        "fatal": re.compile(r"(?i)\bfatal\b"),
    }
    out = collections.defaultdict(list)
    for line in text.splitlines():
        m = re.search(r" pid:(\d+) (?:exited|signaled)", line)
        if m and int(m.group(1)) in killed and "signal 9" in line:
            out["killed_by_soak"].append(line)
            continue
        for k, rx in kinds.items():
            if rx.search(line):
                out[k].append(line)
                break
    return out


def run(a):
    """Runs one soak as configured by the parsed arguments; returns the result dict."""
    if a.bin:
        suite.BIN = os.path.abspath(a.bin)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, a.imap_conns * 4 + 1024))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    threading.stack_size(1 << 20)
    t_setup = time.monotonic()
    srv = Server(a)
    result = {"config": {k: v for k, v in vars(a).items()}, "bin": suite.BIN, "dir": srv.dir}
    keep = a.keep
    try:
        srv.start()
        setup_stats = Stats()
        _, folder = setup_mailboxes(srv, a, setup_stats)
        soak = Soak(a, srv, folder, os.path.join(srv.dir, "soak"))
        # Prefill: a few messages in every INBOX before the load, as a real store has.
        if a.prefill:
            jobs = [(soak.reg.next_id(), None, f"user{u}") for u in range(a.users) for _ in range(a.prefill)]
            soak.run_lmtp_pool(jobs)
        result["setup_seconds"] = round(time.monotonic() - t_setup, 1)
        log(f"instance {srv.dir}: {a.users} users, {a.prefill * a.users} messages prefilled, "
            f"setup {result['setup_seconds']} s; load starts", a)

        t0 = time.monotonic()
        threads = []
        jobs = queue.Queue()
        lmtp_workers = [threading.Thread(target=soak.lmtp_worker, args=(k, jobs), daemon=True) for k in range(a.lmtp_conns)]
        for w in lmtp_workers:
            w.start()
        sched = threading.Thread(target=soak.lmtp_scheduler, args=(jobs, t0), daemon=True)
        sched.start()
        n_idle = int(round(a.imap_conns * a.idle_fraction))
        for k in range(a.imap_conns):
            th = threading.Thread(target=soak.imap_session_loop, args=(k, k < n_idle), daemon=True)
            th.start()
            threads.append(th)
        popper = threading.Thread(target=soak.pop_scheduler, daemon=True)
        popper.start()

        samples = []
        time.sleep(a.warmup)
        mem_start = memory_sample(srv.master_pid, t0)
        mem_start["label"] = "start"
        samples.append(mem_start)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t_meas = time.monotonic()
        end = t_meas + a.minutes * 60
        log(f"warm-up done: {mem_start['imapd_n']} imapd, workers' PSS {mem_start['workers_pss_kb'] / 1024:.1f} MiB, "
            f"master RSS {mem_start.get('master_rss_kb', 0) / 1024:.1f} MiB; running {a.minutes} min", a)
        killer = None
        if a.kill_per_min > 0 or a.kill_master > 0:
            soak.stats.tolerate = ("disconnect:", "connect:")
            killer_stop = threading.Event()
            killer = Killer(a, srv, t_meas, killer_stop)
            killer_thread = threading.Thread(target=killer.run, daemon=True)
            killer_thread.start()
        next_sample = t_meas + a.sample_seconds
        while time.monotonic() < end:
            time.sleep(max(0.05, min(end, next_sample) - time.monotonic()))
            if time.monotonic() >= next_sample and time.monotonic() < end - 1:
                s = memory_sample(srv.master_pid, t0)
                samples.append(s)
                next_sample += a.sample_seconds
                with soak.stats.lock:
                    nerr = sum(soak.stats.errors.values())
                    nd = len(soak.stats.lat.get("LMTP delivery", []))
                log(f"t={s['t']:.0f}s {s['imapd_n']} imapd, workers' PSS {s['workers_pss_kb'] / 1024:.1f} MiB, "
                    f"anon {s['workers_anon_kb'] / 1024:.1f} MiB, master RSS {s.get('master_rss_kb', 0) / 1024:.1f} MiB, "
                    f"{nd} delivered, {nerr} errors", a)
        if killer:
            killer_stop.set()
            killer_thread.join(60)
        mem_end = memory_sample(srv.master_pid, t0)
        mem_end["label"] = "end"
        samples.append(mem_end)
        measured = time.monotonic() - t_meas
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)

        soak.lmtp_stop.set()
        sched.join()
        soak.stop.set()
        for _ in lmtp_workers:
            jobs.put(None)
        for w in lmtp_workers:
            w.join(a.timeout * 2)
        for th in threads:
            th.join(a.timeout * 2)
        popper.join(a.timeout * 4)
        stuck = sum(th.is_alive() for th in threads + lmtp_workers + [popper])
        if stuck:
            soak.stats.error("client:threads_stuck_at_stop", f"{stuck} threads")
        elapsed = time.monotonic() - t0
        log(f"load stopped after {elapsed:.0f} s; checking every mailbox", a)
        time.sleep(1)

        chk = soak.check()
        soak.reg.close()
        findings = server_log_findings(srv.log_text(), killer.killed if killer else ())
        killed_lines = findings.pop("killed_by_soak", [])
        if killer:
            for e in killer.errors:
                soak.stats.error("fault:" + e.split(":")[0], e)
        for k, lines in findings.items():
            soak.stats.errors[f"server_log:{k}"] += len(lines)
            for line in lines[:5]:
                soak.stats.samples.append({"time": "", "kind": f"server_log:{k}", "detail": line[:400]})
        delivered_log = len(re.findall(r"Delivered: <soak-d\.", srv.log_text()))

        st = soak.stats
        lat = {}
        for name, v in sorted(st.lat.items()):
            v = sorted(v)
            lat[name] = {"n": len(v), "p50_ms": pct(v, 50) * 1000, "p90_ms": pct(v, 90) * 1000,
                         "p99_ms": pct(v, 99) * 1000, "max_ms": v[-1] * 1000}
        lags = sorted(soak.lmtp_lag)
        n_deliv = sum(1 for _, s in soak.reg.delivered.values() if s == "ok")
        result.update({
            "elapsed_seconds": round(elapsed, 1),
            "measured_seconds": round(measured, 1),
            "imap_conns": a.imap_conns, "idle_conns": n_idle,
            "counts": dict(st.counts),
            "idle_exists_seen": soak.idle_exists,
            "lmtp_delivered": n_deliv,
            "lmtp_rate_achieved": round(len(lags) / elapsed, 1) if elapsed else 0,
            "lmtp_lag_ms": {"p50": (pct(lags, 50) or 0) * 1000, "p99": (pct(lags, 99) or 0) * 1000,
                            "max": (lags[-1] if lags else 0) * 1000},
            "syslog_delivered_lines": delivered_log,
            "latency": lat,
            "errors": dict(st.errors),
            "error_total": sum(st.errors.values()),
            "error_samples": st.samples,
            "memory": {"start": mem_start, "end": mem_end, "samples": samples},
            "client_cpu_seconds": round((cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime), 1),
            "check": chk,
            "tolerated": dict(st.tolerated),
            "faults": ({"kills": dict(killer.kills), "master_restart_seconds": [round(x, 2) for x in killer.restart_seconds],
                        "deaths_logged": len(killed_lines), "lmtp_retries": st.counts.get("LMTP retries", 0)}
                       if killer else None),
        })
        result["passed"] = result["error_total"] == 0 and chk["ok"]
        keep = keep or not result["passed"]
        return result
    except BaseException:
        keep = True
        raise
    finally:
        srv.stop(keep)
        if keep:
            result["kept"] = srv.dir


def log(msg, a):
    if not a.quiet:
        print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt_ms(x):
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def summary(r):
    a = r["config"]
    out = []
    out.append(f"Soak: {r['measured_seconds'] / 60:.1f} min measured (+{a['warmup']:.0f} s warm-up), "
               f"{r['imap_conns']} IMAP connections ({r['idle_conns']} in IDLE), "
               f"{a['pop_per_min']} POP3 sessions/min, LMTP {a['lmtp_rate']}/s to {a['users']} users; binaries {r['bin']}")
    c = r["counts"]
    out.append(f"IMAP logins {c.get('IMAP logins', 0)}, POP3 sessions {c.get('POP3 sessions', 0)} "
               f"({c.get('POP3 deleted', 0)} DELE), LMTP delivered {r['lmtp_delivered']} "
               f"(achieved {r['lmtp_rate_achieved']}/s, schedule lag p99 {r['lmtp_lag_ms']['p99']:.0f} ms, "
               f"max {r['lmtp_lag_ms']['max']:.0f} ms), EXISTS seen in IDLE {r['idle_exists_seen']}, "
               f"client CPU {r['client_cpu_seconds']} s")
    out.append("")
    out.append("| command | count | p50 ms | p90 ms | p99 ms | max ms |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, s in r["latency"].items():
        if name.startswith("check "):
            continue
        out.append(f"| {name} | {s['n']} | {fmt_ms(s['p50_ms'])} | {fmt_ms(s['p90_ms'])} | {fmt_ms(s['p99_ms'])} | "
                   f"{fmt_ms(s['max_ms'])} |")
    out.append("")
    ms, me = r["memory"]["start"], r["memory"]["end"]
    out.append("| memory | start | end |")
    out.append("| --- | ---: | ---: |")
    for label, key, div in (("imapd processes", "imapd_n", 1), ("imapd PSS, MiB (sum)", "imapd_pss_kb", 1024),
                            ("pop3d PSS, MiB (sum)", "pop3d_pss_kb", 1024), ("lmtpd PSS, MiB (sum)", "lmtpd_pss_kb", 1024),
                            ("workers' PSS, MiB (sum)", "workers_pss_kb", 1024),
                            ("workers' anonymous (heap), MiB (sum)", "workers_anon_kb", 1024),
                            ("imapd anonymous per process, KiB", "imapd_anon_per", 1),
                            ("master RSS, MiB", "master_rss_kb", 1024), ("master PSS, MiB", "master_pss_kb", 1024),
                            ("master anonymous, MiB", "master_anon_kb", 1024),
                            ("master open fds", "master_fds", 1)):
        f = (lambda v: f"{v / div:.1f}") if div > 1 else (lambda v: f"{v}")
        out.append(f"| {label} | {f(ms.get(key, 0))} | {f(me.get(key, 0))} |")
    out.append("")
    ch = r["check"]
    out.append(f"Exactly-once: {ch['delivered_ok']} delivered (250), {ch['delivered_found_once']} found exactly once "
               f"in their user's INBOX; lost {len(ch['lost'])}, duplicated {len(ch['duplicated'])}, misplaced "
               f"{len(ch['misplaced'])}, unknown {len(ch['unknown'])}; appended {ch['appended']}, kept-but-missing "
               f"{len(ch['appended_lost'])}, deleted-but-present {len(ch['deleted_present'])}, "
               f"{ch['messages_read']} messages read; syslog 'Delivered:' lines {r['syslog_delivered_lines']}"
               f" -> {'OK' if ch['ok'] else 'FAILED'}")
    if r.get("faults"):
        f = r["faults"]
        out.append(f"Faults: killed {f['kills']} (master restarted in {f['master_restart_seconds']} s); "
                   f"{f['deaths_logged']} deaths of killed workers logged by master; {f['lmtp_retries']} LMTP "
                   f"retries; connections cut by the kills (not errors): {sum(r['tolerated'].values())} "
                   f"({', '.join(f'{k} {v}' for k, v in sorted(r['tolerated'].items()))})")
    out.append(f"Errors: {r['error_total']}" + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) + ")"
                                                if r["errors"] else ""))
    for s in r["error_samples"][:20]:
        out.append(f"  {s['time']} {s['kind']}: {s['detail']}")
    for k in ("read_errors", "lost", "duplicated", "misplaced", "unknown", "no_message_id", "deleted_present",
              "appended_lost", "appended_duplicated", "uncertain_duplicated"):
        for x in ch[k][:5]:
            out.append(f"  check {k}: {x}")
    out.append("PASSED" if r["passed"] else "FAILED" + (f" (instance kept in {r.get('kept')})" if r.get("kept") else ""))
    return "\n".join(out)


def parser():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10, help="measured length, after the warm-up (default 10)")
    ap.add_argument("--warmup", type=float, default=30, help="seconds to ramp the connections up before measuring")
    ap.add_argument("--imap-conns", type=int, default=300)
    ap.add_argument("--idle-fraction", type=float, default=1 / 3)
    ap.add_argument("--pop-per-min", type=float, default=20)
    ap.add_argument("--lmtp-rate", type=float, default=50, help="deliveries a second")
    ap.add_argument("--lmtp-conns", type=int, default=4, help="LMTP connections the deliveries are spread over")
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--prefill", type=int, default=20, help="messages delivered to each INBOX before the load")
    ap.add_argument("--think-min", type=float, default=1.0, help="seconds between an active session's commands")
    ap.add_argument("--think-max", type=float, default=5.0)
    ap.add_argument("--idle-min", type=float, default=60, help="seconds an IDLE lasts before DONE and IDLE again")
    ap.add_argument("--idle-max", type=float, default=240)
    ap.add_argument("--session-minutes", type=float, default=4,
                    help="mean life of an IMAP session before LOGOUT and a new LOGIN (0: never)")
    ap.add_argument("--tls-fraction", type=float, default=0.1, help="share of IMAP sessions that STARTTLS first")
    ap.add_argument("--pop-append-fraction", type=float, default=0.2,
                    help="share of APPENDs that go to INBOX for POP3 to DELE (the rest go to Soak)")
    ap.add_argument("--prefork", type=int, default=10, help="prefork= of the imap service")
    ap.add_argument("--timeout", type=float, default=60, help="seconds before a command counts as timed out")
    ap.add_argument("--sample-seconds", type=float, default=60, help="memory sample period")
    ap.add_argument("--lmtp-retries", type=int, default=8,
                    help="times a failed delivery is tried again, the same message (as an MTA would)")
    ap.add_argument("--kill-per-min", type=float, default=0,
                    help="fault injection: SIGKILL a random imapd/pop3d/lmtpd worker this often a minute")
    ap.add_argument("--kill-master", type=int, default=0,
                    help="fault injection: SIGKILL master this many times (spread over the run) and start it again")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", help="binary directory (default $SUITE_BIN, else target/release)")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--keep", action="store_true", help="keep the instance directory (always kept on failure)")
    ap.add_argument("--quiet", action="store_true")
    return ap


def main(argv=None):
    a = parser().parse_args(argv)
    if not a.bin:
        a.bin = os.environ.get("SUITE_BIN", os.path.join(ROOT, "target", "release"))
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    r = run(a)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1, default=str)
    print(summary(r))
    return 0 if r["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
