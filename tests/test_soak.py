"""The fast version of the soak (bench/soak.py): half a minute of IMAP sessions (a third
in IDLE, the rest running the client mix), POP3 sessions every few seconds and LMTP
deliveries at 20/s to 10 users, against the binaries under test. No error of any kind,
and every delivered message is in its user's INBOX exactly once (and every message the
soak appended and did not delete is in its folder exactly once).

test_soak_short_with_kills runs it again while workers and master are SIGKILLed.

The full run (10 minutes, 300 connections, 50 deliveries/s to 100 users) is
`python3 bench/soak.py`, as root, against target/release."""

import os
import sys

import suite

sys.path.insert(0, os.path.join(suite.ROOT, "bench"))

import soak  # noqa: E402


SHORT = [
    "--minutes", "0.5", "--warmup", "6", "--imap-conns", "30", "--idle-fraction", str(1 / 3),
    "--pop-per-min", "15", "--lmtp-rate", "20", "--users", "10", "--prefill", "5",
    "--think-min", "0.3", "--think-max", "2", "--idle-min", "4", "--idle-max", "12",
    "--session-minutes", "0.25", "--sample-seconds", "10", "--prefork", "4", "--timeout", "30",
    "--quiet"]


def run_clean(*extra):
    """A short soak; returns (result, report) once it had no error and the
    exactly-once check held."""
    r = soak.run(soak.parser().parse_args(SHORT + list(extra) + ["--bin", suite.BIN]))
    report = soak.summary(r)
    print(report)
    assert r["error_total"] == 0, report
    assert r["check"]["ok"], report
    return r, report


def test_soak_short():
    r, report = run_clean()
    chk = r["check"]
    assert chk["delivered_ok"] >= 10 * 5 + 20 * 30 * 0.8, report
    assert chk["delivered_found_once"] == chk["delivered_ok"], report
    # The mix ran: appends kept and deleted, POP3 sessions, IDLE sessions woken.
    assert chk["appended"].get("kept", 0) > 0 and chk["appended"].get("deleted", 0) > 0, report
    assert r["counts"].get("POP3 sessions", 0) >= 5, report
    assert r["idle_exists_seen"] > 0, report
    assert r["memory"]["start"]["imapd_n"] >= 30, report


def test_soak_short_with_kills():
    """The same load while workers are SIGKILLed every 2 s and master once (started
    again at once): connections cut by a kill are expected, nothing else is; every
    acknowledged delivery is there exactly once (failed ones were retried, as an MTA
    does, and duplicate suppression kept them to one copy), and master comes back."""
    r, report = run_clean("--kill-per-min", "30", "--kill-master", "1", "--seed", "7")
    chk = r["check"]
    assert chk["delivered_found_once"] == chk["delivered_ok"] >= 10 * 5 + 20 * 30 * 0.6, report
    f = r["faults"]
    assert f["kills"].get("master") == 1 and len(f["master_restart_seconds"]) == 1, report
    assert sum(v for k, v in f["kills"].items() if k != "master") >= 8, report
    assert f["deaths_logged"] >= 1, report
    # master came back with every service: workers were forked again after the kills.
    end = r["memory"]["end"]
    assert end["imapd_n"] >= 4 and end["lmtpd_n"] >= 1, report
