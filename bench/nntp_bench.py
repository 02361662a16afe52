#!/usr/bin/env python3
"""suite-bench nntp: NNTP on one big group, the suite against Debian's Cyrus 3.6 nntpd.

Lays a private instance of each server in a temp dir, in turn (one running at a time),
makes the group `bench.big` (mailbox news.bench.big, `anyone lrsp`; Cyrus 3.6.1 stalls on TAKETHIS to a one-component group name), fills it with the same N
articles (default 100 000, ~4 KB each, a third of them follow-ups with References)
over one pipelined LMTP connection to `+news.bench.big` (not timed), then measures over
plain NNTP on loopback with a raw-socket client, logged in as fred:

  - GROUP bench.big; OVER of the whole range; HDR Subject of the whole range; ARTICLE of
    100 random numbers, one command each (median and min of --runs sessions, after a
    warm-up session);
  - the feed: TAKETHIS of new 4 KB articles at --concurrency connections (each sends
    one article and reads its reply) for --seconds: articles per second accepted
    (239), and how many were refused.

Every ratio is suite/Cyrus: below 1 is better for times, above 1 for rates.

    python3 bench/nntp_bench.py [--server suite,cyrus] [--articles 100000] [--runs 3]
        [--seconds 10] [--concurrency 4] [--json FILE]

Run as root with the suite built (SUITE_BIN, default target/release after cargo
build --release) and Cyrus's nntpd installed (scripts/deps --cyrus). A benchmark, never
a test.
"""

import argparse
import json
import os
import random
import socket
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import imap_bench  # noqa: E402  (sets SUITE_BIN and the tests' path)
import cyrus36  # noqa: E402
from imap_bench import Lmtp, kill_pids, procs_mentioning  # noqa: E402
from suite import Instance, saslpasswd, wait_for  # noqa: E402

USER, PASSWORD = "fred", "pw"
CONF = ("allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_mech_list: PLAIN LOGIN\n"
        "admins: admin\nunixhierarchysep: no\naltnamespace: no\nnewsprefix: news\nduplicatesuppression: yes\n")
WORDS = ("alpha beta gamma delta kernel release patch review build test mail news server client "
         "thread group article feed index cache overview header body line").split()


