"""1 000 idle logged-in IMAP connections (issue 18): each gets a worker of its own
(forked from the service's worker template), every one is served, and `maxchild`
holds: connection 1 001 waits in the listen queue until one of the others leaves."""

import os
import resource
import socket
import time

from suite import make_cert, saslpasswd

N = 1000


def read_until(s, marker, timeout=30):
    s.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError(data)
        data += chunk
    return data


def test_a_thousand_idle_connections_with_maxchild_honoured(make_instance):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < N + 200:
        import pytest
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {N + 200}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, N + 200), hard))
    inst = make_instance(extra_conf="allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
                                    "sasl_mech_list: PLAIN LOGIN\n")
    cert, key = make_cert(inst.dir)
    db = os.path.join(inst.dir, "config", "sasldb2")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {db}\ntls_server_cert: {cert}\ntls_server_key: {key}\n")
    inst.tool("mkimap")
    saslpasswd(db, "suite.test", "fred", "pw")
    inst.write_cyrus_conf(SERVICES=f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=2 maxchild={N}\n')
    inst.start()
    inst.create_mailbox("user.fred")
    conns = []
    try:
        t0 = time.monotonic()
        for _ in range(N):
            s = socket.create_connection(("127.0.0.1", inst.port("imap")), timeout=30)
            assert read_until(s, b"\r\n").startswith(b"* OK")
            conns.append(s)
        greeted = time.monotonic() - t0
        for s in conns:
            s.sendall(b"a LOGIN fred pw\r\nb SELECT INBOX\r\n")
        for s in conns:
            reply = read_until(s, b"b OK")
            assert b"a OK" in reply, reply
        workers = inst.workers("imapd")
        assert len(workers) == N, f"{len(workers)} imapd workers for {N} connections"
        # maxchild reached: the next connection is accepted by the kernel but no
        # worker takes it.
        extra = socket.create_connection(("127.0.0.1", inst.port("imap")), timeout=30)
        extra.settimeout(1.5)
        try:
            got = extra.recv(100)
        except socket.timeout:
            got = None
        assert got is None, f"a connection beyond maxchild={N} was served: {got!r}"
        assert len(inst.workers("imapd")) == N
        # One leaves; its worker (or a new one) takes the waiting connection.
        conns.pop().sendall(b"z LOGOUT\r\n")
        assert read_until(extra, b"\r\n", timeout=10).startswith(b"* OK")
        conns.append(extra)
        # Every other session is still served.
        for s in conns[:-1]:
            s.sendall(b"n NOOP\r\n")
        for s in conns[:-1]:
            assert b"n OK" in read_until(s, b"n OK")
        assert len(inst.workers("imapd")) <= N
        print(f"{N} connections greeted in {greeted:.1f} s")
    finally:
        for s in conns:
            s.close()
