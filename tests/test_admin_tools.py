"""The admin tools a Cyrus site runs besides the core ones (issue 19): cyr_info,
ipurge, unexpunge, cyr_ls, cyr_df, chk_cyrus, cyr_dbtool, deliver, arbitron and
cyr_userseen, against a real instance with real data; where their output is meant to
match Cyrus's, the same steps run on Debian's Cyrus 3.6 and the outputs are compared."""

import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import threading

import pytest

import cyrus36
from suite import BIN, lmtp_send, saslpasswd, wait_for

MSGS = [b"From: a@example.org\r\nTo: b@example.org\r\nSubject: small %d\r\n\r\n" + b"x" * 50 + b"\r\n",
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: medium %d\r\n\r\n" + b"y" * 5000 + b"\r\n",
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: large %d\r\n\r\n" + b"z" * 20000 + b"\r\n"]


@pytest.fixture
def site(make_instance):
    inst = make_instance(extra_conf="allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
                                    "sasl_mech_list: PLAIN LOGIN\nadmins: admin\naltnamespace: no\nunixhierarchysep: no\n")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\nlmtpsocket: {inst.dir}/lmtp.sock\n")
    for user in ("fred", "barney"):
        inst.create_mailbox(f"user.{user}")
        saslpasswd(f"{inst.dir}/config/sasldb2", "suite.test", user, "pw")
    saslpasswd(f"{inst.dir}/config/sasldb2", "suite.test", "admin", "pw")
    inst.create_mailbox("user.fred.Trash")
    inst.create_mailbox("user.fred.lists", acl="fred\tlrswipkxtecdan\tanyone\tp\t")
    inst.create_mailbox("user.fred.private")
    inst.create_mailbox("shared.news", acl="anyone\tlrsp\tadmin\tlrswipkxtecdan\t")
    inst._own()
    inst.write_cyrus_conf(SERVICES=(
        f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=0\n'
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=1\n'))
    inst.start()
    return inst


def imap(inst, user):
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    m.login(user, "pw")
    return m


def deliver(inst, *args, data=b"", check=True):
    r = subprocess.run([os.path.join(BIN, "deliver"), "-C", inst.conf, *args], input=data, capture_output=True, timeout=60)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def uids(inst, user, box):
    m = imap(inst, user)
    typ, _ = m.select(box)
    assert typ == "OK", box
    typ, data = m.uid("SEARCH", "ALL")
    m.logout()
    return [int(x) for x in data[0].split()]


def test_cyr_info_conf_lint_and_proc(site):
    out = site.tool("cyr_info", "conf").stdout.decode()
    assert "servername: suite.test\n" in out and "admins: admin\n" in out
    assert "allowapop:" not in out, "conf lists only what differs from the default"
    assert "partition-default: " in out
    assert "allowapop: yes\n" in site.tool("cyr_info", "conf-all").stdout.decode()
    defaults = site.tool("cyr_info", "conf-default").stdout.decode()
    assert "allowapop: yes\n" in defaults and "servername: suite.test" not in defaults
    assert site.tool("cyr_info", "conf-lint", "-M", site.cyrus_conf).stdout == b"", "a clean file lints clean"
    lint = os.path.join(site.dir, "lint.conf")
    shutil.copy(site.conf, lint)
    with open(lint, "a") as f:
        f.write("bogus_option: 1\nimap_allowplaintext: no\nnosuchservice_allowplaintext: no\nsasl_minimum_layer: 0\n")
    r = subprocess.run([os.path.join(BIN, "cyr_info"), "-C", lint, "-M", site.cyrus_conf, "conf-lint"], capture_output=True, timeout=30)
    assert r.returncode == 0
    assert sorted(r.stdout.decode().splitlines()) == ["bogus_option: 1", "nosuchservice_allowplaintext: no"]
    r = site.tool("cyr_info", "nonsense", check=False)
    assert r.returncode != 0 and b"unknown command" in r.stderr

    m = imap(site, "fred")
    assert m.select("INBOX.Trash")[0] == "OK"
    line = wait_for(lambda: [x for x in site.tool("cyr_info", "proc").stdout.decode().splitlines() if " fred " in x],
                    what="fred's session in cyr_info proc")[0]
    assert re.fullmatch(r"\d+ imap 127\.0\.0\.1 fred user\.fred\.Trash", line), line
    m.logout()
    wait_for(lambda: b" fred " not in site.tool("cyr_info", "proc").stdout, what="the session gone from cyr_info proc")


def fill_shared(inst):
    m = imap(inst, "admin")
    for i, msg in enumerate(MSGS):
        assert m.append("shared.news", None, None, msg % i)[0] == "OK"
    m.logout()


def test_ipurge_dry_run_sizes_and_user_mailboxes(site):
    fill_shared(site)
    dry = site.tool("ipurge", "-n", "-b", "4000", "shared.news").stdout.decode()
    assert dry.count("UID: ") == 2 and "Subj: \"medium 1\"" in dry and "Subj: \"large 2\"" in dry
    assert "Deleted messages  \t\t 2\n" in dry and "Remaining messages\t\t 1\n" in dry
    assert uids(site, "admin", "shared.news") == [1, 2, 3], "a dry run changes nothing"
    out = site.tool("ipurge", "-b", "4000", "shared.news").stdout.decode()
    assert out.startswith("Total messages    \t\t 3\nTotal bytes       \t\t ")
    assert uids(site, "admin", "shared.news") == [1]
    # user mailboxes only with -f; -i inverts (smaller than); -s spares \Flagged.
    lm = smtplib.LMTP(f"{site.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    for msg in MSGS:
        lmtp_send(lm, "a@b", ["fred"], msg % 0)
    lm.quit()
    assert site.tool("ipurge", "-b", "1", "user.fred").stdout == b"", "user mailboxes are skipped without -f"
    assert len(uids(site, "fred", "INBOX")) == 3
    m = imap(site, "fred")
    m.select("INBOX")
    m.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
    m.logout()
    out = site.tool("ipurge", "-f", "-s", "-i", "-k", "10", "user.fred").stdout.decode()
    assert "Deleted messages  \t\t 1\n" in out, out
    assert uids(site, "fred", "INBOX") == [1, 3], "the flagged small one kept, the medium one gone"
    r = site.tool("ipurge", "user.fred", check=False)
    assert r.returncode != 0 and b"-d, -b, -k, -m" in r.stderr
    r = site.tool("ipurge", "-f", "-d", "1", "user.nosuch", check=False)
    assert r.returncode != 0 and b"no mailbox matches" in r.stderr


def test_unexpunge_lists_and_restores_under_new_uids(site):
    m = imap(site, "fred")
    for i, msg in enumerate(MSGS):
        m.append("INBOX", None, None, msg % i)
    m.select("INBOX")
    m.uid("STORE", "1:2", "+FLAGS", "(\\Deleted $Work)")
    m.expunge()
    listing = site.tool("unexpunge", "-l", "user.fred").stdout.decode()
    assert listing.count("UID: ") == 2 and "\tExpg: " in listing and "\tSubj: \"small 0\"\n" in listing
    out = site.tool("unexpunge", "-v", "-u", "-d", "-f", "Restored", "user.fred", "2").stdout.decode()
    assert "Unexpunged user.fred: 2 => 4\n" in out and out.endswith("restored 1 expunged messages\n")
    m.noop()
    typ, data = m.uid("FETCH", "4", "(FLAGS RFC822.SIZE)")
    flags = data[0].decode()
    assert "\\Deleted" not in flags and "$Work" in flags and "Restored" in flags, flags
    assert site.tool("unexpunge", "-l", "user.fred", "2").stdout == b"", "restored once only"
    assert "restored 1 expunged messages" in site.tool("unexpunge", "-a", "user.fred").stdout.decode()
    m.noop()
    typ, data = m.uid("FETCH", "5", "(FLAGS)")
    assert "\\Deleted" in data[0].decode(), "-a without -d keeps \\Deleted"
    m.logout()
    assert uids(site, "fred", "INBOX") == [3, 4, 5]
    assert site.tool("reconstruct", "-q", "user.fred").stdout == b""
    for bad in (("-l", "user.nosuch"), ("-u", "user.fred"), ("-t", "3x", "user.fred"), ("user.fred",)):
        r = site.tool("unexpunge", *bad, check=False)
        assert r.returncode != 0 and r.stderr, bad


def test_cyr_ls_cyr_df_and_chk_cyrus(site):
    out = site.tool("cyr_ls", "user.fred").stdout.decode()
    assert out.startswith("\nuser.fred:\n\n") and " Trash" in out and " lists" in out and " private" in out
    one = site.tool("cyr_ls", "-1", "-i", "user.fred").stdout.decode().splitlines()
    assert len([x for x in one if x.endswith(" Trash")]) == 1
    assert "\nuser.fred.lists:\n" in site.tool("cyr_ls", "-R", "user.fred").stdout.decode()
    assert site.tool("cyr_ls", "user.nosuch", check=False).returncode != 0
    df = site.tool("cyr_df").stdout.decode().splitlines()
    assert df[0].split() == ["Partition", "1k-blocks", "Used", "Available", "Use%", "Location"]
    assert df[1].split()[0] == "default" and df[1].split()[-1] == f"{site.dir}/spool"
    r = site.tool("chk_cyrus")
    assert r.stdout == b"" and b"checking: user.fred.lists" in r.stderr
    lm = smtplib.LMTP(f"{site.dir}/lmtp.sock", timeout=10)
    lm.ehlo("x")
    lmtp_send(lm, "a@b", ["fred", "barney"], MSGS[0] % 0)
    lm.quit()
    gone = site.message_path("user.barney", 1)
    os.unlink(gone)
    r = site.tool("chk_cyrus", "-M", "user.barney", check=False)
    assert r.returncode == 1 and r.stdout.decode() == gone + "\n"
    assert site.tool("chk_cyrus", "-M", "user.fred").returncode == 0
    assert site.tool("chk_cyrus", "-P", "nosuch", check=False).returncode != 0
    assert site.tool("chk_cyrus", "-P", "default", "-M", "user.fred", check=False).returncode != 0, "-P and -M exclude each other"


def test_cyr_dbtool_on_the_mailbox_list(site):
    cfg = f"{site.dir}/config"
    out = site.tool("cyr_dbtool", f"{cfg}/mailboxes.db", "lmdb", "show", "user.fred").stdout
    keys = [line.split(b"\t")[0] for line in out.splitlines()]
    assert keys == [b"user.fred", b"user.fred.Trash", b"user.fred.lists", b"user.fred.private"], keys
    db = f"{cfg}/mailboxes.lmdb/meta"
    site.tool("cyr_dbtool", db, "lmdb", "set", "test-key", "value one")
    assert site.tool("cyr_dbtool", db, "lmdb", "get", "test-key").stdout == b"test-key\tvalue one\n"
    site.tool("cyr_dbtool", db, "lmdb", "set", input=b"k2\tv2\nk3\tv3\n")
    assert site.tool("cyr_dbtool", db, "lmdb", "show", "k").stdout == b"k2\tv2\nk3\tv3\n"
    site.tool("cyr_dbtool", db, "lmdb", "delete", "test-key")
    assert site.tool("cyr_dbtool", db, "lmdb", "get", "test-key").stdout == b""
    assert b"No problems found" in site.tool("cyr_dbtool", f"{cfg}/mailboxes.db", "lmdb", "consistency").stdout
    for bad in ((db, "berkeley", "show"), (f"{cfg}/mailboxes.lmdb/nosuch", "lmdb", "show"), (db, "lmdb", "frobnicate"),
                (f"{cfg}/nosuch.lmdb", "lmdb", "show"), (db, "lmdb", "set", "only-a-key")):
        r = site.tool("cyr_dbtool", *bad, check=False)
        assert r.returncode != 0 and r.stderr, bad
    # The store still works after all that.
    assert uids(site, "fred", "INBOX") == []


def test_deliver_to_users_folders_and_over_lmtp(site):
    msg = b"From: a@example.org\nSubject: by deliver\nMessage-ID: <d1@x>\n\n.leading dot\nline\n"
    deliver(site, "-r", "sender@example.org", "fred", data=msg)
    stored = site.messages("user.fred")[1]
    assert stored.startswith(b"Return-Path: <sender@example.org>\r\n")
    assert stored.endswith(b"Subject: by deliver\r\nMessage-ID: <d1@x>\r\n\r\n.leading dot\r\nline\r\n")
    deliver(site, "-m", "lists", "fred", data=b"Subject: to lists\n\nx\n")
    assert len(site.messages("user.fred.lists")) == 1, "anyone may post to lists"
    deliver(site, "-m", "private", "fred", data=b"Subject: p1\n\nx\n")
    assert len(site.messages("user.fred.private")) == 0 and len(site.messages("user.fred")) == 2, "no p right: INBOX"
    deliver(site, "-a", "fred", "-m", "private", "fred", data=b"Subject: p2\n\nx\n")
    assert len(site.messages("user.fred.private")) == 1, "-a fred has the p right on his folder"
    deliver(site, "-m", "shared.news", data=b"Subject: shared\n\nx\n")
    assert len(site.messages("shared.news")) == 1
    r = deliver(site, "nobody", "barney", data=b"Subject: two\n\nx\n", check=False)
    assert r.returncode == 65 and r.stdout.decode().startswith("nobody: 550"), r
    assert len(site.messages("user.barney")) == 1, "the other recipient got it"
    r = deliver(site, "-l", data=b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<barney>\r\nDATA\r\nSubject: relayed\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert r.stdout.startswith(b"220 ") and r.stdout.count(b"\r\n250 ") >= 3, r.stdout
    assert len(site.messages("user.barney")) == 2
    assert deliver(site, data=b"x", check=False).returncode != 0, "neither users nor -m"
    with open(site.conf, "a") as f:
        f.write(f"# moved\nlmtpsocket: {site.dir}/nosuch.sock\n")
    r = deliver(site, "fred", data=b"Subject: x\n\nx\n", check=False)
    assert r.returncode == 75 and b"couldn't connect to lmtpd" in r.stderr


def test_arbitron_and_cyr_userseen(site):
    fill_shared(site)
    m = imap(site, "barney")
    m.select("shared.news")
    m.uid("STORE", "1", "+FLAGS", "(\\Seen)")
    m.subscribe("shared.news")
    m.logout()
    m = imap(site, "fred")
    m.subscribe("shared.news")
    m.select("INBOX")
    m.logout()
    out = site.tool("arbitron").stdout.decode().splitlines()
    assert out == ["shared.news 1 2"], "user mailboxes without a reader other than the owner are left out"
    assert site.tool("arbitron", "-o", "-u").stdout.decode() == "shared.news 1:barney\n"
    assert site.tool("arbitron", "-u", "shared.*").stdout.decode() == "shared.news 1:barney 2:barney,fred\n"
    assert site.tool("arbitron", "-D", "01012000:01022000").stdout.decode() == "shared.news 0 2\n"
    long = site.tool("arbitron", "-l", "-d", "7").stdout.decode().splitlines()
    assert sorted(x.split(",")[:3] for x in long) == [["shared.news", "barney", "r"], ["shared.news", "barney", "s"], ["shared.news", "fred", "s"]]
    assert re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d:\d\d", long[0].split(",")[3])
    assert site.tool("arbitron", "-d", "0", check=False).returncode != 0
    assert site.tool("arbitron", "-D", "13452020", check=False).returncode != 0
    out = site.tool("cyr_userseen").stdout.decode()
    assert "removing seen for fred on user.fred\n" in out and "shared.news" not in out
    site.tool("cyr_userseen", "-d")
    assert site.tool("arbitron", "-o").stdout.decode() == "shared.news 1\n", "barney's record of a shared mailbox stays"


def test_tools_while_the_mailbox_is_written(site):
    """ipurge, unexpunge and chk_cyrus while LMTP delivers into the same mailbox:
    every delivery accepted is there or was purged by rule, and the index stays whole."""
    stop, acked = threading.Event(), []

    def deliveries():
        lm = smtplib.LMTP(f"{site.dir}/lmtp.sock", timeout=20)
        lm.ehlo("x")
        n = 0
        while not stop.is_set():
            big = n % 2
            body = (b"y" * 3000 if big else b"x") + b"\r\n"
            r = lmtp_send(lm, "a@b", ["fred"], b"Subject: n%d\r\n\r\n" % n + body)
            if all(c == 250 for c, _ in r.values()):
                acked.append((n, big))
            n += 1
        lm.quit()

    t = threading.Thread(target=deliveries)
    t.start()
    try:
        for _ in range(15):
            site.tool("ipurge", "-f", "-b", "2000", "user.fred")
            site.tool("chk_cyrus", "-M", "user.fred")
            site.tool("unexpunge", "-a", "-d", "user.fred")
            site.tool("ipurge", "-f", "-b", "2000", "user.fred")
    finally:
        stop.set()
        t.join(30)
    assert len(acked) >= 20
    site.tool("ipurge", "-f", "-b", "2000", "user.fred")
    m = imap(site, "fred")
    m.select("INBOX")
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    m.logout()
    subjects = {int(x[1].split(b"n")[-1]) for x in data if isinstance(x, tuple)}
    assert subjects == {n for n, big in acked if not big}, "every small delivery kept, every big one purged"
    assert site.tool("reconstruct", "-q", "user.fred").stdout == b""


# ---------------------------------------------------------------------------
# The same steps on Debian's Cyrus 3.6: the output formats scripts parse.

def cyrus_tool(cy, name, *args, data=None):
    from test_takeover import as_cyrus
    return subprocess.run([os.path.join(cyrus36.CYRUS_BIN, name), "-C", cy.conf, *args], input=data, capture_output=True,
                          timeout=60, preexec_fn=as_cyrus())


def without_expunge_time(text):
    return "\n".join(x for x in text.splitlines() if not x.startswith("\tExpg: "))


@pytest.mark.skipif(not cyrus36.available(), reason="Debian's Cyrus 3.6 is not installed")
def test_outputs_match_cyrus36(site):
    cy = cyrus36.CyrusInstance()
    try:
        cy.start()
        for inst, port, pw in ((cy, cy.port, cyrus36.PASSWORD), (site, site.port("imap"), "pw")):
            m = imaplib.IMAP4("127.0.0.1", port)
            m.login("admin", pw)
            assert m.create("shared")[0] == "OK" if inst is cy else True
            box = "shared" if inst is cy else "shared.news"
            m.setacl(box, "admin", "lrswipkxtecdan")
            for i, msg in enumerate(MSGS):
                assert m.append(box, None, imaplib.Time2Internaldate(1577836800), msg % i)[0] == "OK"
            m.select(box)
            m.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
            m.expunge()
            m.logout()
        # ipurge: the dry-run listing and the totals, byte for byte but the dates.
        ours = site.tool("ipurge", "-n", "-b", "4000", "shared.news").stdout.decode()
        theirs = cyrus_tool(cy, "ipurge", "-n", "-b", "4000", "shared").stdout.decode()
        assert without_expunge_time(ours) == without_expunge_time(theirs), (ours, theirs)
        # unexpunge -l: the same listing.
        ours = site.tool("unexpunge", "-l", "shared.news").stdout.decode()
        theirs = cyrus_tool(cy, "unexpunge", "-l", "shared").stdout.decode()
        assert without_expunge_time(ours) == without_expunge_time(theirs), (ours, theirs)
        assert ours.count("\tExpg: ") == theirs.count("\tExpg: ") == 1
        # cyr_df's heading; conf-lint's line for an unknown option.
        assert site.tool("cyr_df").stdout.decode().splitlines()[0] == cyrus_tool(cy, "cyr_df").stdout.decode().splitlines()[0]
        for conf in (site.conf, cy.conf):
            with open(conf, "a") as f:
                f.write("bogus_option: 1\n")
        assert "bogus_option: 1\n" in cyrus_tool(cy, "cyr_info", "-M", os.path.join(cy.dir, "cyrus.conf"), "conf-lint").stdout.decode()
        assert site.tool("cyr_info", "-M", site.cyrus_conf, "conf-lint").stdout.decode() == "bogus_option: 1\n"
        assert re.search(r"^allowapop: yes$", cyrus_tool(cy, "cyr_info", "conf-default").stdout.decode(), re.M)
    finally:
        cy.stop()
