"""Debian's own /etc/imapd.conf and /etc/cyrus.conf (from cyrus-common), with their
paths pointed at a temp dir and their listeners at free loopback ports and nothing
else changed, start the suite: every option is honoured or logged once as ignored,
the START and EVENTS tools run through Debian's `cyrus` wrapper become the suite's
own tools, and the Cyrus programs the suite has no counterpart for are named and left
out."""

import imaplib
import os
import pwd
import re
import shutil
import subprocess
import tempfile

import pytest

from suite import BIN, SyslogSink, free_port, wait_for

IMAPD_CONF = "/etc/imapd.conf"
CYRUS_CONF = "/etc/cyrus.conf"
pytestmark = pytest.mark.skipif(not (os.path.exists(IMAPD_CONF) and os.path.exists(CYRUS_CONF)),
                                reason="Debian's cyrus-common is not installed (scripts/deps --cyrus)")

PATHS = ["/var/lib/cyrus", "/run/cyrus", "/var/spool/cyrus", "/var/spool/sieve", "/var/spool/news"]


def test_debian_shipped_configuration_starts_the_suite():
    tmp = tempfile.mkdtemp(prefix="suite-debian-")
    os.chmod(tmp, 0o755)
    proc = None
    sink = None
    try:
        def repoint(text):
            for p in PATHS:
                text = text.replace(p, tmp + p)
            return text

        with open(IMAPD_CONF) as f:
            imapd = repoint(f.read())
        logsock = os.path.join(tmp, "log.sock")
        # The test's own plumbing, not Debian's: where the logs go, and whom to run as.
        imapd += f"\nsyslog_socket: {logsock}\n"
        if os.geteuid() == 0:
            imapd += "cyrus_user: cyrus\n"
        conf = os.path.join(tmp, "imapd.conf")
        with open(conf, "w") as f:
            f.write(imapd)
        with open(CYRUS_CONF) as f:
            cyrus = repoint(f.read())
        ports = {}

        def port_for(m):
            name = m.group(1)
            ports.setdefault(name, free_port())
            return f'listen="127.0.0.1:{ports[name]}"'
        cyrus = re.sub(r'listen="(imap|pop3|nntp|8008|localhost:sieve)"', port_for, cyrus)
        cconf = os.path.join(tmp, "cyrus.conf")
        with open(cconf, "w") as f:
            f.write(cyrus)
        for p in PATHS:
            os.makedirs(tmp + p, exist_ok=True)
        for sub in ("socket", "proc", "lock"):
            os.makedirs(os.path.join(tmp + "/run/cyrus", sub), exist_ok=True)
        subprocess.run([os.path.join(BIN, "mkimap"), "-C", conf], check=True, capture_output=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("cyrus")
            for d, _, files in os.walk(tmp):
                for n in [d] + [os.path.join(d, x) for x in files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid)
        sink = SyslogSink(logsock)
        proc = subprocess.Popen([os.path.join(BIN, "master"), "-C", conf, "-M", cconf, "-p", os.path.join(tmp, "master.pid")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sink.wait(r"master\[\d+\]: process started; ready for work", timeout=30)
        # Debian's START: recover and delprune ran as the suite's own tools; tls_prune,
        # which the suite has no use for, is named and skipped.
        sink.wait(r"process type:START name:recover path:\S+/ctl_cyrusdb .* exited, status 0")
        sink.wait(r"process type:START name:delprune path:\S+/cyr_expire .* exited, status 0")
        sink.wait(r"START tlsprune: not provided by this suite: \S+/tls_prune")
        for svc in ("http", "notify"):
            sink.wait(rf"service {svc}: not provided by this suite")
        # Every option of Debian's file is honoured or named once as ignored.
        for line in imapd.splitlines():
            opt = line.split(":", 1)[0].strip()
            if not opt or opt.startswith("#"):
                continue
            ignored = sink.grep(rf"master\[\d+\]: \S+:\d+: option '{re.escape(opt)}' .*ignored")
            assert len(ignored) <= 1, f"{opt} logged {len(ignored)} times"
        assert not sink.grep(r"unknown option"), "every option of Debian's file is one Cyrus documents"
        for opt in ("proc_path", "httpmodules", "idlesocket", "notifysocket"):
            assert sink.grep(rf"option '{opt}' .*ignored"), f"{opt} should be named as ignored\n{sink.text()}"
        # And the suite serves.
        m = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=10)
        assert m.welcome.startswith(b"* OK")
        m.logout()
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if sink:
            sink.close()
        shutil.rmtree(tmp, ignore_errors=True)
