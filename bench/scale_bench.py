#!/usr/bin/env python3
"""suite-bench scale and mixed: how costs grow, and a mixed load, the suite against Debian's Cyrus 3.6.

Two workloads, each run against a private instance of the suite and one of Debian's
Cyrus 3.6 in turn (one running at a time, laid in temp dirs by imap_bench's
SuiteServer and CyrusServer: plain IMAP on loopback, LMTP on a unix socket, sasldb
passwords, Cyrus with idled), measured with imap_bench's raw-socket client; each
prints a table with the ratio suite/cyrus (literally: below 1 is better for times,
above 1 for rates; the `better` column says which) and, with --json FILE, writes the
raw figures.

  python3 bench/scale_bench.py scale [--sizes 1000,10000,100000[,1000000]]
      [--folders 10,1000,10000] [--users 1000,10000[,100000]] [--parts a,b,c]
      [--server suite,cyrus] [--cyrus-max-size 100000] [--json FILE]

"Cost grows no faster than the work". Each part runs on a fresh instance of each
server, and grows one mailbox, user or site in place from the smallest size to the
largest (topped up between sizes, so filling costs the largest size once):

  a. fred's INBOX of N messages (~2 KiB each; pipelined LMTP over the unix socket,
     one round trip a message, not timed): SELECT INBOX, FETCH 1:* (FLAGS), UID
     SEARCH HEADER Subject <a word in 1% of the messages> (median of --runs fresh
     sessions each); UID STORE +FLAGS (\\Flagged) on a random 1% of the UIDs (median
     of --runs; undone untimed); APPEND of one message and UID STORE of one flag on
     one message (median of --singles; APPEND also from a session with nothing
     selected, which tells the append from a selected session's catching up);
     EXPUNGE after 1% were marked \\Deleted (once); LMTP to IDLE: a client IDLEs, one
     message is delivered by LMTP, the time to `* N EXISTS` (imap_bench's
     idle_latency: median of --idle-rounds after a warm-up; with the LMTP
     transaction's own time). Cyrus is left out of sizes over --cyrus-max-size
     (100 000): its filling at a few hundred messages a second would take about an
     hour for 1 000 000 (the table says so).
  b. one user (wilma) with F folders, created by the user with pipelined CREATE and
     all subscribed: LIST "" "*", LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))
     and LSUB "" "*" (median of --runs). The folders are empty.
  c. a site of U users (uNNNNNN, all with one password, written to the sasldb in
     one batch with Berkeley DB's db_load, which takes half a second for 100 000;
     their INBOXes made by the admin with pipelined CREATE user.uNNNNNN): LMTP
     deliveries per second (one message each to --deliveries random users,
     concurrency 4, one transaction each, 4 connections), IMAP connect+LOGIN+LOGOUT
     per second with 4 threads as random users (for --login-seconds), and the
     mailbox list's size on disk (the suite: the LMDB files of the mailbox list in
     its config directory; Cyrus: conf/mailboxes.db).

  Printed: per part, a row per operation and size: ms per operation (or the rate),
  suite, cyrus and suite/cyrus; then each server's growth factor from the smallest
  to the largest size of every operation beside the growth of the work it does (x1
  for an operation on one message: such a factor should stay near 1).

  python3 bench/scale_bench.py mixed [--clients 10,100,500] [--seconds 30]
      [--pool 50] [--prefill 200] [--lmtp-rate 20] [--server suite,cyrus] [--json FILE]

A mixed load like real use, on one instance of each server for all levels: --pool
users, each INBOX pre-filled with --prefill messages; for each level, N client
threads, client k logged in as user k % pool (so users are shared between clients at
100 and 500), each in a loop without think time doing a random mix (weights in MIX):
SELECT INBOX; FETCH of the last 20 messages' BODY.PEEK[HEADER.FIELDS (From Subject
Date)]; FETCH BODY.PEEK[] of a random message; STORE +FLAGS (\\Seen) or (\\Flagged) on
a random message; APPEND of a message; EXPUNGE after marking one random message
\\Deleted; IDLE for --idle-seconds (1 s) then DONE. The clients log in one after the
other before the clock starts (all at once, Cyrus's master forks imapd too slowly
for the listen queue and connections time out). Meanwhile an LMTP process (not a
thread: among hundreds of client threads it would wait for the GIL) delivers to
random pool users at --lmtp-rate a second. Every message (pre-fill, LMTP, APPEND)
carries a unique X-Bench-Marker header; after each level every INBOX is read back,
and each acknowledged marker not chosen for deletion must be there exactly once.

  Printed, per level and server: commands per second, p50 and p99 latency (ms) of all
  commands (IDLE counted from DONE to its tagged OK), errors (a NO or BAD, a
  disconnect, a timeout; the client reconnects), lost and duplicated messages,
  LMTP deliveries acknowledged, the client's CPU (percent of one core: the threads
  share one GIL, so near 100 % means the client, not the server, is the limit) and
  the server's CPU (its master's tree, reaped workers included: percent of one core)
  and the whole machine's busy CPU (percent of all cores: anything else running
  shows there); and p50/p99 of each command kind. At 10 clients the rate is set by
  the 1 s IDLEs (an eighth of the steps), the same for both servers: compare the
  latencies there.

Run times on the project's 2-core machine (2026-12-05): `scale` with the defaults about
19 min (part a 12: filling 100 000 messages takes the suite ~2.5 min and Cyrus ~4.5
min; b 3.5; c 3.5); `--sizes ...,1000000` adds the suite alone filling 900 000 more
at 550-850 messages a second, 20-30 min; `--users ...,100000` adds 90 000 CREATEs,
~6 min for the suite and ~12 for Cyrus. `mixed` with the defaults about 8 min.

Run as root with the suite built (SUITE_BIN, default target/release after cargo build
--release) and Cyrus installed (scripts/deps --cyrus); db_load (db-util) for part c.
Both master processes get maxchild raised to the client count (and the open-file
limit is raised to its hard limit). A benchmark, never a test.
"""

import argparse
import atexit
import json
import multiprocessing
import os
import pwd
import queue
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from imap_bench import (EXISTS, HEADER_WORD, PASSWORD, USER, WORDS, CyrusServer, Imap, ImapError, Lmtp,  # noqa: E402
                        SuiteServer, idle_latency, search_count, stop_servers, timed)
