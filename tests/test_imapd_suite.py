"""imapd features of the suite itself (no Cyrus comparison): login policy and its log
lines, proxy authorisation, telemetry, literal limits, STARTTLS injection, and the
untagged updates another process causes."""

import base64
import imaplib
import os
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from suite import lmtp_send, read_line


@pytest.fixture
def imap(make_instance):
    inst = make_instance(extra_conf="sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_mech_list: PLAIN LOGIN\n"
                                    "admins: admin\nproxyservers: proxy\nmaxword: 4096\n")
    cert, key = os.path.join(inst.dir, "cert.pem"), os.path.join(inst.dir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\ntls_server_cert: {cert}\ntls_server_key: {key}\n")
    for u in ("fred", "barney"):
        inst.create_mailbox(f"user.{u}")
    for u, pw in (("fred", "pw"), ("barney", "pw"), ("admin", "secret"), ("proxy", "ppw")):
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", u], input=pw.encode(), check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=(
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=0\n'
        f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=1\n'
        f'  imaps cmd="imapd -s" listen="127.0.0.1:{inst.port("imaps")}" prefork=0\n'))
    inst.start()
    inst.ctx = ssl.create_default_context(cafile=cert)
    inst.ctx.check_hostname = False
    return inst


def connect(inst, user="fred", pw="pw"):
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    m.starttls(inst.ctx)
    if user:
        m.login(user, pw)
    return m


def deliver(inst, user, n, tag="m"):
    lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    for i in range(n):
        msg = f"Message-ID: <{tag}.{i}@x>\r\nSubject: {tag} {i}\r\n\r\nbody {i}\r\n".encode()
        assert lmtp_send(lm, "a@b", [user], msg)[user][0] == 250
    lm.quit()


def test_login_policy_and_log_lines(imap):
    m = imaplib.IMAP4("127.0.0.1", imap.port("imap"))
    caps = m.capabilities
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps and "AUTH=PLAIN" not in caps
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        m.login("fred", "pw")
    m.starttls(imap.ctx)
    caps = m.capabilities
    assert "LOGINDISABLED" not in caps and "STARTTLS" not in caps and "AUTH=PLAIN" in caps
    # Failures are logged and answered more slowly each time.
    times = []
    for _ in range(3):
        t = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            m.login("fred", "wrong")
        times.append(time.monotonic() - t)
    assert times[0] >= 0.4 and times[2] >= times[0] + 0.8, times
    imap.log.wait(r"imapd\[\d+\]: badlogin: \[127\.0\.0\.1\] plaintext fred ")
    assert m.login("fred", "pw")[0] == "OK"
    imap.log.wait(r"imapd\[\d+\]: login: \[127\.0\.0\.1\] fred plaintext TLSv1\.[23] with cipher \S+ User logged in")
    assert "pw" not in imap.log.text().replace("pwcheck", "")
    m.logout()
    # Implicit TLS (imaps): AUTHENTICATE PLAIN with an initial response.
    s = imaplib.IMAP4_SSL("127.0.0.1", imap.port("imaps"), ssl_context=imap.ctx)
    assert "SASL-IR" in s.capabilities
    typ, _ = s._simple_command("AUTHENTICATE", "PLAIN", base64.b64encode(b"\0barney\0pw").decode())
    assert typ == "OK"
    s.state = "AUTH"
    assert s.select("INBOX")[0] == "OK"
    s.logout()


def test_proxy_authorisation_only_for_admins_and_proxyservers(imap):
    def auth(authz, authc, pw):
        m = connect(imap, user=None)
        try:
            return m.authenticate("PLAIN", lambda _: f"{authz}\0{authc}\0{pw}".encode())[0]
        except imaplib.IMAP4.error:
            return "NO"
    assert auth("fred", "barney", "pw") == "NO"
    assert auth("fred", "proxy", "ppw") == "OK"
    assert auth("fred", "admin", "secret") == "OK"
    imap.log.wait(r"proxy authorisation: proxy acts as fred")


def test_starttls_with_pipelined_command_is_refused(imap):
    s = socket.create_connection(("127.0.0.1", imap.port("imap")), timeout=5)
    assert read_line(s).startswith(b"* OK")
    s.sendall(b"a STARTTLS\r\nb LOGIN fred pw\r\n")
    assert read_line(s).startswith(b"* BYE")
    s.close()
    m = connect(imap)
    m.logout()


def test_literal_limits_and_too_big_append(imap):
    s = socket.create_connection(("127.0.0.1", imap.port("imap")), timeout=5)
    assert read_line(s).startswith(b"* OK")
    # A synchronising literal over maxword: refused before it is sent.
    s.sendall(b"a1 LOGIN {5000}\r\n")
    assert read_line(s) == b"a1 NO [TOOBIG] Literal too large\r\n"
    # A non-synchronising one is read and dropped with its command.
    s.sendall(b"a2 LOGIN {5000+}\r\n" + b"x" * 5000 + b" {2+}\r\npw\r\na3 NOOP\r\n")
    assert read_line(s) == b"a2 NO [TOOBIG] Literal too large\r\n"
    assert read_line(s) == b"a3 OK Completed\r\n"
    s.close()


