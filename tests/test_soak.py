"""The fast version of the soak (bench/soak.py): half a minute of IMAP sessions (a third
in IDLE, the rest running the client mix), POP3 sessions every few seconds and LMTP
deliveries at 20/s to 10 users, against the binaries under test. No error of any kind,
and every delivered message is in its user's INBOX exactly once (and every message the
soak appended and did not delete is in its folder exactly once).

The full run (10 minutes, 300 connections, 50 deliveries/s to 100 users) is
`python3 bench/soak.py`, as root, against target/release."""

import os
import sys

import suite

sys.path.insert(0, os.path.join(suite.ROOT, "bench"))

import soak  # noqa: E402


def test_soak_short():
    args = soak.parser().parse_args([
        "--minutes", "0.5", "--warmup", "6", "--imap-conns", "30", "--idle-fraction", str(1 / 3),
        "--pop-per-min", "15", "--lmtp-rate", "20", "--users", "10", "--prefill", "5",
        "--think-min", "0.3", "--think-max", "2", "--idle-min", "4", "--idle-max", "12",
        "--session-minutes", "0.25", "--sample-seconds", "10", "--prefork", "4", "--timeout", "30",
        "--bin", suite.BIN, "--quiet"])
    r = soak.run(args)
    report = soak.summary(r)
    print(report)
    assert r["error_total"] == 0, report
    chk = r["check"]
    assert chk["ok"], report
    assert chk["delivered_ok"] >= 10 * 5 + 20 * 30 * 0.8, report
    assert chk["delivered_found_once"] == chk["delivered_ok"], report
    # The mix ran: appends kept and deleted, POP3 sessions, IDLE sessions woken.
    assert chk["appended"].get("kept", 0) > 0 and chk["appended"].get("deleted", 0) > 0, report
    assert r["counts"].get("POP3 sessions", 0) >= 5, report
    assert r["idle_exists_seen"] > 0, report
    assert r["memory"]["start"]["imapd_n"] >= 30, report
