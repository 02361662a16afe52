"""Issue 14: `cyr_takeover` takes over a real Cyrus 3.6 site and the suite then answers
every client as Cyrus did.

For each spool layout of Cyrus 3.6 (by name: `mailbox_legacy_dirs: yes` with
`hashimapspool: yes` as Debian ships it; by mailbox id: `mailbox_legacy_dirs: no`, the
3.6 default), Debian's Cyrus builds a site in a temp dir: `virtdomains: userid` with
users in the default domain and in two others, nested folders (one with a modified
UTF-7 name), shared folders in two domains, each read by two users up to different
messages,
1 000+ messages delivered over LMTP (pipelined, a few connections at once; some to
`user+folder`, some to shared folders, some filed by Sieve), APPENDs with their own
internal dates, flags and keywords set over IMAP, messages expunged (delayed expunge,
the 3.6 default: the records and files stay), subscriptions (one to a deleted folder),
quotas, ACLs (a negative one too), mailbox and server metadata (private and shared,
special-use), Sieve scripts put with timsieved (one active per user), and a folder
deleted (3.6's delayed delete keeps it as DELETED.*).

Then what Cyrus says is recorded for every user and the admin (LIST, LSUB, STATUS,
UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE), GETACL, GETQUOTAROOT, GETMETADATA,
ManageSieve LISTSCRIPTS/GETSCRIPT), one user is copied into a Maildir by `mbsync`,
Cyrus is stopped, `cyr_takeover -C imapd.conf` runs, the suite's master starts on the
same imapd.conf (plus the harness's own `syslog_socket`) with its own cyrus.conf on
the same addresses, and every answer is compared. Finally the way back to Cyrus is
tried (`go_back`): Cyrus must serve the messages the suite delivered meanwhile.

Compared exactly, with these exceptions, each for a stated reason:
- \\Recent is left out of FLAGS (a session flag, gone from IMAP4rev2);
- the admin's view of each user's `#sieve` mailbox (Cyrus 3.6 keeps Sieve scripts as
  messages there; cyr_takeover makes them script files, compared over ManageSieve), and
  the usage they add to their quota root, exactly that much;
- STATUS HIGHESTMODSEQ and GETMETADATA are compared over IMAP when the suite offers
  CONDSTORE and METADATA (it does since issue 15); without them HIGHESTMODSEQ would be
  read with the suite's `mbexamine` and GETMETADATA be an expected failure.
Mailbox metadata is set on users' mailboxes only: Debian's Cyrus 3.6.1 imapd dies on
any SETMETADATA of a mailbox outside user.* (e.g. shared.team) and stores nothing.
`mbsync` copies the personal namespace (what Cyrus's NAMESPACE gives it).

The stages run once per layout (module-scoped, lazily, in order); each test checks one
kind of answer, so a difference shows as the test of that answer. The stages that change
the site (new deliveries, going back) are in the last tests and run after every answer
of the suite has been recorded.
"""

import base64
import datetime
import email.utils
import os
import pwd
import random
import re
import shlex
import socket
import subprocess
import threading
import time

import pytest

import cyrus36
import imap_values
from suite import BIN, SyslogSink, wait_for

pytestmark = pytest.mark.skipif(not cyrus36.available() or not os.access(os.path.join(cyrus36.CYRUS_BIN, "timsieved"), os.X_OK),
                                reason="Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")

LAYOUTS = {
    "by-name": "mailbox_legacy_dirs: yes\nhashimapspool: yes\n",
    "by-id": "mailbox_legacy_dirs: no\nhashimapspool: yes\n",
}
SITE_CONF = "virtdomains: userid\ndefaultdomain: cyrus.test\n"

# login -> password. Logins without a domain are users of the default domain
# (mailboxes user.NAME); the others live under DOMAIN!user.NAME.
USERS = {
    "fred": "pw-fred",
    "barney": "pw-barney",
    "wilma": "pw-wilma",
    "alice@example.com": "pw-alice",
    "bob@example.com": "pw-bob",
    "carol@example.org": "pw-carol",
    "dave@example.org": "pw-dave",
}
ADMIN = (cyrus36.ADMIN, cyrus36.PASSWORD)
ACCOUNTS = dict(USERS, **{ADMIN[0]: ADMIN[1]})

# Folders each user creates (names as the user sees them; "." is the separator).
FOLDERS = {
    "fred": ["INBOX.Lists", "INBOX.Lists.Rust", "INBOX.Work", "INBOX.Work.2024", "INBOX.Work.2024.Q1", "INBOX.Sent",
             "INBOX.Trash", "INBOX.Caf&AOk-"],
    "barney": ["INBOX.Archive", "INBOX.Archive.Old"],
    "wilma": ["INBOX.Temp"],  # subscribed to, then deleted
    "alice@example.com": ["INBOX.Sent", "INBOX.Projects", "INBOX.Projects.Alpha"],
    "bob@example.com": ["INBOX.Drafts"],
    "carol@example.org": ["INBOX.Receipts"],
    "dave@example.org": [],
}
# Shared folders (admin's names) and who reads them.
SHARED = {
    "shared.team": ["fred", "barney"],
    "projects@example.com": ["alice@example.com", "bob@example.com"],
}

SIEVE = {
    "fred": {
        "lists": 'require ["fileinto", "imap4flags"];\r\n'
                 'if header :contains "subject" "[lists]" {\r\n'
                 '  fileinto :flags ["\\\\Flagged", "$Listed"] "INBOX.Lists";\r\n  stop;\r\n}\r\n',
        "vacation-draft": 'require ["vacation"];\r\nvacation :days 7 "I am away";\r\n',
    },
    "alice@example.com": {
        "projects": 'require ["fileinto"];\r\nif header :is "x-project" "alpha" {\r\n'
                    '  fileinto "INBOX.Projects.Alpha";\r\n}\r\n',
    },
}
ACTIVE = {"fred": "lists", "alice@example.com": "projects"}

MBSYNC_USER = "alice@example.com"
FLAG_RULES = [  # (every Nth message by sequence, flags added)
    (3, "\\Seen"), (5, "\\Flagged"), (7, "\\Answered"), (11, "$Label1"), (13, "project-x $Forwarded"), (23, "\\Draft"),
]


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def internal_name(login, name):
    """The internal (mailboxes.db) name of mailbox `name` as `login` sees it, with
    `altnamespace: no`, `unixhierarchysep: no`, `virtdomains: userid`."""
    if login == ADMIN[0]:
        if "@" in name:
            local, domain = name.rsplit("@", 1)
            return f"{domain}!{local}"
        return name
    user, _, domain = login.partition("@")
    if name == "INBOX" or name.startswith("INBOX."):
        name = f"user.{user}" + name[5:]
    return f"{domain}!{name}" if domain else name


# ---------------------------------------------------------------------------
# IMAP responses, parsed.


def split_lines(data):
    """RawImap's untagged bytes as a list of response lines (literals kept inline)."""
    lines, pos = [], 0
    while pos < len(data):
        end = data.index(b"\r\n", pos)
        while True:
            m = re.search(rb"\{(\d+)\+?\}$", data[pos:end])
            if not m:
                break
            end = data.index(b"\r\n", end + 2 + int(m.group(1)))
        lines.append(data[pos:end + 2])
        pos = end + 2
    return lines


class Q(str):
    """A string value that came quoted or as a literal (an atom is a plain str)."""


