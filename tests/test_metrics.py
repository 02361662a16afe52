"""Prometheus figures: a real instance with prometheus_enabled, real IMAP logins and
LMTP deliveries, then /metrics scraped over HTTP (TCP and a unix socket) from
promstatsd and parsed with the real Prometheus parser (prometheus_client)."""

import http.client
import imaplib
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time

import pytest

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # scripts/deps installs Debian's python3-prometheus-client; a python3 that is not
    # Debian's (pyenv, a venv) finds the pure-Python package there.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

from suite import lmtp_send, wait_for

USERS = {"fred": "fredpw", "barney": "barneypw", "wilma": "wilmapw"}
BIG = b"Subject: big\r\nMessage-ID: <big@example.org>\r\n\r\n" + b"z" * 3000 + b"\r\n"


def setup(inst, enabled):
    with open(inst.conf, "a") as f:
        f.write(f"allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
                f"sasl_mech_list: PLAIN LOGIN\nsasl_sasldb_path: {inst.dir}/config/sasldb2\n"
                f"prometheus_enabled: {'yes' if enabled else 'no'}\n")
    for user, pw in USERS.items():
        inst.create_mailbox(f"user.{user}")
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", user],
                       input=pw.encode(), check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=(
        # -U 1: every session's worker exits after it, so what the figures show was
        # counted by processes that are gone.
        f'  imap cmd="imapd -U 1" listen="127.0.0.1:{inst.port("imap")}" prefork=1\n'
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=0\n'
        f'  prometheus cmd="promstatsd" listen="127.0.0.1:{inst.port("prom")}" prefork=1\n'
        f'  promunix cmd="promstatsd" listen="{inst.dir}/prom.sock" prefork=0\n'))
    inst.start()
    return inst


@pytest.fixture
def inst(make_instance):
    return setup(make_instance(), enabled=True)


def get(inst, path="/metrics", method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", inst.port("prom"), timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def scrape(inst):
    """{(sample name, sorted labels): value} of one scrape, through the real parser."""
    status, ctype, body = get(inst)
    assert status == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8", (status, ctype)
    out = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def v(figures, name, service, **labels):
    return figures[(name, tuple(sorted({"service": service, **labels}.items())))]


def imap_login(inst, user, pw):
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=15)
    try:
        m.login(user, pw)
        return m
    except imaplib.IMAP4.error:
        m.shutdown()
        return None


