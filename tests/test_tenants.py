"""Two tenants on one server (virtdomains): nothing of one domain is reachable from
the other, whatever its ACLs say.

Domains a.test and b.test hold users with the same names (alice, bob) and folders
with the same names. In a.test everything is open to `anyone` (lrswipkxtea): INBOXes,
alice's Secret folder, a shared folder Public with an annotation; its messages carry
the marker SECRET-A. A shared folder Lobby of the default domain (main.test) is open
to anyone too. An attacker, alice@b.test, then tries every IMAP command on every way
of writing an a.test or default-domain name, every LMTP recipient form, and SASL
authorisation ids of other domains. Afterwards a.test is checked unchanged (message
counts, ACLs, annotations) and no answer the attacker got held a marker.

Every test runs against the suite and against Debian's Cyrus 3.6 with the same
configuration (IMAP_SERVERS, default "suite,cyrus"); where Cyrus itself differs the
difference is written down in CYRUS_DIFFERS and checked to still be so.
"""

import base64
import os
import re
import smtplib

import pytest

import cyrus36
from cyrus36 import ok
from suite import Instance, lmtp_send, saslpasswd

SERVERS = [s.strip() for s in os.environ.get("IMAP_SERVERS", "suite,cyrus").split(",") if s.strip()]
PW = "pw"
DOMAIN_USERS = ["alice@a.test", "bob@a.test", "admin@a.test", "alice@b.test", "bob@b.test"]
CONF = (
    "virtdomains: userid\n"
    "defaultdomain: main.test\n"
    "admins: admin admin@a.test\n"
    "allowplaintext: yes\n"
    "unixhierarchysep: no\n"
    "altnamespace: no\n"
    "postuser: bb\n"
    "lmtp_downcase_rcpt: yes\n"
    "sasl_pwcheck_method: auxprop\n"
    "sasl_auxprop_plugin: sasldb\n"
    "sasl_mech_list: PLAIN LOGIN\n"
)
MARKERS = (b"SECRET-A", b"A-ONLY", b"LOBBY-MAIN")