def make_article(i, tag, rnd, size=4096):
    subj = " ".join(rnd.choice(WORDS) for _ in range(5))
    refs = f"References: <a{rnd.randrange(max(i, 1))}.{tag}@bench>\r\n" if i and rnd.random() < 0.33 else ""
    head = (f"From: Poster {i % 97} <p{i % 97}@example.org>\r\nNewsgroups: bench.big\r\nSubject: {subj} {i}\r\n"
            f"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a{i}.{tag}@bench>\r\n{refs}\r\n")
    line = (" ".join(rnd.choice(WORDS) for _ in range(12)) + "\r\n")
    body = line * max(1, (size - len(head)) // len(line))
    return (head + body).encode()


class SuiteNntp:
    name = "suite"

    def __init__(self):
        self.inst = Instance(name="nntpbench", extra_conf=CONF)
        d = self.dir = self.inst.dir
        with open(self.inst.conf, "a") as f:
            f.write(f"sasl_sasldb_path: {d}/config/sasldb2\n")
        self.inst.tool("mkimap")
        saslpasswd(f"{d}/config/sasldb2", "suite.test", "admin", "secret")
        saslpasswd(f"{d}/config/sasldb2", "suite.test", USER, PASSWORD)
        self.port, self.imap_port = self.inst.port("nntp"), self.inst.port("imap")
        self.lmtp = f"{d}/lmtp.sock"
        self.inst.write_cyrus_conf(SERVICES=(
            f'  lmtpunix cmd="lmtpd" listen="{self.lmtp}" prefork=1\n'
            f'  imap cmd="imapd" listen="127.0.0.1:{self.imap_port}" prefork=0\n'
            f'  nntp cmd="nntpd" listen="127.0.0.1:{self.port}" prefork=4\n'))
        self.inst._own()

    def start(self):
        self.inst.start()
        # As imap_bench: the harness's syslog thread would compete with the client.
        self.inst.log.close()

    def stop(self):
        self.inst.close()


class CyrusNntp:
    name = "cyrus"

    def __init__(self):
        if not cyrus36.available() or not os.access(os.path.join(cyrus36.CYRUS_BIN, "nntpd"), os.X_OK):
            raise SystemExit("Cyrus 3.6 nntpd is not installed: scripts/deps --cyrus")
        self.cy = cyrus36.CyrusInstance(nntp=True)
        cyrus36.merge_conf(self.cy.conf, CONF)
        self.cy.add_password(USER, PASSWORD)
        self.dir, self.port, self.imap_port, self.lmtp = self.cy.dir, self.cy.nntp_port, self.cy.port, self.cy.lmtp_socket

    def start(self):
        self.cy.start()

    def stop(self):
        self.cy.stop()
        kill_pids(procs_mentioning(self.dir))


class Nntp:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.line()

    def line(self):
        i = self.buf.find(b"\r\n")
        while i < 0:
            d = self.sock.recv(1 << 20)
            if not d:
                raise EOFError("NNTP connection closed")
            self.buf += d
            i = self.buf.find(b"\r\n")
        out = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return out

    def block(self):
        """Reads to the terminating line; returns the number of lines."""
        n = 0
        while True:
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0 or self.buf.startswith(b".\r\n"):
                end = 3 if self.buf.startswith(b".\r\n") else i + 5
                n += self.buf[:end].count(b"\r\n") - 1
                del self.buf[:end]
                return n
            d = self.sock.recv(1 << 20)
            if not d:
                raise EOFError("NNTP connection closed")
            self.buf += d

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def login(self):
        assert self.cmd(f"AUTHINFO USER {USER}").startswith(b"381")
        assert self.cmd(f"AUTHINFO PASS {PASSWORD}").startswith(b"281")


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def session(port, rnd):
    c = Nntp(port)
    c.login()
    out = {}
    g = []
    out["GROUP"] = timed(lambda: g.append(c.cmd("GROUP bench.big")))
    _, count, lo, hi, _ = g[0].split()
    count, lo, hi = int(count), int(lo), int(hi)

    def over():
        assert c.cmd(f"OVER {lo}-{hi}").startswith(b"224")
        assert c.block() == count

    def hdr():
        assert c.cmd(f"HDR Subject {lo}-{hi}").startswith(b"225")
        assert c.block() == count

    nums = [rnd.randint(lo, hi) for _ in range(100)]

    def articles():
        for n in nums:
            r = c.cmd(f"ARTICLE {n}")
            assert r.startswith(b"220"), r
            c.block()

    out["OVER whole range"] = timed(over)
    out["HDR Subject whole range"] = timed(hdr)
    out["100 x ARTICLE"] = timed(articles)
    c.cmd("QUIT")
    return out, count


def feed(port, seconds, concurrency, tag):
    stop = time.monotonic() + seconds
    counts = {"ok": 0, "refused": 0, "stalled": 0}
    lock = threading.Lock()

    def worker(k):
        c = Nntp(port)
        c.login()
        # A server that has not answered an article in 30 s is counted as stalled.
        c.sock.settimeout(30)
        rnd = random.Random(k)
        i = 0
        while time.monotonic() < stop:
            art = make_article(10_000_000 + k * 1_000_000 + i, f"{tag}feed", rnd)
            mid = art.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
            try:
                c.sock.sendall(f"TAKETHIS {mid}\r\n".encode() + art + b".\r\n")
                r = c.line()
            except (OSError, EOFError):
                with lock:
                    counts["stalled"] += 1
                return
            with lock:
                counts["ok" if r.startswith(b"239") else "refused"] += 1
            i += 1
        c.cmd("QUIT")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return counts["ok"] / (time.perf_counter() - t), counts["refused"], counts["stalled"]


def bench(server, args):
    server.start()
    try:
        a = cyrus36.login(server.imap_port, "admin", "secret")
        for c in (b"CREATE news.bench.big", b"SETACL news.bench.big anyone lrsp"):
            assert cyrus36.ok(a.cmd(c)), c
        a.cmd(b"LOGOUT")
        rnd = random.Random(7)
        tag = f"{server.name}{os.getpid()}"
        t = time.perf_counter()
        lm = Lmtp(server.lmtp)
        batch = 1000
        for start in range(0, args.articles, batch):
            lm.fill("+news.bench.big", [make_article(i, tag, rnd) for i in range(start, min(start + batch, args.articles))])
        lm.close()
        fill = time.perf_counter() - t
        print(f"{server.name}: filled {args.articles} articles in {fill:.1f} s", file=sys.stderr)
        session(server.port, random.Random(1))  # warm-up
        runs = [session(server.port, random.Random(r))[0] for r in range(args.runs)]
        res = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rate, refused, stalled = feed(server.port, args.seconds, args.concurrency, tag)
        res["TAKETHIS 4 KB articles/s"] = rate
        res["feed refused"] = refused
        res["feed connections stalled"] = stalled
        return res
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", default="suite,cyrus")
    p.add_argument("--articles", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--json")
    args = p.parse_args()
    results = {}
    for name in args.server.split(","):
        server = SuiteNntp() if name == "suite" else CyrusNntp()
        results[name] = bench(server, args)
    keys = list(next(iter(results.values())).keys())
    print(f"\nNNTP, group of {args.articles} articles; times in ms (median of {args.runs}), feed at concurrency {args.concurrency}")
    print(f"{'workload':32} " + " ".join(f"{n:>12}" for n in results) + ("   suite/cyrus" if len(results) == 2 else ""))
    for k in keys:
        vals = [results[n][k] for n in results]
        ratio = f"   {vals[0] / vals[1]:.2f}" if len(vals) == 2 and vals[1] else ""
        print(f"{k:32} " + " ".join(f"{v:12.1f}" for v in vals) + ratio)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