def test_telemetry_log_for_a_user_with_a_log_directory(imap):
    logdir = os.path.join(imap.dir, "config", "log", "fred")
    os.makedirs(logdir)
    imap._own()
    m = connect(imap)
    m.select("INBOX")
    m.logout()
    m = connect(imap, "barney")
    m.logout()
    files = os.listdir(logdir)
    assert len(files) == 1
    with open(os.path.join(logdir, files[0]), "rb") as f:
        text = f.read()
    assert b"SELECT INBOX" in text and b"[READ-WRITE]" in text and b"LOGOUT" in text
    assert b"<" in text and b">" in text
    assert not os.path.exists(os.path.join(imap.dir, "config", "log", "barney"))


def test_other_sessions_see_exists_flags_and_expunge(imap):
    deliver(imap, "fred", 3)
    a, b = connect(imap), connect(imap)
    assert a.select("INBOX") == ("OK", [b"3"])
    assert b.select("INBOX") == ("OK", [b"3"])
    # \Recent went to the first session only.
    assert a.response("RECENT")[1] == [b"3"] or a.search(None, "RECENT")[1] == [b"1 2 3"]
    assert b.search(None, "RECENT")[1] == [b""]
    deliver(imap, "fred", 1, tag="n")
    a.store("1", "+FLAGS", "\\Flagged")
    a.store("2", "+FLAGS", "\\Deleted")
    a.expunge()
    # b: a non-UID FETCH must not see the EXPUNGE; NOOP does.
    typ, data = b.fetch("1:*", "(FLAGS)")
    assert len([d for d in data if d]) >= 3
    assert b.response("EXPUNGE")[1] == [None]
    b.noop()
    assert b.response("EXPUNGE")[1] == [b"2"]
    assert b.search(None, "ALL")[1] == [b"1 2 3"]
    assert b.search(None, "FLAGGED")[1] == [b"1"]
    a.logout()
    b.logout()


def test_updates_after_appends_only_and_after_changes_to_older_messages(imap):
    """A selected session catches up from the new messages alone when only appends
    happened (issue 18: an IDLE wake-up costs the new messages, not the mailbox), and
    still sees a flag change to an older message, alone or beside new messages."""
    deliver(imap, "fred", 5, tag="u")
    a, b = connect(imap), connect(imap)
    assert a.select("INBOX") == ("OK", [b"5"])
    b.select("INBOX")
    deliver(imap, "fred", 2, tag="v")
    a.response("EXISTS")  # SELECT's, read and forgotten
    a.noop()
    assert a.response("EXISTS")[1] == [b"7"]
    b.store("2", "+FLAGS", "\\Flagged")
    a.noop()
    assert a.response("FETCH")[1] == [b"2 (FLAGS (\\Flagged \\Recent))"], a.untagged_responses
    b.store("3", "+FLAGS", "\\Answered")
    deliver(imap, "fred", 1, tag="w")
    a.noop()
    assert a.response("FETCH")[1] == [b"3 (FLAGS (\\Answered \\Recent))"], a.untagged_responses
    assert a.response("EXISTS")[1] == [b"8"]
    assert a.search(None, "FLAGGED")[1] == [b"2"] and a.search(None, "ANSWERED")[1] == [b"3"]
    a.logout()
    b.logout()


def test_idle_wakes_on_delivery_within_a_second(imap):
    m = connect(imap)
    m.select("INBOX")
    sock = m.sock
    sock.sendall(b"i1 IDLE\r\n")
    assert m.readline().startswith(b"+ ")
    lat = []
    for i in range(5):
        t = time.monotonic()
        deliver(imap, "fred", 1, tag=f"idle{i}")
        sock.settimeout(1.0)
        line = m.readline()
        lat.append(time.monotonic() - t)
        assert line == b"* %d EXISTS\r\n" % (i + 1), line
        assert m.readline() == b"* %d RECENT\r\n" % (i + 1)
    assert max(lat) < 1.0, lat
    sock.sendall(b"DONE\r\n")
    assert m.readline().startswith(b"i1 OK")
    sock.settimeout(10)
    m.logout()


