"""Postfix delivering to the suite over its lmtp transport (the FAQ's whole point):
a private Postfix instance in a temp dir, mailbox_transport = lmtp:unix:<our socket>."""

import os
import shutil
import subprocess
import time

import pytest

from suite import wait_for

POSTFIX = "/usr/sbin/postfix"
pytestmark = pytest.mark.skipif(not os.access(POSTFIX, os.X_OK) or os.geteuid() != 0,
                                reason="needs Postfix (scripts/deps --cyrus) and root")

KEEP = ("pickup", "cleanup", "qmgr", "rewrite", "bounce", "defer", "trace", "verify", "flush", "proxymap",
        "proxywrite", "showq", "error", "retry", "discard", "local", "lmtp", "anvil", "scache", "postlog")


class PrivatePostfix:
    def __init__(self, base, lmtp_socket):
        self.dir = os.path.join(base, "postfix")
        self.conf = os.path.join(self.dir, "etc")
        os.makedirs(self.conf)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(
                "compatibility_level = 3.6\n"
                f"queue_directory = {self.dir}/queue\ndata_directory = {self.dir}/data\n"
                "mail_owner = postfix\nsetgid_group = postdrop\n"
                "myhostname = mta.example.test\nmydomain = example.test\nmyorigin = example.test\n"
                "mydestination = example.test, localhost\ninet_interfaces = loopback-only\ninet_protocols = ipv4\n"
                f"mailbox_transport = lmtp:unix:{lmtp_socket}\n"
                "local_recipient_maps =\nalias_maps =\nalias_database =\n"
                f"maillog_file = {self.dir}/maillog\nmaillog_file_prefixes = {self.dir}\n"
                "biff = no\nqueue_run_delay = 1s\nminimal_backoff_time = 1s\nmaximal_backoff_time = 2s\n"
            )
        # Debian's master.cf without the port 25 listener and without chroot.
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if not fields or line.startswith("#") or line[0].isspace():
                    continue
                if fields[0] in KEEP and fields[1] != "inet":
                    fields[4] = "n"
                    out.append("  ".join(fields) + "\n")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.writelines(out)
        os.makedirs(os.path.join(self.dir, "queue"))
        os.makedirs(os.path.join(self.dir, "data"))
        shutil.chown(os.path.join(self.dir, "data"), "postfix")
        # 'postfix check' makes the queue's subdirectories with their owners.
        self.run(POSTFIX, "-c", self.conf, "check")
        self.run(POSTFIX, "-c", self.conf, "start")

    def run(self, *cmd, input=None):
        return subprocess.run(list(cmd), input=input, capture_output=True, timeout=60, check=True)

    def sendmail(self, sender, rcpts, msg):
        self.run("/usr/sbin/sendmail", "-C", self.conf, "-f", sender, *rcpts, input=msg)

    def queue(self):
        return subprocess.run(["/usr/sbin/postqueue", "-c", self.conf, "-p"], capture_output=True, timeout=30).stdout.decode()

    def log(self):
        try:
            with open(os.path.join(self.dir, "maillog")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        subprocess.run([POSTFIX, "-c", self.conf, "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def test_postfix_delivers_through_lmtp_and_defers_only_the_over_quota_recipient(make_instance):
    inst = make_instance()
    for u in ("fred", "barney"):
        inst.create_mailbox(f"user.{u}")
    inst.tool("quota", "--set", "user.barney", "1")
    sock = os.path.join(inst.dir, "lmtp.sock")
    inst.write_cyrus_conf(SERVICES=f'  lmtpunix cmd="lmtpd" listen="{sock}" prefork=1\n')
    inst.start()
    pf = PrivatePostfix(inst.dir, sock)
    try:
        pf.sendmail("sender@example.test", ["fred@example.test"], b"Subject: via postfix\r\n\r\nhello fred\r\n")
        wait_for(lambda: inst.messages("user.fred"), timeout=30, what=f"delivery through Postfix\n{pf.log()}")
        msg = inst.messages("user.fred")[1]
        assert b"Subject: via postfix" in msg and b"Return-Path: <sender@example.test>" in msg
        # Fill barney's quota, then one message to both: fred gets it, barney is deferred.
        pf.sendmail("sender@example.test", ["barney@example.test"], b"Subject: filler\r\n\r\n" + b"x" * 3000 + b"\r\n")
        wait_for(lambda: inst.messages("user.barney"), timeout=30, what=f"filler delivered\n{pf.log()}")
        pf.sendmail("sender@example.test", ["fred@example.test", "barney@example.test"], b"Subject: both\r\n\r\nto both\r\n")
        wait_for(lambda: len(inst.messages("user.fred")) == 2, timeout=30, what=f"fred's copy\n{pf.log()}")
        q = wait_for(lambda: "barney@example.test" in pf.queue() and pf.queue(), timeout=30, what="barney deferred")
        assert "fred@example.test" not in q, q
        assert "4.2.2" in q or "Over quota" in q, q
        assert len(inst.messages("user.barney")) == 1
        assert "status=deferred" in pf.log() and "status=sent" in pf.log()
    finally:
        pf.stop()


def test_postfix_with_sieve_fileinto_and_reject(make_instance):
    from test_sieve import put_script
    inst = make_instance(extra_conf="unixhierarchysep: no\naltnamespace: no\n")
    with open(inst.conf, "a") as f:
        f.write(f"sievedir: {inst.dir}/sieve\n")
    for u in ("fred", "barney"):
        inst.create_mailbox(f"user.{u}")
    inst.create_mailbox("user.fred.Lists")
    put_script(inst, "fred", 'require ["fileinto", "imap4flags"];\n'
                             'if header :contains "subject" "list" { fileinto :flags "\\\\Flagged" "INBOX.Lists"; }\n')
    put_script(inst, "barney", 'require "reject";\nreject "Barney does not take mail here.";\n')
    sock = os.path.join(inst.dir, "lmtp.sock")
    inst.write_cyrus_conf(SERVICES=f'  lmtpunix cmd="lmtpd" listen="{sock}" prefork=1\n')
    inst.start()
    pf = PrivatePostfix(inst.dir, sock)
    try:
        pf.sendmail("sender@example.test", ["fred@example.test", "barney@example.test"],
                    b"Subject: a list message\r\nMessage-ID: <pf1@example.test>\r\n\r\nhello\r\n")
        wait_for(lambda: inst.messages("user.fred.Lists"), timeout=30, what=f"fileinto through Postfix\n{pf.log()}")
        assert inst.messages("user.fred") == {}
        log = wait_for(lambda: "status=bounced" in pf.log() and pf.log(), timeout=30, what=f"barney's reject\n{pf.log()}")
        assert "barney@example.test" in log and "5.7.1" in log and "Barney does not take mail here." in log, log
        assert inst.messages("user.barney") == {}
    finally:
        pf.stop()
