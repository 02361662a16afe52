"""The security rules of issue 7 (part 4) that other files do not test yet.

Already covered elsewhere (not repeated here):
- no plaintext authentication without TLS unless configured: test_imapd_suite.py
  test_login_policy_and_log_lines, test_imapd.py test_capability_starttls_login_policy_noop_logout,
  test_pop3d.py test_plaintext_needs_tls_then_the_whole_command_set, test_workers.py
  test_imap_capability_noop_logout_and_refusals, test_lmtpd.py test_tcp_requires_auth_unless_preauthorized;
- TLS 1.2 floor: test_workers.py test_implicit_tls_with_dash_s_and_old_tls_refused;
- growing delays after failed logins: test_imapd_suite.py test_login_policy_and_log_lines;
- workers run as the cyrus user: test_master.py test_root_master_binds_privileged_port_then_runs_as_cyrus_user;
- line length, literal size, nesting: test_imapd.py test_overlong_line,
  test_literal_over_the_limit_gets_no_continuation, test_syntax_errors_nesting_and_sequence_sets,
  test_imapd_suite.py test_literal_limits_and_too_big_append, test_unbounded_commands_are_cut_off_before_login,
  test_workers.py test_imap_bad_input_keeps_session, test_lmtpd.py test_limits_and_bad_sequences;
- "../" in CREATE: test_imapd.py test_bad_mailbox_names; ACL holes: test_imapd_suite.py
  test_acl_holes_found_in_review_stay_closed;
- maxlogins_per_user/per_host (IMAP LOGIN, POP3 PASS per user, killed worker):
  test_imapd_suite.py test_maxlogins_per_user_and_per_host.

Run:  cd tests && python3 -m pytest -q test_security.py
"""

import base64
import os
import poplib
import re
import socket
import subprocess
import time
import uuid

import pytest

from suite import ROOT, lmtp_send, read_line
from test_faults import Raw, deaths, lmtp_client, mail_instance, message, message_ids, rss_kb, session_pid


def token(kind):
    return f"{kind}{uuid.uuid4().hex}"


def add_user(inst, user, pw):
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", user],
                   input=pw.encode(), check=True)
    inst._own()


# ---------------------------------------------------------------------------
# Message content and passwords never reach syslog.


def test_no_message_content_or_password_in_syslog(make_instance):
    inst = mail_instance(make_instance, users=("fred", "barney", "wilma"))
    good, bad_login, bad_auth, bad_pop, good_pop = (token(k) for k in ("goodpw", "badpw", "badauth", "badpop", "goodpop"))
    body_tok, hdr_tok, app_tok = token("body"), token("hdr"), token("append")
    add_user(inst, "wilma", good)
    lm = lmtp_client(inst)
    r = lmtp_send(lm, "a@b", ["fred", "wilma"], message("secret.1@x", body=f"the body {body_tok}\r\n".encode(),
                                                        extra=f"X-Secret: {hdr_tok}\r\n".encode()))
    assert [c for c, _ in r.values()] == [250, 250], r
    lm.quit()
    # IMAP: LOGIN right and wrong, AUTHENTICATE PLAIN wrong (with an initial response).
    w = Raw(inst, "wilma", pw=good)
    assert w.cmd("APPEND INBOX", message("secret.2@x", body=f"appended {app_tok}\r\n".encode())).ok
    assert w.cmd("SELECT INBOX").ok and w.cmd("FETCH 1:* BODY[]").ok
    w.logout()
    x = Raw(inst)
    assert x.cmd(f"LOGIN wilma {bad_login}").status == "NO"
    plain = base64.b64encode(f"\0wilma\0{bad_auth}".encode()).decode()
    assert x.cmd(f"AUTHENTICATE PLAIN {plain}").status == "NO"
    x.logout()
    # POP3: PASS right and wrong.
    add_user(inst, "barney", good_pop)
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.user("barney")
    with pytest.raises(poplib.error_proto):
        p.pass_(bad_pop)
    p.quit()
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.user("barney")
    p.pass_(good_pop)
    p.quit()
    inst.log.wait(r"badlogin: .*wilma")
    inst.log.wait(r"pop3d\[\d+\]: login: .*barney")
    time.sleep(0.5)
    text = inst.log.text() + inst.stderr_text()
    for t in (good, bad_login, bad_auth, bad_pop, good_pop, body_tok, hdr_tok, app_tok, plain,
              base64.b64encode(f"\0wilma\0{good}".encode()).decode()):
        assert t not in text, f"{t[:8]}... reached the log: {[l for l in text.splitlines() if t in l]}"
    assert "the body" not in text and "appended" not in text