import cyrus36  # noqa: E402  (imap_bench has put tests/ on the path)
from lmtp_bench import tree_cpu  # noqa: E402

ADMIN, ADMIN_PW = cyrus36.ADMIN, cyrus36.PASSWORD
LINE = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE)\r$", re.M)
MARKER = re.compile(rb"X-Bench-Marker: (\S+)", re.I)


# --------------------------------------------------------------------------- servers

def make_server(name, prefork=8, maxchild=600):
    """A SuiteServer or CyrusServer (not started) with an admin, the same namespace
    (netnews, '.'), and the imap service's maxchild raised to maxchild."""
    s = SuiteServer(prefork) if name == "suite" else CyrusServer(prefork)
    conf = s.inst.cyrus_conf if name == "suite" else os.path.join(s.dir, "cyrus.conf")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:  # an existing file keeps its owner
        f.write(text.replace("maxchild=500", f"maxchild={maxchild}"))
    if name == "suite":
        with open(s.inst.conf, "a") as f:
            f.write(f"admins: {ADMIN}\naltnamespace: no\nunixhierarchysep: no\n")
        add_passwords(s, [ADMIN], ADMIN_PW)
    return s


def sasldb(server):
    """(path, realm) of a server's sasldb."""
    if server.name == "suite":
        return f"{server.dir}/config/sasldb2", "suite.test"
    return f"{server.dir}/sasldb2", "cyrus.test"


