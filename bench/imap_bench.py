#!/usr/bin/env python3
"""suite-bench imap: IMAP on one big mailbox, the suite against Debian's Cyrus 3.6 (and Dovecot).

Lays a private instance of each server in a temp dir, in turn (one running at a time),
fills fred's INBOX with the same N realistic messages (default 20 000: text, HTML
alternatives, attachments, a few KB each, generated from a seed) over one pipelined
LMTP connection on the unix socket (not timed), then measures over plain IMAP on
loopback with a raw-socket client (one command, read to its tagged reply):

  - LOGIN+SELECT INBOX; FETCH 1:* (UID FLAGS); FETCH 1:* ENVELOPE; 100 BODY[] of
    random sequence numbers, one command each; UID SEARCH SUBJECT <word in ~1%>;
    UID SEARCH BODY <word in ~1%>; UID SORT (DATE), UID SORT (SUBJECT) and UID THREAD
    REFERENCES of the whole mailbox (~30% of the messages are replies, with
    References and In-Reply-To); STORE 1:* +FLAGS (\\Flagged) and +FLAGS.SILENT
    (each undone, untimed, by -FLAGS.SILENT): median and min of --runs sessions,
    after one warm-up session;
  - connect+LOGIN+SELECT+LOGOUT sessions per second, --concurrency threads;
  - PSS and RSS of the processes serving 10, 100 and 1 000 idle connections (LOGIN +
    SELECT each; --idle-conns),
    found through their sockets, per connection; and the growth of the whole server
    tree's PSS per connection;
  - LMTP to IDLE: a client IDLEs on INBOX, one message is delivered over LMTP, time
    until `* N EXISTS` arrives (20 rounds, median and p90);
  - CONDSTORE/QRESYNC and COMPRESS (each of --runs sessions): a client records
    UIDVALIDITY and HIGHESTMODSEQ, 100 random messages get a keyword, then a new
    session times SELECT INBOX (QRESYNC (uidvalidity modseq)) and FETCH 1:* (FLAGS)
    (CHANGEDSINCE modseq), each answering the 100 changes; and the same 100
    BODY.PEEK[] fetches as above over COMPRESS=DEFLATE (the client inflates);
  - EXPUNGE of every 10th message (marked \\Deleted first, untimed), once, last.

Cyrus runs with idled (START, idlesocket in imapd.conf), so its IDLE is notified at
once rather than polled every imapidlepoll seconds: Cyrus at its best. Dovecot 2.3
runs with its own config in the temp dir (`dovecot -c CONF -F`, IMAP on a free
loopback port, LMTP on a unix socket there), passwd-file users, Maildir (or
--dovecot-format mdbox). Debian's dovecot-imapd conflicts with cyrus-imapd (apt
removes Cyrus): install dovecot-core and dovecot-lmtpd only, unpack dovecot-imapd
(apt-get download dovecot-imapd; dpkg -x dovecot-imapd_*.deb /opt/dovecot-imapd)
and pass --dovecot-imap /opt/dovecot-imapd/usr/lib/dovecot.

Cyrus writes without TCP_NODELAY: a reply of more than its 4 KiB output buffer has
its tail held by Nagle until the client's delayed ACK (~40 ms). That is what a
client sees, so it is measured by default; --quickack makes the client ACK at once,
to see Cyrus without it. Every ratio is literally suite/other: below 1 is better for
times and memory, above 1 for rates (the `better` column says which).

    python3 bench/imap_bench.py [--server suite,cyrus[,dovecot] | all] [--messages 20000]
        [--runs 5] [--seconds 10] [--concurrency 8] [--idle-conns 10,100,1000] [--quickack]
        [--dovecot-imap DIR] [--json FILE]

Run as root with the suite built (SUITE_BIN, default target/release after cargo
build --release) and Cyrus installed (scripts/deps --cyrus). A benchmark, never a test.
"""