def tokens(line):
    """One response line as nested lists of atoms (str) and strings (Q)."""
    stack, pos = [[]], 0
    while pos < len(line):
        c = line[pos:pos + 1]
        if line[pos:pos + 2] == b"\r\n":
            break
        if c == b" ":
            pos += 1
        elif c == b"(":
            stack[-1].append([])
            stack.append(stack[-1][-1])
            pos += 1
        elif c == b")":
            stack.pop()
            pos += 1
        elif c == b'"':
            buf, pos = imap_values.quoted(line, pos)
            stack[-1].append(Q(buf.decode()))
        elif c == b"{" and re.match(rb"\{\d+\+?\}\r\n", line[pos:]):
            j = line.index(b"}\r\n", pos)
            n = int(line[pos + 1:j].rstrip(b"+"))
            stack[-1].append(Q(line[j + 3:j + 3 + n].decode(errors="replace")))
            pos = j + 3 + n
        else:
            j = pos
            while j < len(line) and line[j:j + 1] not in (b" ", b"(", b")", b"\r"):
                j += 1
            stack[-1].append(line[pos:j].decode())
            pos = j
    return stack[0]


def untagged(resp, *words):
    """Token lists of the untagged responses of a RawImap.cmd() result whose words
    after `*` are `words` (a number in a FETCH is matched by "#")."""
    out = []
    for line in split_lines(resp[0]):
        t = tokens(line)
        head = t[1:1 + len(words)]
        if t and t[0] == "*" and len(head) == len(words) and all(
                w == "#" and isinstance(h, str) and h.isdigit() or isinstance(h, str) and h.upper() == w for h, w in zip(head, words)):
            out.append(t[1 + len(words):])
    return out


def result(resp):
    return resp[1].split()[1].decode().upper()


def pairs(lst):
    return {str(lst[i]).upper(): lst[i + 1] for i in range(0, len(lst) - 1, 2)}


class Account:
    """A logged-in RawImap session with the parsed answers this test compares."""

    def __init__(self, port, login, password):
        self.login = login
        self.im = cyrus36.RawImap(port)
        r = self.im.cmd(f"LOGIN {imap_quote(login)} {imap_quote(password)}".encode())
        assert result(r) == "OK", (login, r)
        caps = re.search(rb"\[CAPABILITY ([^\]]*)\]", r[1])
        if not caps:
            caps = re.search(rb"CAPABILITY (.*)\r\n", self.im.cmd(b"CAPABILITY")[0])
        self.caps = set(caps.group(1).decode().upper().split())

    def cmd(self, text):
        return self.im.cmd(text.encode() if isinstance(text, str) else text)

    def list(self, command="LIST"):
        r = self.cmd(f'{command} "" "*"')
        assert result(r) == "OK", r
        return sorted((tuple(sorted(str(f) for f in t[0])), str(t[1]), str(t[2])) for t in untagged(r, command))

    def status(self, name, modseq):
        items = "MESSAGES UIDNEXT UIDVALIDITY UNSEEN" + (" HIGHESTMODSEQ" if modseq else "")
        r = self.cmd(f"STATUS {imap_quote(name)} ({items})")
        if result(r) != "OK":
            return result(r)
        (t,) = untagged(r, "STATUS")
        return {k: int(v) for k, v in pairs(t[1]).items()}

    def fetch(self, name):
        """[(uid, flags without \\Recent, internaldate, size)] in sequence order."""
        r = self.cmd(f"EXAMINE {imap_quote(name)}")
        if result(r) != "OK":
            return result(r)
        r = self.cmd("UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE)")
        assert result(r) == "OK", r
        out = []
        for t in untagged(r, "#", "FETCH"):
            p = pairs(t[0])
            # \Recent is a session flag (gone from IMAP4rev2): which session saw a
            # message first is not part of what a takeover keeps.
            flags = tuple(sorted(str(f) for f in p["FLAGS"] if str(f).upper() != "\\RECENT"))
            out.append((int(p["UID"]), flags, str(p["INTERNALDATE"]), int(p["RFC822.SIZE"])))
        self.cmd("UNSELECT" if "UNSELECT" in self.caps else "CLOSE")
        return out

    def getacl(self, name):
        r = self.cmd(f"GETACL {imap_quote(name)}")
        if result(r) != "OK":
            return result(r)
        (t,) = untagged(r, "ACL")
        return {str(t[i]): str(t[i + 1]) for i in range(1, len(t) - 1, 2)}

    def quotaroot(self, name):
        r = self.cmd(f"GETQUOTAROOT {imap_quote(name)}")
        if result(r) != "OK":
            return result(r)
        roots = [tuple(str(x) for x in t[1:]) for t in untagged(r, "QUOTAROOT")]
        quotas = {str(t[0]): tuple(str(x) for x in t[1]) for t in untagged(r, "QUOTA")}
        return {"roots": roots, "quotas": quotas}

    def metadata(self, name, entries):
        r = self.cmd(f"GETMETADATA {imap_quote(name)} ({' '.join(entries)})")
        if result(r) != "OK":
            return result(r)
        out = {}
        for t in untagged(r, "METADATA"):
            out.update({str(k).lower(): (None if v == "NIL" and not isinstance(v, Q) else str(v)) for k, v in pairs(t[1]).items()})
        return out

    def close(self):
        try:
            self.cmd("LOGOUT")
        except (OSError, EOFError):
            pass
        self.im.sock.close()


METADATA_ENTRIES = ("/private/comment", "/shared/comment", "/private/specialuse")


def record(port, modseq=True, metadata=True):
    """Everything this test compares, for every account: {login: {...}}."""
    out = {}
    for login, password in ACCOUNTS.items():
        a = Account(port, login, password)
        rec = {"list": a.list("LIST"), "lsub": a.list("LSUB"), "status": {}, "fetch": {}, "acl": {}, "quotaroot": {},
               "metadata": {}, "caps": a.caps}
        names = [n for flags, _, n in rec["list"] if not {"\\NOSELECT", "\\NONEXISTENT"} & {f.upper() for f in flags}]
        for n in names:
            rec["status"][n] = a.status(n, modseq)
            rec["fetch"][n] = a.fetch(n)
            rec["acl"][n] = a.getacl(n)
            rec["quotaroot"][n] = a.quotaroot(n)
            if metadata:
                rec["metadata"][n] = a.metadata(n, METADATA_ENTRIES)
        if login != ADMIN[0]:
            rec["quotaroot"]["INBOX"] = a.quotaroot("INBOX")
        if metadata:
            rec["metadata"][""] = a.metadata("", ("/shared/comment",))
        a.close()
        out[login] = rec
    return out


# ---------------------------------------------------------------------------
# ManageSieve (RFC 5804), plaintext AUTHENTICATE PLAIN (allowplaintext: yes).


