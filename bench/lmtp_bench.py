#!/usr/bin/env python3
"""suite-bench lmtp: LMTP deliveries, the suite against Debian's Cyrus 3.6, side by side.

Lays a private instance of each (same users, both storing with fsync), then for each
concurrency delivers the same messages of realistic mixed sizes over the unix socket,
one transaction per message, to users in turn; then one message to 10 recipients at a
time. Prints deliveries per second, p50/p99 per transaction, and the ratio to Cyrus.

    python3 bench/lmtp_bench.py [--messages 2000] [--concurrency 1,4,16] [--users 8] [--size 4096] [--sieve]

With --size, every message has that size (the issue's figure is 4 KB) instead of the
mixed sizes. Besides the concurrency levels for `--users` users, one run delivers to a
single user at concurrency 16 (every delivery contends for one mailbox). "flush/msg" is
the number of cache flushes the disk completed per message (the block device's flush
counter in /sys/block/DEV/stat, whoever asked for them): what fsync and fdatasync cost
the device, the same measure for both servers.

With --sieve, each server is measured twice: without scripts, then with the same
typical 20-rule script (header and address tests, fileinto, vacation) active for
every user, and the cost of the script is printed beside the ratio to Cyrus.

Run as root (both drop to the cyrus user) with the suite built (cargo build) and
Cyrus installed (scripts/deps --cyrus). A benchmark, never a test. "cpu ms" is the
CPU time (user + system) each server spent per message, a figure less at the mercy of
the disk's fsync latency than the rates.
"""

import argparse
import subprocess
import os
import random
import smtplib
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import cyrus36  # noqa: E402
from suite import Instance, descendants, lmtp_send  # noqa: E402
from test_sieve import put_script  # noqa: E402  (a script where Cyrus keeps it)