def raw_http(addr, data, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(addr)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        got += c
    s.close()
    return got


def test_scrape_shows_exactly_the_logins_deliveries_and_refusals_made(inst):
    inst.tool("quota", "--set", "user.barney", "1")
    base = scrape(inst)
    assert v(base, "cyrus_imap_connections_total", "imap") == 0
    # Two good logins, two refused ones, each on its own connection.
    for user, pw in (("fred", "fredpw"), ("fred", "nope"), ("barney", "barneypw"), ("nobody", "x")):
        m = imap_login(inst, user, pw)
        if m:
            m.logout()
    lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=15)
    lm.ehlo("mta.example.org")
    r = lmtp_send(lm, "a@b", ["fred", "barney", "nobody"], BIG)
    assert (r["fred"][0], r["barney"][0], r["nobody"][0]) == (250, 250, 550), r
    r = lmtp_send(lm, "a@b", ["barney"], b"Subject: second\r\nMessage-ID: <two@example.org>\r\n\r\nx\r\n")
    assert r["barney"][0] == 452, r
    r = lmtp_send(lm, "a@b", ["fred"], BIG)
    assert r["fred"][0] == 250, "a duplicate is accepted and dropped"
    lm.quit()
    assert len(inst.messages("user.fred")) == 1
    m = imap_login(inst, "barney", "barneypw")
    typ, data = m.append("INBOX", None, None, b"Subject: self\r\n\r\n" + b"y" * 2000 + b"\r\n")
    assert typ == "NO" and b"OVERQUOTA" in data[0], (typ, data)
    m.logout()

    def settled():
        f = scrape(inst)
        return f if v(f, "cyrus_imap_shutdown_total", "imap", status="ok") == 5 else None
    f = wait_for(settled, timeout=15, what="five imap workers gone")
    assert v(f, "cyrus_imap_connections_total", "imap") == 5
    assert v(f, "cyrus_imap_authenticate_total", "imap", result="yes") == 3
    assert v(f, "cyrus_imap_authenticate_total", "imap", result="no") == 2
    assert v(f, "cyrus_imap_append_total", "imap") == 1
    assert v(f, "cyrus_imap_quota_refusals_total", "imap") == 1
    assert v(f, "cyrus_imap_shutdown_total", "imap", status="error") == 0
    assert v(f, "cyrus_lmtp_connections_total", "lmtpunix") == 1
    assert v(f, "cyrus_lmtp_received_messages_total", "lmtpunix") == 3
    assert v(f, "cyrus_lmtp_received_recipients_total", "lmtpunix") == 4
    assert v(f, "cyrus_lmtp_received_bytes_total", "lmtpunix") == 2 * len(BIG) + len(b"Subject: second\r\nMessage-ID: <two@example.org>\r\n\r\nx\r\n")
    assert v(f, "cyrus_lmtp_deliveries_total", "lmtpunix", result="delivered") == 2
    assert v(f, "cyrus_lmtp_deliveries_total", "lmtpunix", result="over_quota") == 1
    assert v(f, "cyrus_lmtp_deliveries_total", "lmtpunix", result="unknown_user") == 1
    assert v(f, "cyrus_lmtp_deliveries_total", "lmtpunix", result="duplicate") == 1
    assert v(f, "cyrus_lmtp_deliveries_total", "lmtpunix", result="temp_failure") == 0
    assert v(f, "cyrus_lmtp_quota_refusals_total", "lmtpunix") == 1
    assert v(f, "cyrus_lmtp_authenticate_total", "lmtpunix", result="yes") == 0
    # The histogram: one sync per delivered message at least, cumulative buckets.
    count = v(f, "cyrus_fsync_duration_seconds_count", "lmtpunix")
    assert count >= 1 and v(f, "cyrus_fsync_duration_seconds_sum", "lmtpunix") > 0
    les = sorted(((float(dict(k[1])["le"]), val) for k, val in f.items()
                  if k[0] == "cyrus_fsync_duration_seconds_bucket" and dict(k[1])["service"] == "lmtpunix"))
    assert [val for _, val in les] == sorted(val for _, val in les) and les[-1] == (float("inf"), count)
    # Workers: imap keeps one ready; the scrape itself is the prometheus service's.
    assert v(f, "cyrus_imap_ready_listeners", "imap") >= 1
    assert v(f, "cyrus_imap_active_connections", "imap") == 0
    assert v(f, "cyrus_imap_workers_started_total", "imap") >= 6
    assert v(f, "cyrus_prometheus_connections_total", "prometheus") >= 2


def test_active_connections_and_a_killed_worker(inst):
    m = imap_login(inst, "fred", "fredpw")
    f = wait_for(lambda: (lambda f: f if v(f, "cyrus_imap_active_connections", "imap") == 1 else None)(scrape(inst)),
                 timeout=10, what="one active imap connection")
    assert v(f, "cyrus_imap_authenticate_total", "imap", result="yes") == 1
    busy = [p for p in inst.workers("imapd")]
    # The busy worker is the one holding the session: kill every imapd worker.
    for pid in busy:
        os.kill(pid, signal.SIGKILL)
    f = wait_for(lambda: (lambda f: f if v(f, "cyrus_imap_shutdown_total", "imap", status="error") == len(busy) else None)(scrape(inst)),
                 timeout=10, what="the killed workers counted")
    assert v(f, "cyrus_imap_authenticate_total", "imap", result="yes") == 1, "counts of a killed worker stay"
    assert v(f, "cyrus_imap_connections_total", "imap") == 1
    wait_for(lambda: v(scrape(inst), "cyrus_imap_active_connections", "imap") == 0, timeout=10, what="no active imap connection")
    try:
        m.logout()
    except (imaplib.IMAP4.abort, OSError):
        pass
    # After master stops, the file keeps the counters and its gauges read 0 (layout:
    # a 48-byte header, then u64 slots: 0 connections, 1 logins ok, 3 ready, 4 busy).
    assert v(scrape(inst), "cyrus_imap_ready_listeners", "imap") >= 1
    inst.stop()
    with open(os.path.join(inst.dir, "config", "stats", "imap.stats"), "rb") as fh:
        raw = fh.read()
    slot = lambda i: int.from_bytes(raw[48 + 8 * i: 56 + 8 * i], sys.byteorder)
    assert raw[:8] == b"CYRSTAT1" and (slot(0), slot(1), slot(3), slot(4)) == (1, 1, 0, 0)