def test_unbounded_commands_are_cut_off_before_login(imap):
    s = socket.create_connection(("127.0.0.1", imap.port("imap")), timeout=10)
    assert read_line(s).startswith(b"* OK")
    # An endless chain of empty non-synchronising literals: refused after 1000.
    s.sendall(b"a NOOP {0+}\r\n" + b"x {0+}\r\n" * 1100 + b"\r\nb NOOP\r\n")
    assert read_line(s) == b"a NO [TOOBIG] Literal too large\r\n"
    line = read_line(s)
    while line.startswith(b"b BAD") or line.startswith(b"* BAD"):  # the tail of the chain, if any
        line = read_line(s)
    assert line == b"b OK Completed\r\n", line
    # Before login, APPEND is held to maxword too (no 256 MiB message buffer).
    s.sendall(b"c APPEND INBOX {100000}\r\n")
    assert read_line(s) == b"c NO [TOOBIG] Literal too large\r\n"
    s.close()


def test_acl_holes_found_in_review_stay_closed(imap):
    deliver(imap, "barney", 1, tag="b")
    a = connect(imap, "admin", "secret")
    b = connect(imap, "barney")
    assert b.create("secret")[0] == "OK"
    # fred may delete (x) barney's folder but not read it: he cannot take it over by
    # renaming it into his own hierarchy.
    assert b.setacl("secret", "fred", "lx")[0] == "OK"
    f = connect(imap, "fred")
    typ, data = f.rename('"Other Users/barney/secret"', "mine")
    assert typ == "NO" and b"NOPERM" in data[0], data
    # Internal, domain-qualified names are for admins only.
    assert f.create("example.org!user.fred")[0] == "NO"
    # An identifier that would break the stored ACL is refused.
    assert b.setacl("secret", '"bad id"', "lr")[0] == "NO"
    assert b.getacl("secret")[1][0].count(b"fred") == 1
    # APPEND with only i: flags the user may not set are dropped; \Seen of a
    # non-owner never reaches the owner's index.
    assert b.setacl("secret", "fred", "li")[0] == "OK"
    typ, data = f.append('"Other Users/barney/secret"', "(\\Seen \\Deleted \\Flagged $Junk)", None, b"Subject: x\r\n\r\nhi\r\n")
    assert typ == "OK", data
    b.select("secret")
    typ, data = b.fetch("1", "(FLAGS)")
    assert data[0] == b"1 (FLAGS (\\Recent))", data
    # The selected mailbox deleted by another session: BYE, and the session ends.
    b.create("doomed")
    b.select("doomed")
    assert a.delete("user/barney/doomed")[0] == "OK"
    with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error)):
        b.noop()
        b.noop()


def test_hostile_date_header_does_not_kill_search(imap):
    lm = smtplib.LMTP(f"{imap.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    msg = "Message-ID: <d@x>\r\nDate: Fri (a\u00e9) Jan 1 00:00:00 2021\r\nSubject: d\r\n\r\nx\r\n".encode()
    assert lmtp_send(lm, "a@b", ["fred"], msg, mail_options=("SMTPUTF8",))["fred"][0] == 250
    lm.quit()
    m = connect(imap)
    m.select("INBOX")
    for key in ("SENTON", "SENTBEFORE", "SENTSINCE"):
        assert m.search(None, key, "1-Jan-2021")[0] == "OK"
    m.logout()


def test_maxlogins_per_user_and_per_host(make_instance):
    inst = make_instance(extra_conf="sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nallowplaintext: yes\n"
                                    "maxlogins_per_user: 2\nmaxlogins_per_host: 3\n")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\n")
    for u in ("fred", "barney"):
        inst.create_mailbox(f"user.{u}")
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", u], input=b"pw", check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=0\n'
                                   f'  pop3 cmd="pop3d" listen="127.0.0.1:{inst.port("pop3")}" prefork=0\n')
    inst.start()

    def imap(user):
        m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
        m.login(user, "pw")
        return m
    a, b = imap("fred"), imap("fred")
    with pytest.raises(imaplib.IMAP4.error, match=r"\[LIMIT\]"):
        imap("fred")
    inst.log.wait(r"imapd\[\d+\]: login refused: \[127\.0\.0\.1\] fred: User\(2\)")
    # POP3 counts too.
    import poplib
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.user("fred")
    with pytest.raises(poplib.error_proto, match="Too many open connections"):
        p.pass_("pw")
    p.quit()
    # Per host: fred has 2, barney's first makes 3, his second is one too many.
    c = imap("barney")
    with pytest.raises(imaplib.IMAP4.error, match=r"\[LIMIT\]"):
        imap("barney")
    # A session that ends frees its place, also when its worker is killed.
    a.logout()
    d = imap("fred")
    # Kill the worker of one logged-in session (its proc file names it).
    procdir = os.path.join(inst.dir, "config", "proc")
    busy = sorted(int(n) for n in os.listdir(procdir))
    assert len(busy) == 3, busy
    os.kill(busy[0], 9)
    wait_for_ok = [None]
    for _ in range(50):
        try:
            wait_for_ok[0] = imap("barney")
            break
        except imaplib.IMAP4.error:
            time.sleep(0.1)
    assert wait_for_ok[0] is not None
    for m in (b, c, d, wait_for_ok[0]):
        try:
            m.logout()
        except Exception:
            pass
