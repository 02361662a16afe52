"""pop3d against the store: python's poplib, over STLS and implicit TLS."""

import base64
import imaplib
import os
import poplib
import re
import smtplib
import socket
import ssl
import subprocess

import pytest

from suite import lmtp_send, read_line, wait_for


@pytest.fixture
def pop(make_instance):
    inst = make_instance(extra_conf="sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_mech_list: PLAIN LOGIN\n")
    cert, key = os.path.join(inst.dir, "cert.pem"), os.path.join(inst.dir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\ntls_server_cert: {cert}\ntls_server_key: {key}\n")
    for u in ("fred", "barney"):
        inst.create_mailbox(f"user.{u}")
    for u in ("fred", "barney"):
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", u], input=b"pw", check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=(
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=0\n'
        f'  pop3 cmd="pop3d" listen="127.0.0.1:{inst.port("pop3")}" prefork=1\n'
        f'  pop3s cmd="pop3d -s" listen="127.0.0.1:{inst.port("pop3s")}" prefork=0\n'
        f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=0\n'))
    inst.start()
    inst.ctx = ssl.create_default_context(cafile=cert)
    inst.ctx.check_hostname = False
    return inst


def deliver(inst, user, n, tag="m"):
    lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    for i in range(n):
        body = f"Message-ID: <{tag}.{i}@x>\r\nSubject: {tag} {i}\r\n\r\nline one\r\n.starts with a dot\r\nline three\r\n".encode()
        assert lmtp_send(lm, "a@b", [user], body)[user][0] == 250
    lm.quit()


def login(inst, user="fred"):
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.stls(inst.ctx)
    p.user(user)
    p.pass_("pw")
    return p


def test_plaintext_needs_tls_then_the_whole_command_set(pop):
    deliver(pop, "fred", 3)
    p = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    caps = p.capa()
    assert "STLS" in caps and "USER" not in caps and "UIDL" in caps and "TOP" in caps
    with pytest.raises(poplib.error_proto, match="Plaintext"):
        p.user("fred")
    p.stls(pop.ctx)
    assert "USER" in p.capa()
    p.user("fred")
    assert p.pass_("pw").startswith(b"+OK")
    assert p.stat()[0] == 3
    _, listing, _ = p.list()
    assert len(listing) == 3
    _, uidls, _ = p.uidl()
    uidvalidity = 1_700_000_000
    assert uidls[0] == f"1 {uidvalidity}.1".encode(), uidls
    _, lines, _ = p.retr(1)
    assert b"Subject: m 0" in lines and b".starts with a dot" in lines, lines
    _, top, _ = p.top(2, 1)
    assert top[-1] == b"line one" and b"line three" not in top
    assert p.dele(1).startswith(b"+OK")
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    assert p.stat()[0] == 2
    p.rset()
    assert p.stat()[0] == 3
    p.dele(2)
    assert p.quit().startswith(b"+OK")
    p = login(pop)
    assert p.stat()[0] == 2, "QUIT expunged the deleted message"
    assert [l.split()[1] for l in p.uidl()[1]] == [f"{uidvalidity}.1".encode(), f"{uidvalidity}.3".encode()], "UIDL stable"
    p.quit()
    pop.log.wait(r"pop3d\[\d+\]: login: \[127.0.0.1\] fred plaintext TLSv1")
    pop.log.wait(r"logout: \[127.0.0.1\] fred retrieved 1 deleted 1")


def test_in_use_and_dropped_connection_expunges_nothing(pop):
    deliver(pop, "barney", 2)
    first = login(pop, "barney")
    second = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    second.stls(pop.ctx)
    second.user("barney")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_("pw")
    first.dele(1)
    first.sock.shutdown(socket.SHUT_RDWR)  # dropped, no QUIT
    first.sock.close()
    p = None
    for _ in range(50):
        try:
            p = login(pop, "barney")
            break
        except poplib.error_proto:
            import time
            time.sleep(0.1)
    assert p is not None and p.stat()[0] == 2, "nothing expunged by a dropped connection"
    # Mail delivered during the session shows in the next one only.
    deliver(pop, "barney", 1, tag="late")
    assert p.stat()[0] == 2
    p.quit()
    p = login(pop, "barney")
    assert p.stat()[0] == 3
    p.quit()


def test_auth_plain_over_implicit_tls_and_bad_input(pop):
    deliver(pop, "fred", 1)
    raw = socket.create_connection(("127.0.0.1", pop.port("pop3s")), timeout=10)
    s = pop.ctx.wrap_socket(raw)
    assert read_line(s).startswith(b"+OK")
    s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0fred\0wrong") + b"\r\n")
    assert read_line(s).startswith(b"-ERR [AUTH]")
    s.sendall(b"STAT\r\n")
    assert read_line(s).startswith(b"-ERR")
    s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0fred\0pw") + b"\r\n")
    assert read_line(s).startswith(b"+OK")
    for bad, want in ((b"RETR 99", b"-ERR No such message"), (b"RETR x", b"-ERR Invalid"), (b"DELE", b"-ERR Wrong number"),
                      (b"TOP 1 x", b"-ERR Invalid line count"), (b"FOO", b"-ERR Unrecognized"), (b"X" * 1000, b"-ERR Line too long")):
        s.sendall(bad + b"\r\n")
        assert read_line(s).startswith(want), bad
    s.sendall(b"STAT\r\nQUIT\r\n")
    assert read_line(s).startswith(b"+OK 1 ")
    assert read_line(s).startswith(b"+OK")
    s.close()
    pop.log.wait(r"badlogin: \[127.0.0.1\] PLAIN")
    assert not pop.log.grep("wrong")


FETCHMAIL = "/usr/bin/fetchmail"


@pytest.mark.skipif(not os.access(FETCHMAIL, os.X_OK), reason="fetchmail is not installed (scripts/deps --cyrus)")
def test_fetchmail_over_stls_fetches_once_and_tracks_uidl_with_keep(pop):
    deliver(pop, "fred", 50, tag="fm")
    out = os.path.join(pop.dir, "fetched.mbox")
    idfile = os.path.join(pop.dir, "fetchids")

    def fetch(keep):
        rc = os.path.join(pop.dir, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(
                "set no syslog\nset no bouncemail\n"
                f'poll 127.0.0.1 service {pop.port("pop3")} protocol POP3 uidl\n'
                f'  user "fred" there with password "pw" is "root" here\n'
                f'  sslproto "tls1.2+" no sslcertck {"keep" if keep else "nokeep"}\n'
                f'  mda "/bin/sh -c \'cat >> {out}; echo From-separator >> {out}\'"\n'
            )
        os.chmod(rc, 0o600)
        r = subprocess.run([FETCHMAIL, "-f", rc, "-i", idfile, "--nodetach", "-v"], capture_output=True, timeout=120,
                           env={**os.environ, "HOME": pop.dir, "FETCHMAILHOME": pop.dir})
        return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")

    def count():
        if not os.path.exists(out):
            return 0
        with open(out, "rb") as f:
            return f.read().count(b"From-separator")

    code, log = fetch(keep=False)
    assert code == 0, log
    assert "STLS" in log or "TLS" in log, log[-2000:]
    assert count() == 50, log[-2000:]
    code, log = fetch(keep=False)
    assert code == 1 and count() == 50, "a second run fetches nothing"
    deliver(pop, "fred", 5, tag="kept")
    code, log = fetch(keep=True)
    assert code == 0 and count() == 55, log[-2000:]
    code, log = fetch(keep=True)
    assert code == 1 and count() == 55, "with keep, UIDL tracking fetches nothing twice"
    p = login(pop)
    assert p.stat()[0] == 5, "kept on the server"
    p.quit()


POP3TEST = "/usr/lib/cyrus/bin/pop3test"


@pytest.mark.skipif(not os.access(POP3TEST, os.X_OK), reason="Debian's cyrus-clients is not installed (scripts/deps --cyrus)")
def test_cyrus_pop3test_with_sasl_plain_over_tls(pop):
    deliver(pop, "fred", 2, tag="pt")
    script = os.path.join(pop.dir, "pop-script")
    with open(script, "wb") as f:
        f.write(b"STAT\r\nUIDL\r\nQUIT\r\n")
    r = subprocess.run([POP3TEST, "-s", "-p", str(pop.port("pop3s")), "-m", "PLAIN", "-a", "fred", "-u", "fred", "-w", "pw",
                        "-f", script, "127.0.0.1"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert "+OK 2 " in out, out
    assert "1700000000.1" in out, out


def test_disconnect_during_retr_loses_nothing(pop):
    lm = smtplib.LMTP(f"{pop.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    big = b"Message-ID: <big@x>\r\nSubject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 2000
    assert lmtp_send(lm, "a@b", ["fred"], big)["fred"][0] == 250
    assert lmtp_send(lm, "a@b", ["fred"], b"Message-ID: <small@x>\r\n\r\nsmall\r\n")["fred"][0] == 250
    lm.quit()
    raw = socket.create_connection(("127.0.0.1", pop.port("pop3s")), timeout=10)
    s = pop.ctx.wrap_socket(raw)
    read_line(s)
    s.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0fred\0pw") + b"\r\nDELE 2\r\nRETR 1\r\n")
    assert read_line(s).startswith(b"+OK")
    assert read_line(s).startswith(b"+OK")
    assert read_line(s).startswith(b"+OK Message follows")
    s.recv(1000)
    s.close()  # gone in the middle of the message, after a DELE, without QUIT
    for _ in range(50):
        try:
            p = login(pop)
            break
        except poplib.error_proto:
            import time
            time.sleep(0.1)
    assert p.stat()[0] == 2, "the DELE of a dropped session expunged nothing"
    _, lines, _ = p.retr(1)
    assert len(lines) > 2000
    p.quit()
    assert not pop.log.grep(r"pop3d.*signaled to death")


def test_acl_decides_reading_and_deleting(pop):
    # Without popuseacl (Cyrus's default) the owner's maildrop is fully theirs.
    pop.create_mailbox("user.wilma", acl="wilma\tls\t")
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{pop.dir}/config/sasldb2", "-u", "suite.test", "wilma"], input=b"pw", check=True)
    pop._own()
    login(pop, "wilma").quit()
    with open(pop.conf, "a") as f:
        f.write("popuseacl: yes\n")
    pop.hup()  # idle workers leave; new ones read imapd.conf again
    wait_for(lambda: pop.log.grep(r"process type:SERVICE name:pop3 .*exited"), what="the old pop3d worker to leave")
    pop.create_mailbox("user.betty", acl="betty\tlrs\t")
    for u in ("wilma", "betty"):
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{pop.dir}/config/sasldb2", "-u", "suite.test", u], input=b"pw", check=True)
    pop._own()
    deliver(pop, "betty", 1, tag="acl")
    with pytest.raises(poplib.error_proto, match="Permission denied"):
        login(pop, "wilma")
    p = login(pop, "betty")
    with pytest.raises(poplib.error_proto, match="Permission denied"):
        p.dele(1)
    assert p.retr(1)[0].startswith(b"+OK")
    p.quit()


def test_popminpoll_refuses_a_second_login_too_soon(make_instance):
    inst = make_instance(extra_conf="popminpoll: 10\nallowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\n")
    inst.create_mailbox("user.fred")
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", "fred"], input=b"pw", check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=f'  pop3 cmd="pop3d" listen="127.0.0.1:{inst.port("pop3")}" prefork=1\n')
    inst.start()
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    assert "LOGIN-DELAY" in p.capa()
    p.user("fred")
    p.pass_("pw")
    p.quit()
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    p.user("fred")
    with pytest.raises(poplib.error_proto, match=r"\[LOGIN-DELAY\]"):
        p.pass_("pw")


def test_imap_expunge_during_a_pop3_session(pop):
    """An IMAP client expunges while a POP3 session is open: the POP3 session keeps
    serving its snapshot (same numbers, sizes, UIDLs and contents), its QUIT expunges
    only what it deleted, and IMAP then sees exactly what is left."""
    deliver(pop, "fred", 5)
    p = login(pop)
    before_uidl = p.uidl()[1]
    before_list = p.list()[1]
    im = imaplib.IMAP4("127.0.0.1", pop.port("imap"))
    im.starttls(pop.ctx)
    im.login("fred", "pw")
    assert im.select("INBOX") == ("OK", [b"5"])
    im.store("1:2", "+FLAGS", "\\Deleted")
    im.expunge()
    assert im.select("INBOX") == ("OK", [b"3"])
    # The POP3 view is unchanged and consistent.
    assert p.stat()[0] == 5
    assert p.uidl()[1] == before_uidl and p.list()[1] == before_list
    _, lines, _ = p.retr(3)
    assert b"Subject: m 2" in lines
    assert p.dele(5).startswith(b"+OK")
    assert p.quit().startswith(b"+OK")
    # IMAP learns of the POP3 expunge as an untagged EXPUNGE, and 2 messages remain.
    typ, data = im.noop()
    assert im.response("EXPUNGE")[1] == [b"3"], data
    typ, data = im.search(None, "ALL")
    assert data == [b"1 2"]
    _, subj = im.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert [x[1].strip() for x in subj if isinstance(x, tuple)] == [b"Subject: m 2", b"Subject: m 3"]
    im.logout()
    # A new POP3 session numbers what is left.
    p = login(pop)
    assert p.stat()[0] == 2
    p.quit()


def test_apop_without_tls_from_sasldb_secrets(pop):
    """APOP (allowapop, on by default as in Cyrus): the greeting carries a challenge,
    the digest is checked by libsasl2 against the sasldb secret, no TLS needed."""
    deliver(pop, "fred", 2)
    p = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    assert re.search(rb"<[^>]+@suite\.test>$", p.getwelcome()), p.getwelcome()
    with pytest.raises(poplib.error_proto, match="-ERR"):
        p.apop("fred", "wrong")
    assert p.apop("fred", "pw").startswith(b"+OK")
    assert p.stat()[0] == 2
    p.quit()
    # Two greetings never share a challenge.
    a = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    b = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    assert a.getwelcome() != b.getwelcome()
    a.quit()
    b.quit()


def test_apop_off_when_allowapop_is_no(make_instance):
    inst = make_instance(extra_conf="sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nallowapop: no\n")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\n")
    inst.create_mailbox("user.fred")
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", "fred"], input=b"pw", check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=f'  pop3 cmd="pop3d" listen="127.0.0.1:{inst.port("pop3")}" prefork=0\n')
    inst.start()
    p = poplib.POP3("127.0.0.1", inst.port("pop3"), timeout=10)
    assert b"<" not in p.getwelcome()
    with pytest.raises(poplib.error_proto, match="APOP is not available"):
        p._shortcmd("APOP fred " + "0" * 32)
    p.quit()


def test_per_service_tls_and_config_files_and_kpop_refused(pop):
    """As in the Cyrus FAQ: one pop3d service with TLS disabled by a service-prefixed
    option, another reading its own imapd.conf with -C, and the Kerberos 4 kpop flag
    -k refused with a pointer to GSSAPI."""
    other = os.path.join(pop.dir, "pop3-other.conf")
    with open(pop.conf) as f:
        base = f.read()
    with open(other, "w") as f:
        f.write(base + "allowplaintext: yes\n")
    with open(pop.conf, "a") as f:
        f.write("pop3notls_tls_server_cert: disabled\n")
    pop._own()
    pop.write_cyrus_conf(SERVICES=(
        f'  lmtpunix cmd="lmtpd" listen="{pop.dir}/lmtp.sock" prefork=0\n'
        f'  pop3 cmd="pop3d" listen="127.0.0.1:{pop.port("pop3")}" prefork=0\n'
        f'  pop3notls cmd="pop3d" listen="127.0.0.1:{pop.port("pop3notls")}" prefork=0\n'
        f'  pop3other cmd="pop3d -C {other}" listen="127.0.0.1:{pop.port("pop3other")}" prefork=0\n'
        f'  kpop cmd="pop3d -k" listen="127.0.0.1:{pop.port("kpop")}" prefork=0\n'))
    pop.hup()

    def listening():
        try:
            socket.create_connection(("127.0.0.1", pop.port("pop3other")), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(listening, what="the new services to listen")
    deliver(pop, "fred", 1)
    p = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    assert "STLS" in p.capa() and "USER" not in p.capa()
    p.quit()
    p = poplib.POP3("127.0.0.1", pop.port("pop3notls"), timeout=10)
    assert "STLS" not in p.capa()
    with pytest.raises(poplib.error_proto):
        p.stls(pop.ctx)
    p.quit()
    # The -C file allows plaintext: USER/PASS works without TLS there only.
    p = poplib.POP3("127.0.0.1", pop.port("pop3other"), timeout=10)
    assert "USER" in p.capa()
    p.user("fred")
    assert p.pass_("pw").startswith(b"+OK") and p.stat()[0] == 1
    p.quit()
    # kpop: the worker refuses to run, saying why.
    with pytest.raises((OSError, EOFError, poplib.error_proto)):
        k = poplib.POP3("127.0.0.1", pop.port("kpop"), timeout=5)
        k.capa()
    pop.log.wait(r"pop3d\[\d+\]: .*-k \(Kerberos 4 kpop\) is not supported.*GSSAPI", timeout=10)