# ---------------------------------------------------------------------------
# Names that try to reach outside the partition or another user's data.


def _tree(root, skip=()):
    out = set()
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if os.path.join(d, x) not in skip]
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


def test_names_reaching_outside_the_partition_or_into_another_user_are_refused(make_instance):
    inst = mail_instance(make_instance)
    spool = os.path.join(inst.dir, "spool")
    lm = lmtp_client(inst)
    assert lmtp_send(lm, "a@b", ["barney"], message("barney.1@x"))["barney"][0] == 250
    assert lmtp_send(lm, "a@b", ["fred"], message("fred.1@x"))["fred"][0] == 250
    parent = os.path.dirname(inst.dir)
    before_parent = set(os.listdir(parent))
    before_root = set(os.listdir("/"))
    before_inst = _tree(inst.dir, skip={spool, os.path.join(inst.dir, "config")})
    before_barney = _tree(os.path.join(spool, "user", "barney"))
    f = Raw(inst, "fred")
    long_name = "INBOX/" + "a" * 5000
    deep_name = "INBOX/" + "/".join(["d" * 200] * 40)
    names = ["../x", "../../etc/x", "/etc/x", "//x", "INBOX/../../../x", "INBOX/..", "INBOX/.", "%2e%2e/x",
             "INBOX/%2e%2e/%2e%2e/x", "INBOX/..%2f..%2fx", "user/barney/x", "user/barney", "user/fred/../barney/x",
             "user/%2e%2e/barney", "INBOX/~barney", "INBOX/\\..\\..\\x", long_name, deep_name, "user/barney/INBOX",
             "INBOX/" + "\u00e9".encode("utf-7").decode()]
    results = {}
    for n in names:
        r = f.cmd(b"CREATE " + b"{%d+}\r\n" % len(n.encode()) + n.encode())
        results[n] = r.status
    # NUL, CR and LF in names (as literals, the only way to send them).
    for raw in (b"INBOX/a\r\nb", b"INBOX/a\nb", b"INBOX/a\rb", b"INBOX/a\x00b", b"INBOX/a\x00/../../x", b"INBOX/\x7f\x01"):
        r = f.cmd(b"CREATE " + b"{%d+}\r\n" % len(raw) + raw)
        results[raw] = r.status
        assert r.status in ("NO", "BAD"), (raw, r)
    for n in ("user/barney/x", "user/barney", "user/fred/../barney/x", "user/barney/INBOX"):
        assert results[n] in ("NO", "BAD"), (n, results[n])
    assert results[long_name] in ("NO", "BAD"), "a 5000-byte name"
    # Another user's data by every route.
    for c in ("SELECT user/barney", "EXAMINE user/barney", "STATUS user/barney (MESSAGES)", "DELETE user/barney",
              "RENAME user/barney INBOX/stolen", "GETACL user/barney", "SETACL user/barney fred lrswipkxtea",
              "SELECT ../barney", "SELECT INBOX/../../barney", "SELECT user/fred/../barney", "SELECT %2e%2e/barney"):
        r = f.cmd(c)
        assert r.status in ("NO", "BAD"), (c, r)
    assert f.cmd("APPEND user/barney", message("intruder.1@x")).status in ("NO", "BAD")
    assert f.cmd("SELECT INBOX").ok
    assert f.cmd("COPY 1 user/barney").status in ("NO", "BAD")
    assert f.cmd("MOVE 1 user/barney").status in ("NO", "BAD")
    assert f.cmd("CREATE INBOX/mine").ok
    for target in ("../y", "/y", "user/barney/y", "INBOX/../../y", "user/fred/../barney/y"):
        r = f.cmd(f'RENAME INBOX/mine "{target}"')
        assert r.status in ("NO", "BAD") or target in ("INBOX/../../y",), (target, r)
    # ACL identifiers: nothing that would read as another entry or a path.
    for ident in (b"x\tbarney", b"x barney", b"barney\tlrs\tx", b"../../etc/passwd", b"a\r\nbarney", b"a\x00barney",
                  b"a" * 5000):
        r = f.cmd(b"SETACL INBOX {%d+}\r\n" % len(ident) + ident + b" lrswipkxtea")
        results[ident] = r.status
    r = f.cmd("GETACL INBOX")
    assert r.ok, r
    acl = b"".join(r.untagged)
    b = Raw(inst, "barney")
    for c in ("SELECT user/fred", "EXAMINE user/fred", "STATUS user/fred (MESSAGES)"):
        r = b.cmd(c)
        assert r.status in ("NO", "BAD"), f"barney reached fred's INBOX through an ACL identifier: {c} {r} (ACL {acl!r})"
    b.logout()
    f.logout()
    # LMTP recipients.
    for rcpt in ("../barney", "fred/../barney", "barney/../../etc", "fred+../../x", "fred+../barney", "+../../x",
                 "fred+/etc/passwd", "fred+user.barney", "fred+%2e%2e/barney", "fred+" + "a" * 3000):
        try:
            lmtp_send(lm, "a@b", [rcpt], message(f"rcpt.{abs(hash(rcpt))}@x"))
        except Exception:
            lm.close()
            lm = lmtp_client(inst)
    lm.quit()
    # POP3 user names.
    for u in ("../barney", "user/barney", "user.barney", "fred/../barney"):
        p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
        try:
            p.user(u)
            with pytest.raises(poplib.error_proto):
                p.pass_("pw")
        except poplib.error_proto:
            pass
        p.quit()
    # barney's mailbox got nothing from fred, and nothing appeared outside the spool.
    assert set(message_ids(inst, "barney")) == {"barney.1@x"}
    assert _tree(os.path.join(spool, "user", "barney")) == before_barney
    # (Other processes may write to /tmp meanwhile: look for the names the attempts used.)
    ours = {"x", "y", "etc", "barney", "passwd", "..", "%2e%2e", "d" * 200}
    for d, before in ((parent, before_parent), ("/", before_root), (os.path.dirname(spool), None)):
        new = set(os.listdir(d)) - (before or set(os.listdir(d)))
        assert not (new & ours), (d, new & ours)
        assert not (set(os.listdir(d)) & {"x", "y"}), d
    assert _tree(inst.dir, skip={spool, os.path.join(inst.dir, "config")}) - before_inst <= {"master.stderr"}
    for d, dirs, files in os.walk(spool):
        for n in dirs + files:
            p = os.path.join(d, n)
            assert not os.path.islink(p), p
            assert os.path.realpath(p).startswith(os.path.realpath(spool) + os.sep), p
    assert not deaths(inst), deaths(inst)
    print({(k if isinstance(k, str) else repr(k))[:40]: v for k, v in results.items()})


