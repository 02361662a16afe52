"""Groups in ACLs with auth_mech: pts and pts_module: ldap: ptloader (run by master
from cyrus.conf) reads a user's groups from a real OpenLDAP slapd started in the
test's temp dir, by the memberOf attribute of the user's entry (ldap_member_method:
attribute) or by a search for groupOfNames entries naming the user (filter); rights
of group:NAME and -group:NAME follow. The same test runs against Debian's Cyrus 3.6
and its own ptloader (IMAP_SERVERS, default "suite,cyrus")."""

import os
import re
import socket
import time

import pytest

import cyrus36
import slapd
from cyrus36 import ok
from suite import Instance, saslpasswd

SERVERS = [s.strip() for s in os.environ.get("IMAP_SERVERS", "suite,cyrus").split(",") if s.strip()]
# Cyrus asks ptloader to canonicalise every login: the admin must be in the directory too.
USERS = ("fred", "barney", "wilma")
LDAP_USERS = USERS + ("admin",)
GROUPS = {"Staff": ["fred", "barney"], "banned": ["barney"]}


def conf(ld, method, sock):
    # ldap_group_base: Cyrus also finds there the group an ACL identifier names (SETACL).
    member = ("ldap_member_method: attribute\nldap_member_attribute: memberOf\n" if method == "attribute" else
              "ldap_member_method: filter\nldap_member_attribute: cn\nldap_member_filter: (&(objectClass=groupOfNames)(member=%D))\n"
              ) + f"ldap_group_base: ou=groups,{slapd.SUFFIX}\n"
    return ("allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_mech_list: PLAIN LOGIN\n"
            "admins: admin\nunixhierarchysep: no\naltnamespace: no\n"
            f"auth_mech: pts\npts_module: ldap\nptloader_sock: {sock}\nldap_uri: {ld.uri}\nldap_sasl: 0\n"
            f"ldap_bind_dn: {slapd.ROOTDN}\nldap_password: {slapd.ROOTPW}\nldap_base: ou=people,{slapd.SUFFIX}\n"
            # Cyrus 3.6 limits member searches too (default 1: a user in two groups fails).
            "ldap_filter: (uid=%u)\nldap_size_limit: 10\n" + member)


@pytest.fixture(scope="module")
def directory():
    if not slapd.available():
        pytest.skip("Debian's slapd and ldap-utils are not installed (scripts/deps)")
    ld = slapd.Slapd()
    ld.add(slapd.people_and_groups(LDAP_USERS, GROUPS))
    yield ld
    ld.close()