def test_bad_requests_get_errors_and_the_exporter_keeps_answering(inst):
    addr = ("127.0.0.1", inst.port("prom"))
    assert get(inst, "/")[0] == 404
    assert get(inst, "/metricsx")[0] == 404
    assert get(inst, "/metrics", "POST")[0] == 405
    assert get(inst, "/metrics", "DELETE")[0] == 405
    status, _, body = get(inst, "/metrics", "HEAD")
    assert status == 200 and body == ""
    for junk in (b"garbage\r\n\r\n", b"GET /metrics HTTP/2.0\r\n\r\n", b"GET /metrics\r\n\r\n",
                 b"\xff\xfe\x00\x01\r\n\r\n", b"GET  /metrics HTTP/1.1\r\n\r\n"):
        got = raw_http(addr, junk)
        assert got.startswith(b"HTTP/1.1 400 "), (junk, got[:60])
    assert raw_http(addr, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 414 ")
    assert raw_http(addr, b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n").startswith(b"HTTP/1.1 431 ")
    assert raw_http(addr, b"") == b"", "a client that sends nothing and leaves"
    # HTTP/1.0 and the unix socket.
    got = raw_http(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"cyrus_imap_connections_total" in got
    got = raw_http(f"{inst.dir}/prom.sock", b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", socket.AF_UNIX)
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Type: text/plain; version=0.0.4" in head
    assert {fam.name for fam in text_string_to_metric_families(body.decode())} >= {"cyrus_imap_connections", "cyrus_fsync_duration_seconds"}
    assert v(scrape(inst), "cyrus_prometheus_shutdown_total", "prometheus", status="error") == 0, "no exporter crashed"


def test_sieve_actions_are_counted(make_instance):
    inst = make_instance()
    with open(inst.conf, "a") as f:
        f.write(f"sievedir: {inst.dir}/sieve\n")
    scripts = {"fred": 'require "fileinto";\nfileinto "Lists";\nkeep;\n', "barney": "discard;\n",
               "wilma": 'require "reject";\nreject "not here";\n'}
    for user, source in scripts.items():
        d = os.path.join(inst.dir, "sieve", user[0], user)
        os.makedirs(d)
        with open(os.path.join(d, "main.script"), "w") as f:
            f.write(source)
        os.symlink("main.bc", os.path.join(d, "defaultbc"))
    setup(inst, enabled=True)
    inst.create_mailbox("user.fred.Lists")
    lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=15)
    lm.ehlo("x")
    r = lmtp_send(lm, "a@b", ["fred", "barney", "wilma"], b"Subject: s\r\nMessage-ID: <s@x>\r\n\r\nx\r\n")
    lm.quit()
    assert (r["fred"][0], r["barney"][0], r["wilma"][0]) == (250, 250, 550), r
    assert len(inst.messages("user.fred")) == 1 and len(inst.messages("user.fred.Lists")) == 1
    f = scrape(inst)
    got = {a: v(f, f"cyrus_lmtp_sieve_{a}_total", "lmtpunix") for a in ("keep", "fileinto", "discard", "reject", "redirect")}
    assert got == {"keep": 1, "fileinto": 1, "discard": 1, "reject": 1, "redirect": 0}, got
    assert v(f, "cyrus_lmtp_deliveries_total", "lmtpunix", result="delivered") == 2, "fred's and barney's (discarded) accepted"


def test_nothing_is_written_when_prometheus_is_disabled(make_instance):
    inst = setup(make_instance(), enabled=False)
    m = imap_login(inst, "fred", "fredpw")
    m.logout()
    assert imap_login(inst, "fred", "bad") is None
    lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=15)
    lm.ehlo("x")
    assert lmtp_send(lm, "a@b", ["fred"], BIG)["fred"][0] == 250
    lm.quit()
    status, _, body = get(inst)
    time.sleep(0.5)
    assert status == 200 and body == ""
    assert not os.path.exists(os.path.join(inst.dir, "config", "stats"))