import argparse
import atexit
import base64
import email.utils
import json
import resource
import os
import pwd
import queue
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault("SUITE_BIN", os.path.join(ROOT, "target", "release"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import cyrus36  # noqa: E402
from suite import BIN, Instance, descendants, free_port, smaps, wait_for  # noqa: E402

USER, PASSWORD = "fred", "pw"
HEADER_WORD = "xylophonic"   # in the Subject of ~1% of the messages, nowhere else
BODY_WORD = "quinquagenarian"  # in the text of ~1% of the messages, nowhere else

# --------------------------------------------------------------------------- messages

WORDS = """the of and to in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there all one their we can has been if more when will would who so no
out up into than them some could time only new about other these two may then do first any like now my
such make over our even most after also made many before must well back through years where much your
way down should because long each just state people those too how little good world very still own see
men work last here both life being under never day same another know while might great old off come
since against go came right used take three report meeting budget quarter review project schedule
team office plan update customer account invoice order shipment release server network backup storage
mailbox calendar travel hotel flight agenda minutes draft proposal contract policy training deadline
figures summary forecast revenue cost estimate approval request question answer issue ticket support
service system version change test results data analysis design document comments feedback notes
lunch dinner weekend holiday family garden weather coffee morning evening tomorrow yesterday monday
friday please thanks regards attached below above following soon later again already enough""".split()
FIRST = "Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent Victor Walter Zoe".split()
LAST = "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker White Roberts".split()
DOMAINS = ["example.org", "example.com", "example.net", "mail.example.co.uk", "lists.example.edu"]
TOPICS = ["Quarterly report", "Meeting notes", "Budget", "Project update", "Invoice", "Travel plans", "Server outage",
          "Backup schedule", "Lunch on Friday", "Draft proposal", "Contract review", "Training session", "Release notes",
          "Customer feedback", "Weekly summary", "Holiday schedule", "Network change", "Design review", "Question about",
          "Support ticket"]
UTF8_SUBJECTS = ["=?UTF-8?Q?R=C3=A9union_pr=C3=A9vue?=", "=?UTF-8?B?w5xiZXJzaWNodCBkZXIgWmFobGVu?=",
                 "=?ISO-8859-1?Q?Caf=E9_et_cr=E8me?=", "=?UTF-8?Q?=E4=BC=9A=E8=AD=B0?= agenda"]
ATTACHMENTS = [("application/pdf", "report.pdf"), ("image/png", "chart.png"), ("application/zip", "files.zip"),
               ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "figures.xlsx")]


def make_messages(n, seed=7):
    """n varied messages (bytes, CRLF) from a seed; returns (messages, header hits, body hits),
    the hits being the 1-based positions that carry HEADER_WORD / BODY_WORD."""
    rnd = random.Random(seed)
    pool = []
    for _ in range(3000):
        line = []
        while sum(len(w) + 1 for w in line) < rnd.randint(50, 74):
            line.append(rnd.choice(WORDS))
        s = " ".join(line)
        pool.append(s[0].upper() + s[1:] + ("." if rnd.random() < 0.3 else ""))
    senders = []
    for k in range(300):
        f, l, d = rnd.choice(FIRST), rnd.choice(LAST), rnd.choice(DOMAINS)
        senders.append(f'{f} {l} <{f.lower()}.{l.lower()}{k % 7 or ""}@{d}>' if k % 5 else f"{f.lower()}{k}@{d}")
    start = datetime(2025, 1, 1, 8, 0, tzinfo=timezone.utc)
    msgs, hhits, bhits, ids = [], [], [], []

    def text(lines_lo, lines_hi, word):
        lines = rnd.choices(pool, k=rnd.randint(lines_lo, lines_hi))
        if word:
            k = rnd.randrange(len(lines))
            lines[k] = lines[k] + f" {BODY_WORD} " + rnd.choice(WORDS)
        out = []
        for k, line in enumerate(lines):
            out.append(line)
            if k % 6 == 5:
                out.append("")
        return "\r\n".join(out) + "\r\n"

    for i in range(n):
        sender = senders[rnd.randrange(len(senders))]
        date = start + timedelta(minutes=37 * i + rnd.randint(0, 30), seconds=rnd.randint(0, 59))
        r = rnd.random()
        if r < 0.04:
            subject = rnd.choice(UTF8_SUBJECTS)
        else:
            subject = f"{rnd.choice(TOPICS)} {rnd.choice(WORDS)} {rnd.randint(1, 999)}"
        if rnd.random() < 0.01:
            parts = subject.split(" ")
            parts.insert(rnd.randint(1, len(parts)), HEADER_WORD)
            subject = " ".join(parts)
            hhits.append(i + 1)
        in_body = rnd.random() < 0.01
        if in_body:
            bhits.append(i + 1)
        reply = ids and rnd.random() < 0.3
        if reply:
            subject = ("Re: " if rnd.random() < 0.8 else "Fwd: ") + subject
        mid = f"<{seed}.{i}.{rnd.getrandbits(32):08x}@{sender.rsplit('@', 1)[1].rstrip('>')}>"
        h = [f"Received: from mx{rnd.randint(1, 9)}.example.net (mx.example.net [192.0.2.{rnd.randint(1, 254)}])\r\n"
             f"\tby mail.example.org (Postfix) with ESMTPS id {rnd.getrandbits(40):010X}\r\n"
             f"\tfor <fred@example.org>; {email.utils.format_datetime(date)}",
             f"From: {sender}", "To: Fred Example <fred@example.org>"]
        if rnd.random() < 0.2:
            h.append(f"Cc: {senders[rnd.randrange(len(senders))]}, {senders[rnd.randrange(len(senders))]}")
        h += [f"Subject: {subject}", f"Date: {email.utils.format_datetime(date)}", f"Message-ID: {mid}"]
        if reply:
            ref = ids[rnd.randrange(max(0, len(ids) - 50), len(ids))]
            h += [f"In-Reply-To: {ref}", f"References: {ref}"]
        h.append("MIME-Version: 1.0")
        kind = rnd.random()
        boundary = f"=_bench_{i}_{rnd.getrandbits(32):08x}"
        if kind < 0.60:
            h += ["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit"]
            body = text(15, 70, in_body)
        elif kind < 0.82:
            h.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
            plain = text(10, 45, in_body)
            html = "<html><body>\r\n" + "".join(f"<p>{line}</p>\r\n" for line in plain.split("\r\n") if line) + "</body></html>\r\n"
            body = (f"This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n"
                    "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + plain +
                    f"\r\n--{boundary}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n" + html +
                    f"\r\n--{boundary}--\r\n")
        else:
            h.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
            ctype, fname = rnd.choice(ATTACHMENTS)
            blob = base64.encodebytes(rnd.randbytes(rnd.randint(1_500, 12_000))).decode().replace("\n", "\r\n")
            body = (f"This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n"
                    "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text(4, 20, in_body) +
                    f"\r\n--{boundary}\r\nContent-Type: {ctype}; name=\"{fname}\"\r\n"
                    f"Content-Disposition: attachment; filename=\"{fname}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                    + blob + f"\r\n--{boundary}--\r\n")
        ids.append(mid)
        msgs.append(("\r\n".join(h) + "\r\n\r\n" + body).encode())
    return msgs, hhits, bhits


# --------------------------------------------------------------------------- clients

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n")
EXISTS = re.compile(rb"^\* (\d+) EXISTS\r$", re.M)


class ImapError(Exception):
    pass


class Imap:
    """A raw IMAP client: one command, read to its tagged reply, literals skipped by size
    (a `{n}` at the end of a line), the reply scanned with regexps rather than line by
    line so that the client's own cost stays small and the same for every server."""

    def __init__(self, port, timeout=300):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.n = 0
        self.z = None  # (compressor, decompressor) once COMPRESS=DEFLATE is on
        self.greeting = self.readline()
        if not self.greeting.startswith(b"* OK"):
            raise ImapError(f"greeting {self.greeting!r}")

    QUICKACK = False  # --quickack: acknowledge every segment at once (no delayed ACK)

    def _fill(self):
        if self.QUICKACK:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        d = self.sock.recv(1 << 20)
        if self.QUICKACK:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if not d:
            raise EOFError("connection closed by the server")
        self.buf += self.z[1].decompress(d) if self.z else d

    def compress(self):
        """COMPRESS DEFLATE (RFC 4978): raw deflate both ways from here on."""
        self.cmd(b"COMPRESS DEFLATE")
        self.z = (zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15))

    def sendall(self, data):
        if self.z:
            data = self.z[0].compress(data) + self.z[0].flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def readline(self):
        i = self.buf.find(b"\r\n")
        while i < 0:
            start = max(len(self.buf) - 1, 0)
            self._fill()
            i = self.buf.find(b"\r\n", start)
        line = bytes(self.buf[:i + 2])
        del self.buf[:i + 2]
        return line

    def send(self, line):
        self.sendall(line + b"\r\n")

    def cmd(self, text, ok=True):
        """Sends `TAG text`; returns (untagged bytes, tagged line). ok: raise unless OK."""
        self.n += 1
        tag = b"b%d" % self.n
        self.sendall(tag + b" " + text + b"\r\n")
        data, tagged = self.read_tagged(tag)
        if ok and tagged.split(b" ", 2)[1:2] != [b"OK"]:
            raise ImapError(f"{text[:60]!r}: {tagged!r}")
        return data, tagged

    def read_tagged(self, tag):
        needle = b"\r\n" + tag + b" "
        buf = self.buf
        pos = 0
        while len(buf) < len(tag) + 1:
            self._fill()
        if buf.startswith(tag + b" "):
            t = -2  # the tagged line is the first line: no untagged data
        else:
            while True:
                # The next literal marker first, then the tag only before it: linear in
                # the reply however many literals it has (the tagged line has none).
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
                pos = max(pos, len(buf) - 40)  # a marker or the tag may arrive split
                self._fill()
        e = buf.find(b"\r\n", t + 2)
        while e < 0:
            self._fill()
            e = buf.find(b"\r\n", t + 2)
        data, tagged = bytes(buf[:t + 2]), bytes(buf[t + 2:e + 2])
        del buf[:e + 2]
        return data, tagged

    def login_select(self):
        self.cmd(b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        data, _ = self.cmd(b"SELECT INBOX")
        m = EXISTS.search(data)
        return int(m.group(1)) if m else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Lmtp:
    """A raw LMTP client on a unix socket; fill() pipelines (RFC 2920): the end of one
    message, the next MAIL, RCPT and DATA go in one write, one round trip a message."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(path)
        self.buf = bytearray()
        self.reply(220)
        self.sock.sendall(b"LHLO bench.example.org\r\n")
        self.reply(250)

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
                if int(line[:3]) != want:
                    raise ImapError(f"LMTP: wanted {want}, got {line!r}")
                return line

    @staticmethod
    def envelope(rcpt):
        return b"MAIL FROM:<bench@example.org>\r\nRCPT TO:<" + rcpt.encode() + b">\r\nDATA\r\n"

    @staticmethod
    def data(msg):
        return re.sub(rb"(?m)^\.", b"..", msg) + b".\r\n"

    def deliver(self, rcpt, msg):
        self.sock.sendall(self.envelope(rcpt))
        self.reply(250), self.reply(250), self.reply(354)
        self.sock.sendall(self.data(msg))
        self.reply(250)

    def fill(self, rcpt, msgs):
        env = self.envelope(rcpt)
        self.sock.sendall(env)
        for k, m in enumerate(msgs):
            self.reply(250), self.reply(250), self.reply(354)
            self.sock.sendall(self.data(m) + (env if k + 1 < len(msgs) else b""))
            self.reply(250)

    def close(self):
        try:
            self.sock.sendall(b"QUIT\r\n")
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------- processes

def procs_mentioning(path):
    """Pids whose command line contains path (our own temp dir: never a broad match)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if path.encode() in f.read():
                        out.append(int(d))
            except OSError:
                pass
    return out


def tree_pss(pids):
    total = 0
    for p in pids:
        try:
            total += smaps(p).get("Pss", 0)
        except OSError:
            pass
    return total


def server_pids_of(client_socks, server_port, candidates):
    """The pids among candidates that hold the server side of our client sockets, found
    through /proc/net/tcp (server port, our client port) and /proc/PID/fd."""
    ports = {s.getsockname()[1] for s in client_socks}
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    p = line.split()
                    local, remote, inode = p[1], p[2], p[9]
                    if int(local.rsplit(":", 1)[1], 16) == server_port and int(remote.rsplit(":", 1)[1], 16) in ports:
                        inodes.add(f"socket:[{inode}]")
        except OSError:
            pass
    found = {}
    for pid in candidates:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        found[pid] = found.get(pid, 0) + 1
                except OSError:
                    pass
        except OSError:
            pass
    return found


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# --------------------------------------------------------------------------- servers

class Server:
    """name, port (IMAP), lmtp (unix socket path), root_pid() (the master), dir; start/stop."""

    def tree(self):
        return descendants(self.root_pid())


class SuiteServer(Server):
    name = "suite"

    def __init__(self, prefork):
        for b in ("master", "imapd", "lmtpd"):
            if not os.access(os.path.join(BIN, b), os.X_OK):
                raise SystemExit(f"{BIN}/{b} is missing: cargo build --release (or set SUITE_BIN)")
        self.inst = Instance(name="imapbench", extra_conf="allowplaintext: yes\nsasl_pwcheck_method: auxprop\n"
                                                          "sasl_auxprop_plugin: sasldb\n")
        self.dir = self.inst.dir
        self.drain = None
        try:
            self._lay(prefork)
        except BaseException:
            self.inst.close()
            raise

    def _lay(self, prefork):
        with open(self.inst.conf, "a") as f:
            f.write(f"sasl_sasldb_path: {self.dir}/config/sasldb2\n")
        self.inst.create_mailbox(f"user.{USER}")
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{self.dir}/config/sasldb2", "-u", "suite.test", USER],
                       input=PASSWORD.encode(), check=True)
        self.inst._own()
        self.port = self.inst.port("imap")
        self.lmtp = f"{self.dir}/lmtp.sock"
        self.inst.write_cyrus_conf(SERVICES=(
            f'  lmtpunix cmd="lmtpd" listen="{self.lmtp}" prefork=1\n'
            f'  imap cmd="imapd" listen="127.0.0.1:{self.port}" prefork={prefork} maxchild=1100\n'))

    def start(self):
        self.inst.start()
        # The harness's syslog sink is a thread of this process: during the timings it
        # would take the GIL from the client for every line logged. A separate process
        # takes over the socket (the daemons reconnect) and keeps the lines in a file.
        self.inst.log.close()
        os.unlink(self.inst.logsock)
        code = ("import os,socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\n"
                "os.chmod(sys.argv[1],0o666)\nf=open(sys.argv[2],'ab',buffering=1<<16)\n"
                "while True:\n f.write(s.recv(65536)+b'\\n')\n")
        self.drain = subprocess.Popen([sys.executable, "-c", code, self.inst.logsock, f"{self.dir}/syslog.txt"],
                                      stdin=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.inst.logsock), timeout=5, what="the syslog drain")
        wait_for(lambda: _connects(self.port), timeout=20, what="the suite's imapd to listen")

    def root_pid(self):
        return self.inst.proc.pid

    def log_tail(self):
        out = ""
        for p in (f"{self.dir}/syslog.txt", self.inst.stderr_path):
            try:
                with open(p, errors="replace") as f:
                    out += "".join(f.readlines()[-20:])
            except OSError:
                pass
        return out

    def stop(self):
        left = self.tree() if self.inst.proc and self.inst.proc.poll() is None else {}
        self.inst.close()
        kill_pids(p for p in left if os.path.exists(f"/proc/{p}"))
        if self.drain:
            self.drain.kill()
            self.drain.wait()