class Server:
    def __init__(self, kind, ld, method):
        self.kind = kind
        if kind == "suite":
            self.inst = inst = Instance(name="pts")
            self.sock = os.path.join(inst.dir, "ptsock")
            db = os.path.join(inst.dir, "config", "sasldb2")
            inst.write_conf(conf(ld, method, self.sock) + f"sasl_sasldb_path: {db}\n")
            inst.tool("mkimap")
            saslpasswd(db, "suite.test", "admin", "secret")
            for u in USERS:
                saslpasswd(db, "suite.test", u, "pw")
            self.port = inst.port("imap")
            inst.write_cyrus_conf(SERVICES=(f'  imap cmd="imapd" listen="127.0.0.1:{self.port}" prefork=0\n'
                                            f'  ptloader cmd="ptloader" listen="{self.sock}" prefork=0\n'))
            inst._own()
            inst.start()
        else:
            if not cyrus36.available():
                pytest.skip("Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
            self.cy = cy = cyrus36.CyrusInstance()
            self.sock = os.path.join(cy.dir, "ptsock")
            cyrus36.merge_conf(cy.conf, conf(ld, method, self.sock))
            cc = os.path.join(cy.dir, "cyrus.conf")
            with open(cc) as f:
                text = f.read()
            with open(cc, "w") as f:
                f.write(text.replace("}\nEVENTS", f'  ptloader cmd="{cyrus36.CYRUS_BIN}/ptloader -C {cy.conf}" '
                                                  f'listen="{self.sock}" prefork=0\n}}\nEVENTS', 1))
            for u in USERS:
                cy.add_password(u, "pw")
            cy.start()
            self.port = cy.port
        a = cyrus36.login(self.port, "admin", "secret")
        for c in ("CREATE Board", "DELETEACL Board anyone", "SETACL Board group:staff lr", "SETACL Board -group:banned r"):
            assert ok(a.cmd(c.encode())), c
        a.cmd(b"LOGOUT")

    def close(self):
        if self.kind == "suite":
            self.inst.close()
        else:
            self.cy.stop()


@pytest.fixture(scope="module", params=[(s, m) for s in SERVERS for m in ("attribute", "filter")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def server(request, directory):
    s = Server(request.param[0], directory, request.param[1])
    yield s
    s.close()


@pytest.mark.parametrize("user,can_read", [
    ("fred", True),      # in Staff (group names are lowercased: group:staff)
    ("barney", False),   # in Staff and banned: the negative entry wins
    ("wilma", False),    # in no group
])
def test_ldap_group_rights(server, user, can_read):
    im = cyrus36.login(server.port, user, "pw")
    r = im.cmd(b"EXAMINE Board")
    assert ok(r) == can_read, (server.kind, user, r)
    my = im.cmd(b"MYRIGHTS Board")
    assert (b"Board lr" in my[0]) == can_read, my
    im.cmd(b"LOGOUT")


def ask(sock, line):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(sock)
    s.sendall(line)
    out = b""
    while not out.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            break
        out += d
    s.close()
    return out


def test_ptloader_answers_and_escapes(server):
    """ptloader's own answers: a user's groups, nothing for a name made of filter
    syntax (escaped, so it matches no entry instead of every entry), and an error
    for a line that is no userid, serving on after each."""
    if server.kind != "suite":
        pytest.skip("the question on ptloader's socket is the suite's own protocol")
    assert ask(server.sock, b"fred\r\n") == b"OK group:staff\r\n"
    assert ask(server.sock, b"barney\r\n") == b"OK group:banned group:staff\r\n"
    assert ask(server.sock, b"*)(uid=*\r\n").startswith(b"NO identifier not found")
    assert ask(server.sock, b"*\r\n").startswith(b"NO identifier not found")
    assert ask(server.sock, b"a b\r\n").startswith(b"NO bad userid")
    assert ask(server.sock, b"x" * 5000 + b"\r\n").startswith(b"NO bad request")
    assert ask(server.sock, b"wilma\r\n") == b"OK \r\n"
    assert server.inst.log.wait(re.escape("ptloader: groups of *)(uid=*: identifier not found"))


def test_cache_outlives_the_directory(server, directory):
    """With slapd gone, users whose groups are cached (ptscache_timeout) keep their
    rights; an uncached user gets no group, logged, and logins go on."""
    if server.kind != "suite":
        pytest.skip("stopping slapd here would break the next parameter's Cyrus instance")
    saslpasswd(os.path.join(server.inst.dir, "config", "sasldb2"), "suite.test", "newcomer", "pw")
    directory.stop()
    try:
        t = time.monotonic()
        im = cyrus36.login(server.port, "fred", "pw")
        assert ok(im.cmd(b"EXAMINE Board"))
        im = cyrus36.login(server.port, "newcomer", "pw")
        assert not ok(im.cmd(b"EXAMINE Board"))
        assert time.monotonic() - t < 30
        assert server.inst.log.wait("ptloader: groups of newcomer: connecting to")
    finally:
        directory.proc = slapd.subprocess.Popen(directory.proc.args, stdout=slapd.subprocess.DEVNULL,
                                                stderr=slapd.subprocess.DEVNULL)
        slapd.wait_for(directory.answers, timeout=15, what="slapd to answer again")


def test_acl_names_directory_groups(server):
    """SETACL names a group the directory has (found with ldap_group_filter under
    ldap_group_base), lowercased; an unknown group is refused."""
    a = cyrus36.login(server.port, "admin", "secret")
    assert ok(a.cmd(b"CREATE Notes")) and ok(a.cmd(b"SETACL Notes group:Staff lr"))
    acl = a.cmd(b"GETACL Notes")
    assert b" group:staff lr" in acl[0], acl
    r = a.cmd(b"SETACL Notes group:nosuch lr")
    assert not ok(r) and b"Invalid identifier" in r[1], r
    r = a.cmd(b"SETACL Notes group:*)(cn=* lr")
    assert not ok(r), r
    assert ok(a.cmd(b"DELETEACL Notes group:nosuch"))
    a.cmd(b"LOGOUT")
