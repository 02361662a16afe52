"""lmtpd: delivery into the store over real LMTP (python's smtplib.LMTP)."""

import os
import re
import time
import smtplib
import socket
import subprocess

import pytest

from suite import lmtp_send, read_line, wait_for


@pytest.fixture
def lmtp(make_instance):
    inst = make_instance(extra_conf="maxmessagesize: 100000\nallowplaintext: yes\n"
                                    "sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
                                    "sasl_mech_list: PLAIN LOGIN\n")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\n")
    for user in ("fred", "barney"):
        inst.create_mailbox(f"user.{user}")
    inst.create_mailbox("user.fred.lists", acl="fred\tlrswipkxtecdan\tanyone\tp\t")
    inst.create_mailbox("user.fred.private")
    inst.create_mailbox("shared.news", acl="anyone\tlrsp\t")
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", "fred"], input=b"pw", check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=(
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=1\n'
        f'  lmtp cmd="lmtpd" listen="127.0.0.1:{inst.port("lmtp")}" prefork=0\n'
        f'  lmtpa cmd="lmtpd -a" listen="127.0.0.1:{inst.port("lmtpa")}" prefork=0\n'))
    inst.start()
    return inst


def client(inst):
    return smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=10)


MSG = (b"From: Wilma <wilma@example.org>\r\nTo: fred@example.org\r\nSubject: hello\r\n"
       b"Message-ID: <m1@example.org>\r\nReturn-Path: <forged@evil>\r\n\r\nfirst line\r\n.dotted line\r\nbare\nlf\r\n")


def test_one_reply_per_recipient_single_instance_and_trace_headers(lmtp):
    lm = client(lmtp)
    code, caps = lm.ehlo("mta.example.org")
    assert code == 250
    for cap in (b"PIPELINING", b"8BITMIME", b"ENHANCEDSTATUSCODES", b"SIZE 100000", b"CHUNKING", b"SMTPUTF8"):
        assert cap in caps, caps
    assert lm.mail("sender@example.org")[0] == 250
    assert lm.rcpt("fred@example.org")[0] == 250
    code, msg = lm.rcpt("nobody@example.org")
    assert (code, msg[:5]) == (550, b"5.1.1")
    assert lm.rcpt("Barney")[0] == 250, "lmtp_downcase_rcpt"
    lm.putcmd("data")
    assert lm.getreply()[0] == 354
    lm.send(MSG.replace(b"\r\n.dotted", b"\r\n..dotted") + b".\r\n")
    replies = [lm.getreply() for _ in range(2)]
    assert [r[0] for r in replies] == [250, 250], replies
    lm.quit()
    fred, barney = lmtp.messages("user.fred"), lmtp.messages("user.barney")
    assert list(fred) == [1] and list(barney) == [1]
    stored = fred[1]
    assert stored.startswith(b"Return-Path: <sender@example.org>\r\nReceived: from mta.example.org (unix socket)\r\n\tby suite.test")
    assert b"forged@evil" not in stored
    assert b"\r\n.dotted line\r\nbare\r\nlf\r\n" in stored, "dot-unstuffed, bare LF normalised"
    st1, st2 = os.stat(lmtp.message_path("user.fred", 1)), os.stat(lmtp.message_path("user.barney", 1))
    assert st1.st_ino == st2.st_ino and st1.st_nlink == 2, "single-instance store: one file, hard-linked"
    lmtp.log.wait(r"lmtpd\[\d+\]: Delivered: <m1@example.org> to mailbox: user.fred")
    lmtp.log.wait(r"Delivered: <m1@example.org> to mailbox: user.barney")


def test_detail_addresses_and_shared_folders(lmtp):
    lm = client(lmtp)
    lm.ehlo("x")
    replies = lmtp_send(lm, "a@b", ["fred+lists@example.org", "fred+private", "fred+nosuch", "+shared.news"], b"Subject: x\r\n\r\nbody\r\n")
    assert [c for c, _ in replies.values()] == [250] * 4, replies
    lm.quit()
    assert len(lmtp.messages("user.fred.lists")) == 1, "anyone may post there"
    assert len(lmtp.messages("user.fred.private")) == 0, "no p right: INBOX instead"
    assert len(lmtp.messages("user.fred")) == 2, "+private and +nosuch went to INBOX"
    assert len(lmtp.messages("shared.news")) == 1
    lm = client(lmtp)
    lm.ehlo("x")
    lm.mail("a@b")
    assert lm.rcpt("+nosuchfolder")[0] == 550