def tree_cpu(root):
    """CPU seconds (user + system) used so far by `root`, its reaped children and its
    live descendants: what a server spent, whatever process did the work."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(pid):
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    total = 0
    try:
        st = fields(root)
        total += sum(int(x) for x in st[11:15])  # utime stime cutime cstime
    except OSError:
        return 0.0
    for pid in descendants(root):
        try:
            total += sum(int(x) for x in fields(pid)[11:13])
        except OSError:
            pass
    return total / tick

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SIZES = [(0.55, 2_000, 8_000), (0.30, 8_000, 64_000), (0.12, 64_000, 256_000), (0.03, 256_000, 1_000_000)]


# A typical user's filter: spam and list rules, a few folders, a vacation at the end.
# One message in ten is filed (its subject ends in 5); the vacation is evaluated for
# every other message but answers none (the user is not in To), so no mail is sent.
SIEVE_SCRIPT = r"""require ["fileinto", "vacation", "envelope", "imap4flags", "relational", "comparator-i;ascii-numeric"];
if header :contains "subject" ["viagra", "lottery", "winner"] { discard; stop; }
if header :is "x-spam-flag" "YES" { fileinto "INBOX.Filed"; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "10" { fileinto "INBOX.Filed"; stop; }
if address :domain :is "from" ["spam.example", "junk.example"] { discard; stop; }
if header :contains "list-id" "devel.lists.example.org" { fileinto "INBOX.Filed"; stop; }
if header :contains "list-id" "users.lists.example.org" { fileinto "INBOX.Filed"; stop; }
if address :is "from" "boss@example.org" { addflag "\\Flagged"; }
if address :domain "from" "partner.example" { fileinto "INBOX.Filed"; stop; }
if header :contains ["to", "cc"] "team@example.org" { addflag "$Team"; }
if envelope :domain "from" "newsletter.example" { fileinto "INBOX.Filed"; stop; }
if header :matches "subject" "[[]ticket #*]*" { fileinto "INBOX.Filed"; stop; }
if header :contains "subject" "invoice" { fileinto "INBOX.Filed"; stop; }
if exists "x-github-reason" { fileinto "INBOX.Filed"; stop; }
if header :contains "x-mailer" "bulk mailer" { fileinto "INBOX.Filed"; stop; }
if size :over 5M { fileinto "INBOX.Filed"; stop; }
if header :contains "precedence" "bulk" { fileinto "INBOX.Filed"; stop; }
if allof (address :localpart "from" "noreply", header :contains "subject" "report") { fileinto "INBOX.Filed"; stop; }
if anyof (header :contains "subject" "[alert]", header :contains "subject" "[cron]") { fileinto "INBOX.Filed"; stop; }
if header :matches "subject" "benchmark *5" { fileinto "INBOX.Filed"; stop; }
vacation :days 7 :subject "Away" "I am away this week.";
"""


def block_device():
    """The /sys/block stat of the disk holding the temp dir (TMPDIR), where both instances live."""
    st = os.stat(tempfile.gettempdir())
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    for dev in os.listdir("/sys/block"):
        for cand in [dev] + [p for p in os.listdir(f"/sys/block/{dev}") if p.startswith(dev)]:
            base = f"/sys/block/{dev}" + ("" if cand == dev else f"/{cand}")
            try:
                with open(f"{base}/dev") as f:
                    if f.read().strip() == f"{major}:{minor}":
                        return f"/sys/block/{dev}/stat"
            except OSError:
                pass
    return None


DEVICE_STAT = block_device()


def flushes():
    """Flush requests the disk has completed (field 16 of its stat; 0 if unknown)."""
    if not DEVICE_STAT:
        return 0
    with open(DEVICE_STAT) as f:
        v = f.read().split()
    return int(v[15]) if len(v) > 15 else 0


def make_messages(n, seed=42, fixed=None):
    rnd = random.Random(seed)
    words = "the quick brown fox jumps over lazy dogs while mail flows through lmtp into store".split()
    out = []
    for i in range(n):
        r, acc = rnd.random(), 0.0
        for p, lo, hi in SIZES:
            acc += p
            if r <= acc:
                size = rnd.randint(lo, hi)
                break
        if fixed:
            size = fixed
        head = (f"From: Sender {i} <sender{i}@example.org>\r\nTo: user@example.org\r\nSubject: benchmark {i}\r\n"
                f"Date: Sun, 29 Nov 2026 03:00:00 +0000\r\nMessage-ID: <bench.{seed}.{i}@example.org>\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
        body, line = [], []
        length = 0
        while length < size:
            w = rnd.choice(words)
            line.append(w)
            length += len(w) + 1
            if len(line) == 12:
                body.append(" ".join(line))
                line = []
        body.append(" ".join(line))
        msg = (head + "\r\n".join(body) + "\r\n").encode()
        if fixed:
            msg = msg[:fixed - 2].rstrip(b"\r\n") + b"\r\n"
        out.append(msg)
    return out


def run(socket_path, messages, concurrency, recipients_of, server_pid=None):
    """Delivers messages over `concurrency` connections; returns (msgs/s, p50 ms, p99 ms,
    server CPU ms per message, disk flushes per message)."""
    cpu0 = tree_cpu(server_pid) if server_pid else 0.0
    fl0 = flushes()
    lat = []
    lock = threading.Lock()
    idx = iter(range(len(messages)))
    errors = []

    def worker():
        lm = smtplib.LMTP(socket_path, timeout=60)
        lm.ehlo("bench")
        while True:
            with lock:
                i = next(idx, None)
            if i is None:
                break
            t = time.perf_counter()
            replies = lmtp_send(lm, "bench@example.org", recipients_of(i), messages[i])
            refused = {r: v for r, v in replies.items() if v[0] != 250}
            d = time.perf_counter() - t
            with lock:
                lat.append(d)
                if refused:
                    errors.append(refused)
        lm.quit()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    fl = (flushes() - fl0) / len(messages)
    if errors:
        raise SystemExit(f"refused recipients: {errors[:3]}")
    lat.sort()
    cpu = (tree_cpu(server_pid) - cpu0) * 1000 / len(lat) if server_pid else 0.0
    return len(lat) / elapsed, statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000, cpu, fl


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--size", type=int, default=0, help="every message this many bytes (default: mixed sizes)")
    ap.add_argument("--sieve", action="store_true", help="also measure with a 20-rule script for every user")
    ap.add_argument("--sieve-first", action="store_true", help="with --sieve, measure the scripted variant first (the order effect of the filesystem)")
    args = ap.parse_args()
    users = [f"u{k}" for k in range(max(args.users, 10))]
    levels = [int(c) for c in args.concurrency.split(",")]

    if not cyrus36.available():
        raise SystemExit("Cyrus 3.6 is not installed: scripts/deps --cyrus")
    results = {}
    variants = ("", "+sieve") if args.sieve else ("",)
    # Each variant gets fresh instances of both servers, so that neither the order of
    # the runs nor the mailboxes' sizes favour one of them.
    for variant in (tuple(reversed(variants)) if args.sieve_first else variants):
        ours = Instance(name="bench", extra_conf="altnamespace: no\nunixhierarchysep: no\n")
        with open(ours.conf, "a") as f:
            f.write(f"sievedir: {ours.dir}/sieve\n")
        for u in users:
            ours.create_mailbox(f"user.{u}")
            ours.create_mailbox(f"user.{u}.Filed")
        ours.write_cyrus_conf(SERVICES=f'  lmtpunix cmd="lmtpd" listen="{ours.dir}/lmtp.sock" prefork=16\n')
        ours.start()
        cy = cyrus36.CyrusInstance()
        cy.start()
        try:
            cy.create_users(users + [f"{u}.Filed" for u in users])
            if variant:
                for u in users:
                    put_script(ours, u, SIEVE_SCRIPT, name="bench")
                    cy.install_sieve(u, SIEVE_SCRIPT)
            with open(cy.pidfile) as f:
                cy_pid = int(f.read().strip())
            for name, sock, pid in (("suite", f"{ours.dir}/lmtp.sock", ours.proc.pid), ("cyrus", cy.lmtp_socket, cy_pid)):
                seed = 1
                for c in levels:
                    seed += 1
                    msgs = make_messages(args.messages, seed=seed * 100 + (name == "cyrus"), fixed=args.size)
                    results[(name + variant, f"c{c}")] = run(sock, msgs, c, lambda i: [users[i % args.users]], pid)
                msgs = make_messages(args.messages, seed=777 + (name == "cyrus"), fixed=args.size)
                results[(name + variant, "1user")] = run(sock, msgs, 16, lambda i: [users[0]], pid)
                msgs = make_messages(200, seed=999 + (name == "cyrus"), fixed=args.size)
                results[(name + variant, "10rcpt")] = run(sock, msgs, 4, lambda i: users[:10], pid)
        finally:
            ours.close()
            cy.stop()
    total = sum(len(m) for m in make_messages(args.messages, seed=2, fixed=args.size)) / args.messages
    print(f"LMTP deliveries, {args.messages} messages (mean {total / 1024:.0f} KiB), {args.users} users, unix socket")
    print(f"{'workload':<22} {'suite msg/s':>11} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>6} {'flush':>5}   {'cyrus msg/s':>11} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>6} {'flush':>5}   {'ratio':>6}")
    for variant in variants:
        if variant:
            print("with the 20-rule Sieve script active for every user (cost: throughput lost to the script)")
        for key in [f"c{c}" for c in levels] + ["1user", "10rcpt"]:
            s, c = results[("suite" + variant, key)], results[("cyrus" + variant, key)]
            label = {"10rcpt": "1 msg to 10 rcpts, c4", "1user": "1 user, c16"}.get(key, f"concurrency {key[1:]}")
            line = (f"{label:<22} {s[0]:>11.0f} {s[1]:>7.1f} {s[2]:>7.1f} {s[3]:>6.2f} {s[4]:>5.2f}"
                    f"   {c[0]:>11.0f} {c[1]:>7.1f} {c[2]:>7.1f} {c[3]:>6.2f} {c[4]:>5.2f}   {s[0] / c[0]:>6.2f}")
            if variant:
                s0, c0 = results[("suite", key)][0], results[("cyrus", key)][0]
                s3, c3 = results[("suite", key)][3], results[("cyrus", key)][3]
                line += (f"   cost suite {100 * (1 - s[0] / s0):>5.1f}% ({s[3] - s3:+.2f} ms CPU)"
                         f"  cyrus {100 * (1 - c[0] / c0):>5.1f}% ({c[3] - c3:+.2f} ms CPU)")
            print(line)
    if args.sieve:
        subprocess.run([os.path.join(ROOT, "target", "release" if os.path.exists(os.path.join(ROOT, "target", "release", "suite-bench")) else "debug", "suite-bench"), "sieve", "--kib", "100"])


if __name__ == "__main__":
    main()
