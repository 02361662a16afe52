#!/usr/bin/env python3
"""suite-bench takeover: cyr_takeover against Cyrus's own `reconstruct -r` on one site.

Lays a Cyrus 3.6 site (Debian's Cyrus, in a temp dir): MAILBOXES mailboxes created over
IMAP, MESSAGES message files of mixed sizes written into them; then times Cyrus's
`reconstruct -r` building every index from the files (what Cyrus offers to rebuild a
spool), and the suite's `cyr_takeover` converting the result, and prints messages
per second, the ratio, and each one's peak memory (max RSS).

    python3 bench/takeover_bench.py [--messages 200000] [--mailboxes 2000]

Run as root with the suite built (SUITE_BIN, default target/release) and Cyrus
installed (scripts/deps --cyrus). A benchmark, never a test.
"""

import argparse
import os
import pwd
import random
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))

import cyrus36  # noqa: E402

SUITE_BIN = os.environ.get("SUITE_BIN", os.path.join(ROOT, "target", "release"))


def timed(cmd):
    """Runs cmd under GNU time; returns (seconds, max RSS in MiB, stdout)."""
    rss_file = f"/tmp/takeover-bench-rss-{os.getpid()}"
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd], capture_output=True, text=True)
    el = time.perf_counter() - t
    with open(rss_file) as f:
        rss_kib = int(f.read().strip().splitlines()[-1])
    os.unlink(rss_file)
    if r.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({r.returncode}): {r.stderr[-2000:]}")
    return el, rss_kib / 1024, r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--mailboxes", type=int, default=2000)
    args = ap.parse_args()
    cy = cyrus36.CyrusInstance()
    with open(cy.conf, "a") as f:
        f.write("mailbox_legacy_dirs: yes\n")
    cy.start()
    try:
        users = [f"u{i:04d}" for i in range(max(1, args.mailboxes // 4))]
        names = []
        for u in users:
            names += [u, f"{u}.Sent", f"{u}.Lists", f"{u}.Archive"]
        names = names[: args.mailboxes]
        t = time.perf_counter()
        for i in range(0, len(names), 200):
            cy.create_users(names[i:i + 200])
        print(f"{len(names)} mailboxes created over IMAP in {time.perf_counter() - t:.0f} s")
        halt = open(cy.pidfile).read().strip()
        os.kill(int(halt), 15)
        while os.path.exists(f"/proc/{halt}"):
            time.sleep(0.1)
        part = os.path.join(cy.dir, "part")
        rnd = random.Random(7)
        per = args.messages // len(names)
        t = time.perf_counter()
        total_bytes = 0
        owner = pwd.getpwnam("cyrus") if os.geteuid() == 0 else None
        for n in names:
            d = os.path.join(part, "user", *n.split("."))
            for uid in range(1, per + 1):
                size = rnd.choice([1500, 3000, 6000, 12000, 40000])
                body = (f"From: sender{uid}@example.org\r\nTo: {n.split('.')[0]}@example.org\r\nSubject: message {uid} of {n}\r\n"
                        f"Date: Sun, 29 Nov 2026 03:00:00 +0000\r\nMessage-ID: <{uid}.{n}@bench>\r\n\r\n").encode()
                body += (b"lorem ipsum dolor sit amet " * (size // 27)) + b"\r\n"
                p = os.path.join(d, f"{uid}.")
                with open(p, "wb") as f:
                    f.write(body)
                if owner:
                    os.chown(p, owner.pw_uid, owner.pw_gid)
                total_bytes += len(body)
        count = per * len(names)
        print(f"{count} message files ({total_bytes / 2**20:.0f} MiB) written in {time.perf_counter() - t:.0f} s")
        subprocess.run(["sync"])
        rec = [os.path.join(cyrus36.CYRUS_BIN, "reconstruct"), "-C", cy.conf, "-r"] + ["user." + u for u in users]
        t_cy, rss_cy, _ = timed(rec)
        print(f"Cyrus reconstruct -r: {t_cy:.1f} s, {count / t_cy:.0f} msg/s, max RSS {rss_cy:.0f} MiB")
        subprocess.run(["sync"])
        cmd = [os.path.join(SUITE_BIN, "cyr_takeover"), "-C", cy.conf]
        if os.environ.get("TAKEOVER_PERF"):
            cmd = ["perf", "record", "-g", "-o", os.environ["TAKEOVER_PERF"], "--"] + cmd
        t_us, rss_us, out = timed(cmd)
        print(out.strip().splitlines()[-1])
        print(f"cyr_takeover:          {t_us:.1f} s, {count / t_us:.0f} msg/s, max RSS {rss_us:.0f} MiB")
        print(f"ratio (cyr_takeover / reconstruct -r speed): {t_cy / t_us:.2f}")
    finally:
        cy.stop()


if __name__ == "__main__":
    main()
