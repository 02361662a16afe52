"""Groups in ACLs with `auth_mech: unix`: `group:NAME` grants its members rights and
`-group:NAME` takes them away, membership from the system group database (a listed
member, or the primary group of a passwd user). The same test runs against Debian's
Cyrus 3.6 (IMAP_SERVERS, default "suite,cyrus").

Needs root: it adds two groups (listing the sasldb users fred and bob@a.test as
members) with groupadd and removes them afterwards.
"""

import os
import subprocess

import pytest

import cyrus36
from cyrus36 import ok
from suite import Instance, saslpasswd

SERVERS = [s.strip() for s in os.environ.get("IMAP_SERVERS", "suite,cyrus").split(",") if s.strip()]
CONF = ("allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_mech_list: PLAIN LOGIN\n"
        "admins: admin\nunixhierarchysep: no\naltnamespace: no\nvirtdomains: userid\nauth_mech: unix\n")
TAG = f"st{os.getpid() % 100000}"
READERS, BANNED = f"{TAG}readers", f"{TAG}banned"


@pytest.fixture(scope="module")
def groups():
    if os.geteuid() != 0:
        pytest.skip("adding system groups needs root")
    made = []
    try:
        for g, members in ((READERS, "fred,bob@a.test,barney"), (BANNED, "barney")):
            subprocess.run(["groupadd", g], check=True, capture_output=True)
            made.append(g)
            # groupadd/gpasswd want passwd users; the members here are mail users only.
            with open("/etc/group") as f:
                lines = f.read().splitlines()
            with open("/etc/group", "w") as f:
                f.write("\n".join(ln + members if ln.startswith(g + ":") else ln for ln in lines) + "\n")
        yield
    finally:
        for g in made:
            subprocess.run(["groupdel", g], check=False, capture_output=True)


class Server:
    def __init__(self, kind):
        self.kind = kind
        users = [("fred", None), ("barney", None), ("wilma", None), ("cyrus", None), ("bob", "a.test")]
        if kind == "suite":
            self.inst = inst = Instance(name="groups", extra_conf=CONF)
            db = os.path.join(inst.dir, "config", "sasldb2")
            with open(inst.conf, "a") as f:
                f.write(f"sasl_sasldb_path: {db}\n")
            inst.tool("mkimap")
            saslpasswd(db, "suite.test", "admin", "secret")
            for u, realm in users:
                saslpasswd(db, realm or "suite.test", u, "pw")
            self.port = inst.port("imap")
            inst.write_cyrus_conf(SERVICES=f'  imap cmd="imapd" listen="127.0.0.1:{self.port}" prefork=0\n')
            inst._own()
            inst.start()
        else:
            if not cyrus36.available():
                pytest.skip("Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
            self.cy = cy = cyrus36.CyrusInstance()
            cyrus36.merge_conf(cy.conf, CONF)
            for u, realm in users:
                cy.add_password(u, "pw", realm or "cyrus.test")
            cy.start()
            self.port = cy.port
        a = self.login("admin", "secret")
        # Cyrus gives a new mailbox defaultacl (anyone lrs): only the groups may read here.
        for c in ("CREATE Board", "DELETEACL Board anyone", f"SETACL Board group:{READERS} lr",
                  f"SETACL Board -group:{BANNED} r", "CREATE Board@a.test", "DELETEACL Board@a.test anyone",
                  f"SETACL Board@a.test group:{READERS} lr", "CREATE Staff", "DELETEACL Staff anyone",
                  "SETACL Staff group:mail lr"):
            assert ok(a.cmd(c.encode())), c
        a.cmd(b"LOGOUT")

    def login(self, user, pw="pw"):
        return cyrus36.login(self.port, user, pw)

    def close(self):
        if self.kind == "suite":
            self.inst.close()
        else:
            self.cy.stop()



@pytest.fixture(scope="module", params=SERVERS)
def server(request, groups):
    s = Server(request.param)
    yield s
    s.close()


@pytest.mark.parametrize("user,mailbox,can_read", [
    ("fred", "Board", True),          # listed member
    ("wilma", "Board", False),        # not a member
    ("barney", "Board", False),       # member of both: the negative entry wins
    ("bob@a.test", "Board", True),    # a virtual-domain user listed as a member (the a.test Board)
    ("cyrus", "Staff", True),         # primary group of a passwd user
    ("fred", "Staff", False),
])
def test_group_rights(server, user, mailbox, can_read):
    im = server.login(user)
    r = im.cmd(f"EXAMINE {mailbox}".encode())
    assert ok(r) == can_read, (server.kind, user, mailbox, r)
    myrights = im.cmd(f"MYRIGHTS {mailbox}".encode())
    if can_read:
        assert b" lr" in myrights[0], myrights
    im.cmd(b"LOGOUT")


def test_new_mailbox_acl(server):
    """A new shared mailbox gets defaultacl (anyone lrs), a nested one its nearest
    existing ancestor's ACL (with gaps in between), as Cyrus's mboxlist_create_acl."""
    a = server.login("admin", "secret")
    assert ok(a.cmd(b"CREATE Fresh"))
    acl = a.cmd(b"GETACL Fresh")
    assert acl[0] == b'* ACL Fresh anyone lrs\r\n', acl
    assert ok(a.cmd(b"SETACL Board fred lrsw"))
    assert ok(a.cmd(b"CREATE Board.x.y"))
    want = a.cmd(b"GETACL Board")[0].split(b"\r\n")[0].split(b" ", 3)[3]
    got = a.cmd(b"GETACL Board.x.y")[0].split(b"\r\n")[0].split(b" ", 3)[3]
    assert sorted(got.split()) == sorted(want.split()), (want, got)
    a.cmd(b"LOGOUT")


def test_unknown_group_refused(server):
    """An ACL may grant rights to existing groups only; an entry of a group that is
    gone can still be removed (Cyrus's cyrus_acl_set)."""
    a = server.login("admin", "secret")
    r = a.cmd(f"SETACL Board group:{TAG}nosuch lr".encode())
    assert not ok(r) and b"Invalid identifier" in r[1], r
    assert ok(a.cmd(f"DELETEACL Board group:{TAG}nosuch".encode()))
    assert ok(a.cmd(f"SETACL Board group:{TAG}nosuch \"\"".encode()))
    a.cmd(b"LOGOUT")