class ManageSieve:
    def __init__(self, port, user, password):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.f = self.sock.makefile("rb")
        self.greeting = self.response()
        creds = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        r = self.cmd(f'AUTHENTICATE "PLAIN" "{creds}"')
        assert r[-1].startswith(b"OK"), (user, r)

    def response(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("ManageSieve connection closed")
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if m:
                lines.append(line + self.f.read(int(m.group(1))))
                continue
            if re.match(rb"(OK|NO|BYE)\b", line):
                lines.append(line.rstrip(b"\r\n"))
                return lines
            lines.append(line)

    def cmd(self, text, literal=None):
        data = text.encode()
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.sock.sendall(data + b"\r\n")
        return self.response()

    def scripts(self):
        """{name: (active, text)} as LISTSCRIPTS and GETSCRIPT answer."""
        r = self.cmd("LISTSCRIPTS")
        assert r[-1].startswith(b"OK"), r
        out = {}
        for line in r[:-1]:
            t = tokens(line)
            name = str(t[0])
            g = self.cmd(f"GETSCRIPT {imap_quote(name)}")
            assert g[-1].startswith(b"OK"), g
            out[name] = (len(t) > 1 and str(t[1]).upper() == "ACTIVE", str(tokens(g[0])[0]))
        return out

    def close(self):
        try:
            self.cmd("LOGOUT")
        except (OSError, EOFError):
            pass
        self.sock.close()


def record_sieve(port):
    out = {}
    for login in SIEVE:
        s = ManageSieve(port, login, USERS[login])
        out[login] = s.scripts()
        s.close()
    return out


# ---------------------------------------------------------------------------
# LMTP: pipelined (MAIL, RCPTs and DATA in one write, RFC 2920), a few connections.


class Lmtp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.f = self.sock.makefile("rb")
        self.reply()
        self.sock.sendall(b"LHLO mta.test\r\n")
        caps = self.reply()
        assert caps[0] == 250 and "PIPELINING" in caps[1].upper(), caps

    def reply(self):
        text = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("LMTP connection closed")
            text.append(line[4:].decode(errors="replace").strip())
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(text)

    def send(self, sender, rcpts, msg):
        """One transaction; {rcpt: code} (the reply after the message for accepted ones)."""
        data = re.sub(rb"(?m)^\.", b"..", msg)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        self.sock.sendall(b"".join([f"MAIL FROM:<{sender}>\r\n".encode()] + [f"RCPT TO:<{r}>\r\n".encode() for r in rcpts]
                                   + [b"DATA\r\n"]))
        assert self.reply()[0] == 250
        codes = {r: self.reply() for r in rcpts}
        accepted = [r for r in rcpts if codes[r][0] == 250]
        code, text = self.reply()
        if not accepted:
            assert code >= 500, (code, text)
            return {r: c for r, (c, _) in codes.items()}
        assert code == 354, (code, text, codes)
        self.sock.sendall(data + b".\r\n")
        for r in accepted:
            codes[r] = self.reply()
        return {r: c for r, (c, _) in codes.items()}

    def close(self):
        try:
            self.sock.sendall(b"QUIT\r\n")
            self.reply()
        except (OSError, EOFError):
            pass
        self.sock.close()


def message(i, subject, to, extra="", size=0):
    date = email.utils.formatdate(1_700_000_000 + i * 3607, localtime=False)
    body = f"Message {i}.\r\n" + ("".join(f"line {k} of {i}: {'x' * 60}\r\n" for k in range(size // 70)))
    return (f"From: Sender {i % 17} <s{i % 17}@senders.test>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <m{i}@takeover.test>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
            f"\r\n{body}").encode()


def lmtp_address(login):
    return login if "@" in login else f"{login}@cyrus.test"


def delivery_plan(seed=14):
    """[(rcpts, message bytes)]: 1 000+ mailbox copies in all."""
    rnd = random.Random(seed)
    plan = []
    people = list(USERS)
    for i in range(330):
        rcpts = rnd.sample(people, rnd.choice([1, 2, 3, 4, 5]))
        rcpts = [lmtp_address(u) for u in rcpts]
        extra, subject = "", f"note {i}"
        if i % 9 == 0:
            subject = f"[lists] digest {i}"  # fred's script files these in INBOX.Lists
        if i % 10 == 1:
            extra = "X-Project: alpha\r\n"  # alice's files these in INBOX.Projects.Alpha
        if i % 15 == 2:
            rcpts.append("fred+Work@cyrus.test")
        if i % 12 == 5:
            rcpts.append("barney+Archive@cyrus.test")
        if i % 8 == 3:
            rcpts.append("+shared.team@cyrus.test")
        if i % 8 == 4:
            rcpts.append("+projects@example.com")
        size = rnd.choice([0, 200, 1500, 6000]) if i % 50 else 120_000
        plan.append((sorted(set(rcpts)), message(i, subject, ", ".join(rcpts), extra, size)))
    return plan


def deliver(socket_path, plan, connections=4):
    """Delivers plan over `connections` pipelined LMTP sessions; {rcpt: [codes]}."""
    codes, lock, errors = {}, threading.Lock(), []

    def run(part):
        try:
            lm = Lmtp(socket_path)
            for rcpts, msg in part:
                got = lm.send("sender@senders.test", rcpts, msg)
                with lock:
                    for r, c in got.items():
                        codes.setdefault(r, []).append(c)
            lm.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(plan[k::connections],)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return codes


# ---------------------------------------------------------------------------
# The Cyrus site.


def as_cyrus():
    """preexec_fn: run a tool as the cyrus user when the tests run as root."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam("cyrus")

        def drop():
            os.setgid(pw.pw_gid)
            os.initgroups("cyrus", pw.pw_gid)
            os.setuid(pw.pw_uid)
        return drop
    return None


def cyrus_tool(cy, name, *args, check=True):
    r = subprocess.run([os.path.join(cyrus36.CYRUS_BIN, name), "-C", cy.conf, *args], capture_output=True, text=True,
                       timeout=120, preexec_fn=as_cyrus())
    if check:
        assert r.returncode == 0, (name, args, r.stdout, r.stderr)
    return r


def ok(r):
    assert result(r) == "OK", r
    return r


def build_site(cy, layout):
    """Lays, on the (not yet started) CyrusInstance cy, a running Cyrus 3.6 site with
    everything the issue lists; returns facts: what the builder knows it did."""
    for login, pw in USERS.items():
        user, _, domain = login.partition("@")
        cy.add_password(user, pw, realm=domain or "cyrus.test")
    cy.start()
    facts = {"layout": layout}
    adm = Account(cy.port, *ADMIN)
    for login in USERS:
        ok(adm.cmd(f"CREATE {imap_quote('user.' + login)}"))
    for name in ("shared", "shared.team", "projects@example.com"):
        ok(adm.cmd(f"CREATE {imap_quote(name)}"))
    # ACLs: readers of the shared folders, posting for LMTP's +folder addresses, one
    # negative right.
    ok(adm.cmd('SETACL "shared.team" fred lrswipte'))
    ok(adm.cmd('SETACL "shared.team" barney lrsw'))
    ok(adm.cmd('SETACL "shared.team" anyone lrsp'))
    ok(adm.cmd('SETACL "shared.team" -wilma lr'))
    ok(adm.cmd('SETACL "projects@example.com" alice@example.com lrswipkxtecdan'))
    ok(adm.cmd('SETACL "projects@example.com" bob@example.com lrsw'))
    ok(adm.cmd('SETACL "projects@example.com" anyone p'))
    # Quotas: storage and messages, storage only, messages only, on a shared root.
    ok(adm.cmd('SETQUOTA "user.fred" (STORAGE 500000 MESSAGE 20000)'))
    ok(adm.cmd('SETQUOTA "user.alice@example.com" (STORAGE 200000)'))
    ok(adm.cmd('SETQUOTA "user.wilma" (MESSAGE 5000)'))
    ok(adm.cmd('SETQUOTA "shared" (STORAGE 100000)'))
    # Server metadata. (Mailbox metadata is set on users' mailboxes only: Debian's
    # Cyrus 3.6.1 imapd dies on any SETMETADATA of a mailbox outside user.*, e.g.
    # `SETMETADATA "shared.team" (/shared/comment "x")`, and stores nothing.)
    ok(adm.cmd('SETMETADATA "" (/shared/comment "site of the takeover test")'))

    for login, folders in FOLDERS.items():
        a = Account(cy.port, login, USERS[login])
        for f in folders:
            ok(a.cmd(f"CREATE {imap_quote(f)}"))
        a.close()
    fred = Account(cy.port, "fred", USERS["fred"])
    ok(fred.cmd('SETACL "INBOX.Work" barney lrs'))
    ok(fred.cmd('SETACL "INBOX.Work" anyone p'))
    ok(fred.cmd('SETACL "INBOX.Lists" anyone p'))
    ok(fred.cmd('SETMETADATA "INBOX" (/private/comment "fred\'s own note" /shared/comment "fred\'s shared note")'))
    ok(fred.cmd('SETMETADATA "INBOX.Sent" (/private/specialuse "\\\\Sent")'))
    ok(fred.cmd('SETMETADATA "INBOX.Trash" (/private/specialuse "\\\\Trash")'))
    fred.close()
    barney = Account(cy.port, "barney", USERS["barney"])
    ok(barney.cmd('SETACL "INBOX.Archive" anyone p'))
    barney.close()
    alice = Account(cy.port, "alice@example.com", USERS["alice@example.com"])
    ok(alice.cmd('SETACL "INBOX.Projects" bob@example.com lr'))
    ok(alice.cmd('SETMETADATA "INBOX.Projects" (/private/comment "alpha and beta" /shared/comment "for bob too")'))
    ok(alice.cmd('SETMETADATA "INBOX.Sent" (/private/specialuse "\\\\Sent")'))
    alice.close()

    # Sieve scripts through timsieved, one active per user, before the deliveries so
    # that Cyrus itself files by them.
    for login, scripts in SIEVE.items():
        s = ManageSieve(cy.sieve_port, login, USERS[login])
        for name, text in scripts.items():
            r = s.cmd(f"PUTSCRIPT {imap_quote(name)}", text.encode())
            assert r[-1].startswith(b"OK"), (login, name, r)
        r = s.cmd(f"SETACTIVE {imap_quote(ACTIVE[login])}")
        assert r[-1].startswith(b"OK"), r
        s.close()

    t0 = time.monotonic()
    plan = delivery_plan()
    codes = deliver(cy.lmtp_socket, plan)
    facts["lmtp_seconds"] = time.monotonic() - t0
    facts["delivered"] = sum(c.count(250) for c in codes.values())
    facts["refused"] = {r: [c for c in cs if c != 250] for r, cs in codes.items() if any(c != 250 for c in cs)}
    facts["lists_ids"] = sorted(i for i in range(len(plan)) if i % 9 == 0 and "fred@cyrus.test" in plan[i][0])
    facts["alpha_ids"] = sorted(i for i in range(len(plan)) if i % 10 == 1 and "alice@example.com" in plan[i][0])

    # APPENDs with their own internal dates, flags and keywords.
    for login, box in (("fred", "INBOX.Sent"), ("alice@example.com", "INBOX.Sent"), ("fred", "INBOX.Caf&AOk-")):
        a = Account(cy.port, login, USERS[login])
        for k in range(12):
            msg = message(10_000 + k, f"sent {k}", "someone@else.test", size=300 * k)
            flags = ["\\Seen"] + (["$Forwarded"] if k % 3 == 0 else []) + (["\\Answered"] if k % 4 == 0 else [])
            date = f"{1 + k:02d}-Mar-2023 {k:02d}:17:05 {'+0100' if k % 2 else '-0700'}"
            ok(a.im.cmd(f"APPEND {imap_quote(box)} ({' '.join(flags)}) \"{date}\"".encode(), literal=msg))
        a.close()

    # Flags and keywords by each user on each of their folders, then expunges:
    # every 17th message is deleted and expunged (delayed: records and files stay),
    # every 19th is only marked \Deleted.
    for login in USERS:
        a = Account(cy.port, login, USERS[login])
        for _, _, name in a.list():
            if not name.startswith("INBOX"):
                continue
            r = ok(a.cmd(f"SELECT {imap_quote(name)}"))
            exists = int(re.search(rb"\* (\d+) EXISTS", r[0]).group(1))
            for every, flags in FLAG_RULES:
                seqs = ",".join(str(n) for n in range(every, exists + 1, every))
                if seqs:
                    ok(a.cmd(f"STORE {seqs} +FLAGS.SILENT ({flags})"))
            dels = ",".join(str(n) for n in range(17, exists + 1, 17))
            if dels:
                ok(a.cmd(f"STORE {dels} +FLAGS.SILENT (\\Deleted)"))
                ok(a.cmd("EXPUNGE"))
            marks = ",".join(str(n) for n in range(19, exists + 1, 19))
            if marks:
                ok(a.cmd(f"STORE {marks} +FLAGS.SILENT (\\Deleted)"))
            ok(a.cmd("UNSELECT"))
        a.close()

    # Per-user seen state on the shared folders: each reader reads different messages.
    for name, readers in SHARED.items():
        for k, login in enumerate(readers):
            a = Account(cy.port, login, USERS[login])
            view = name.split("@")[0]
            r = ok(a.cmd(f"SELECT {imap_quote(view)}"))
            exists = int(re.search(rb"\* (\d+) EXISTS", r[0]).group(1))
            assert exists >= 10, (name, exists)
            lo, hi = (1, exists // 3) if k == 0 else (exists // 2, exists)
            ok(a.cmd(f"STORE {lo}:{hi} +FLAGS.SILENT (\\Seen)"))
            ok(a.cmd("UNSELECT"))
            a.close()
    # barney reads part of fred's INBOX.Work (shared to him).
    b = Account(cy.port, "barney", USERS["barney"])
    ok(b.cmd('SELECT "user.fred.Work"'))
    ok(b.cmd("STORE 1:2 +FLAGS.SILENT (\\Seen)"))
    ok(b.cmd("UNSELECT"))
    b.close()

    # Subscriptions: own folders, shared ones, another user's, and a deleted one.
    subs = {
        "fred": ["INBOX", "INBOX.Lists", "INBOX.Work.2024.Q1", "INBOX.Caf&AOk-", "shared.team"],
        "barney": ["INBOX", "INBOX.Archive.Old", "user.fred.Work", "shared.team"],
        "wilma": ["INBOX", "INBOX.Temp"],
        "alice@example.com": ["INBOX", "INBOX.Sent", "INBOX.Projects", "INBOX.Projects.Alpha", "projects"],
        "bob@example.com": ["INBOX.Drafts", "user.alice.Projects", "projects"],
        "carol@example.org": ["INBOX.Receipts"],
    }
    for login, names in subs.items():
        a = Account(cy.port, login, USERS[login])
        for n in names:
            ok(a.cmd(f"SUBSCRIBE {imap_quote(n)}"))
        if login == "wilma":
            ok(a.cmd('DELETE "INBOX.Temp"'))
        a.close()
    adm.close()
    return facts


def mbsync(workdir, port):
    """mbsync of MBSYNC_USER into workdir/maildir; (returncode, output, maildir files)."""
    maildir = os.path.join(workdir, "maildir")
    os.makedirs(maildir, exist_ok=True)
    rc = os.path.join(workdir, "mbsyncrc")
    with open(rc, "w") as f:
        f.write(f"IMAPAccount acct\nHost 127.0.0.1\nPort {port}\nUser {MBSYNC_USER}\nPass {USERS[MBSYNC_USER]}\n"
                f"SSLType None\nAuthMechs LOGIN\n\n"
                f"IMAPStore far\nAccount acct\n\n"
                f"MaildirStore near\nPath {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n\n"
                f"Channel ch\nFar :far:\nNear :near:\nPatterns *\nCreate Near\nSync Pull\nExpunge None\nSyncState *\n")
    # In a pseudo-terminal (script(1)): only there does mbsync print its counters.
    r = subprocess.run(["script", "-qec", f"mbsync -c {shlex.quote(rc)} ch", "/dev/null"], capture_output=True, timeout=120,
                       cwd=workdir)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    files = sorted(os.path.relpath(os.path.join(d, n), maildir) for d, _, ns in os.walk(maildir) for n in ns
                   if not n.startswith("."))
    return r.returncode, out, files


MBSYNC_COUNTERS = re.compile(r"C: (\d+)/(\d+)\s+B: (\d+)/(\d+)\s+F: \+(\d+)/(\d+) \*(\d+)/(\d+) #(\d+)/(\d+)\s+"
                             r"N: \+(\d+)/(\d+) \*(\d+)/(\d+) #(\d+)/(\d+)")


def mbsync_counters(out):
    """mbsync 1.4's last progress line `C: 1/1  B: 4/4  F: +0/0 *0/0 #0/0  N: +0/0 *0/0
    #0/0` as {"boxes": n, "far": (new, flags, trashed), "near": (...)}, counting what it
    propagated to each side (the totals after the slashes); None if there is none."""
    m = MBSYNC_COUNTERS.findall(out)
    if not m:
        return None
    v = [int(x) for x in m[-1]]
    return {"channels": v[1], "boxes": v[3], "far": (v[5], v[7], v[9]), "near": (v[11], v[13], v[15])}


def mailbox_dir(cy, internal):
    return cyrus_tool(cy, "mbpath", internal).stdout.strip()


def message_files(path):
    return sorted(int(n[:-1]) for n in os.listdir(path) if n.endswith(".") and n[:-1].isdigit())


# ---------------------------------------------------------------------------
# The suite on the site.


class SuiteOnSite:
    """The suite's master on Cyrus's own imapd.conf, with its own cyrus.conf listening
    where Cyrus did (same IMAP port, LMTP socket and ManageSieve port). The harness adds
    to imapd.conf only `syslog_socket` (to read the suite's log; as root master drops to
    `cyrus_user`, whose default, cyrus, owns the site), and takes it out again when the
    suite stops."""

    MARK = "# --- added by the test harness for the suite ---\n"

    def __init__(self, cy):
        self.cy = cy
        self.logsock = os.path.join(cy.dir, "suite-log.sock")
        self.cyrus_conf = os.path.join(cy.dir, "suite-cyrus.conf")
        self.pidfile = os.path.join(cy.dir, "suite-master.pid")
        self.stderr_path = os.path.join(cy.dir, "suite-master.stderr")
        self.log = None
        self.proc = None

    def add_conf(self):
        with open(self.cy.conf) as f:
            text = f.read()
        if self.MARK not in text:
            extra = self.MARK + f"syslog_socket: {self.logsock}\n"
            with open(self.cy.conf, "a") as f:
                f.write(extra)

    def remove_conf(self):
        with open(self.cy.conf) as f:
            text = f.read()
        with open(self.cy.conf, "w") as f:
            f.write(text.split(self.MARK)[0])

    def start(self):
        self.add_conf()
        with open(self.cyrus_conf, "w") as f:
            f.write(f'SERVICES {{\n  imap cmd="imapd" listen="127.0.0.1:{self.cy.port}" prefork=1\n'
                    f'  lmtpunix cmd="lmtpd" listen="{self.cy.lmtp_socket}" prefork=1\n'
                    f'  sieve cmd="timsieved" listen="127.0.0.1:{self.cy.sieve_port}" prefork=0\n}}\n'
                    f"START {{\n}}\nEVENTS {{\n}}\nDAEMON {{\n}}\n")
        if self.log is None:
            self.log = SyslogSink(self.logsock)
        self.stderr = open(self.stderr_path, "a")
        self.proc = subprocess.Popen([os.path.join(BIN, "master"), "-C", self.cy.conf, "-M", self.cyrus_conf, "-p", self.pidfile],
                                     stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)
        try:
            self.log.wait(r"master\[\d+\]: process started; ready for work", timeout=20)
        except AssertionError:
            raise AssertionError(f"the suite's master did not start on Cyrus's imapd.conf:\n{self.stderr_text()}\n{self.log.text()}")
        return self

    def stderr_text(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.stderr.close()
        self.proc = None
        self.remove_conf()

    def close(self):
        self.stop()
        if self.log:
            self.log.close()
            self.log = None


def run_takeover(cy, *args):
    return subprocess.run([os.path.join(BIN, "cyr_takeover"), "-C", cy.conf, *args], capture_output=True, text=True,
                          timeout=300)


def suite_tool(cy, name, *args):
    return subprocess.run([os.path.join(BIN, name), "-C", cy.conf, *args], capture_output=True, text=True, timeout=60,
                          preexec_fn=as_cyrus())


def go_back(cy):
    """The way back to Cyrus after running the suite (cyr_takeover(8), GOING BACK TO
    CYRUS, steps 2 and 3; the suite is stopped already, Cyrus is started after):
    put Cyrus's files back, then Cyrus's reconstruct on every user's INBOX, recursively,
    which indexes the message files the suite added. Returns what each step printed."""
    out = []
    r = run_takeover(cy, "--revert")
    out.append(("cyr_takeover --revert", r.returncode, r.stdout + r.stderr))
    assert r.returncode == 0, out
    for login in USERS:
        r = cyrus_tool(cy, "reconstruct", "-r", f"user.{login}", check=False)
        out.append((f"reconstruct -r user.{login}", r.returncode, r.stdout + r.stderr))
        assert r.returncode == 0, out
    for name in SHARED:
        r = cyrus_tool(cy, "reconstruct", "-r", name, check=False)
        out.append((f"reconstruct -r {name}", r.returncode, r.stdout + r.stderr))
        assert r.returncode == 0, out
    return out


# ---------------------------------------------------------------------------
# Stages, run once per layout, in order, each when first needed.


class Stage:
    def __init__(self, fn):
        self.fn = fn
        self.name = fn.__name__

    def __get__(self, obj, cls):
        if obj is None:
            return self

        def run():
            if self.name not in obj.done:
                t0 = time.monotonic()
                try:
                    obj.done[self.name] = (True, self.fn(obj))
                except BaseException as e:  # noqa: BLE001 - kept and raised for every test needing it
                    obj.done[self.name] = (False, e)
                obj.timings[self.name] = time.monotonic() - t0
            good, v = obj.done[self.name]
            if not good:
                if isinstance(v, (pytest.skip.Exception, pytest.xfail.Exception)):
                    raise v
                raise AssertionError(f"stage {self.name} failed: {type(v).__name__}: {v}") from v
            return v
        return run


class Takeover:
    def __init__(self, layout):
        self.layout = layout
        self.done, self.timings = {}, {}
        self.cy = None
        self.suite = None
        self.work = None

    # -- Cyrus --

    @Stage
    def cyrus(self):
        self.cy = cyrus36.CyrusInstance(extra_conf=SITE_CONF + LAYOUTS[self.layout], sieve=True)
        facts = build_site(self.cy, self.layout)
        self.work = os.path.join(self.cy.dir, "client")
        os.makedirs(self.work)
        return facts

    @Stage
    def cyrus_answers(self):
        facts = self.cyrus()
        rc, out, files = mbsync(self.work, self.cy.port)
        answers = record(self.cy.port)
        sieve = record_sieve(self.cy.sieve_port)
        # Files on disk that show the delayed expunge (records and files kept).
        adm_status = answers[ADMIN[0]]["status"]
        disk = {}
        for name in adm_status:
            internal = internal_name(ADMIN[0], name)
            disk[name] = message_files(mailbox_dir(self.cy, internal))
        # The messages and bytes of each #sieve mailbox, by quota root: the admin grants
        # itself the read right for a moment (after everything above was recorded;
        # #sieve mailboxes are in no comparison).
        usage = {}
        adm = Account(self.cy.port, *ADMIN)
        for _, _, name in answers[ADMIN[0]]["list"]:
            if SIEVE_MAILBOX.search(name):
                ok(adm.cmd(f"SETACL {imap_quote(name)} {ADMIN[0]} lrs"))
                r = ok(adm.cmd(f"STATUS {imap_quote(name)} (MESSAGES SIZE)"))
                st = {k: int(v) for k, v in pairs(untagged(r, "STATUS")[0][1]).items()}
                ok(adm.cmd(f"DELETEACL {imap_quote(name)} {ADMIN[0]}"))
                for root in answers[ADMIN[0]]["quotaroot"][name]["roots"][0]:
                    m, b = usage.get(internal_name(ADMIN[0], root), (0, 0))
                    usage[internal_name(ADMIN[0], root)] = (m + st["MESSAGES"], b + st["SIZE"])
        adm.close()
        return {"facts": facts, "imap": answers, "sieve": sieve, "mbsync": (rc, out, files), "disk": disk,
                "sieve_usage": usage}

    @Stage
    def cyrus_stopped(self):
        self.cyrus_answers()
        self.cy.halt()

    # -- the takeover --

    @Stage
    def takeover(self):
        self.cyrus_stopped()
        if not os.access(os.path.join(BIN, "cyr_takeover"), os.X_OK):
            raise AssertionError(f"{BIN}/cyr_takeover does not exist yet")
        self.suite = SuiteOnSite(self.cy)
        r = run_takeover(self.cy, "-v")
        assert r.returncode == 0, f"cyr_takeover exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
        last = [l for l in r.stdout.splitlines() if l.startswith("takeover:")]
        assert last, r.stdout
        m = re.fullmatch(r"takeover: (\d+) mailboxes, (\d+) messages, (\d+) bytes, (\d+) users, (\d+) problems", last[-1])
        assert m, last[-1]
        return {"stdout": r.stdout, "stderr": r.stderr, "summary": tuple(int(x) for x in m.groups())}

    @Stage
    def suite_answers(self):
        self.takeover()
        self.suite.start()
        probe = Account(self.cy.port, *ADMIN)
        caps = probe.caps
        probe.close()
        modseq = "CONDSTORE" in caps
        metadata = "METADATA" in caps
        answers = record(self.cy.port, modseq=modseq, metadata=metadata)
        sieve = record_sieve(self.cy.sieve_port)
        highest = {}
        for login, rec in answers.items():
            for name in rec["status"]:
                internal = internal_name(login, name)
                if internal not in highest:
                    r = suite_tool(self.cy, "mbexamine", internal)
                    m = re.search(r"highestmodseq (\d+)", r.stdout)
                    highest[internal] = int(m.group(1)) if m else (r.returncode, r.stdout[-300:] + r.stderr[-300:])
        return {"imap": answers, "sieve": sieve, "condstore": modseq, "metadata": metadata, "highestmodseq": highest}

    @Stage
    def mbsync_again(self):
        self.suite_answers()
        time.sleep(1.1)  # maildir mtimes: let mbsync see a quiet directory
        return mbsync(self.work, self.cy.port)

    # -- what changes the site: after every answer above was recorded --

    @Stage
    def new_deliveries(self):
        self.suite_answers()
        self.mbsync_again()
        plan = [
            (["fred@cyrus.test"], message(20_000, "[lists] after the takeover", "fred@cyrus.test")),
            (["alice@example.com"], message(20_001, "alpha after the takeover", "alice@example.com", "X-Project: alpha\r\n")),
            (["fred@cyrus.test", "bob@example.com", "carol@example.org", "+shared.team@cyrus.test"],
             message(20_002, "plain after the takeover", "several")),
        ]
        codes = deliver(self.cy.lmtp_socket, plan, connections=1)
        return {"codes": codes, "plan": plan}

    @Stage
    def went_back(self):
        self.new_deliveries()
        self.suite.close()
        steps = go_back(self.cy)
        self.cy.start()
        return steps

    def close(self):
        if self.suite:
            self.suite.close()
        if self.cy:
            self.cy.stop()


@pytest.fixture(scope="module", params=list(LAYOUTS))
def site(request):
    t = Takeover(request.param)
    yield t
    print(f"\n[{request.param}] stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in t.timings.items()))
    t.close()


# ---------------------------------------------------------------------------
# Cyrus's site is what the issue asks for (checked on Cyrus's own answers).


def distinct_mailboxes(imap):
    """{internal name: STATUS} over what every user sees (the admin has no read right
    on users' mailboxes, so STATUS there is NO)."""
    out = {}
    for login in USERS:
        for name, st in imap[login]["status"].items():
            if isinstance(st, dict):
                out.setdefault(internal_name(login, name), st)
    return out


def test_cyrus_site_is_as_built(site):
    c = site.cyrus_answers()
    facts, imap = c["facts"], c["imap"]
    assert facts["delivered"] >= 1000 and not facts["refused"], facts
    # Every account sees its folders; the domain users only their domain's.
    fred_names = {n for _, _, n in imap["fred"]["list"]}
    assert {"INBOX", "INBOX.Work.2024.Q1", "INBOX.Caf&AOk-", "shared.team"} <= fred_names, fred_names
    assert "user.fred.Work" in {n for _, _, n in imap["barney"]["list"]}
    alice_names = {n for _, _, n in imap["alice@example.com"]["list"]}
    assert {"INBOX", "INBOX.Projects.Alpha", "projects"} <= alice_names and not any("shared" in n for n in alice_names)
    admin_names = {n for _, _, n in imap[ADMIN[0]]["list"]}
    assert {"user.alice.Projects.Alpha@example.com", "user.carol@example.org", "user.fred.Caf&AOk-"} <= admin_names
    # 1 000+ messages in all, and expunged ones whose records and files stay.
    boxes = distinct_mailboxes(imap)
    assert sum(st["MESSAGES"] for st in boxes.values()) >= 1000, boxes
    kept = {n: len(files) - boxes[internal_name(ADMIN[0], n)]["MESSAGES"] for n, files in c["disk"].items()
            if internal_name(ADMIN[0], n) in boxes}
    assert sum(kept.values()) > 20, ("delayed expunge keeps the files of expunged messages", kept)
    assert all(st["UIDNEXT"] > st["MESSAGES"] for st in boxes.values() if st["MESSAGES"])
    # Flags, keywords, \Deleted not expunged, internal dates of APPENDs.
    flags = {f for msgs in imap["fred"]["fetch"].values() if isinstance(msgs, list) for _, fl, _, _ in msgs for f in fl}
    assert {"\\Seen", "\\Flagged", "\\Answered", "\\Draft", "\\Deleted", "$Label1", "project-x", "$Forwarded"} <= flags, flags
    sent = imap["fred"]["fetch"]["INBOX.Sent"]
    when = datetime.datetime.strptime(sent[1][2].strip(), "%d-%b-%Y %H:%M:%S %z")
    assert when == datetime.datetime(2023, 3, 2, 1, 17, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=1))), sent[:2]
    # The shared folders' seen state differs between their two readers.
    fs, bs = imap["fred"]["status"]["shared.team"], imap["barney"]["status"]["shared.team"]
    assert fs["MESSAGES"] == bs["MESSAGES"] and fs["UNSEEN"] != bs["UNSEEN"], (fs, bs)
    seen = lambda login, name: [u for u, fl, _, _ in imap[login]["fetch"][name] if "\\Seen" in fl]  # noqa: E731
    assert seen("fred", "shared.team") != seen("barney", "shared.team")
    assert seen("alice@example.com", "projects") != seen("bob@example.com", "projects")
    assert seen("barney", "user.fred.Work") != seen("fred", "INBOX.Work")
    # Cyrus filed by the Sieve scripts.
    lists = imap["fred"]["fetch"]["INBOX.Lists"]
    assert len(lists) >= len(facts["lists_ids"]) - 2 and all("$Listed" in fl and "\\Flagged" in fl for _, fl, _, _ in lists), lists
    assert imap["alice@example.com"]["status"]["INBOX.Projects.Alpha"]["MESSAGES"] >= len(facts["alpha_ids"]) - 2
    assert {n: a for n, (a, _) in c["sieve"]["fred"].items()} == {"lists": True, "vacation-draft": False}
    assert {n: a for n, (a, _) in c["sieve"]["alice@example.com"].items()} == {"projects": True}
    # Subscriptions (Cyrus's LSUB leaves out the deleted INBOX.Temp), quotas, ACLs,
    # metadata (special-use shows in LIST), the deleted folder kept aside (delayed delete).
    assert {n for _, _, n in imap["bob@example.com"]["lsub"]} == {"INBOX.Drafts", "user.alice.Projects", "projects"}
    assert "INBOX.Temp" not in {n for _, _, n in imap["wilma"]["list"] + imap["wilma"]["lsub"]}
    assert any(n.startswith("DELETED.user.wilma.Temp.") for n in admin_names), admin_names
    q = imap["fred"]["quotaroot"]["INBOX"]
    assert q["roots"] == [("INBOX",)] and q["quotas"]["INBOX"][0::3] == ("STORAGE", "MESSAGE"), q
    assert imap["wilma"]["quotaroot"]["INBOX"]["quotas"]["INBOX"][0] == "MESSAGE"
    assert imap["barney"]["quotaroot"]["shared.team"]["roots"] == [("shared",)]
    assert imap["fred"]["acl"]["INBOX.Work"] == {"fred": "lrswipkxtecdan", "barney": "lrs", "anyone": "p"}
    assert imap[ADMIN[0]]["acl"]["shared.team"].get("-wilma") == "lr"
    md = imap["fred"]["metadata"]["INBOX"]
    assert (md["/private/comment"], md["/shared/comment"]) == ("fred's own note", "fred's shared note"), md
    assert imap["barney"]["metadata"]["user.fred.Work"]["/private/comment"] is None
    assert imap["bob@example.com"]["metadata"]["user.alice.Projects"]["/shared/comment"] == "for bob too"
    assert imap[ADMIN[0]]["metadata"][""] == {"/shared/comment": "site of the takeover test"}
    assert (("\\HasNoChildren", "\\Sent"), ".", "INBOX.Sent") in imap["fred"]["list"]
    # mbsync copied alice's mail.
    rc, out, files = c["mbsync"]
    counts = mbsync_counters(out)
    assert rc == 0 and counts, out
    assert counts["near"][0] == len(files) >= 100 and counts["far"] == (0, 0, 0), (counts, len(files))


# ---------------------------------------------------------------------------
# The takeover, and the suite's answers against Cyrus's.


def test_takeover_summary(site):
    c = site.cyrus_answers()
    t = site.takeover()
    mailboxes, messages, size, users, problems = t["summary"]
    assert problems == 0, t["stdout"]
    assert users == len(USERS), t["stdout"]
    # Every mailbox the admin lists, but the #sieve ones (their scripts become files).
    listed = [n for _, _, n in c["imap"][ADMIN[0]]["list"] if not SIEVE_MAILBOX.search(n)]
    assert mailboxes == len(listed), (t["stdout"], sorted(listed))
    boxes = distinct_mailboxes(c["imap"])
    assert messages >= sum(st["MESSAGES"] for st in boxes.values()), t["stdout"]
    seen_sizes = {}
    for login in USERS:
        for name, msgs in c["imap"][login]["fetch"].items():
            if isinstance(msgs, list):
                seen_sizes[internal_name(login, name)] = sum(m[3] for m in msgs)
    assert size >= sum(seen_sizes.values()), t["stdout"]


SIEVE_MAILBOX = re.compile(r"\.#sieve(@|$)")


def selectable(site, login):
    """The mailboxes `login` got a STATUS/FETCH answer for from Cyrus, but the #sieve
    ones (see without_sieve_mailboxes)."""
    names = site.cyrus_answers()["imap"][login]["status"]
    return [n for n in names if not SIEVE_MAILBOX.search(n)]


def without_sieve_mailboxes(cyrus_list):
    """Cyrus 3.6 shows each user's `#sieve` mailbox to the admin: its own store of
    Sieve scripts, which cyr_takeover turns into the suite's script files, not a folder
    (cyr_takeover(8)). Those entries are left out of the admin's comparison; everything
    else must match."""
    return [e for e in cyrus_list if not SIEVE_MAILBOX.search(e[2])]


def describe(cy, su):
    """What differs between Cyrus's answer and the suite's, briefly."""
    if isinstance(cy, list) and isinstance(su, list):
        if cy and isinstance(cy[0], tuple) and len(cy[0]) == 4 and isinstance(cy[0][0], int):  # FETCH
            c, s_ = {m[0]: m[1:] for m in cy}, {m[0]: m[1:] for m in su}
            bad = [f"UID {u}: Cyrus {c.get(u)}, suite {s_.get(u)}" for u in sorted(set(c) | set(s_)) if c.get(u) != s_.get(u)]
            return f"{len(bad)} of {len(cy)} messages differ: " + "; ".join(bad[:4])
        only_c = [e for e in cy if e not in su]
        only_s = [e for e in su if e not in cy]
        return f"only Cyrus: {only_c[:6]}; only the suite: {only_s[:6]}" + ("" if only_c or only_s else f" (order: {cy} / {su})")
    if isinstance(cy, dict) and isinstance(su, dict):
        keys = sorted(set(cy) | set(su), key=str)
        return "; ".join(f"{k}: Cyrus {cy.get(k)!r}, suite {su.get(k)!r}" for k in keys if cy.get(k) != su.get(k))
    return f"Cyrus {cy!r}, suite {su!r}"


def same(items, what):
    """items: (where, Cyrus's answer, the suite's); fails listing every difference.
    (The last known differences, all imapd behaviours of issue 16 — domain users
    seeing the default domain's shared folders, admins with every right, admins not
    naming another domain's mailboxes — are gone: nothing is excused any more.)"""
    diffs = [f"  {where}: {describe(c, s_)}" for where, c, s_ in items if c != s_]
    if diffs:
        raise AssertionError(f"{len(diffs)} {what} answers differ from Cyrus's:\n" + "\n".join(diffs[:60]))


def test_list(site):
    cy, su = site.cyrus_answers()["imap"], site.suite_answers()["imap"]
    same([(login, without_sieve_mailboxes(cy[login]["list"]) if login == ADMIN[0] else cy[login]["list"], su[login]["list"])
          for login in ACCOUNTS], 'LIST "" "*"')


def test_lsub(site):
    cy, su = site.cyrus_answers()["imap"], site.suite_answers()["imap"]
    same([(login, cy[login]["lsub"], su[login]["lsub"]) for login in ACCOUNTS], 'LSUB "" "*"')


def each_mailbox(site, key, extra=()):
    cy, su = site.cyrus_answers()["imap"], site.suite_answers()["imap"]
    for login in ACCOUNTS:
        for name in list(selectable(site, login)) + [e for e in extra if login != ADMIN[0] or e == ""]:
            yield (login, name), cy[login][key][name], su[login][key].get(name, "(no answer)")


def test_status_messages_uidnext_uidvalidity_unseen(site):
    def strip(v):
        return {k: x for k, x in v.items() if k != "HIGHESTMODSEQ"} if isinstance(v, dict) else v
    same([(w, strip(c), strip(s_)) for w, c, s_ in each_mailbox(site, "status")], "STATUS (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")


def test_highestmodseq(site):
    """STATUS HIGHESTMODSEQ needs CONDSTORE (issue 15). Until the suite has it, the
    mailbox's HIGHESTMODSEQ is read with the suite's mbexamine instead; both ways it
    must be Cyrus's."""
    s = site.suite_answers()
    items = []
    for (login, name), c, su in each_mailbox(site, "status"):
        if not isinstance(c, dict):
            continue
        if s["condstore"]:
            items.append(((login, name, "STATUS"), c["HIGHESTMODSEQ"], su.get("HIGHESTMODSEQ") if isinstance(su, dict) else su))
        items.append(((login, name, "mbexamine"), c["HIGHESTMODSEQ"], s["highestmodseq"][internal_name(login, name)]))
    same(items, "HIGHESTMODSEQ")


def test_uid_fetch_flags_internaldate_size(site):
    same(each_mailbox(site, "fetch"), "UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE)")


def test_getacl(site):
    same(each_mailbox(site, "acl"), "GETACL")


def quota_expected(site, login, cy):
    """Cyrus's GETQUOTAROOT answer as the suite must give it: the same, except that the
    usage of a quota root holding a user's #sieve mailbox (whose messages are Cyrus's
    copies of the Sieve scripts and become script files, cyr_takeover(8)) drops by that
    mailbox's messages and bytes. STORAGE is in KiB rounded down, so the suite's may be
    either of the two values the exact byte count allows: a (low, high) pair here."""
    if not isinstance(cy, dict):
        return cy
    usage = site.cyrus_answers()["sieve_usage"]
    quotas = {}
    for root, res in cy["quotas"].items():
        msgs, size = usage.get(internal_name(login, root), (0, 0))
        out = []
        for i in range(0, len(res), 3):
            name, used, limit = res[i], int(res[i + 1]), res[i + 2]
            if name == "MESSAGE":
                out += [name, str(used - msgs), limit]
            elif name == "STORAGE" and size:
                out += [name, ((used * 1024 - size) // 1024, (used * 1024 + 1023 - size) // 1024), limit]
            else:
                out += [name, str(used), limit]
        quotas[root] = tuple(out)
    return {"roots": cy["roots"], "quotas": quotas}


def quota_matches(want, got):
    if not (isinstance(want, dict) and isinstance(got, dict)):
        return want == got
    if want["roots"] != got["roots"] or set(want["quotas"]) != set(got["quotas"]):
        return False
    for root, w in want["quotas"].items():
        g = got["quotas"][root]
        if len(w) != len(g):
            return False
        for a, b in zip(w, g):
            if isinstance(a, tuple):
                if not (b.isdigit() and a[0] <= int(b) <= a[1]):
                    return False
            elif a != b:
                return False
    return True


def test_getquotaroot(site):
    items = []
    for (login, name), c, su in each_mailbox(site, "quotaroot", extra=["INBOX"]):
        want = quota_expected(site, login, c)
        items.append(((login, name), want, want if quota_matches(want, su) else su))
    same(items, "GETQUOTAROOT")


def test_getmetadata(site):
    s = site.suite_answers()
    if not s["metadata"]:
        pytest.xfail("the suite has no METADATA extension yet (issue 15): GETMETADATA answers BAD, so the "
                     "annotations cyr_takeover carries cannot be compared over IMAP")
    same(each_mailbox(site, "metadata", extra=[""]), "GETMETADATA")


def test_sieve_scripts_listed_and_active(site):
    assert site.suite_answers()["sieve"] == site.cyrus_answers()["sieve"]


def test_second_mbsync_changes_nothing(site):
    _, out_before, files_before = site.cyrus_answers()["mbsync"]
    rc, out, files = site.mbsync_again()
    assert rc == 0, out
    counts = mbsync_counters(out)
    assert counts, f"no progress counters in mbsync's output:\n{out}"
    assert counts["boxes"] == mbsync_counters(out_before)["boxes"], (out_before, out)
    assert counts["far"] == (0, 0, 0) and counts["near"] == (0, 0, 0), out
    assert files == files_before, "the second mbsync changed the Maildir"


def test_new_delivery_filed_by_migrated_sieve(site):
    d = site.new_deliveries()
    assert all(set(c) == {250} for c in d["codes"].values()), d["codes"]
    for login, folder, i in (("fred", "INBOX.Lists", 20_000), ("alice@example.com", "INBOX.Projects.Alpha", 20_001)):
        a = Account(site.cy.port, login, USERS[login])
        ok(a.cmd(f"EXAMINE {imap_quote(folder)}"))
        r = ok(a.cmd(f'UID SEARCH HEADER Message-ID "<m{i}@takeover.test>"'))
        uids = re.findall(rb"\d+", r[0].split(b"SEARCH", 1)[1]) if b"SEARCH" in r[0] else []
        assert len(uids) == 1, (login, folder, r)
        if login == "fred":
            r = ok(a.cmd(b"UID FETCH " + uids[0] + b" (FLAGS)"))
            assert b"\\Flagged" in r[0] and b"$Listed" in r[0], r
        ok(a.cmd("UNSELECT"))
        # and not in INBOX.
        ok(a.cmd('EXAMINE "INBOX"'))
        r = ok(a.cmd(f'UID SEARCH HEADER Message-ID "<m{i}@takeover.test>"'))
        assert not re.search(rb"SEARCH \d", r[0]), (login, "also in INBOX", r)
        a.close()


def test_going_back_to_cyrus_loses_no_message(site):
    """cyr_takeover(8), GOING BACK TO CYRUS: after the suite delivered mail, Cyrus on its
    kept files plus reconstruct serves every message: those it had (same UIDVALIDITY
    and UIDs) and those the suite delivered."""
    c = site.cyrus_answers()
    d = site.new_deliveries()
    site.went_back()
    before = c["imap"]
    for login in USERS:
        a = Account(site.cy.port, login, USERS[login])
        for name in selectable(site, login):
            want = before[login]["status"][name]
            if not isinstance(want, dict):
                continue
            st = a.status(name, modseq=False)
            assert isinstance(st, dict) and st["UIDVALIDITY"] == want["UIDVALIDITY"], (login, name, st, want)
            now = a.fetch(name)
            had = before[login]["fetch"][name]
            lost = sorted({m[0] for m in had} - {m[0] for m in now})
            assert not lost, (login, name, "messages lost going back to Cyrus", lost[:10])
            # Nothing changed the old messages under the suite: Cyrus's kept index
            # gives them back as they were (flags, dates, sizes).
            changed = [m for m in had if m not in now]
            assert not changed, (login, name, "old messages changed going back", changed[:5])
        a.close()
    expect = {("fred", "INBOX.Lists", 20_000), ("alice@example.com", "INBOX.Projects.Alpha", 20_001),
              ("fred", "INBOX", 20_002), ("bob@example.com", "INBOX", 20_002), ("carol@example.org", "INBOX", 20_002),
              ("fred", "shared.team", 20_002)}
    for login, folder, i in sorted(expect):
        a = Account(site.cy.port, login, USERS[login])
        ok(a.cmd(f"EXAMINE {imap_quote(folder)}"))
        r = ok(a.cmd(f'UID SEARCH HEADER Message-ID "<m{i}@takeover.test>"'))
        assert re.search(rb"\* SEARCH \d+", r[0]), (login, folder, i, "delivered by the suite, not served by Cyrus", r)
        a.close()
    assert d["codes"]
