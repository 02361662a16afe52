"""Issue 18: 200 kill -9s of lmtpd and imapd (and of master every 50) during delivery
batches, against the group-commit append path (staged files, syncfs outside the
mailbox lock, one sync for every copy of a delivered message).

Run:  cd tests && python3 -m pytest -q test_kill_batches.py
"""

import collections
import os
import random
import signal
import smtplib
import threading
import time

from suite import lmtp_send, wait_for
from test_faults import Raw, _restart_master, lmtp_client, mail_instance, message, message_ids


def test_200_kills_during_delivery_batches_lose_nothing(make_instance):
    """Issue 18: the group-commit append path (staged files, syncfs outside the lock)
    under 200 kill -9s of lmtpd and imapd (and of master every 50), while two LMTP
    clients deliver each message to both users at once and two IMAP clients
    MULTIAPPEND pairs of messages: every acknowledged copy is there exactly once,
    nothing unknown appears, and reconstruct finds nothing to fix."""
    inst = mail_instance(make_instance, imap=3, pop3=0, lmtp=2)
    rnd = random.Random(18)
    stop = threading.Event()
    lock = threading.Lock()
    acked = {"fred": set(), "barney": set()}
    tried = set()
    kills = collections.Counter()

    def lmtp_loop(name):
        i = 0
        while not stop.is_set():
            mid = f"batch.{name}.{i}@kill"
            i += 1
            with lock:
                tried.add(mid)
            try:
                lm = lmtp_client(inst, timeout=10)
                r = lmtp_send(lm, "a@b", ["fred", "barney"], message(mid, body=b"y" * rnd.randint(10, 9000) + b"\r\n"))
                with lock:
                    for user, reply in r.items():
                        if reply[0] == 250:
                            acked[user].add(mid)
                lm.quit()
            except (OSError, smtplib.SMTPException, AssertionError):
                time.sleep(0.01)

    def append_loop(name):
        i, im = 0, None
        while not stop.is_set():
            try:
                if im is None:
                    im = Raw(inst, "barney", timeout=10)
                mids = [f"multi.{name}.{i}.{k}@kill" for k in range(2)]
                i += 1
                with lock:
                    tried.update(mids)
                msgs = [message(m) for m in mids]
                t = im.tag()
                im.send(t + b" APPEND INBOX {%d+}\r\n" % len(msgs[0]) + msgs[0] + b" {%d+}\r\n" % len(msgs[1]) + msgs[1] + b"\r\n")
                if im.read_tagged(t).ok:
                    with lock:
                        acked["barney"].update(mids)
            except (OSError, EOFError, AssertionError):
                im = None
                time.sleep(0.01)

    threads = [threading.Thread(target=f, args=(n,), daemon=True)
               for f, n in ((lmtp_loop, "a"), (lmtp_loop, "b"), (append_loop, "a"), (append_loop, "b"))]
    for t in threads:
        t.start()
    try:
        while sum(kills.values()) < 200:
            time.sleep(rnd.uniform(0.01, 0.06))
            if kills["workers"] and kills["workers"] % 50 == 0 and kills["master"] < kills["workers"] // 50:
                os.kill(inst.proc.pid, signal.SIGKILL)
                kills["master"] += 1
                time.sleep(0.3)
                _restart_master(inst)
                continue
            kids = [p for p, c in inst.workers().items() if c in ("imapd", "lmtpd")]
            if kids:
                try:
                    os.kill(rnd.choice(kids), signal.SIGKILL)
                    kills["workers"] += 1
                except OSError:
                    pass
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    wait_for(lambda: len(inst.workers("imapd")) >= 1 and len(inst.workers("lmtpd")) >= 1, timeout=20,
             what=f"workers replaced (have {inst.workers()})")
    assert len(acked["fred"]) >= 20 and len(acked["barney"]) >= 40, {u: len(v) for u, v in acked.items()}
    for user in ("fred", "barney"):
        have = message_ids(inst, user)
        missing = acked[user] - set(have)
        assert not missing, f"{user}: acknowledged but missing: {sorted(missing)[:10]} (kills {kills})"
        doubled = {m: n for m, n in have.items() if n > 1}
        assert not doubled, f"{user}: stored more than once: {sorted(doubled.items())[:10]}"
        assert not set(have) - tried, set(have) - tried
        out = inst.tool("reconstruct", "-q", f"user.{user}").stdout
        assert out == b"", f"reconstruct found something to fix in user.{user}: {out!r}"
    print(f"kills {dict(kills)}, acked { {u: len(v) for u, v in acked.items()} }")