class CyrusServer(Server):
    name = "cyrus"

    def __init__(self, prefork):
        if not cyrus36.available():
            raise SystemExit("Cyrus 3.6 is not installed: scripts/deps --cyrus")
        self.cy = cyrus36.CyrusInstance()
        self.dir = self.cy.dir
        self.cy.add_password(USER, PASSWORD)
        self.port = self.cy.port
        self.lmtp = self.cy.lmtp_socket
        b, conf = cyrus36.CYRUS_BIN, self.cy.conf
        # idled (with the idlesocket that CyrusInstance's imapd.conf names) notifies an
        # IDLEing imapd at once; without it imapd polls every imapidlepoll (60) seconds.
        with open(os.path.join(self.dir, "cyrus.conf"), "w") as f:
            f.write(f'START {{\n  recover cmd="{b}/ctl_cyrusdb -C {conf} -r"\n  idled cmd="{b}/idled -C {conf}"\n}}\n'
                    f'SERVICES {{\n  imap cmd="{b}/imapd -C {conf}" listen="127.0.0.1:{self.port}" prefork={prefork} maxchild=1100\n'
                    f'  lmtpunix cmd="{b}/lmtpd -C {conf}" listen="{self.lmtp}" prefork=1\n}}\n'
                    "EVENTS {\n}\nDAEMON {\n}\n")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("cyrus")
            for p in (os.path.join(self.dir, "sasldb2"), os.path.join(self.dir, "cyrus.conf")):
                os.chown(p, pw.pw_uid, pw.pw_gid)

    def start(self):
        self.cy.start()
        self.cy.create_users([USER])
        idle = os.path.join(self.dir, "conf", "socket", "idle")
        wait_for(lambda: os.path.exists(idle), timeout=10, what="Cyrus idled's socket")

    def root_pid(self):
        with open(self.cy.pidfile) as f:
            return int(f.read().strip())

    def log_tail(self):
        return ""

    def stop(self):
        try:
            left = self.tree()
        except (OSError, ValueError):
            left = {}
        self.cy.stop()
        # idled daemonises out of master's tree: it is found by our temp dir in its command line.
        kill_pids(list(left) + procs_mentioning(self.dir))