def test_duplicate_suppression(lmtp):
    for _ in range(3):
        lm = client(lmtp)
        refused = lm.sendmail("a@b", ["fred"], MSG)
        assert refused == {}
        lm.quit()
    assert len(lmtp.messages("user.fred")) == 1
    lmtp.log.wait(r"dupelim: eliminated duplicate message to user.fred id <m1@example.org>")


def test_limits_and_bad_sequences(lmtp):
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"{lmtp.dir}/lmtp.sock")
    f = lambda: read_line(s)
    assert f().startswith(b"220")
    s.sendall(b"MAIL FROM:<a@b>\r\n")
    assert f().startswith(b"503 5.5.1")
    s.sendall(b"LHLO x\r\n")
    while not f().startswith(b"250 "):
        pass
    s.sendall(b"RCPT TO:<fred>\r\n")
    assert f().startswith(b"503 5.5.1")
    s.sendall(b"DATA\r\n")
    assert f().startswith(b"503 5.5.1")
    s.sendall(b"MAIL FROM:<a@b> SIZE=200000\r\n")
    assert f().startswith(b"552 5.3.4")
    s.sendall(b"MAIL FROM:a@b\r\n")
    assert f().startswith(b"501 5.5.4")
    s.sendall(b"XYZZY\r\n")
    assert f().startswith(b"500 5.5.2")
    s.sendall(b"NOOP " + b"x" * 10000 + b"\r\n")
    assert f().startswith(b"500 5.5.2")
    # Pipelined transaction with an oversize message: 552 per recipient.
    big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 150
    s.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<fred>\r\nRCPT TO:<barney>\r\nDATA\r\n")
    assert [f()[:3] for _ in range(4)] == [b"250", b"250", b"250", b"354"]
    s.sendall(big + b".\r\n")
    assert [f()[:9] for _ in range(2)] == [b"552 5.3.4"] * 2
    # NUL bytes.
    s.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<fred>\r\nDATA\r\n")
    assert [f()[:3] for _ in range(3)] == [b"250", b"250", b"354"]
    s.sendall(b"Subject: nul\r\n\r\na\x00b\r\n.\r\n")
    assert f().startswith(b"554 5.6.0")
    # The session still works.
    s.sendall(b"RSET\r\nNOOP\r\nQUIT\r\n")
    assert [f()[:3] for _ in range(3)] == [b"250", b"250", b"221"]
    s.close()
    assert lmtp.messages("user.fred") == {}


def test_disconnect_mid_data_stores_nothing(lmtp):
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"{lmtp.dir}/lmtp.sock")
    read_line(s)
    s.sendall(b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<fred>\r\nDATA\r\n")
    wait_for(lambda: b"354" in s.recv(4096), what="354")
    s.sendall(b"Subject: half\r\n\r\nhalf a message")
    s.close()
    lm = client(lmtp)
    lm.sendmail("a@b", ["barney"], b"Subject: after\r\n\r\nok\r\n")
    lm.quit()
    assert lmtp.messages("user.fred") == {}
    assert len(lmtp.messages("user.barney")) == 1
    assert not os.listdir(os.path.join(lmtp.dir, "spool", "user", "fred")) or all(
        not n.endswith(".tmp") for n in os.listdir(os.path.join(lmtp.dir, "spool", "user", "fred")))


def test_eight_bit_headers_munged_and_smtputf8_kept(lmtp):
    lm = client(lmtp)
    lm.ehlo("x")
    lm.sendmail("a@b", ["fred"], "Subject: caf\u00e9\r\n\r\ncaf\u00e9\r\n".encode())
    lm.sendmail("a@b", ["barney"], "Subject: caf\u00e9\r\n\r\ncaf\u00e9\r\n".encode(), mail_options=["SMTPUTF8"])
    lm.quit()
    assert b"Subject: cafXX\r\n" in lmtp.messages("user.fred")[1]
    assert "Subject: caf\u00e9\r\n".encode() in lmtp.messages("user.barney")[1]


def test_bdat_chunking(lmtp):
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"{lmtp.dir}/lmtp.sock")
    read_line(s)
    s.sendall(b"LHLO x\r\n")
    while not read_line(s).startswith(b"250 "):
        pass
    part1, part2 = b"Subject: chunks\r\n\r\nfirst ", b"second\n.\nthird\r\n"
    s.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<fred>\r\nBDAT %d\r\n" % len(part1) + part1 + b"BDAT %d LAST\r\n" % len(part2) + part2)
    assert [read_line(s)[:3] for _ in range(4)] == [b"250", b"250", b"250", b"250"]
    s.sendall(b"QUIT\r\n")
    s.close()
    assert lmtp.messages("user.fred")[1].endswith(b"\r\n\r\nfirst second\r\n.\r\nthird\r\n"), "no dot-unstuffing in BDAT"


