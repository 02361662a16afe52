"""Mailbox directories where Cyrus keeps them: an instance with `hashimapspool` and
`fulldirhash` (as a Debian site may run), used over IMAP and LMTP. The expected paths
are computed here from Cyrus's own rules, apart from the store's code."""

import imaplib
import os
import smtplib
import subprocess

import pytest

from suite import lmtp_send


def cyrus_hash(name):
    """Cyrus's dir_hash_c(name, 1) (lib/util.c): A to W, hashed up to the first dot."""
    n = 0
    for b in name.encode():
        if b == ord("."):
            break
        n = (((n << 3) & 0xFFFFFFFF) ^ (n >> 5)) ^ b
    return chr(ord("A") + n % 23)


def cyrus_dir(inst, name):
    """Where Cyrus 3 keeps the by-name mailbox `name` with hashimapspool and
    fulldirhash: hashed on the second level of the name (or the only one)."""
    comps = name.split(".")
    h = cyrus_hash((comps[1] if len(comps) > 1 else comps[0]).replace("^", "."))
    return os.path.join(inst.dir, "spool", h, *comps)


def uids_in(d):
    return sorted(int(f[:-1]) for f in os.listdir(d) if f.endswith(".") and f[:-1].isdigit())


def at_cyrus_path(inst, name, uids):
    d = cyrus_dir(inst, name)
    assert inst.mailbox_dir(name) == d, name
    assert os.path.isfile(os.path.join(d, "cyrus.index")) and os.path.isfile(os.path.join(d, "cyrus.header")), d
    assert uids_in(d) == uids, (name, os.listdir(d))
    return d


@pytest.fixture
def site(make_instance):
    inst = make_instance(extra_conf="hashimapspool: yes\nfulldirhash: yes\nallowplaintext: yes\n"
                                    "sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
                                    "sasl_mech_list: PLAIN LOGIN\nadmins: admin\n")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\n")
    inst.create_mailbox("user.fred")
    for u, pw in (("fred", "pw"), ("admin", "secret")):
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", u],
                       input=pw.encode(), check=True)
    inst._own()
    inst.write_cyrus_conf(SERVICES=(
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=0\n'
        f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=1\n'))
    inst.start()
    return inst


def login(inst, user, pw):
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    m.login(user, pw)
    return m


def body(m, uid):
    typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
    assert typ == "OK", data
    return data[0][1]


def test_imap_and_lmtp_use_cyrus_paths_through_renames(site):
    inbox = at_cyrus_path(site, "user.fred", [])
    assert inbox == os.path.join(site.dir, "spool", cyrus_hash("fred"), "user", "fred")
    m = login(site, "fred", "pw")
    for f in ("Projects", "Projects/2024", "Projects/2024/Q1"):
        assert m.create(f)[0] == "OK", f
    lm = smtplib.LMTP(f"{site.dir}/lmtp.sock", timeout=10)
    lm.ehlo("mta")
    for i in range(3):
        msg = f"Message-ID: <layout.{i}@x>\r\nSubject: layout {i}\r\n\r\nbody {i}\r\n".encode()
        assert lmtp_send(lm, "a@b", ["fred"], msg)["fred"][0] == 250
    lm.quit()
    at_cyrus_path(site, "user.fred", [1, 2, 3])
    assert m.select("INBOX")[0] == "OK"
    for uid in (1, 2, 3):
        with open(os.path.join(inbox, f"{uid}."), "rb") as f:
            assert body(m, uid) == f.read()
    assert m.uid("COPY", "1:2", "Projects/2024")[0] == "OK"
    assert m.append("Projects/2024/Q1", None, None, b"Subject: q1\r\n\r\nq1\r\n")[0] == "OK"
    at_cyrus_path(site, "user.fred.Projects.2024", [1, 2])
    at_cyrus_path(site, "user.fred.Projects.2024.Q1", [1])
    first = body(m, 1)

    # The tree moves with its top, inside the user's hash directory.
    m.select("INBOX")
    assert m.rename("Projects", "Work")[0] == "OK"
    for old in ("user.fred.Projects", "user.fred.Projects.2024", "user.fred.Projects.2024.Q1"):
        assert not os.path.exists(cyrus_dir(site, old)), old
    at_cyrus_path(site, "user.fred.Work", [])
    at_cyrus_path(site, "user.fred.Work.2024", [1, 2])
    at_cyrus_path(site, "user.fred.Work.2024.Q1", [1])
    assert m.select("Work/2024")[0] == "OK"
    assert body(m, 1) == first

    # A one-level shared name (an admin sees the standard namespace, as in Cyrus): its
    # children are hashed on their own names, so a rename moves each to its own place.
    a = login(site, "admin", "secret")
    # A new top-level mailbox gets defaultacl (anyone lrs) as in Cyrus: the admin gives
    # itself the right to post before the children inherit the ACL.
    assert a.create("news")[0] == "OK"
    assert a.setacl("news", "admin", "lrswipkxtecda")[0] == "OK"
    for f in ("news/local", "news/nntp"):
        assert a.create(f)[0] == "OK", f
    assert a.append("news/local", None, None, b"Subject: local\r\n\r\nlocal\r\n")[0] == "OK"
    at_cyrus_path(site, "news", [])
    at_cyrus_path(site, "news.local", [1])
    assert a.rename("news", "notices")[0] == "OK"
    at_cyrus_path(site, "notices", [])
    at_cyrus_path(site, "notices.local", [1])
    at_cyrus_path(site, "notices.nntp", [])
    for old in ("news", "news.local", "news.nntp"):
        assert not os.path.exists(cyrus_dir(site, old)), old
    assert a.select("notices/local")[0] == "OK"
    assert body(a, 1) == b"Subject: local\r\n\r\nlocal\r\n"

    # DELETE removes the right directory; reconstruct finds everything in place.
    assert m.delete("Work/2024/Q1")[0] == "OK"
    assert not os.path.exists(cyrus_dir(site, "user.fred.Work.2024.Q1"))
    at_cyrus_path(site, "user.fred.Work.2024", [1, 2])
    for top in ("user.fred", "notices"):
        r = site.tool("reconstruct", "-q", "-r", "-f", top)
        assert r.stdout == b"", r.stdout
    m.logout()
    a.logout()