class Tenants:
    def __init__(self, kind):
        self.kind = kind
        if kind == "suite":
            self.inst = inst = Instance(name="tenants", extra_conf=CONF)
            db = os.path.join(inst.dir, "config", "sasldb2")
            with open(inst.conf, "a") as f:
                f.write(f"sasl_sasldb_path: {db}\n")
            inst.tool("mkimap")
            saslpasswd(db, "suite.test", "admin", "secret")
            saslpasswd(db, "suite.test", "carl", PW)
            for u in DOMAIN_USERS:
                local, realm = u.split("@")
                saslpasswd(db, realm, local, PW)
            self.lmtp = os.path.join(inst.dir, "lmtp.sock")
            self.port = inst.port("imap")
            self.lmtp_tcp = inst.port("lmtp")
            inst.write_cyrus_conf(SERVICES=(f'  lmtpunix cmd="lmtpd" listen="{self.lmtp}" prefork=0\n'
                                            f'  lmtp cmd="lmtpd" listen="127.0.0.1:{self.lmtp_tcp}" prefork=0\n'
                                            f'  imap cmd="imapd" listen="127.0.0.1:{self.port}" prefork=1\n'))
            inst._own()
            inst.start()
        else:
            if not cyrus36.available():
                pytest.skip("Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
            self.cy = cy = cyrus36.CyrusInstance(extra_conf=CONF)
            cyrus36.merge_conf(cy.conf)
            for u in DOMAIN_USERS:
                local, realm = u.split("@")
                cy.add_password(local, PW, realm)
            cy.add_password("carl", PW)
            cy.start()
            self.lmtp, self.port = cy.lmtp_socket, cy.port
        self.populate()

    def close(self):
        if self.kind == "suite":
            self.inst.close()
        else:
            self.cy.stop()

    def login(self, user, pw=PW):
        return cyrus36.login(self.port, user, pw)

    def admin(self):
        return self.login("admin", "secret")

    def populate(self):
        a = self.admin()
        for cmd in [
            "CREATE user.alice@a.test", "CREATE user.bob@a.test", "CREATE user.admin@a.test", "CREATE user.alice.Secret@a.test",
            "CREATE Public@a.test", "CREATE user.alice@b.test", "CREATE user.bob@b.test", "CREATE user.alice.Secret@b.test",
            "CREATE Public@b.test", "CREATE Lobby", "CREATE user.carl",
        ]:
            assert ok(a.cmd(cmd.encode())), cmd
        for name in ("user.alice@a.test", "user.bob@a.test", "user.alice.Secret@a.test", "Public@a.test", "Lobby"):
            assert ok(a.cmd(f"SETACL {name} anyone lrswipkxtea".encode())), name
        assert ok(a.cmd(b"SETACL Public@b.test anyone lrp"))
        a.cmd(b"LOGOUT")
        # Cyrus 3.6's imapd exits on SETMETADATA of a mailbox in a virtual domain (by
        # a global admin or by alice) and refuses it to a.test's admin: only the suite
        # gets the annotation marker.
        if self.kind == "suite":
            a = self.login("alice@a.test")
            assert ok(a.cmd(b'SETMETADATA Public (/shared/comment "A-ONLY")'))
            a.cmd(b"LOGOUT")
        with smtplib.LMTP(self.lmtp) as lm:
            lm.ehlo("tenants.test")
            for rcpt, marker in [("alice@a.test", "SECRET-A"), ("bob@a.test", "SECRET-A"), ("alice+Secret@a.test", "SECRET-A"),
                                 ("bb+Public@a.test", "SECRET-A"), ("alice@b.test", "own-b"), ("bb+Lobby", "LOBBY-MAIN")]:
                res = lmtp_send(lm, "setup@tenants.test", [rcpt], msg(marker))
                assert res[rcpt][0] == 250, (rcpt, res)

    def a_state(self):
        """What a.test holds, read by its own users (they have every right there)."""
        im = self.login("alice@a.test")
        out = {}
        for name in ("INBOX", "INBOX.Secret", "user.bob", "Public"):
            out[name] = (untagged(im.cmd(f"STATUS {name} (MESSAGES UIDNEXT)".encode())), untagged(im.cmd(f"GETACL {name}".encode())))
        out["meta"] = untagged(im.cmd(b"GETMETADATA Public /shared/comment"))
        out["list"] = sorted(untagged(im.cmd(b'LIST "" "*"')))
        im.cmd(b"LOGOUT")
        lobby = self.admin()
        out["lobby"] = untagged(lobby.cmd(b"GETACL Lobby"))
        lobby.cmd(b"LOGOUT")
        return out



def untagged(resp):
    return [line for line in resp[0].split(b"\r\n") if line]


def msg(marker):
    return (f"From: someone@x.test\r\nTo: you@x.test\r\nSubject: {marker}\r\nMessage-ID: <{os.urandom(6).hex()}@x.test>\r\n\r\n"
            f"{marker} body\r\n").encode()


@pytest.fixture(scope="module", params=SERVERS)
def tenants(request):
    t = Tenants(request.param)
    yield t
    t.close()


# Every way the attacker (alice@b.test, whose own names are user.alice, INBOX,
# INBOX.Secret, Public) might write a mailbox of a.test or of the default domain.
FOREIGN = [
    "user.alice@a.test", "user.bob@a.test", "user.alice.Secret@a.test", "Public@a.test", "a.test!user.alice", "a.test!Public",
    "user.alice%a.test", "user/alice@a.test", "user.alice@A.TEST", "INBOX@a.test", "Lobby", "Lobby@main.test", "user.admin@a.test",
    "..", "user.alice.^", "user.alice@a.test.Secret", "Public@a.test@a.test",
]


def attack_commands(name, literal_msg):
    return [
        f"SELECT {q(name)}", f"EXAMINE {q(name)}", f"STATUS {q(name)} (MESSAGES UIDNEXT UIDVALIDITY)", f"GETACL {q(name)}",
        f"MYRIGHTS {q(name)}", f"LISTRIGHTS {q(name)} anyone", f"GETQUOTAROOT {q(name)}", f"GETQUOTA {q(name)}",
        f"GETMETADATA {q(name)} /shared/comment", f"SETMETADATA {q(name)} (/shared/comment \"pwned\")",
        f"SETACL {q(name)} alice@b.test lrswipkxtea", f"SETACL {q(name)} alice lrswipkxtea", f"DELETEACL {q(name)} anyone",
        f"SUBSCRIBE {q(name)}", f"CREATE {q(name + '.sub')}", f"RENAME {q(name)} INBOX.stolen", f"DELETE {q(name)}",
        f"SETQUOTA {q(name)} (STORAGE 1)", f'LIST {q(name)} "*"', f'LIST "" {q(name)}', f"COPY 1 {q(name)}", f"MOVE 1 {q(name)}",
        ("APPEND", name, literal_msg),
    ]


def q(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_the_attacker_of_another_domain_reaches_nothing(tenants):
    before = tenants.a_state()
    assert any(b"SECRET-A" in line or b"MESSAGES 1" in line for v in before.values() for line in (v[0] if isinstance(v, tuple) else v))
    im = tenants.login("alice@b.test")
    # The attacker sees its own domain only: no a.test and no default-domain name.
    names = sorted(re.sub(rb'^\* LIST \([^)]*\) "." ', b"", line) for line in untagged(im.cmd(b'LIST "" "*"')))
    assert names == [b"INBOX", b"INBOX.Secret", b"Public"], names
    got, oks = [], []
    for name in FOREIGN:
        assert ok(im.cmd(b"SELECT INBOX"))
        for c in attack_commands(name, msg("ATTACK")):
            if isinstance(c, tuple):
                m = c[2]
                r = im.cmd(f"APPEND {q(c[1])}".encode(), literal=m)
                c = f"APPEND {c[1]}"
            else:
                r = im.cmd(c.encode())
            got.append((c, r))
            if ok(r):
                oks.append(c)
            if not ok(im.cmd(b"NOOP")):
                break
    for lst in (b'LIST "" "*"', b'LIST "" "%"', b'LIST "" "*@*"', b'LSUB "" "*"', b'LIST (SUBSCRIBED) "" "*"'):
        got.append((lst.decode(), im.cmd(lst)))
    leaked = [(c, r) for c, r in got if any(m in r[0] + r[1] for m in MARKERS)]
    assert not leaked, leaked[:5]
    im.cmd(b"LOGOUT")
    assert tenants.a_state() == before
    # What succeeded acted on the attacker's own domain; never on the other one.
    print(f"{tenants.kind}: {len(got)} commands tried, {len(oks)} OK (on b.test's own names)")


def test_lmtp_recipients_stay_in_their_domain(tenants):
    before = tenants.a_state()
    tries = {
        # recipient: where it may land (None: refused)
        "alice@b.test": "INBOX",
        "alice+Secret@b.test": "INBOX.Secret",
        "+Public@b.test": None,  # an empty user is no one when postuser is set
        "bb+Public@b.test": "Public",
        "bb+Lobby@b.test": None,
        "bb+Lobby": "Lobby of main.test",
        "+a.test!Public@b.test": None,
        "+Public": None,
        "alice": None,
        "alice@main.test": None,
        "+user.alice@b.test": None,
        "alice%a.test@b.test": None,
        "alice@a.test@b.test": None,
        "alice@b..test": None,
    }
    with smtplib.LMTP(tenants.lmtp) as lm:
        lm.ehlo("attacker.test")
        for rcpt, where in tries.items():
            res = lmtp_send(lm, "attacker@b.test", [rcpt], msg("ATTACK-LMTP"))
            code = res[rcpt][0]
            assert (code == 250) == (where is not None), (tenants.kind, rcpt, res)
    assert tenants.a_state() == before
    im = tenants.login("alice@b.test")
    counts = {n: untagged(im.cmd(f"STATUS {n} (MESSAGES)".encode()))[0] for n in ("INBOX", "INBOX.Secret")}
    im.cmd(b"LOGOUT")
    assert b"MESSAGES" in counts["INBOX"]


def test_a_default_domain_user_sees_no_virtual_domain(tenants):
    """carl has no domain (main.test, the default): a.test's mailboxes, open to anyone,
    are not his to see or open."""
    im = tenants.login("carl")
    names = sorted(re.sub(rb'^\* LIST \([^)]*\) "." ', b"", line) for line in untagged(im.cmd(b'LIST "" "*"')))
    assert names == [b"INBOX", b"Lobby"], names
    for name in ("user.alice", "Public", "user.alice@a.test", "Public@a.test", "a.test!Public"):
        r = im.cmd(f"EXAMINE {q(name)}".encode())
        assert ok(r) == expect(tenants, ("default-domain user", name), False), (name, r)
    im.cmd(b"LOGOUT")


def test_lmtp_auth_of_another_domain_may_not_post(tenants):
    """An LMTP client authenticated as alice@b.test cannot post into a.test's Public,
    although anyone of a.test may (suite only: the Cyrus reference has no LMTP on TCP)."""
    if tenants.kind != "suite":
        pytest.skip("the Cyrus reference instance serves LMTP on its unix socket only")
    before = tenants.a_state()
    with smtplib.LMTP("127.0.0.1", tenants.lmtp_tcp) as lm:
        lm.ehlo("attacker.test")
        lm.login("alice@b.test", PW)
        res = lmtp_send(lm, "attacker@b.test", ["bb+Public@a.test", "bb+Public@b.test"], msg("ATTACK-AUTH"))
    assert res["bb+Public@a.test"][0] == 550, res
    assert res["bb+Public@b.test"][0] == 250, res
    assert tenants.a_state() == before


def plain(im, authzid, authcid, pw):
    token = base64.b64encode(f"{authzid}\0{authcid}\0{pw}".encode()).decode()
    return im.cmd(f"AUTHENTICATE PLAIN {token}".encode())


# Where Debian's Cyrus 3.6 differs, as checked by the same tests: its domain admins
# are admins of every domain (only names without @domain default to their own), and
# may act as a user of another domain; a domain admin cannot DELETE a mailbox of its
# own domain; an ACL identifier written without a domain stays bare (so `bob` set by
# alice@a.test never matches bob@a.test), where the suite stores bob@a.test; a session
# keeps the rights it had at SELECT after they were revoked (RFC 4314 §4 wants the
# change at once; the suite re-reads the ACL before each command); and a user of the
# default domain opens another domain's mailbox by its internal name (a.test!Public).
CYRUS_DIFFERS = {
    ("authz", "alice@b.test", "admin@a.test"): True,
    ("domain-admin", "lists other domains"): True,
    ("domain-admin", "CREATE user.carol@b.test"): True,
    ("domain-admin", "SETQUOTA user.alice@b.test (STORAGE 1)"): True,
    ("domain-admin", "GETACL user.alice@b.test"): True,
    ("domain-admin", "SETACL user.alice@b.test admin@a.test lrswipkxtea"): True,
    ("domain-admin", "GETQUOTAROOT user.alice@b.test"): True,
    ("domain-admin", "DELETE user.carol"): False,
    ("acl-id", "bob"): False,
    ("rights", "kept from SELECT"): True,
    ("default-domain user", "a.test!Public"): True,
}


def expect(tenants, key, suite_value):
    return CYRUS_DIFFERS.get(key, suite_value) if tenants.kind == "cyrus" else suite_value


def test_authorisation_ids_do_not_cross_domains(tenants):
    cases = [
        # (authzid, authcid, password, allowed)
        ("alice@a.test", "alice@b.test", PW, False),
        ("alice@b.test", "admin@a.test", PW, False),
        ("bob@a.test", "admin@a.test", PW, True),
        ("alice@a.test", "admin", "secret", True),
    ]
    for authzid, authcid, pw, allowed in cases:
        im = cyrus36.RawImap(tenants.port)
        r = plain(im, authzid, authcid, pw)
        assert ok(r) == expect(tenants, ("authz", authzid, authcid), allowed), (tenants.kind, authzid, authcid, r)
        if ok(r):
            assert untagged(im.cmd(b'LIST "" "INBOX"')), "logged in as the authorisation id"
        im.cmd(b"LOGOUT")


def test_domain_admin_administers_only_its_domain(tenants):
    im = tenants.login("admin@a.test")
    assert ok(im.cmd(b"CREATE user.carol"))
    assert ok(im.cmd(b"SETQUOTA user.carol (STORAGE 1000)"))
    assert ok(im.cmd(b"GETACL user.alice"))
    names = sorted(re.sub(rb'^\* LIST \([^)]*\) "." ', b"", line) for line in untagged(im.cmd(b'LIST "" "*"')))
    assert b"user.carol" in names or b"user.carol@a.test" in names
    others = [n for n in names if b"b.test" in n or b"Lobby" in n]
    assert bool(others) == expect(tenants, ("domain-admin", "lists other domains"), False), names
    for c in ("CREATE user.carol@b.test", "SETQUOTA user.alice@b.test (STORAGE 1)", "GETACL user.alice@b.test",
              "SETACL user.alice@b.test admin@a.test lrswipkxtea", "DELETE user.bob@b.test", "GETQUOTAROOT user.alice@b.test",
              "DELETE user.carol"):
        r = im.cmd(c.encode())
        assert ok(r) == expect(tenants, ("domain-admin", c), c == "DELETE user.carol"), (tenants.kind, c, r)
    if tenants.kind == "cyrus":  # undo what Cyrus let through
        a = tenants.admin()
        for c in ("DELETE user.carol@a.test", "DELETE user.carol@b.test", "SETACL user.alice@b.test admin@a.test \"\""):
            a.cmd(c.encode())
        a.cmd(b"LOGOUT")
    im.cmd(b"LOGOUT")


def test_acl_identifiers_are_of_the_mailbox_domain(tenants):
    owner = tenants.login("alice@a.test")
    assert ok(owner.cmd(b"CREATE INBOX.Ids"))
    assert ok(owner.cmd(b"DELETEACL INBOX.Ids anyone"))
    assert ok(owner.cmd(b"SETACL INBOX.Ids bob lr"))
    reader = tenants.login("bob@a.test")
    assert ok(reader.cmd(b"EXAMINE user.alice.Ids")) == expect(tenants, ("acl-id", "bob"), True)
    # An identifier of another domain is refused (Cyrus stores it, to no effect).
    r = owner.cmd(b"SETACL INBOX.Ids bob@b.test lr")
    assert ok(r) == (tenants.kind == "cyrus"), r
    for bad in (b"*)(uid=*", b"a/b", b"bob@@a.test"):
        r = owner.cmd(b'SETACL INBOX.Ids "' + bad + b'" lr')
        if tenants.kind == "suite":
            assert not ok(r), (bad, r)
    assert ok(owner.cmd(b"DELETE INBOX.Ids"))
    for im in (owner, reader):
        im.sock.close()


def test_rights_follow_the_acl_at_the_next_command(tenants):
    owner = tenants.login("alice@a.test")
    assert ok(owner.cmd(b"CREATE INBOX.Shared"))
    assert ok(owner.cmd(b"DELETEACL INBOX.Shared anyone"))  # inherited from the open INBOX
    assert ok(owner.cmd(b"SETACL INBOX.Shared bob@a.test lrs"))
    m = msg("SHARED-READ")
    assert ok(owner.cmd(b"APPEND INBOX.Shared", literal=m))
    reader = tenants.login("bob@a.test")
    assert ok(reader.cmd(b"SELECT user.alice.Shared"))
    assert b"SHARED-READ" in reader.cmd(b"FETCH 1 BODY.PEEK[]")[0]
    assert ok(owner.cmd(b"SETACL INBOX.Shared bob@a.test l"))
    r = reader.cmd(b"FETCH 1 BODY.PEEK[]")
    read_on = ok(r) and b"SHARED-READ" in r[0]
    assert read_on == expect(tenants, ("rights", "kept from SELECT"), False), (tenants.kind, r)
    if not read_on:
        assert b"NOPERM" in r[1] and b"SHARED-READ" not in r[0]
        assert ok(reader.cmd(b"NOOP")), "the session goes on"
    assert ok(owner.cmd(b"SETACL INBOX.Shared bob@a.test lrs"))
    assert b"SHARED-READ" in reader.cmd(b"FETCH 1 BODY.PEEK[]")[0]
    assert ok(owner.cmd(b"DELETE INBOX.Shared"))
    for im in (owner, reader):
        im.sock.close()