def test_tcp_requires_auth_unless_preauthorized(lmtp):
    lm = smtplib.LMTP("127.0.0.1", lmtp.port("lmtp"), timeout=10)
    code, caps = lm.ehlo("x")
    assert b"AUTH PLAIN LOGIN" in caps or b"AUTH LOGIN PLAIN" in caps, caps
    assert lm.mail("a@b")[0] == 530
    with pytest.raises(smtplib.SMTPAuthenticationError):
        lm.login("fred", "wrong")
    lm.login("fred", "pw")
    assert lm.sendmail("a@b", ["barney"], b"Subject: auth\r\n\r\nx\r\n") == {}
    lm.quit()
    lmtp.log.wait(r"lmtpd\[\d+\]: login: x \[127.0.0.1\] fred PLAIN")
    lmtp.log.wait(r"badlogin: \[127.0.0.1\] PLAIN fred authentication failure")
    assert not lmtp.log.grep("wrong"), "no password in the log"
    la = smtplib.LMTP("127.0.0.1", lmtp.port("lmtpa"), timeout=10)
    assert la.sendmail("a@b", ["barney"], b"Subject: preauth\r\n\r\nx\r\n") == {}
    la.quit()
    assert len(lmtp.messages("user.barney")) == 2


def test_sigkill_of_lmtpd_loses_and_doubles_nothing(lmtp):
    """An MTA-like client delivers 100 messages, retrying any whose 250 it did not
    see, while lmtpd workers are killed at random."""
    import random
    import signal
    import threading
    rnd = random.Random(7)
    stop = threading.Event()
    kills = []

    def killer():
        while not stop.is_set():
            time.sleep(rnd.uniform(0.005, 0.05))
            for pid, comm in lmtp.workers("lmtpd").items():
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills.append(pid)
                except OSError:
                    pass
                break

    th = threading.Thread(target=killer)
    th.start()
    acked = set()
    try:
        for i in range(100):
            msg = f"Message-ID: <kill.{i}@example.org>\r\nSubject: {i}\r\n\r\nbody {i}\r\n".encode()
            for attempt in range(200):
                try:
                    lm = client(lmtp)
                    lm.ehlo("mta")
                    r = lmtp_send(lm, "a@b", ["fred"], msg)
                    if r["fred"][0] == 250:
                        acked.add(i)
                        try:
                            lm.quit()
                        except (OSError, smtplib.SMTPException):
                            pass
                        break
                except (OSError, smtplib.SMTPException):
                    time.sleep(0.01)
            else:
                pytest.fail(f"message {i} never acknowledged")
    finally:
        stop.set()
        th.join()
    assert len(acked) == 100 and len(kills) >= 10, (len(acked), len(kills))
    stored = lmtp.messages("user.fred")
    ids = [re.search(rb"Message-ID: <kill\.(\d+)@", m).group(1) for m in stored.values()]
    assert sorted(int(x) for x in ids) == list(range(100)), "every acknowledged message once"
    out = lmtp.tool("reconstruct", "-q", "user.fred").stdout
    assert out == b"", f"reconstruct found something to fix: {out!r}"


LMTPTEST = "/usr/lib/cyrus/bin/lmtptest"


