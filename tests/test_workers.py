"""The first workers: greeting, their few commands, refusals, and bad input."""

import imaplib
import nntplib
import os
import poplib
import smtplib
import socket
import subprocess

import pytest

from suite import BIN, read_line


@pytest.fixture
def suite(make_instance):
    inst = make_instance()
    services = (
        f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=1\n'
        f'  pop3 cmd="pop3d" listen="127.0.0.1:{inst.port("pop3")}" prefork=1\n'
        f'  lmtp cmd="lmtpd" listen="127.0.0.1:{inst.port("lmtp")}" prefork=1\n'
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=0\n'
        f'  nntp cmd="nntpd" listen="127.0.0.1:{inst.port("nntp")}" prefork=0\n'
        f'  sieve cmd="timsieved" listen="127.0.0.1:{inst.port("sieve")}" prefork=0\n'
    )
    inst.write_cyrus_conf(SERVICES=services)
    return inst.start()


def raw(inst, service):
    s = socket.create_connection(("127.0.0.1", inst.port(service)), timeout=5)
    return s


def test_imap_capability_noop_logout_and_refusals(suite):
    m = imaplib.IMAP4("127.0.0.1", suite.port("imap"))
    typ, caps = m.capability()
    assert typ == "OK" and caps[0].split()[0] == b"IMAP4rev1" and b"LOGINDISABLED" in caps[0].split()
    assert m.noop() == ("OK", [b"Completed"])
    # No TLS and no allowplaintext: LOGIN is refused (NO), as LOGINDISABLED said.
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        m.login("fred", "secret")
    imaplib.Commands.setdefault("FROB", ("NONAUTH",))
    with pytest.raises(imaplib.IMAP4.error, match="BAD.*Unrecognized command FROB"):
        m._simple_command("FROB")
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        m._simple_command("CAPABILITY", "extra")
    assert m.logout()[0] == "BYE"


def test_imap_bad_input_keeps_session(suite):
    s = raw(suite, "imap")
    assert read_line(s).startswith(b"* OK")
    s.sendall(b"*bad NOOP\r\n")
    assert read_line(s) == b"* BAD Invalid tag\r\n"
    s.sendall(b"a1\r\n")
    assert read_line(s) == b"a1 BAD Null command\r\n"
    s.sendall(b"a2 " + b"X" * 200_000 + b"\r\n")
    assert read_line(s) == b"a2 BAD Line too long\r\n"
    s.sendall(b"a3 FROB {5+}\r\nfred {6+}\r\nsecret\r\na4 NOOP\r\n")
    assert read_line(s).startswith(b"a3 BAD")
    assert read_line(s) == b"a4 OK Completed\r\n"
    s.sendall(b"a5 NOOP\r\n" * 1000)
    for _ in range(1000):
        assert read_line(s) == b"a5 OK Completed\r\n"
    s.sendall(b"\x00\xff\r\n")
    assert read_line(s).startswith(b"* BAD")
    # A disconnect in the middle of a literal does not harm the worker or the service.
    s.sendall(b"a6 LOGIN {100+}\r\nabc")
    s.close()
    m = imaplib.IMAP4("127.0.0.1", suite.port("imap"))
    assert m.noop()[0] == "OK"
    m.logout()
    assert not suite.log.grep(r"signaled to death")


def test_pop3_greeting_capa_quit(suite):
    p = poplib.POP3("127.0.0.1", suite.port("pop3"), timeout=5)
    assert p.getwelcome().startswith(b"+OK suite.test")
    assert "IMPLEMENTATION" in p.capa()
    with pytest.raises(poplib.error_proto, match="-ERR"):
        p.user("fred")
    assert p.quit().startswith(b"+OK")


