#!/usr/bin/env python3
"""suite-bench pop3: POP3, the suite against Debian's Cyrus 3.6, side by side.

Delivers the same 1000 messages to one user of each (over LMTP), then measures
(1) one session doing STAT, UIDL and RETR of every message, and (2) sessions of
connect + USER/PASS + STAT + QUIT per second, over plain POP3 on loopback (both with
allowplaintext). Prints times, rates and the ratio to Cyrus.

    python3 bench/pop3_bench.py [--messages 1000] [--seconds 5]

Run as root with the suite built (SUITE_BIN=target/release after cargo build
--release) and Cyrus installed (scripts/deps --cyrus). A benchmark, never a test.
"""

import argparse
import os
import poplib
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cyrus36  # noqa: E402
from lmtp_bench import make_messages  # noqa: E402
from suite import Instance, lmtp_send  # noqa: E402


def fill(sock, user, msgs):
    lm = smtplib.LMTP(sock, timeout=60)
    lm.ehlo("bench")
    for m in msgs:
        assert lmtp_send(lm, "bench@example.org", [user], m)[user][0] == 250
    lm.quit()


def full_session(port, user, pw):
    t = time.perf_counter()
    p = poplib.POP3("127.0.0.1", port, timeout=60)
    p.user(user)
    p.pass_(pw)
    n, _ = p.stat()
    p.uidl()
    total = 0
    for i in range(1, n + 1):
        _, lines, octets = p.retr(i)
        total += octets
    p.quit()
    return time.perf_counter() - t, n, total


def logins(port, user, pw, seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        p = poplib.POP3("127.0.0.1", port, timeout=30)
        p.user(user)
        p.pass_(pw)
        p.stat()
        p.quit()
        n += 1
    return n / seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    msgs = make_messages(args.messages, seed=5)

    ours = Instance(name="popbench", extra_conf="allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n")
    with open(ours.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {ours.dir}/config/sasldb2\n")
    ours.create_mailbox("user.fred")
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{ours.dir}/config/sasldb2", "-u", "suite.test", "fred"], input=b"pw", check=True)
    ours._own()
    ours.write_cyrus_conf(SERVICES=(f'  lmtpunix cmd="lmtpd" listen="{ours.dir}/lmtp.sock" prefork=1\n'
                                    f'  pop3 cmd="pop3d" listen="127.0.0.1:{ours.port("pop3")}" prefork=4\n'))
    ours.start()
    cy = cyrus36.CyrusInstance()
    cy.add_password("fred", "pw")
    if os.geteuid() == 0:
        import pwd
        pwe = pwd.getpwnam("cyrus")
        os.chown(os.path.join(cy.dir, "sasldb2"), pwe.pw_uid, pwe.pw_gid)
    cy.start()
    cy.create_users(["fred"])
    try:
        fill(f"{ours.dir}/lmtp.sock", "fred", msgs)
        fill(cy.lmtp_socket, "fred", msgs)
        res = {}
        for name, port in (("suite", ours.port("pop3")), ("cyrus", cy.pop_port)):
            full_session(port, "fred", "pw")  # warm the page cache
            res[(name, "full")] = full_session(port, "fred", "pw")
            res[(name, "logins")] = logins(port, "fred", "pw", args.seconds)
    finally:
        ours.close()
        cy.stop()
    s, c = res[("suite", "full")], res[("cyrus", "full")]
    print(f"POP3, {args.messages} messages ({s[2] / s[1] / 1024:.0f} KiB mean), plain POP3 on loopback")
    print(f"{'workload':<36} {'suite':>10} {'cyrus':>10} {'ratio':>7}")
    print(f"{'STAT+UIDL+RETR all, seconds':<36} {s[0]:>10.2f} {c[0]:>10.2f} {c[0] / s[0]:>7.2f}")
    sl, cl = res[("suite", "logins")], res[("cyrus", "logins")]
    print(f"{'connect+login+STAT+QUIT per second':<36} {sl:>10.0f} {cl:>10.0f} {sl / cl:>7.2f}")


if __name__ == "__main__":
    main()