# ---------------------------------------------------------------------------
# The input classes behind recent Cyrus and Dovecot CVEs.


BIG = 64 * 1024 * 1024


def _nested(depth):
    head = b"Message-ID: <nested@x>\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    parts = [head]
    for i in range(depth):
        parts.append(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n" % (i, i))
    parts.append(b"Content-Type: text/plain\r\n\r\nleaf NESTEDLEAF\r\n")
    for i in reversed(range(depth)):
        parts.append(b"--b%d--\r\n" % i)
    return b"".join(parts)


def _many_parts(n):
    out = [b"Message-ID: <parts@x>\r\nSubject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"]
    for i in range(n):
        out.append(b"--B\r\nContent-Type: text/plain\r\n\r\np%d\r\n" % i)
    out.append(b"--B--\r\n")
    return b"".join(out)


def _long_header(size):
    return b"Message-ID: <longhdr@x>\r\nSubject: long\r\nX-Long: " + b"a" * size + b"\r\n\r\nbody\r\n"


def _folded(n):
    return b"Message-ID: <folded@x>\r\nSubject: start\r\n" + b" fold\r\n" * n + \
        b"To: " + b"x@y,\r\n " * (n // 10) + b"z@y\r\n\r\nbody\r\n"


def _long_body_line(size):
    return b"Message-ID: <longline@x>\r\nSubject: longline\r\n\r\n" + b"L" * size + b"\r\nend\r\n"


CVE_INPUTS = {
    "nested_multipart_10000": lambda: _nested(10_000),
    "parts_100000": lambda: _many_parts(100_000),
    "header_line_50MB": lambda: _long_header(50 * 1024 * 1024),
    "header_folded_100000": lambda: _folded(100_000),
    "data_line_1MB": lambda: _long_body_line(1024 * 1024),
}

LIMIT = 30.0


def _timed(what, f, limit=LIMIT):
    t = time.monotonic()
    out = f()
    dt = time.monotonic() - t
    assert dt < limit, f"{what} took {dt:.1f}s (limit {limit}s)"
    return out, dt


@pytest.fixture
def big(make_instance):
    return mail_instance(make_instance, extra=f"maxmessagesize: {BIG}\nmaxlogins_per_user: 100000\n", imap=1, pop3=0, lmtp=1)


@pytest.mark.parametrize("kind", list(CVE_INPUTS))
def test_hostile_messages_no_crash_bounded_time_and_memory(big, kind):
    msg = CVE_INPUTS[kind]()
    assert len(msg) < BIG
    mid = re.search(rb"Message-ID: <([^>]+)>", msg).group(1).decode()
    im = Raw(big, "fred", timeout=120)
    pid = session_pid(big, "fred")
    rss0 = rss_kb(pid)
    lm = lmtp_client(big, timeout=120)
    lpid = next(iter(big.workers("lmtpd")))
    r, dt_lmtp = _timed(f"{kind}: LMTP delivery", lambda: lmtp_send(lm, "a@b", ["fred"], msg)["fred"])
    assert r[0] in (250, 552, 554), r
    stored = r[0] == 250
    lhwm = rss_kb(lpid, "VmHWM")
    # The session that delivered goes on.
    assert lm.noop()[0] == 250
    assert lmtp_send(lm, "a@b", ["fred"], message("after.lmtp@x"))["fred"][0] == 250
    lm.quit()
    times = {"lmtp": round(dt_lmtp, 2)}
    assert im.cmd("SELECT INBOX").ok
    for c in ("FETCH 1 (ENVELOPE BODYSTRUCTURE RFC822.SIZE)", "FETCH 1 (BODY.PEEK[HEADER])", "FETCH 1 (BODY.PEEK[1.1.1.1])",
              "FETCH 1 (BODY.PEEK[TEXT]<0.1000>)", "SEARCH SUBJECT fold", "SEARCH TEXT NESTEDLEAF", "SEARCH HEADER X-Long zzz",
              "FETCH 1:* (BODY)"):
        r, dt = _timed(f"{kind}: {c}", lambda: im.cmd(c))
        assert r.status in ("OK", "NO", "BAD"), (c, r)
        times[c] = (r.status, round(dt, 2))
    assert im.cmd("NOOP").ok
    rss1, hwm = rss_kb(pid), rss_kb(pid, "VmHWM")
    im.logout()
    have = message_ids(big, "fred")
    assert have.get("after.lmtp@x") == 1 and have.get(mid, 0) == (1 if stored else 0), have
    assert not deaths(big), deaths(big)
    print(f"{kind}: {len(msg)} bytes, stored={stored}, times {times}, imapd RSS {rss0}->{rss1} kB (peak {hwm} kB), "
          f"lmtpd peak {lhwm} kB")
    # Memory stays bounded: a few times the message at most, never unbounded.
    assert hwm < 1_000_000 and (lhwm or 0) < 1_000_000, (hwm, lhwm)


def test_overlong_lmtp_command_and_data_lines(big):
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"{big.dir}/lmtp.sock")
    s.settimeout(60)
    f = lambda: read_line(s, 60)
    assert f().startswith(b"220")
    mb = 1024 * 1024
    s.sendall(b"LHLO " + b"h" * mb + b"\r\n")
    assert f()[:1] == b"5"
    s.sendall(b"LHLO x\r\n")
    while not f().startswith(b"250 "):
        pass
    for cmd in (b"MAIL FROM:<" + b"a" * mb + b"@x>", b"NOOP " + b"n" * mb, b"X" * mb):
        s.sendall(cmd + b"\r\n")
        line = f()
        assert line[:1] == b"5", line
    s.sendall(b"MAIL FROM:<a@b>\r\n")
    assert f().startswith(b"250")
    s.sendall(b"RCPT TO:<" + b"r" * mb + b">\r\n")
    assert f()[:1] == b"5"
    s.sendall(b"RCPT TO:<fred>\r\nDATA\r\n")
    assert f().startswith(b"250") and f().startswith(b"354")
    # 1 MB lines without CRLF, then one of only LFs, then the end.
    s.sendall(b"Message-ID: <biglines@x>\r\nSubject: lines\r\n\r\n" + b"d" * mb + b"\r\n" + b"\n" * mb + b"\r\n.\r\n")
    line = f()
    assert line[:1] in (b"2", b"5"), line
    s.sendall(b"NOOP\r\n")
    assert f().startswith(b"250")
    s.sendall(b"QUIT\r\n")
    s.close()
    lm = lmtp_client(big)
    assert lmtp_send(lm, "a@b", ["fred"], message("after@x"))["fred"][0] == 250
    lm.quit()
    assert not deaths(big), deaths(big)
    for pid in big.workers("lmtpd"):
        assert rss_kb(pid, "VmHWM") < 500_000


def _colliding(n):
    """Names that collide under common string hashes (Java's hashCode: "Aa" == "BB"),
    plus long shared prefixes (which defeat hashes of a prefix)."""
    out = []
    k = 0
    while len(out) < n:
        bits = format(k, "012b")
        out.append("".join("Aa" if c == "0" else "BB" for c in bits))
        k += 1
    return out


def test_hash_flooding_mailbox_names(big):
    names = _colliding(5000)
    f = Raw(big, "fred", timeout=300)
    pid = session_pid(big, "fred")
    rss0 = rss_kb(pid)
    t = time.monotonic()
    f.send(b"".join(b"c%d CREATE INBOX/%s\r\n" % (i, n.encode()) for i, n in enumerate(names)))
    bad = []
    for i in range(len(names)):
        line = f.response_line()
        while not line.startswith(b"c%d " % i):
            line = f.response_line()
        if line.split()[1] != b"OK":
            bad.append(line)
    dt_create = time.monotonic() - t
    assert not bad, bad[:3]
    assert dt_create < 300, f"5000 CREATEs took {dt_create:.1f}s"
    r, dt_list = _timed("LIST of 5000 colliding names", lambda: f.cmd('LIST "" "*"'))
    assert r.ok and len(r.untagged) >= 5001, (len(r.untagged), r)
    r, dt_pat = _timed("LIST with a pattern", lambda: f.cmd('LIST "" "INBOX/AaAaAa%"'))
    assert r.ok and len(r.untagged) == 64 * 8, len(r.untagged)
    r, dt_status = _timed("STATUS of one", lambda: f.cmd(f"STATUS INBOX/{names[4321]} (MESSAGES)"))
    assert r.ok
    r, dt_lsub = _timed("LIST-EXTENDED with CHILDREN", lambda: f.cmd('LIST "" "*" RETURN (CHILDREN)'))
    assert r.ok
    rss1, hwm = rss_kb(pid), rss_kb(pid, "VmHWM")
    # Another session is served meanwhile, and deliveries work.
    g = Raw(big, "barney")
    assert g.cmd("CREATE INBOX/x").ok
    g.logout()
    lm = lmtp_client(big)
    assert lmtp_send(lm, "a@b", ["fred"], message("hash@x"))["fred"][0] == 250
    lm.quit()
    f.logout()
    assert not deaths(big), deaths(big)
    print(f"5000 CREATEs {dt_create:.1f}s, LIST {dt_list:.2f}s, pattern {dt_pat:.2f}s, STATUS {dt_status:.3f}s, "
          f"LIST RETURN (CHILDREN) {dt_lsub:.2f}s; imapd RSS {rss0}->{rss1} kB (peak {hwm} kB)")
    assert hwm < 500_000, hwm


# ---------------------------------------------------------------------------
# maxlogins_per_user / maxlogins_per_host: what test_imapd_suite.py does not cover.


def _maxlogins_documented():
    try:
        with open(os.path.join(ROOT, "man", "imapd.conf.5")) as f:
            return "maxlogins_per_host" in f.read()
    except OSError:
        return False


needs_maxlogins = pytest.mark.skipif(not _maxlogins_documented(),
                                     reason="maxlogins_per_host/maxlogins_per_user are not in man/imapd.conf.5 yet (being implemented)")


def _auth_plain(inst, user, pw="pw"):
    im = Raw(inst)
    return im, im.cmd("AUTHENTICATE PLAIN " + base64.b64encode(f"\0{user}\0{pw}".encode()).decode())


@needs_maxlogins
def test_maxlogins_per_user_counts_authenticate_and_pop3_and_zero_is_unlimited(make_instance):
    inst = mail_instance(make_instance, extra="maxlogins_per_user: 2\n", imap=0, pop3=0)
    a, r = _auth_plain(inst, "fred")
    assert r.ok, r
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.user("fred")
    p.pass_("pw")
    # IMAP + POP3 = 2: a third by AUTHENTICATE is refused, with the LIMIT code.
    c, r = _auth_plain(inst, "fred")
    assert r.status == "NO" and b"[LIMIT]" in r.tagged, r
    c.logout()
    # Another user is not affected.
    d, r = _auth_plain(inst, "barney")
    assert r.ok, r
    # Freed places can be taken again.
    p.quit()
    e, r = _auth_plain(inst, "fred")
    assert r.ok, r
    for m in (a, d, e):
        m.logout()
    # 0 (the default) is no limit: 25 sessions of one user.
    inst2 = mail_instance(make_instance, extra="", imap=0, pop3=0)
    many = [Raw(inst2, "fred") for _ in range(25)]
    for m in many:
        assert m.cmd("NOOP").ok
        m.logout()


@needs_maxlogins
def test_maxlogins_per_host_counts_pop3_and_authenticate(make_instance):
    inst = mail_instance(make_instance, extra="maxlogins_per_host: 3\n", imap=0, pop3=0)
    a = Raw(inst, "fred")
    b, r = _auth_plain(inst, "barney")
    assert r.ok, r
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.user("fred")
    # fred's maildrop is free (his IMAP session does not lock it): the third login from
    # this host.
    assert p.pass_("pw").startswith(b"+OK")
    # A fourth, by POP3: -ERR with Cyrus's response code; by IMAP AUTHENTICATE: NO [LIMIT].
    q = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    q.user("barney")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[SYS/TEMP\]"):
        q.pass_("pw")
    q.quit()
    c, r = _auth_plain(inst, "admin", "secret")
    assert r.status == "NO" and b"[LIMIT]" in r.tagged, r
    c.logout()
    inst.log.wait(r"login refused: \[127\.0\.0\.1\]")
    # An unauthenticated connection does not count: it can still say hello.
    x = Raw(inst)
    assert x.cmd("NOOP").ok
    x.logout()
    p.quit()
    d, r = _auth_plain(inst, "admin", "secret")
    assert r.ok, r
    for m in (a, b, d):
        m.logout()