def test_lmtp_without_a_store_answers_temporary_failure(suite):
    """No mkimap was run for this instance: lmtpd still serves, and every recipient
    gets a temporary failure so the MTA keeps the mail."""
    tcp = smtplib.LMTP("127.0.0.1", suite.port("lmtp"), timeout=5)
    assert tcp.ehlo("client.test")[0] == 250
    code, msg = tcp.docmd("MAIL FROM:<a@b>")
    assert code == 530 and b"5.7.0" in msg, "internet sockets need AUTH without -a"
    tcp.quit()
    lm = smtplib.LMTP(f"{suite.dir}/lmtp.sock", timeout=5)
    assert lm.ehlo("client.test")[0] == 250
    assert lm.docmd("MAIL FROM:<a@b>")[0] == 250
    code, msg = lm.docmd("RCPT TO:<fred>")
    assert code == 451 and b"4.3.0" in msg
    assert lm.noop()[0] == 250
    assert lm.docmd("WHATEVER")[0] == 500
    lm.quit()
    suite.log.wait(r"lmtpd\[\d+\]: mail store unavailable")


def test_nntp_without_a_mail_store(suite):
    # This instance has no mailbox list: nntpd says so (the protocol is in
    # tests/test_nntpd.py) and the worker serves the next client alike.
    for _ in range(2):
        with pytest.raises(nntplib.NNTPTemporaryError, match="^400 "):
            nntplib.NNTP("127.0.0.1", suite.port("nntp"), readermode=False, timeout=5)


def test_sieve_greeting_capability_logout(suite):
    # The whole protocol is in test_timsieved.py.
    s = raw(suite, "sieve")

    def capabilities():
        lines = []
        while not lines or lines[-1] != b"OK\r\n":
            lines.append(read_line(s))
        return lines

    greeting = capabilities()
    assert greeting[0].startswith(b'"IMPLEMENTATION"') and b'"VERSION" "1.0"\r\n' in greeting
    s.sendall(b"CAPABILITY\r\n")
    assert capabilities() == greeting
    s.sendall(b"AUTHENTICATE \"PLAIN\"\r\n")
    assert read_line(s).startswith(b"NO (ENCRYPT-NEEDED)"), "no TLS, no allowplaintext"
    s.sendall(b"LOGOUT\r\n")
    assert read_line(s).startswith(b"OK")
    s.close()


def test_worker_by_hand_logs_to_configured_syslog(make_instance):
    inst = make_instance()
    env = {k: v for k, v in os.environ.items() if k != "CYRUS_SERVICE"}
    r = subprocess.run([os.path.join(BIN, "imapd"), "-C", inst.conf], capture_output=True, text=True, env=env, timeout=10)
    assert r.returncode == 70
    inst.log.wait(r"imapd\[\d+\]: could not getenv\(CYRUS_SERVICE\)")
    assert r.stderr.count("could not getenv") == 1


def test_implicit_tls_with_dash_s_and_old_tls_refused(make_instance):
    import ssl
    inst = make_instance()
    cert, key = os.path.join(inst.dir, "cert.pem"), os.path.join(inst.dir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    if inst.as_root:
        import pwd
        pw = pwd.getpwnam("cyrus")
        for f in (cert, key):
            os.chown(f, pw.pw_uid, pw.pw_gid)
    with open(inst.conf, "a") as f:
        f.write(f"tls_server_cert: {cert}\ntls_server_key: {key}\n")
    inst.write_cyrus_conf(SERVICES=f'  imaps cmd="imapd -s" listen="127.0.0.1:{inst.port("imaps")}" prefork=1\n'
                                   f'  pop3s cmd="pop3d -s" listen="127.0.0.1:{inst.port("pop3s")}" prefork=1\n')
    inst.start()
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"), ssl_context=ctx)
    assert m.welcome.startswith(b"* OK [CAPABILITY IMAP4rev1")
    assert m.sock.version() in ("TLSv1.3", "TLSv1.2")
    m.logout()
    p = poplib.POP3_SSL("127.0.0.1", inst.port("pop3s"), context=ctx)
    assert p.getwelcome().startswith(b"+OK")
    p.quit()
    # TLS 1.1 is refused by default (tls_versions), and the worker goes on serving.
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with pytest.raises((ssl.SSLError, OSError)):
        imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"), ssl_context=old)
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.port("imaps"), ssl_context=ctx)
    m.logout()