def add_passwords(server, users, password):
    """Adds users (one password for all) to the server's sasldb in one db_load batch:
    the records saslpasswd2 writes (user NUL realm NUL userPassword), half a second
    for 100 000 where saslpasswd2 would take a process each."""
    path, realm = sasldb(server)
    lines = ["VERSION=3", "format=print", "type=hash", "HEADER=END"]
    for u in users:
        lines += [f" {u}\\00{realm}\\00userPassword", f" {password}"]
    lines.append("DATA=END")
    subprocess.run(["db_load", path], input=("\n".join(lines) + "\n").encode(), check=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("cyrus")
        os.chown(path, pw.pw_uid, pw.pw_gid)


def pipeline(c, commands, batch=400):
    """Sends commands in batches (one write each) and reads every tagged reply; returns
    the replies that were not OK."""
    bad = []
    for i in range(0, len(commands), batch):
        tags, out = [], bytearray()
        for text in commands[i:i + batch]:
            c.n += 1
            tags.append(b"b%d" % c.n)
            out += tags[-1] + b" " + text + b"\r\n"
        c.sendall(bytes(out))
        for tag in tags:
            _, tagged = c.read_tagged(tag)
            if tagged.split(b" ", 2)[1:2] != [b"OK"]:
                bad.append(tagged)
    return bad


def session(port, user=USER, password=PASSWORD, timeout=300):
    c = Imap(port, timeout=timeout)
    c.cmd(b"LOGIN " + user.encode() + b" " + password.encode())
    return c


def logout(c):
    try:
        c.cmd(b"LOGOUT", ok=False)
    except (OSError, EOFError, ImapError):
        pass
    c.close()


def admin_create(server, names, conns=1):
    """The admin creates mailboxes (pipelined, over `conns` sessions at once); returns
    seconds taken."""
    bad = []

    def one(part):
        c = session(server.port, ADMIN, ADMIN_PW)
        bad.extend(pipeline(c, [b"CREATE " + n.encode() for n in part]))
        logout(c)

    secs = run_threads(one, [(names[k::conns],) for k in range(conns)])
    if bad:
        raise SystemExit(f"[{server.name}] {len(bad)} CREATEs refused, e.g. {bad[0]!r}")
    return secs


def mailbox_list_bytes(server):
    """Bytes on disk of the mailbox list: the suite's LMDB files named mailboxes* in
    its config directory, Cyrus's conf/mailboxes.db."""
    if server.name == "suite":
        root = f"{server.dir}/config"
        total = 0
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                if os.path.relpath(p, root).startswith("mailboxes"):
                    total += os.stat(p).st_blocks * 512
        return total
    return os.stat(f"{server.dir}/conf/mailboxes.db").st_blocks * 512


def run_threads(fn, arglists):
    """Runs fn(*args) for each args in a thread of its own, all at once; returns the
    seconds until the last ended."""
    t = time.perf_counter()
    threads = [threading.Thread(target=fn, args=a) for a in arglists]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------- messages

class Corpus:
    """Small messages (~size bytes) made on demand from a seed: message i has a unique
    Message-ID and X-Bench-Marker, and HEADER_WORD in its Subject when i % 100 == 42."""

    def __init__(self, seed, size=2048, to=USER):
        rnd = random.Random(seed)
        self.seed, self.to = seed, to
        self.bodies = []
        for _ in range(64):
            lines, n = [], 0
            while n < size - 400:
                s = " ".join(rnd.choices(WORDS, k=rnd.randint(8, 12)))
                lines.append(s[0].upper() + s[1:] + ".")
                n += len(lines[-1]) + 2
            self.bodies.append(("\r\n".join(lines) + "\r\n").encode())

    def message(self, i, marker=None, to=None):
        word = f" {HEADER_WORD}" if i % 100 == 42 else ""
        marker = marker or f"{self.seed}-{i}"
        head = (f"From: Sender {i % 97} <sender{i % 97}@example.org>\r\nTo: {to or self.to}@example.org\r\n"
                f"Subject: Note {i}{word} {WORDS[i % len(WORDS)]}\r\nDate: Mon, 01 Dec 2025 08:00:00 +0000\r\n"
                f"Message-ID: <bench.{marker}@example.org>\r\nX-Bench-Marker: {marker}\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
        return head.encode() + self.bodies[i % len(self.bodies)]

    def range(self, start, stop):
        return [self.message(i) for i in range(start, stop)]


def fill(server, rcpt, corpus, start, stop, chunk=5000):
    """Delivers corpus messages start..stop-1 to rcpt over one pipelined LMTP
    connection (imap_bench's Lmtp.fill, a chunk at a time); returns seconds."""
    t = time.perf_counter()
    lm = Lmtp(server.lmtp)
    try:
        for k in range(start, stop, chunk):
            lm.fill(rcpt, corpus.range(k, min(k + chunk, stop)))
    finally:
        lm.close()
    return time.perf_counter() - t


# --------------------------------------------------------------------------- reporting

def ms(v):
    if v is None:
        return "-"
    v *= 1000
    return f"{v:.2f}" if v < 10 else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def num(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if abs(v) >= 100 else (f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}")


def print_table(title, head, rows, names):
    """rows: (label, param, {server: number}, formatter, better). A ratio column
    suite/cyrus when both servers ran."""
    print()
    print(title)
    both = "suite" in names and "cyrus" in names
    lw = max([len(head)] + [len(r[0]) for r in rows]) + 1
    pw = max([7] + [len(str(r[1])) + 1 for r in rows])
    line = f"{head:<{lw}}{'':>{pw}}" + "".join(f"{n:>11}" for n in names)
    print(line + (f"{'suite/cyrus':>13}" if both else "") + f"{'better':>8}")
    for label, param, vals, fmt, better in rows:
        line = f"{label:<{lw}}{param:>{pw}}" + "".join(f"{fmt(vals.get(n)):>11}" for n in names)
        if both:
            a, b = vals.get("suite"), vals.get("cyrus")
            line += f"{(a / b if a is not None and b else float('nan')):>13.2f}" if a is not None and b is not None else f"{'-':>13}"
        print(line + f"{better:>8}")


def print_growth(title, ops, results, names, sizes):
    """Each server's value at the largest size it ran over its value at the smallest."""
    print()
    print(title)
    lw = max(len(op[1]) for op in ops) + 1
    print(f"{'operation':<{lw}}{'work grows':>12}" + "".join(f"{n:>11}" for n in names))
    for key, label, per_message in ops:
        line = f"{label:<{lw}}"
        work = "x1" if per_message else f"x{sizes[-1] // sizes[0]}"
        line += f"{work:>12}"
        for n in names:
            got = [(s, results[n][str(s)][key]) for s in sizes if str(s) in results.get(n, {})
                   and results[n][str(s)].get(key)]
            line += f"{('x%.2f' % (got[-1][1] / got[0][1]) + ('' if got[-1][0] == sizes[-1] else '*')) if len(got) > 1 else '-':>11}"
        print(line)


def write_json(path, args, results):
    if path:
        with open(path, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)


# --------------------------------------------------------------------------- scale: a. one big INBOX

def uidset(uids):
    """A compact UID set: runs of consecutive UIDs as a:b."""
    out, uids = [], sorted(uids)
    i = 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        out.append(str(uids[i]) if i == j else f"{uids[i]}:{uids[j]}")
        i = j + 1
    return ",".join(out).encode()


def chunked_store(c, uids, what, per=4000):
    """UID STORE on uids, at most `per` a command (a command line stays under 64 KiB);
    returns (seconds, commands, FETCH responses)."""
    t, fetches, k = 0.0, 0, 0
    for i in range(0, len(uids), per):
        d, (data, _) = timed(lambda: c.cmd(b"UID STORE " + uidset(uids[i:i + per]) + b" " + what))
        t += d
        fetches += data.count(b" FETCH ")
        k += 1
    return t, k, fetches


def all_uids(c):
    data, _ = c.cmd(b"UID SEARCH ALL")
    for line in data.split(b"\r\n"):
        if line.startswith(b"* SEARCH"):
            return [int(x) for x in line.split()[2:]]
    return []


def appends(c, corpus, extra, k):
    """The median time of k APPENDs of one new message each to INBOX."""
    took = []
    for _ in range(k):
        msg = corpus.message(extra[0])
        extra[0] += 1
        took.append(timed(lambda: c.cmd(b"APPEND INBOX {%d+}\r\n" % len(msg) + msg))[0])
    return statistics.median(took)


def measure_inbox(server, n, args, corpus, extra):
    """One size of part a; fred's INBOX holds n messages when it starts."""
    out, notes = {}, []
    rnd = random.Random(args.seed + n)
    c = session(server.port)
    c.cmd(b"SELECT INBOX")
    c.cmd(b"FETCH 1:* (FLAGS)")  # warm-up, untimed
    logout(c)
    runs = {"select": [], "fetch_flags": [], "search_header": []}
    hits = None
    for _ in range(args.runs):
        c = session(server.port)
        d, (data, _) = timed(lambda: c.cmd(b"SELECT INBOX"))
        runs["select"].append(d)
        m = EXISTS.search(data)
        if not m or int(m.group(1)) != n:
            notes.append(f"SELECT at {n}: {m and int(m.group(1))} messages")
        d, (data, _) = timed(lambda: c.cmd(b"FETCH 1:* (FLAGS)"))
        runs["fetch_flags"].append(d)
        if data.count(b" FETCH ") != n:
            notes.append(f"FETCH 1:* (FLAGS) at {n}: {data.count(b' FETCH ')} responses")
        d, (data, _) = timed(lambda: c.cmd(b"UID SEARCH HEADER Subject " + HEADER_WORD.encode()))
        runs["search_header"].append(d)
        hits = search_count(data)
        logout(c)
    out.update({k: statistics.median(v) for k, v in runs.items()})
    out["search_hits"] = hits

    c = session(server.port)
    c.cmd(b"SELECT INBOX")
    uids = all_uids(c)
    k1 = max(1, n // 100)
    store = []
    for _ in range(args.runs):
        sample = sorted(rnd.sample(uids, k1))
        d, cmds, fetches = chunked_store(c, sample, b"+FLAGS (\\Flagged)")
        store.append(d)
        if fetches != k1:
            notes.append(f"UID STORE 1% at {n}: {fetches} FETCH responses for {k1} messages")
        chunked_store(c, sample, b"-FLAGS.SILENT (\\Flagged)")
    out["store_1pct"], out["store_1pct_commands"] = statistics.median(store), cmds

    one = []
    for _ in range(args.singles):
        uid = rnd.choice(uids)
        for what in (b"+FLAGS (\\Flagged)", b"-FLAGS (\\Flagged)"):
            d, (data, _) = timed(lambda: c.cmd(b"UID STORE %d " % uid + what))
            one.append(d)
    out["store_one"] = statistics.median(one)

    out["append"] = appends(c, corpus, extra, args.singles)
    c2 = session(server.port)  # authenticated, nothing selected
    out["append_unselected"] = appends(c2, corpus, extra, args.singles)
    logout(c2)

    uids = all_uids(c)
    sample = sorted(rnd.sample(uids, k1))
    chunked_store(c, sample, b"+FLAGS.SILENT (\\Deleted)")
    out["expunge_1pct"], (data, _) = timed(lambda: c.cmd(b"EXPUNGE"))
    if data.count(b" EXPUNGE\r\n") != k1:
        notes.append(f"EXPUNGE at {n}: {data.count(b' EXPUNGE')} expunged of {k1} marked")
    logout(c)

    idle_msgs = [corpus.message(extra[0] + k) for k in range(args.idle_rounds + 1)]
    extra[0] += args.idle_rounds + 1
    idle = idle_latency(server, args.idle_rounds, idle_msgs)
    out["idle"], out["idle_p90"], out["idle_missed"] = idle["median"], idle["p90"], idle["missed"]
    out["idle_lmtp"] = idle["lmtp"]
    if idle["missed"]:
        notes.append(f"IDLE at {n}: {idle['missed']} deliveries without EXISTS in 15 s")
    return out, notes


def count_inbox(server, user=USER):
    c = session(server.port, user)
    data, _ = c.cmd(b"SELECT INBOX")
    logout(c)
    return int(EXISTS.search(data).group(1))


def part_inbox(server, args, sizes, log):
    res = {}
    corpus = Corpus(args.seed)
    extra = [10_000_000]  # indexes of the messages APPENDed or delivered during the timings
    delivered = 0
    for n in sizes:
        have = count_inbox(server)
        need = n - have
        if need > 0:
            secs = fill(server, USER, corpus, delivered, delivered + need)
            delivered += need
            log(f"filled to {n} messages: {need} over LMTP in {secs:.1f} s ({need / secs:.0f}/s)")
            os.sync()
        out, notes = measure_inbox(server, n, args, corpus, extra)
        out["fill_rate"] = need / secs if need > 0 else None
        out["notes"] = notes
        res[str(n)] = out
        for note in notes:
            log("CHECK: " + note)
        log(f"N={n}: " + ", ".join(f"{k} {ms(v)} ms" for k, v in out.items() if k in INBOX_KEYS))
    return res


INBOX_OPS = [
    # key, label, per message
    ("select", "SELECT INBOX", False),
    ("fetch_flags", "FETCH 1:* (FLAGS)", False),
    ("search_header", f"UID SEARCH HEADER Subject {HEADER_WORD} (1% hit)", False),
    ("store_1pct", "UID STORE +FLAGS (\\Flagged), 1% of the UIDs", False),
    ("expunge_1pct", "EXPUNGE of 1% (marked \\Deleted first)", False),
    ("append", "APPEND one message (INBOX selected)", True),
    ("append_unselected", "APPEND one message (nothing selected)", True),
    ("store_one", "UID STORE one flag on one message", True),
    ("idle", "LMTP -> IDLE `* N EXISTS`", True),
    ("idle_lmtp", "  of which the LMTP transaction", True),
]
INBOX_KEYS = {k for k, _, _ in INBOX_OPS}


# --------------------------------------------------------------------------- scale: b. many folders

FOLDER_USER = "wilma"


def measure_folders(server, f, args):
    out, notes = {}, []
    runs = {"list": [], "list_status": [], "lsub": []}
    for _ in range(args.runs + 1):  # the first is a warm-up
        c = session(server.port, FOLDER_USER)
        d1, (d_list, _) = timed(lambda: c.cmd(b'LIST "" "*"'))
        d2, (d_status, _) = timed(lambda: c.cmd(b'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))'))
        d3, (d_lsub, _) = timed(lambda: c.cmd(b'LSUB "" "*"'))
        logout(c)
        for k, d in (("list", d1), ("list_status", d2), ("lsub", d3)):
            runs[k].append(d)
    out.update({k: statistics.median(v[1:]) for k, v in runs.items()})
    out["listed"] = d_list.count(b"* LIST ")
    out["statuses"] = d_status.count(b"* STATUS ")
    out["lsubbed"] = d_lsub.count(b"* LSUB ")
    if out["listed"] < f + 1:
        notes.append(f"LIST at {f}: {out['listed']} mailboxes, expected {f + 1}")
    if out["statuses"] < f + 1:
        notes.append(f"LIST-STATUS at {f}: {out['statuses']} STATUS responses, expected {f + 1}")
    if out["lsubbed"] < f:
        notes.append(f"LSUB at {f}: {out['lsubbed']} mailboxes, expected {f}")
    return out, notes


def part_folders(server, args, counts, log):
    res = {}
    admin_create(server, [f"user.{FOLDER_USER}"])
    have = 0
    for f in counts:
        names = [f"INBOX.f{i:06d}".encode() for i in range(have, f)]
        c = session(server.port, FOLDER_USER)
        t = time.perf_counter()
        bad = pipeline(c, [b"CREATE " + n for n in names])
        secs = time.perf_counter() - t
        bad += pipeline(c, [b"SUBSCRIBE " + n for n in names])
        logout(c)
        if bad:
            raise SystemExit(f"[{server.name}] {len(bad)} CREATE/SUBSCRIBE refused, e.g. {bad[0]!r}")
        log(f"{f} folders: {len(names)} created in {secs:.1f} s, all subscribed")
        have = f
        out, notes = measure_folders(server, f, args)
        out["create_rate"] = len(names) / secs if names else None
        out["notes"] = notes
        for note in notes:
            log("CHECK: " + note)
        log(f"F={f}: " + ", ".join(f"{k} {ms(out[k])} ms" for k in ("list", "list_status", "lsub")))
        res[str(f)] = out
    return res


FOLDER_OPS = [
    ("list", 'LIST "" "*"', False),
    ("list_status", 'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))', False),
    ("lsub", 'LSUB "" "*" (all subscribed)', False),
]


# --------------------------------------------------------------------------- scale: c. many users

def user_name(i):
    return f"u{i:06d}"


def lmtp_rate(server, users, corpus, first, concurrency=4):
    """One message each to `users`, `concurrency` LMTP connections; (per second, p50, errors)."""
    jobs = queue.Queue()
    for k, u in enumerate(users):
        jobs.put((u, corpus.message(first + k, to=u)))
    lat, errors, lock = [], [], threading.Lock()

    def worker():
        lm = Lmtp(server.lmtp)
        mine = []
        try:
            while True:
                try:
                    u, m = jobs.get_nowait()
                except queue.Empty:
                    return
                t = time.perf_counter()
                try:
                    lm.deliver(u, m)
                    mine.append(time.perf_counter() - t)
                except (OSError, EOFError, ImapError) as e:
                    with lock:
                        errors.append(repr(e))
                    lm.close()
                    lm = Lmtp(server.lmtp)
        finally:
            lm.close()
            with lock:
                lat.extend(mine)

    el = run_threads(worker, [()] * concurrency)
    return len(lat) / el, statistics.median(lat) if lat else None, errors


def login_rate(server, users, seconds, concurrency=4, seed=1):
    """connect + LOGIN (a random user) + LOGOUT per second, `concurrency` threads."""
    counts, errors, lock = [0] * concurrency, [], threading.Lock()
    end = time.perf_counter() + seconds

    def worker(k):
        rnd = random.Random(seed * 100 + k)
        while time.perf_counter() < end:
            try:
                c = session(server.port, rnd.choice(users), timeout=60)
                c.cmd(b"LOGOUT")
                c.close()
                counts[k] += 1
            except (OSError, EOFError, ImapError) as e:
                with lock:
                    errors.append(repr(e))
                if len(errors) > 20:
                    return

    secs = run_threads(worker, [(k,) for k in range(concurrency)])
    return sum(counts) / secs, errors


def part_users(server, args, counts, log):
    res = {}
    corpus = Corpus(args.seed + 3)
    base = mailbox_list_bytes(server)
    have, sent = 0, 0
    rnd = random.Random(args.seed + 5)
    for u in counts:
        names = [user_name(i) for i in range(have, u)]
        secs = admin_create(server, [f"user.{n}" for n in names], conns=args.create_conns)
        log(f"{u} users: {len(names)} INBOXes created in {secs:.1f} s ({len(names) / secs:.0f}/s)")
        have = u
        users = [user_name(i) for i in range(u)]
        sample = rnd.sample(users, min(args.deliveries, u))
        os.sync()  # the creation's dirty pages written out before the timings
        rate, p50, errors = lmtp_rate(server, sample, corpus, sent)
        sent += len(sample)
        lrate, lerrors = login_rate(server, users, args.login_seconds, seed=args.seed + u)
        size = mailbox_list_bytes(server)
        out = {"lmtp_rate": rate, "lmtp_p50": p50, "login_rate": lrate, "mboxlist_bytes": size,
               "mboxlist_bytes_empty": base, "per_user_bytes": size / (u + 1), "create_rate": len(names) / secs,
               "lmtp_errors": errors[:5], "login_errors": lerrors[:5], "notes": []}
        if errors:
            out["notes"].append(f"LMTP at {u} users: {len(errors)} failed deliveries, e.g. {errors[0]}")
        if lerrors:
            out["notes"].append(f"login at {u} users: {len(lerrors)} failed sessions, e.g. {lerrors[0]}")
        for note in out["notes"]:
            log("CHECK: " + note)
        log(f"U={u}: LMTP {rate:.0f}/s (p50 {ms(p50)} ms), login {lrate:.0f}/s, mailbox list {size / 1024:.0f} KiB")
        res[str(u)] = out
    return res


def run_scale(args, names, log_for):
    sizes = sorted(int(x) for x in args.sizes.split(","))
    folders = sorted(int(x) for x in args.folders.split(","))
    users = sorted(int(x) for x in args.users.split(","))
    parts = [p.strip() for p in args.parts.split(",")]
    results = {n: {} for n in names}
    skipped = {}
    for part in parts:
        for name in names:
            log = log_for(f"{name} {part}")
            if part == "a":
                these = [s for s in sizes if name != "cyrus" or s <= args.cyrus_max_size]
                skipped["a"] = [s for s in sizes if s not in these] or skipped.get("a", [])
                fn, arg, pw = part_inbox, these, []
            elif part == "b":
                fn, arg, pw = part_folders, folders, [FOLDER_USER]
            else:
                fn, arg, pw = part_users, users, [user_name(i) for i in range(users[-1])]
            if not arg:
                continue
            with running(name, args, log, users=pw) as server:
                results[name][part] = fn(server, args, arg, log)
            write_json(args.json, args, results)  # after each part: a late failure keeps the rest

    print(f"\nscale: {os.cpu_count()} CPUs, plain IMAP on 127.0.0.1, LMTP on a unix socket; "
          "ratios literally suite/cyrus")
    if "a" in parts:
        rows = []
        for key, label, _ in INBOX_OPS:
            for s in sizes:
                rows.append((label, s, {n: results[n]["a"].get(str(s), {}).get(key) for n in names}, ms, "lower"))
        rows += [("filling over LMTP, messages/s", s, {n: results[n]["a"].get(str(s), {}).get("fill_rate") for n in names},
                  num, "higher") for s in sizes]
        print_table(f"A. fred's INBOX of N messages (~2 KiB): ms per operation (median of {args.runs}; one-message "
                    f"ones of {args.singles}, IDLE of {args.idle_rounds}; EXPUNGE once)", "operation", rows, names)
        if skipped.get("a") and "cyrus" in names:
            print(f"  cyrus not run at N={','.join(map(str, skipped['a']))} (over --cyrus-max-size "
                  f"{args.cyrus_max_size}): filling at its LMTP rate would take too long; suite only there")
        if len(sizes) > 1:
            print_growth(f"A. growth from N={sizes[0]} to N={sizes[-1]} (* = to the largest size that server ran)",
                         INBOX_OPS, {n: results[n]["a"] for n in names}, names, sizes)
    if "b" in parts:
        rows = [(label, f, {n: results[n]["b"].get(str(f), {}).get(key) for n in names}, ms, "lower")
                for key, label, _ in FOLDER_OPS for f in folders]
        rows += [("CREATE (pipelined), folders/s", f, {n: results[n]["b"].get(str(f), {}).get("create_rate") for n in names},
                  num, "higher") for f in folders]
        print_table(f"B. one user with F folders: ms per command (median of {args.runs} after a warm-up)",
                    "command", rows, names)
        if len(folders) > 1:
            print_growth(f"B. growth from F={folders[0]} to F={folders[-1]}", FOLDER_OPS,
                         {n: results[n]["b"] for n in names}, names, folders)
    if "c" in parts:
        rows = []
        for key, label, fmt, better in (
                ("lmtp_rate", f"LMTP deliveries/s (c4, one each to {args.deliveries} random users)", num, "higher"),
                ("lmtp_p50", "LMTP delivery p50, ms", ms, "lower"),
                ("login_rate", "IMAP connect+LOGIN+LOGOUT/s (4 threads, random users)", num, "higher"),
                ("mboxlist_bytes", "mailbox list on disk, KiB", lambda v: num(v / 1024) if v else "-", "lower"),
                ("per_user_bytes", "mailbox list on disk per user, bytes", num, "lower"),
                ("create_rate", "CREATE user.X by the admin (pipelined, setup), /s", num, "higher")):
            rows += [(label, u, {n: results[n]["c"].get(str(u), {}).get(key) for n in names}, fmt, better) for u in users]
        print_table("C. a site of U users", "measure", rows, names)
    if "a" in parts and len(names) > 1:
        for s in sizes:
            hits = {n: results[n]["a"][str(s)]["search_hits"] for n in names if str(s) in results[n]["a"]}
            if len(set(hits.values())) > 1:
                print(f"  SEARCH at N={s} found different counts (the same messages, the same operations): {hits}")
    for n in names:
        notes = [note for part in results[n].values() for size in part.values() for note in size.get("notes", [])]
        if notes:
            print(f"  {n}: " + "; ".join(notes))


# --------------------------------------------------------------------------- mixed

MIX = [("select", 10), ("fetch_headers", 25), ("fetch_body", 20), ("store", 15), ("append", 8), ("expunge", 5),
       ("idle", 12)]


class Ledger:
    """Markers acknowledged (LMTP 250, APPEND OK, pre-fill) and chosen for deletion, by user."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}
        self.deleted = set()
        self.n = 0

    def next(self, kind):
        with self.lock:
            self.n += 1
            return f"{kind}{self.n}"

    def ack(self, user, marker):
        with self.lock:
            self.acked.setdefault(user, set()).add(marker)

    def delete(self, marker):
        with self.lock:
            self.deleted.add(marker)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = {}
        self.errors = []

    def add(self, kind, secs):
        with self.lock:
            self.lat.setdefault(kind, []).append(secs)

    def error(self, what):
        with self.lock:
            self.errors.append(what)


class Client:
    """One mixed-workload client: a session as `user`, INBOX selected, its message count
    kept from the EXISTS and EXPUNGE responses it is sent."""

    def __init__(self, server, user, corpus, ledger, stats, rnd, args):
        self.server, self.user, self.corpus, self.ledger, self.stats = server, user, corpus, ledger, stats
        self.rnd, self.args = rnd, args
        self.c = None
        self.count = 0

    def connect(self):
        self.c = session(self.server.port, self.user, timeout=60)
        self.cmd("select", b"SELECT INBOX", record=False)

    def track(self, data):
        for m in LINE.finditer(data):
            if m.group(2) == b"EXISTS":
                self.count = int(m.group(1))
            else:
                self.count -= 1

    def cmd(self, kind, text, record=True):
        t = time.perf_counter()
        data, tagged = self.c.cmd(text, ok=False)
        d = time.perf_counter() - t
        self.track(data)
        if tagged.split(b" ", 2)[1:2] != [b"OK"]:
            raise ImapError(f"{kind}: {tagged.strip()[:120]!r}")
        if record:
            self.stats.add(kind, d)
        return data

    def step(self, kind):
        n = self.count
        if kind == "select":
            self.cmd(kind, b"SELECT INBOX")
        elif kind == "fetch_headers" and n:
            self.cmd(kind, b"FETCH %d:%d (BODY.PEEK[HEADER.FIELDS (From Subject Date)])" % (max(1, n - 19), n))
        elif kind == "fetch_body" and n:
            self.cmd(kind, b"FETCH %d BODY.PEEK[]" % self.rnd.randint(1, n))
        elif kind == "store" and n:
            flag = self.rnd.choice([b"\\Seen", b"\\Flagged"])
            self.cmd(kind, b"STORE %d +FLAGS (%s)" % (self.rnd.randint(1, n), flag))
        elif kind == "append":
            marker = self.ledger.next("a")
            msg = self.corpus.message(self.rnd.randrange(1 << 30), marker=marker, to=self.user)
            self.cmd(kind, b"APPEND INBOX {%d+}\r\n" % len(msg) + msg)
            self.ledger.ack(self.user, marker)
        elif kind == "expunge" and n:
            data = self.cmd("fetch_marker", b"FETCH %d (UID BODY.PEEK[HEADER.FIELDS (X-Bench-Marker)])"
                            % self.rnd.randint(1, n), record=False)
            m = MARKER.search(data)
            uid = re.search(rb"UID (\d+)", data)
            if not m or not uid:
                return
            self.ledger.delete(m.group(1).decode())
            self.cmd("store_deleted", b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % uid.group(1), record=False)
            self.cmd(kind, b"EXPUNGE")
        elif kind == "idle":
            self.idle()

    def idle(self):
        c = self.c
        c.n += 1
        tag = b"b%d" % c.n
        c.send(tag + b" IDLE")
        line = c.readline()
        while not line.startswith(b"+"):
            if line.startswith(tag):
                raise ImapError(f"IDLE: {line.strip()!r}")
            self.track(line)
            line = c.readline()
        end = time.perf_counter() + self.args.idle_seconds
        try:
            while True:
                left = end - time.perf_counter()
                if left <= 0:
                    break
                c.sock.settimeout(left)
                try:
                    self.track(c.readline())
                except socket.timeout:
                    break
        finally:
            c.sock.settimeout(60)
        t = time.perf_counter()
        c.send(b"DONE")
        data, tagged = c.read_tagged(tag)
        self.track(data)
        if tagged.split(b" ", 2)[1:2] != [b"OK"]:
            raise ImapError(f"IDLE DONE: {tagged.strip()!r}")
        self.stats.add("idle", time.perf_counter() - t)

    def run(self, start, stop):
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        start.wait()
        if self.c is None:
            return
        while not stop.is_set():
            kind = self.rnd.choices(kinds, weights)[0]
            try:
                self.step(kind)
            except (OSError, EOFError, ImapError) as e:
                self.stats.error(f"{kind}: {e!r}")
                if self.c:
                    self.c.close()
                if stop.is_set():
                    break
                try:
                    self.connect()
                except (OSError, EOFError, ImapError) as e2:
                    self.stats.error(f"reconnect: {e2!r}")
                    time.sleep(0.5)
        if self.c:
            logout(self.c)


def deliverer(server, users, corpus, rate, go, stop, seed, prefix, out):
    """Run in a process of its own (among hundreds of client threads it would wait for
    the GIL): LMTP deliveries at `rate` a second to random users, from go until stop;
    puts ([(user, marker) acknowledged], [seconds each], [errors]) on out."""
    rnd = random.Random(seed)
    acked, lat, errors = [], [], []
    lm = Lmtp(server.lmtp)
    go.wait()
    due = time.perf_counter()
    try:
        while not stop.is_set():
            due += 1.0 / rate
            pause = due - time.perf_counter()
            if pause > 0:
                stop.wait(pause)
            u = rnd.choice(users)
            marker = f"{prefix}{len(acked) + len(errors)}"
            t = time.perf_counter()
            try:
                lm.deliver(u, corpus.message(rnd.randrange(1 << 30), marker=marker, to=u))
                lat.append(time.perf_counter() - t)
                acked.append((u, marker))
            except (OSError, EOFError, ImapError) as e:
                errors.append(f"lmtp: {e!r}")
                lm.close()
                lm = Lmtp(server.lmtp)
    finally:
        lm.close()
        out.put((acked, lat, errors))


def check_lost(server, users, ledger):
    """Reads every INBOX's markers: (lost, duplicated, present)."""
    lost = dup = present = 0
    for u in users:
        c = session(server.port, u)
        c.cmd(b"SELECT INBOX")
        data, _ = c.cmd(b"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-Bench-Marker)])")
        logout(c)
        seen = {}
        for m in MARKER.finditer(data):
            k = m.group(1).decode()
            seen[k] = seen.get(k, 0) + 1
        present += len(seen)
        dup += sum(v - 1 for v in seen.values() if v > 1)
        lost += len(ledger.acked.get(u, set()) - ledger.deleted - set(seen))
    return lost, dup, present


def cpu_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(vals, p):
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(len(vals) * p))] if vals else None


def mixed_level(server, clients, users, corpus, ledger, args, log):
    stats = Stats()
    start, stop = threading.Event(), threading.Event()
    cl = [Client(server, users[k % len(users)], corpus, ledger, stats, random.Random(args.seed * 1000 + clients + k), args)
          for k in range(clients)]
    threads = [threading.Thread(target=c.run, args=(start, stop), daemon=True) for c in cl]
    # Every client logs in and selects, one after the other, before the clock.
    t = time.perf_counter()
    for c in cl:
        for _ in range(2):
            try:
                c.connect()
                break
            except (OSError, EOFError, ImapError) as e:
                stats.error(f"connect: {e!r}")
                if c.c:
                    c.c.close()
                c.c = None
    log(f"{clients} clients logged in and selected, one after the other, in {time.perf_counter() - t:.1f} s"
        + (f" ({len(stats.errors)} failed connections)" if stats.errors else ""))
    # The deliverer is forked before any client thread runs.
    ctx = multiprocessing.get_context("fork")
    go, halt, outq = ctx.Event(), ctx.Event(), ctx.Queue()
    dproc = ctx.Process(target=deliverer, daemon=True, args=(server, users, corpus, args.lmtp_rate, go, halt,
                                                             args.seed + clients, f"d{clients}-", outq))
    dproc.start()
    for th in threads:
        th.start()
    root = server.root_pid()
    cpu0, busy0, srv0, t0 = self_cpu(), cpu_busy(), tree_cpu(root), time.perf_counter()
    start.set()
    go.set()
    time.sleep(args.seconds)
    stop.set()
    halt.set()
    cpu1, busy1, srv1, t1 = self_cpu(), cpu_busy(), tree_cpu(root), time.perf_counter()
    acked, lmtp_lat, lmtp_errors = outq.get(timeout=120)
    dproc.join(30)
    for u, marker in acked:
        ledger.ack(u, marker)
    for e in lmtp_errors:
        stats.error(e)
    for th in threads:
        th.join(60)
    el = t1 - t0
    lat = [v for vals in stats.lat.values() for v in vals]
    lost, dup, present = check_lost(server, users, ledger)
    out = {
        "clients": clients, "seconds": el, "commands": len(lat), "per_second": len(lat) / el,
        "p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "errors": len(stats.errors), "error_examples": stats.errors[:10],
        "lost": lost, "duplicated": dup, "present": present, "lmtp_delivered": len(acked),
        "lmtp_p50": pct(lmtp_lat, 0.5), "lmtp_p99": pct(lmtp_lat, 0.99),
        "client_cpu": (cpu1 - cpu0) / el, "server_cpu": (srv1 - srv0) / el, "machine_cpu": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        "kinds": {k: {"count": len(v), "p50": pct(v, 0.5), "p99": pct(v, 0.99)} for k, v in sorted(stats.lat.items())},
    }
    log(f"{clients} clients: {out['per_second']:.0f} commands/s, p50 {ms(out['p50'])} ms, p99 {ms(out['p99'])} ms, "
        f"{out['errors']} errors, lost {lost}, duplicated {dup}, {out['lmtp_delivered']} LMTP deliveries "
        f"(p50 {ms(out['lmtp_p50'])} ms), "
        f"client CPU {out['client_cpu'] * 100:.0f}% of a core, server {out['server_cpu'] * 100:.0f}%, "
        f"machine {out['machine_cpu'] * 100:.0f}% busy")
    for e in stats.errors[:3]:
        log("ERROR: " + e)
    return out


def run_mixed(args, names, log_for):
    levels = [int(x) for x in args.clients.split(",")]
    users = [user_name(i) for i in range(args.pool)]
    results = {}
    for name in names:
        log = log_for(f"{name} mixed")
        corpus = Corpus(args.seed + 11)
        ledger = Ledger()
        with running(name, args, log, maxchild=max(levels) + 100, users=users) as server:
            admin_create(server, [f"user.{u}" for u in users])
            t = time.perf_counter()
            lm = Lmtp(server.lmtp)
            for u in users:
                msgs = []
                for i in range(args.prefill):
                    marker = ledger.next("p")
                    msgs.append(corpus.message(i, marker=marker, to=u))
                    ledger.ack(u, marker)
                lm.fill(u, msgs)
            lm.close()
            log(f"{len(users)} users, {args.prefill} messages each, filled in {time.perf_counter() - t:.1f} s")
            results[name] = {str(n): mixed_level(server, n, users, corpus, ledger, args, log) for n in levels}
    write_json(args.json, args, results)

    print(f"\nmixed: {os.cpu_count()} CPUs; {args.pool} users with {args.prefill} messages each at the start; "
          f"{args.seconds:.0f} s per level; mix {', '.join(f'{k} {w}' for k, w in MIX)}; IDLE {args.idle_seconds} s; "
          f"LMTP {args.lmtp_rate}/s; no think time")
    rows = []
    for key, label, fmt, better in (
            ("per_second", "commands/s", num, "higher"),
            ("p50", "p50 latency, ms", ms, "lower"),
            ("p99", "p99 latency, ms", ms, "lower"),
            ("errors", "errors (NO, BAD, disconnects)", lambda v: "-" if v is None else str(v), "lower"),
            ("lost", "lost messages", lambda v: "-" if v is None else str(v), "lower"),
            ("duplicated", "duplicated messages", lambda v: "-" if v is None else str(v), "lower"),
            ("lmtp_delivered", "LMTP deliveries acknowledged", lambda v: "-" if v is None else str(v), "higher"),
            ("lmtp_p50", "LMTP delivery p50, ms", ms, "lower"),
            ("client_cpu", "client CPU, % of one core", lambda v: "-" if v is None else f"{v * 100:.0f}", "-"),
            ("server_cpu", "server CPU, % of one core", lambda v: "-" if v is None else f"{v * 100:.0f}", "-"),
            ("machine_cpu", "machine CPU busy, % of all cores", lambda v: "-" if v is None else f"{v * 100:.0f}", "-")):
        rows += [(label, n, {s: results[s][str(n)][key] for s in names}, fmt, better) for n in levels]
    print_table("clients in a loop of the mix, LMTP alongside", "measure (per client count)", rows, names)
    print()
    print("per command kind, p50/p99 ms")
    for kind, _ in MIX:
        for n in levels:
            cells = []
            for s in names:
                v = results[s][str(n)]["kinds"].get(kind)
                cells.append(f"{s} {ms(v['p50'])}/{ms(v['p99'])} (n={v['count']})" if v else f"{s} -")
            print(f"  {kind:<14}{n:>5}  " + "   ".join(cells))
    for s in names:
        ex = [e for n in levels for e in results[s][str(n)]["error_examples"]][:3]
        if ex:
            print(f"  {s} errors, e.g.: " + "; ".join(ex))


# --------------------------------------------------------------------------- main

LIVE = []


class running:
    """Context: a server laid by make_server, `users` given the common password, started;
    stopped (and its temp dir removed) after."""

    def __init__(self, name, args, log, maxchild=600, users=()):
        self.name, self.args, self.log, self.maxchild, self.users = name, args, log, maxchild, users

    def __enter__(self):
        s = make_server(self.name, self.args.prefork, self.maxchild)
        LIVE.append(s)
        if self.users:
            add_passwords(s, self.users, PASSWORD)
        s.start()
        self.server = s
        return s

    def __exit__(self, *exc):
        if exc[0] is not None:
            tail = self.server.log_tail()
            if tail:
                print(f"--- {self.name}'s log, last lines:\n{tail}", file=sys.stderr)
        stop_all()
        return False


def stop_all():
    stop_servers(LIVE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="workload", required=True)
    for p in (sub.add_parser("scale", help="how costs grow with mailbox size, folders and users"),
              sub.add_parser("mixed", help="N clients doing a random mix, LMTP alongside")):
        p.add_argument("--server", default="suite,cyrus", help="comma-separated: suite, cyrus")
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--prefork", type=int, default=8, help="prefork= of the imap service")
        p.add_argument("--json", help="also write the raw results to this file")
        p.add_argument("--quickack", action="store_true",
                       help="the client ACKs at once (imap_bench's --quickack): Cyrus's replies over 4 KiB are "
                            "otherwise held ~40 ms by Nagle until the client's delayed ACK")
    sc = sub.choices["scale"]
    sc.add_argument("--parts", default="a,b,c", help="a (one INBOX), b (folders), c (users)")
    sc.add_argument("--sizes", default="1000,10000,100000", help="messages in the INBOX (part a)")
    sc.add_argument("--cyrus-max-size", type=int, default=100_000, help="Cyrus is left out of larger sizes")
    sc.add_argument("--folders", default="10,1000,10000", help="folders of one user (part b)")
    sc.add_argument("--users", default="1000,10000", help="users of the site (part c)")
    sc.add_argument("--runs", type=int, default=3)
    sc.add_argument("--singles", type=int, default=9, help="APPENDs and one-message STOREs per size")
    sc.add_argument("--idle-rounds", type=int, default=9)
    sc.add_argument("--deliveries", type=int, default=1000, help="LMTP deliveries per site size (part c)")
    sc.add_argument("--login-seconds", type=float, default=5)
    sc.add_argument("--create-conns", type=int, default=4, help="admin sessions creating the users at once (part c)")
    mx = sub.choices["mixed"]
    mx.add_argument("--clients", default="10,100,500")
    mx.add_argument("--seconds", type=float, default=30)
    mx.add_argument("--pool", type=int, default=50, help="users the clients log in as")
    mx.add_argument("--prefill", type=int, default=200, help="messages in each INBOX at the start")
    mx.add_argument("--lmtp-rate", type=float, default=20, help="LMTP deliveries a second during each level")
    mx.add_argument("--idle-seconds", type=float, default=1.0)
    args = ap.parse_args()
    names = [s.strip() for s in args.server.split(",") if s.strip()]
    for s in names:
        if s not in ("suite", "cyrus"):
            ap.error(f"unknown server {s!r}")
    Imap.QUICKACK = args.quickack
    raise_nofile()
    atexit.register(stop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))

    def log_for(what):
        return lambda s: print(f"[{what}] {s}", file=sys.stderr, flush=True)

    (run_scale if args.workload == "scale" else run_mixed)(args, names, log_for)


if __name__ == "__main__":
    main()