class DovecotServer(Server):
    name = "dovecot"

    IMAP_SERVICES = ("imap", "imap-login", "imap-urlauth", "imap-urlauth-login", "imap-urlauth-worker", "imap-hibernate")

    def __init__(self, fmt, libexec):
        self.exe = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.access(self.exe, os.X_OK):
            raise SystemExit("dovecot is not installed: apt-get install dovecot-core dovecot-lmtpd (see --dovecot-imap)")
        libexec = libexec or "/usr/lib/dovecot"
        if not os.access(os.path.join(libexec, "imap"), os.X_OK):
            raise SystemExit(f"no {libexec}/imap: Debian's dovecot-imapd conflicts with cyrus-imapd, so unpack it "
                             "instead (apt-get download dovecot-imapd; dpkg -x dovecot-imapd_*.deb /opt/dovecot-imapd) "
                             "and pass --dovecot-imap /opt/dovecot-imapd/usr/lib/dovecot")
        if not os.access("/usr/lib/dovecot/lmtp", os.X_OK):
            raise SystemExit("no /usr/lib/dovecot/lmtp: apt-get install dovecot-lmtpd")
        if os.geteuid() != 0:
            raise SystemExit("dovecot is run as root (it drops to the mail user)")
        self.dir = d = tempfile.mkdtemp(prefix="dovecot-bench-")
        os.chmod(d, 0o755)
        self.port = free_port()
        self.lmtp = f"{d}/lmtp.sock"
        try:
            pw = pwd.getpwnam("cyrus")
        except KeyError:
            pw = pwd.getpwnam("nobody")
        uid, gid = pw.pw_uid, pw.pw_gid
        os.makedirs(f"{d}/home/{USER}")
        os.chown(f"{d}/home/{USER}", uid, gid)
        with open(f"{d}/passwd", "w") as f:
            f.write(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{d}/home/{USER}::\n")
        location = "mdbox:~/mdbox" if fmt == "mdbox" else "maildir:~/Maildir"
        self.conf = f"{d}/dovecot.conf"
        with open(self.conf, "w") as f:
            f.write(f"""protocols = imap lmtp
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = dovecot-bench-{self.port}
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {min(uid, 500)}
first_valid_gid = 1
mail_location = {location}
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener {self.lmtp} {{
    mode = 0666
  }}
}}
service imap {{
  process_limit = 1100
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
""")
            if os.path.realpath(libexec) != "/usr/lib/dovecot":
                for svc in self.IMAP_SERVICES:
                    f.write(f"service {svc} {{\n  executable = {libexec}/{svc}\n}}\n")
        self.proc = None

    def start(self):
        self.out = open(f"{self.dir}/stderr", "w")
        self.proc = subprocess.Popen([self.exe, "-c", self.conf, "-F"], stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.out)
        try:
            wait_for(lambda: self.proc.poll() is not None or (_connects(self.port) and os.path.exists(self.lmtp)),
                     timeout=20, what="dovecot to listen")
        except AssertionError:
            raise SystemExit(f"dovecot did not start:\n{self.log_tail()}")
        if self.proc.poll() is not None:
            raise SystemExit(f"dovecot exited with {self.proc.returncode}:\n{self.log_tail()}")

    def root_pid(self):
        return self.proc.pid

    def log_tail(self):
        out = ""
        for p in (f"{self.dir}/dovecot.log", f"{self.dir}/stderr"):
            try:
                with open(p, errors="replace") as f:
                    out += "".join(f.readlines()[-20:])
            except OSError:
                pass
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            left = self.tree()
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            kill_pids(p for p in left if os.path.exists(f"/proc/{p}"))
        kill_pids(procs_mentioning(self.dir))
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_servers(live):
    """Stops (and empties) a list of started servers, last first, whatever fails."""
    while live:
        s = live.pop()
        try:
            s.stop()
        except Exception as e:  # noqa: BLE001 - stop everything we can
            print(f"stopping {s.name}: {e!r}", file=sys.stderr)


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- workloads

def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def search_count(data):
    count = 0
    for line in data.split(b"\r\n"):
        if line.startswith(b"* SEARCH"):
            count += len(line.split()) - 2
    return count


def sorted_count(data, word):
    """Numbers in the `* SORT` or `* THREAD` response of data."""
    for line in data.split(b"\r\n"):
        if line.startswith(b"* " + word):
            return len(re.findall(rb"\d+", line))
    return -1


def session_run(port, n, seqs, hhits, bhits):
    """One session of the timed commands; returns {workload: seconds}, and checks."""
    out, notes = {}, []
    c = Imap(port)
    try:
        t = time.perf_counter()
        c.cmd(b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        data, _ = c.cmd(b"SELECT INBOX")
        out["login_select"] = time.perf_counter() - t
        m = EXISTS.search(data)
        if not m or int(m.group(1)) != n:
            notes.append(f"SELECT: {m and int(m.group(1))} messages, expected {n}")
        out["fetch_flags"], (data, _) = timed(lambda: c.cmd(b"FETCH 1:* (UID FLAGS)"))
        if data.count(b" FETCH ") != n:
            notes.append(f"FETCH (UID FLAGS): {data.count(b' FETCH ')} responses")
        out["fetch_envelope"], (data, _) = timed(lambda: c.cmd(b"FETCH 1:* ENVELOPE"))
        if data.count(b"ENVELOPE (") != n:
            notes.append(f"FETCH ENVELOPE: {data.count(b'ENVELOPE (')} envelopes")
        t = time.perf_counter()
        got = 0
        for s in seqs:
            data, _ = c.cmd(b"FETCH %d BODY[]" % s)
            got += len(data)
        out["body"] = time.perf_counter() - t
        out["body_bytes"] = got
        out["search_subject"], (data, _) = timed(lambda: c.cmd(b"UID SEARCH SUBJECT " + HEADER_WORD.encode()))
        if search_count(data) != len(hhits):
            notes.append(f"SEARCH SUBJECT: {search_count(data)} hits, expected {len(hhits)}")
        out["search_body"], (data, _) = timed(lambda: c.cmd(b"UID SEARCH BODY " + BODY_WORD.encode()))
        if search_count(data) != len(bhits):
            notes.append(f"SEARCH BODY: {search_count(data)} hits, expected {len(bhits)}")
        for key, command, word in (("sort_date", b"UID SORT (DATE) UTF-8 ALL", b"SORT"),
                                   ("sort_subject", b"UID SORT (SUBJECT) UTF-8 ALL", b"SORT"),
                                   ("thread_references", b"UID THREAD REFERENCES UTF-8 ALL", b"THREAD")):
            out[key], (data, _) = timed(lambda: c.cmd(command))
            if sorted_count(data, word) != n:
                notes.append(f"{command.decode()}: {sorted_count(data, word)} messages in the answer, expected {n}")
        out["store"], (data, _) = timed(lambda: c.cmd(b"STORE 1:* +FLAGS (\\Flagged)"))
        if data.count(b" FETCH ") != n:
            notes.append(f"STORE +FLAGS: {data.count(b' FETCH ')} FETCH responses")
        c.cmd(b"STORE 1:* -FLAGS.SILENT (\\Flagged)")
        out["store_silent"], (data, _) = timed(lambda: c.cmd(b"STORE 1:* +FLAGS.SILENT (\\Flagged)"))
        if data.count(b" FETCH "):
            notes.append(f"STORE +FLAGS.SILENT: answered with {data.count(b' FETCH ')} FETCH responses all the same")
        c.cmd(b"STORE 1:* -FLAGS.SILENT (\\Flagged)")
        c.cmd(b"LOGOUT")
    finally:
        c.close()
    return out, notes


def connect_rate(port, seconds, concurrency):
    """connect + LOGIN + SELECT INBOX + LOGOUT sessions per second, `concurrency` threads."""
    counts, lat, errors = [0] * concurrency, [], []
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def worker(k):
        mine = []
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                c = Imap(port, timeout=60)
                c.login_select()
                c.cmd(b"LOGOUT")
                c.close()
            except (OSError, EOFError, ImapError) as e:
                with lock:
                    errors.append(repr(e))
                if len(errors) > 20:
                    return
                continue
            mine.append(time.perf_counter() - t)
            counts[k] += 1
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    lat.sort()
    return sum(counts) / elapsed, (statistics.median(lat) if lat else float("nan")), errors


def idle_levels(args):
    """The --idle-conns levels, ascending."""
    return sorted(int(x) for x in str(args.idle_conns).split(","))


def idle_memory(server, conns):
    """PSS/RSS of the processes serving `conns` logged-in connections with INBOX selected."""
    root = server.root_pid()
    before = tree_pss(server.tree())
    clients = []
    try:
        for _ in range(conns):
            c = Imap(server.port, timeout=60)
            c.login_select()
            clients.append(c)
        time.sleep(1.0)
        tree = server.tree()
        serving = server_pids_of([c.sock for c in clients], server.port, list(tree))
        pss = rss = priv = 0
        for p in serving:
            s = smaps(p)
            pss += s.get("Pss", 0)
            rss += s.get("Rss", 0)
            priv += s.get("Private_Clean", 0) + s.get("Private_Dirty", 0)
        after = tree_pss(tree)
        per = max(len(serving), 1)
        comms = sorted({tree.get(p, "?") for p in serving})
        return {"pss": pss / conns, "rss": rss / per, "private": priv / conns, "procs": len(serving),
                "tree_pss_delta": (after - before) / conns, "comms": comms, "root": root}
    finally:
        for c in clients:
            try:
                c.cmd(b"LOGOUT", ok=False)
            except (OSError, EOFError):
                pass
            c.close()


def idle_latency(server, rounds, msgs):
    """Deliveries over LMTP while a client IDLEs: seconds from the start of the LMTP
    transaction to `* N EXISTS` (and to the LMTP reply), one per round after a warm-up."""
    c = Imap(server.port, timeout=60)
    n = c.login_select()
    c.n += 1
    tag = b"b%d" % c.n
    c.send(tag + b" IDLE")
    while True:
        line = c.readline()
        if line.startswith(b"+"):
            break
        if line.startswith(tag):
            raise ImapError(f"IDLE refused: {line!r}")
    events = queue.Queue()
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                line = c.readline()
                m = re.match(rb"\* (\d+) EXISTS", line)
                if m:
                    events.put((int(m.group(1)), time.perf_counter()))
                elif line.startswith(tag):
                    events.put((None, line))
                    return
        except (OSError, EOFError) as e:
            events.put((None, repr(e)))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    lm = Lmtp(server.lmtp)
    total, lmtp_only, missed = [], [], 0
    try:
        for k in range(rounds + 1):
            while not events.empty():  # a late EXISTS of a missed round
                num, at = events.get()
                if num is None:
                    raise ImapError(f"IDLE ended: {at!r}")
                n = max(n, num)
            t0 = time.perf_counter()
            lm.deliver(USER, msgs[k])
            t1 = time.perf_counter()
            deadline = t0 + 15
            got = None
            while got is None:
                try:
                    num, at = events.get(timeout=max(deadline - time.perf_counter(), 0.001))
                except queue.Empty:
                    break
                if num is None:
                    raise ImapError(f"IDLE ended: {at!r}")
                if num > n:
                    n, got = num, at
            if got is None:
                missed += 1
                continue
            if k:
                total.append(got - t0)
                lmtp_only.append(t1 - t0)
        stop.set()
        c.send(b"DONE")
        th.join(10)
    finally:
        lm.close()
        c.close()
    total.sort()
    return {"median": statistics.median(total) if total else float("nan"),
            "p90": total[min(len(total) - 1, int(len(total) * 0.9))] if total else float("nan"),
            "lmtp": statistics.median(lmtp_only) if lmtp_only else float("nan"), "missed": missed}


def sync_and_compress(port, n, seqs, rnd):
    """CONDSTORE/QRESYNC and COMPRESS: a client records the mailbox's state, another
    changes the flags of 100 messages, then (timed) SELECT with QRESYNC and FETCH 1:*
    FLAGS CHANGEDSINCE in a new session; and the 100 BODY[] fetches over COMPRESS."""
    out, notes = {}, []
    c = Imap(port)
    c.cmd(b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
    c.cmd(b"ENABLE QRESYNC")
    data, _ = c.cmd(b"SELECT INBOX")
    uv = int(re.search(rb"UIDVALIDITY (\d+)", data).group(1))
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", data).group(1))
    changed = sorted(rnd.sample(range(1, n + 1), 100))
    c.cmd(b"STORE " + ",".join(map(str, changed)).encode() + b" +FLAGS.SILENT ($Bench)")
    c.cmd(b"LOGOUT")
    c.close()
    c = Imap(port)
    c.cmd(b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
    c.cmd(b"ENABLE QRESYNC")
    out["qresync_select"], (data, _) = timed(lambda: c.cmd(b"SELECT INBOX (QRESYNC (%d %d))" % (uv, hms)))
    if data.count(b" FETCH ") != 100:
        notes.append(f"SELECT QRESYNC: {data.count(b' FETCH ')} FETCH lines, expected 100")
    out["changedsince"], (data, _) = timed(lambda: c.cmd(b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % hms))
    if data.count(b" FETCH ") != 100:
        notes.append(f"FETCH CHANGEDSINCE: {data.count(b' FETCH ')} FETCH lines, expected 100")
    c.cmd(b"STORE " + ",".join(map(str, changed)).encode() + b" -FLAGS.SILENT ($Bench)")
    c.cmd(b"LOGOUT")
    c.close()
    c = Imap(port)
    c.cmd(b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
    c.compress()
    c.cmd(b"SELECT INBOX")
    t = time.perf_counter()
    for s in seqs:
        c.cmd(b"FETCH %d BODY.PEEK[]" % s)
    out["body_compressed"] = time.perf_counter() - t
    c.cmd(b"LOGOUT")
    c.close()
    return out, notes


def expunge_tenth(port):
    c = Imap(port)
    try:
        n = c.login_select()
        seqs = list(range(10, n + 1, 10))
        for k in range(0, len(seqs), 400):
            c.cmd(b"STORE " + ",".join(map(str, seqs[k:k + 400])).encode() + b" +FLAGS.SILENT (\\Deleted)")
        t, (data, _) = timed(lambda: c.cmd(b"EXPUNGE"))
        c.cmd(b"LOGOUT")
        return {"seconds": t, "expunged": data.count(b" EXPUNGE\r\n"), "of": n}
    finally:
        c.close()


def bench_server(server, args, msgs, hhits, bhits, idle_msgs):
    res = {"notes": []}
    log = lambda s: print(f"[{server.name}] {s}", file=sys.stderr, flush=True)  # noqa: E731
    server.start()
    t = time.perf_counter()
    lm = Lmtp(server.lmtp)
    lm.fill(USER, msgs)
    lm.close()
    res["populate"] = time.perf_counter() - t
    log(f"populated {len(msgs)} messages over LMTP in {res['populate']:.1f} s")
    n = len(msgs)
    c = Imap(server.port)
    got = c.login_select()
    c.cmd(b"FETCH 1:* (UID FLAGS)")
    c.cmd(b"LOGOUT")
    c.close()
    if got != n:
        raise SystemExit(f"[{server.name}] INBOX has {got} messages after delivering {n}")

    res["memory"] = {}
    for conns in idle_levels(args):
        m = res["memory"][conns] = idle_memory(server, conns)
        log(f"memory: {m['procs']} processes ({', '.join(m['comms'])}) serve {conns} connections, "
            f"PSS {m['pss']:.0f} KB, RSS {m['rss']:.0f} KB per connection, tree PSS growth {m['tree_pss_delta']:.0f} KB per connection")

    rnd = random.Random(args.seed + 1)
    seqs = [rnd.randint(1, n) for _ in range(args.fetches)]
    runs = []
    for r in range(args.runs + 1):
        out, notes = session_run(server.port, n, seqs, hhits, bhits)
        for note in notes:
            if note not in res["notes"]:
                res["notes"].append(note)
                log("CHECK: " + note)
        if r:  # the first session warms caches and sets \Seen on the fetched messages
            runs.append(out)
        log(f"session {r}{' (warm-up)' if not r else ''}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in out.items() if k != "body_bytes"))
    res["runs"] = runs
    for r in range(args.runs):
        out, notes = sync_and_compress(server.port, n, seqs, random.Random(args.seed + 10 + r))
        for note in notes:
            if note not in res["notes"]:
                res["notes"].append(note)
                log("CHECK: " + note)
        runs[r].update(out)
        log(f"sync/compress {r}: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in out.items()))

    rate, p50, errors = connect_rate(server.port, args.seconds, args.concurrency)
    res["rate"] = {"per_second": rate, "p50": p50, "errors": len(errors)}
    log(f"connect+LOGIN+SELECT+LOGOUT: {rate:.0f}/s at concurrency {args.concurrency} (p50 {p50 * 1000:.1f} ms)"
        + (f", {len(errors)} errors, e.g. {errors[0]}" if errors else ""))

    res["idle"] = idle_latency(server, args.idle_rounds, idle_msgs)
    i = res["idle"]
    log(f"LMTP->IDLE EXISTS: median {i['median'] * 1000:.1f} ms, p90 {i['p90'] * 1000:.1f} ms "
        f"(LMTP transaction alone {i['lmtp'] * 1000:.1f} ms), missed {i['missed']}")

    res["expunge"] = expunge_tenth(server.port)
    e = res["expunge"]
    log(f"EXPUNGE {e['expunged']} of {e['of']}: {e['seconds'] * 1000:.0f} ms")
    return res


# --------------------------------------------------------------------------- report

ROWS = [
    # key, label, unit, scale, better
    ("login_select", "LOGIN+SELECT INBOX", "ms", 1000, "lower"),
    ("fetch_flags", "FETCH 1:* (UID FLAGS)", "ms", 1000, "lower"),
    ("fetch_envelope", "FETCH 1:* ENVELOPE", "ms", 1000, "lower"),
    ("body", "100 x FETCH n BODY[] (total)", "ms", 1000, "lower"),
    ("search_subject", "UID SEARCH SUBJECT word", "ms", 1000, "lower"),
    ("search_body", "UID SEARCH BODY word", "ms", 1000, "lower"),
    ("sort_date", "UID SORT (DATE) UTF-8 ALL", "ms", 1000, "lower"),
    ("sort_subject", "UID SORT (SUBJECT) UTF-8 ALL", "ms", 1000, "lower"),
    ("thread_references", "UID THREAD REFERENCES UTF-8 ALL", "ms", 1000, "lower"),
    ("qresync_select", "SELECT (QRESYNC) after 100 flag changes", "ms", 1000, "lower"),
    ("changedsince", "FETCH 1:* FLAGS (CHANGEDSINCE), 100 changed", "ms", 1000, "lower"),
    ("body_compressed", "100 x FETCH n BODY.PEEK[] over COMPRESS", "ms", 1000, "lower"),
    ("store", "STORE 1:* +FLAGS (\\Flagged)", "ms", 1000, "lower"),
    ("store_silent", "STORE 1:* +FLAGS.SILENT", "ms", 1000, "lower"),
]


def table(results, args, mean_kb):
    names = list(results)
    subject = "suite" if "suite" in names else ("dovecot" if "dovecot" in names else None)
    others = [x for x in names if x != subject] if subject else []
    if not others:
        subject = None
    rows = []  # (label, {name: value string}, {name: number}, better)
    for key, label, unit, scale, better in ROWS:
        med = {n: statistics.median(r[key] for r in results[n]["runs"]) * scale for n in names}
        mn = {n: min(r[key] for r in results[n]["runs"]) * scale for n in names}
        rows.append((f"{label}, {unit}", {n: f"{med[n]:.1f} ({mn[n]:.1f})" for n in names}, med, better))
    rows.append((f"connect+LOGIN+SELECT+LOGOUT /s, c{args.concurrency}",
                 {n: f"{results[n]['rate']['per_second']:.0f}" for n in names},
                 {n: results[n]["rate"]["per_second"] for n in names}, "higher"))
    for conns in idle_levels(args):
        mem = {n: results[n]["memory"][conns] for n in names}
        rows.append((f"idle conn: PSS per conn, KB ({conns} conns)",
                     {n: f"{mem[n]['pss']:.0f}" for n in names}, {n: mem[n]["pss"] for n in names}, "lower"))
        rows.append((f"idle conn: server tree PSS growth per conn, KB ({conns} conns)",
                     {n: f"{mem[n]['tree_pss_delta']:.0f}" for n in names}, {n: mem[n]["tree_pss_delta"] for n in names}, "lower"))
    top = idle_levels(args)[-1]
    rows.append((f"idle conn: RSS per serving process, KB ({top} conns)",
                 {n: f"{results[n]['memory'][top]['rss']:.0f}" for n in names}, {n: results[n]["memory"][top]["rss"] for n in names}, "lower"))
    rows.append(("LMTP -> IDLE EXISTS, ms median (p90)",
                 {n: f"{results[n]['idle']['median'] * 1000:.1f} ({results[n]['idle']['p90'] * 1000:.1f})" for n in names},
                 {n: results[n]["idle"]["median"] for n in names}, "lower"))
    rows.append(("EXPUNGE of every 10th message, ms (once)",
                 {n: f"{results[n]['expunge']['seconds'] * 1000:.1f}" for n in names},
                 {n: results[n]["expunge"]["seconds"] for n in names}, "lower"))
    lw = max(len(r[0]) for r in rows) + 1
    cw = max([14] + [len(v) + 1 for r in rows for v in r[1].values()])
    ratio_cols = [f"{subject}/{o}" for o in others] if subject else []
    head = f"{'workload':<{lw}}" + "".join(f"{n:>{cw}}" for n in names) + "".join(f"{h:>15}" for h in ratio_cols)
    lines = [head + f"{'better':>8}"]
    for label, shown, num, better in rows:
        line = f"{label:<{lw}}" + "".join(f"{shown[n]:>{cw}}" for n in names)
        for o in others:
            line += f"{(num[subject] / num[o]) if num[o] else float('nan'):>15.2f}"
        lines.append(line + f"{better:>8}")
    sizes = ", ".join(f"{x}: {results[x]['runs'][0]['body_bytes'] / args.fetches / 1024:.1f} KiB" for x in names)
    print(f"IMAP, one INBOX of {args.messages} messages (mean {mean_kb:.1f} KiB; 100 BODY[] mean as served: {sizes}), "
          f"plain IMAP on 127.0.0.1, {os.cpu_count()} CPUs")
    print(f"times: median (min) of {args.runs} sessions after a warm-up session; ratios: {subject or '-'} / other, "
          "literally, so below 1 is better where `better` says lower; client "
          + ("re-arms TCP_QUICKACK (--quickack)" if args.quickack else "with the kernel's usual delayed ACKs"))
    print("\n".join(lines))
    for n in names:
        r = results[n]
        extra = [f"populated over LMTP in {r['populate']:.1f} s",
                 "; ".join(f"{c} conns: {m['procs']} serving processes ({', '.join(m['comms'])})" for c, m in r["memory"].items()),
                 f"LMTP transaction alone {r['idle']['lmtp'] * 1000:.1f} ms",
                 f"expunged {r['expunge']['expunged']} of {r['expunge']['of']}"]
        if r["idle"]["missed"]:
            extra.append(f"{r['idle']['missed']} IDLE rounds without EXISTS in 15 s")
        if r["rate"]["errors"]:
            extra.append(f"{r['rate']['errors']} failed sessions in the rate test")
        extra += r["notes"]
        print(f"  {n}: " + "; ".join(extra))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="suite,cyrus",
                    help="comma-separated: suite, cyrus, dovecot, or all (default suite,cyrus)")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5, help="timed sessions, after one warm-up")
    ap.add_argument("--fetches", type=int, default=100, help="BODY[] fetches per session")
    ap.add_argument("--seconds", type=float, default=10, help="length of the connection-rate test")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--idle-conns", default="10,100,1000", help="idle connection counts to measure memory at")
    ap.add_argument("--idle-rounds", type=int, default=20)
    ap.add_argument("--prefork", type=int, default=8, help="prefork= of the imap service (suite and Cyrus)")
    ap.add_argument("--dovecot-format", choices=("maildir", "mdbox"), default="maildir")
    ap.add_argument("--dovecot-imap", metavar="DIR",
                    help="where Dovecot's imap and imap-login are (default /usr/lib/dovecot; an unpacked dovecot-imapd "
                         "where it cannot be installed beside cyrus-imapd)")
    ap.add_argument("--quickack", action="store_true",
                    help="the client re-arms TCP_QUICKACK around every recv, so a server that writes without "
                         "TCP_NODELAY (Cyrus) is not held up by Nagle waiting for the client's delayed ACK")
    ap.add_argument("--json", help="also write the raw results to this file")
    args = ap.parse_args()
    # A client socket per idle connection measured.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    Imap.QUICKACK = args.quickack
    names = ["suite", "cyrus", "dovecot"] if args.server == "all" else [s.strip() for s in args.server.split(",") if s.strip()]
    for s in names:
        if s not in ("suite", "cyrus", "dovecot"):
            ap.error(f"unknown server {s!r}")

    t = time.perf_counter()
    msgs, hhits, bhits = make_messages(args.messages, seed=args.seed)
    # Distinct Message-IDs: Cyrus's duplicate suppression would drop a repeated message.
    idle_msgs, _, _ = make_messages(args.idle_rounds + 1, seed=args.seed + 1000)
    mean_kb = sum(map(len, msgs)) / len(msgs) / 1024
    print(f"generated {len(msgs)} messages, mean {mean_kb:.1f} KiB, {len(hhits)} with the subject word, "
          f"{len(bhits)} with the body word, in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)

    live = []

    def cleanup():
        stop_servers(live)

    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))

    results = {}
    for name in names:
        server = None
        try:
            if name == "suite":
                server = SuiteServer(args.prefork)
            elif name == "cyrus":
                server = CyrusServer(args.prefork)
            else:
                server = DovecotServer(args.dovecot_format, args.dovecot_imap)
            live.append(server)
            results[name] = bench_server(server, args, msgs, hhits, bhits, idle_msgs)
        except BaseException:
            tail = server.log_tail() if server else ""
            if tail:
                print(f"--- {name}'s log, last lines:\n{tail}", file=sys.stderr)
            raise
        finally:
            cleanup()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)
    table(results, args, mean_kb)


if __name__ == "__main__":
    main()