@pytest.mark.skipif(not os.access(LMTPTEST, os.X_OK), reason="Debian's cyrus-clients is not installed (scripts/deps --cyrus)")
def test_cyrus_lmtptest_authenticates_and_delivers(lmtp):
    script = os.path.join(lmtp.dir, "lmtp-script")
    with open(script, "wb") as f:
        f.write(b"MAIL FROM:<lmtptest@example.org>\r\nRCPT TO:<barney>\r\nDATA\r\n"
                b"Subject: from lmtptest\r\nMessage-ID: <lmtptest.1@example.org>\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    r = subprocess.run([LMTPTEST, "-p", str(lmtp.port("lmtp")), "-m", "PLAIN", "-a", "fred", "-u", "fred", "-w", "pw",
                        "-f", script, "127.0.0.1"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert "Authenticated" in out or "235" in out, out
    msgs = lmtp.messages("user.barney")
    assert len(msgs) == 1 and b"Subject: from lmtptest" in msgs[1], out


def test_mixed_replies_over_quota_is_temporary_for_that_recipient_only(lmtp):
    lmtp.tool("quota", "--set", "user.barney", "1")
    lm = client(lmtp)
    lm.ehlo("x")
    big = b"Subject: big\r\n\r\n" + b"z" * 2000 + b"\r\n"
    # barney is not over quota yet: lenient quota (Cyrus's default) lets this one in.
    r = lmtp_send(lm, "a@b", ["fred", "barney"], big)
    assert [r["fred"][0], r["barney"][0]] == [250, 250], r
    r = lmtp_send(lm, "a@b", ["fred", "nobody", "barney"], b"Subject: second\r\n\r\nx\r\n")
    assert (r["fred"][0], r["nobody"][0], r["barney"][0]) == (250, 550, 452), r
    assert r["barney"][1].startswith(b"4.2.2")
    # IGNOREQUOTA from a trusted client goes through.
    code, _ = lm.mail("a@b")
    assert code == 250
    assert lm.docmd("RCPT TO:<barney> IGNOREQUOTA")[0] == 250
    lm.putcmd("data")
    assert lm.getreply()[0] == 354
    lm.send(b"Subject: forced\r\n\r\nx\r\n.\r\n")
    assert lm.getreply()[0] == 250
    lm.quit()
    assert len(lmtp.messages("user.fred")) == 2 and len(lmtp.messages("user.barney")) == 2
    out = lmtp.tool("quota").stdout.decode()
    assert "user.barney" in out


def test_reject8bit_and_permanent_quota_failure(make_instance):
    inst = make_instance(extra_conf="reject8bit: yes\nlmtp_over_quota_perm_failure: yes\nlmtp_strict_quota: yes\n")
    inst.create_mailbox("user.fred")
    inst.tool("quota", "--set", "user.fred", "1")
    inst.write_cyrus_conf(SERVICES=f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=0\n')
    inst.start()
    lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    r = lmtp_send(lm, "a@b", ["fred"], "Subject: caf\u00e9\r\n\r\nx\r\n".encode())
    assert r["fred"][0] == 554 and r["fred"][1].startswith(b"5.6.0"), r
    r = lmtp_send(lm, "a@b", ["fred"], "Subject: caf\u00e9\r\n\r\nx\r\n".encode(), mail_options=["SMTPUTF8"])
    assert r["fred"][0] == 250, "valid UTF-8 under SMTPUTF8 is not 8-bit garbage"
    r = lmtp_send(lm, "a@b", ["fred"], b"Subject: big\r\n\r\n" + b"z" * 2000 + b"\r\n")
    assert r["fred"][0] == 552 and r["fred"][1].startswith(b"5.2.2"), "strict quota, permanent failure"
    lm.quit()
    assert len(inst.messages("user.fred")) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs: needs root")
def test_full_partition_gives_temporary_failure_and_recovers(make_instance):
    inst = make_instance()
    part = os.path.join(inst.dir, "smallpart")
    os.makedirs(part)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k,mode=0755", "tmpfs", part], check=True)
    try:
        import pwd
        pw = pwd.getpwnam("cyrus")
        os.chown(part, pw.pw_uid, pw.pw_gid)
        with open(inst.conf) as f:
            text = f.read().replace(f"partition-default: {inst.dir}/spool", f"partition-default: {part}")
        with open(inst.conf, "w") as f:
            f.write(text)
        inst.create_mailbox("user.fred")
        inst.write_cyrus_conf(SERVICES=f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=1\n')
        inst.start()
        lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=10)
        lm.ehlo("x")
        acked, failures = [], []
        for i in range(40):
            body = f"Message-ID: <full.{i}@x>\r\nSubject: {i}\r\n\r\n".encode() + b"f" * 30_000 + b"\r\n"
            r = lmtp_send(lm, "a@b", ["fred"], body)["fred"]
            if r[0] == 250:
                acked.append(i)
            else:
                failures.append(r)
        assert acked and failures, (len(acked), failures[:2])
        assert all(c == 452 and t.startswith(b"4.3.1") for c, t in failures), failures[:3]
        # Everything acknowledged is there and whole; nothing half-written is counted.
        stored = {int(re.search(rb"Message-ID: <full\.(\d+)@", m).group(1)): m for m in
                  (open(os.path.join(part, "user", "fred", f), "rb").read()
                   for f in os.listdir(os.path.join(part, "user", "fred")) if f.endswith(".") and f[:-1].isdigit())}
        assert set(acked) <= set(stored), "an acknowledged message is missing"
        for i in acked:
            assert stored[i].endswith(b"f" * 30_000 + b"\r\n")
        out = inst.tool("mbexamine", "user.fred").stdout
        assert out.count(b" UID:") == len(acked), out[:300]
        # Space comes back: delivery resumes.
        subprocess.run(["mount", "-o", "remount,size=4m", part], check=True)
        r = lmtp_send(lm, "a@b", ["fred"], b"Message-ID: <after@x>\r\nSubject: after\r\n\r\nok\r\n")
        assert r["fred"][0] == 250, r
        lm.quit()
    finally:
        inst.stop()
        subprocess.run(["umount", "-l", part], check=False)
