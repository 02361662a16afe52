"""Sieve at delivery, end to end: scripts in the users' sievedir (laid as Cyrus lays
it), messages delivered over LMTP with python's smtplib.LMTP, results read back over
IMAP with imaplib, and what lmtpd sends handed to a `sendmail` test double that
records its argv and input (the one thing faked here)."""

import imaplib
import json
import os
import re
import smtplib
import stat
import subprocess

import pytest

from suite import lmtp_send, wait_for

USERS = ("fred", "barney", "wilma")

SENDMAIL = """#!/usr/bin/env python3
import json, os, sys, time
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sent")
data = sys.stdin.buffer.read()
name = os.path.join(out, "%.6f-%d" % (time.time(), os.getpid()))
with open(name + ".tmp", "w") as f:
    json.dump({"argv": sys.argv[1:], "input": data.decode("utf-8", "replace")}, f)
os.rename(name + ".tmp", name + ".json")
sys.exit(int(os.environ.get("SENDMAIL_EXIT", "0")))
"""


@pytest.fixture
def site(make_instance):
    inst = make_instance(extra_conf="allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
                                    "sasl_mech_list: PLAIN LOGIN\nunixhierarchysep: yes\naltnamespace: no\n",
                         name="sieve")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\nsievedir: {inst.dir}/sieve\n"
                f"sendmail: {inst.dir}/sendmail\n")
    os.makedirs(os.path.join(inst.dir, "sieve"))
    os.makedirs(os.path.join(inst.dir, "sent"))
    with open(os.path.join(inst.dir, "sendmail"), "w") as f:
        f.write(SENDMAIL)
    os.chmod(os.path.join(inst.dir, "sendmail"), 0o755)
    for u in USERS:
        inst.create_mailbox(f"user.{u}")
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", u],
                       input=b"pw", check=True)
    inst.create_mailbox("user.fred.Lists")
    inst._own()
    inst.write_cyrus_conf(SERVICES=(
        f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=0\n'
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=1\n'))
    inst.start()
    return inst


def put_script(inst, user, source, name="main", active=True):
    """Installs a script as Cyrus keeps it: sievedir/H/USER/NAME.script, and the
    symlink defaultbc -> NAME.bc for the active one."""
    d = os.path.join(inst.dir, "sieve", user[0], user)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{name}.script"), "w") as f:
        f.write(source)
    if active:
        link = os.path.join(d, "defaultbc")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(f"{name}.bc", link)
    inst._own()


def deliver(inst, rcpts, msg, sender="alice@example.org"):
    lm = smtplib.LMTP(f"{inst.dir}/lmtp.sock", timeout=15)
    lm.ehlo("mta.example.org")
    res = lmtp_send(lm, sender, rcpts, msg)
    lm.quit()
    return res


def sent(inst):
    """What the sendmail double was given, oldest first."""
    d = os.path.join(inst.dir, "sent")
    out = []
    for n in sorted(os.listdir(d)):
        if n.endswith(".json"):
            with open(os.path.join(d, n)) as f:
                out.append(json.load(f))
    return out


def imap(inst, user):
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"), timeout=15)
    m.login(user, "pw")
    return m


def fetch_flags(inst, user, mailbox):
    """{uid: set of flags} of a mailbox, over IMAP."""
    m = imap(inst, user)
    typ, _ = m.select(mailbox)
    assert typ == "OK", mailbox
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    m.logout()
    out = {}
    for item in data:
        if not item:
            continue
        text = item.decode() if isinstance(item, bytes) else item[0].decode()
        mo = re.search(r"UID (\d+) FLAGS \(([^)]*)\)", text) or re.search(r"FLAGS \(([^)]*)\) UID (\d+)", text)
        if mo and mo.group(1).isdigit():
            out[int(mo.group(1))] = set(mo.group(2).split())
        elif mo:
            out[int(mo.group(2))] = set(mo.group(1).split())
    return out


def msg(subject="hello", msgid="<m1@example.org>", to="fred@example.org", extra=""):
    return (f"From: Alice <alice@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: {msgid}\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n{extra}\r\nHello there.\r\n").encode()


def test_fileinto_with_flags_and_create_keep_and_implicit_keep(site):
    put_script(site, "fred", r'''require ["fileinto", "imap4flags", "mailbox"];
if header :contains "subject" "list" { fileinto :flags ["\\Flagged", "$Listed"] "INBOX/Lists"; stop; }
if header :contains "subject" "work" { fileinto :create "INBOX/Work"; keep :flags "\\Seen"; stop; }
addflag "$Unsorted";
''')
    assert deliver(site, ["fred@example.org"], msg("a list message", "<l1@x>"))["fred@example.org"][0] == 250
    assert deliver(site, ["fred@example.org"], msg("work to do", "<w1@x>"))["fred@example.org"][0] == 250
    assert deliver(site, ["fred@example.org"], msg("other", "<o1@x>"))["fred@example.org"][0] == 250
    assert list(site.messages("user.fred.Lists")) == [1]
    assert fetch_flags(site, "fred", "INBOX/Lists")[1] >= {"\\Flagged", "$Listed"}
    assert list(site.messages("user.fred.Work")) == [1], ":create made the folder"
    inbox = fetch_flags(site, "fred", "INBOX")
    assert len(inbox) == 2
    assert "\\Seen" in inbox[1] and "$Unsorted" in inbox[2], inbox
    site.log.wait(r"Delivered: <l1@x> to mailbox: user.fred.Lists")


def test_reject_discard_and_three_scripts_three_replies(site):
    put_script(site, "fred", 'require "reject";\nreject text:\nNot here.\nTry elsewhere.\n.\n;\n')
    put_script(site, "barney", "discard;\n")
    put_script(site, "wilma", 'require ["fileinto", "imap4flags"];\nfileinto "INBOX";\nkeep :flags "$Once";\n')
    res = deliver(site, ["fred@example.org", "barney@example.org", "wilma@example.org"], msg())
    assert res["fred@example.org"] == (550, b"5.7.1 Not here.\n5.7.1 Try elsewhere."), res
    assert res["barney@example.org"][0] == 250 and res["wilma@example.org"][0] == 250, res
    assert site.messages("user.fred") == {} and site.messages("user.barney") == {}
    assert list(site.messages("user.wilma")) == [1], "fileinto INBOX and keep store one copy"
    assert fetch_flags(site, "wilma", "INBOX")[1] - {"\\Recent"} == {"$Once"}
    site.log.wait(r"sieve LMTP rejected: <m1@example.org>")
    site.log.wait(r"sieve discarded: <m1@example.org>")


def test_redirect_copy_and_loop_protection(site):
    put_script(site, "fred", 'redirect "fred@elsewhere.example";\n')
    put_script(site, "barney", 'require "copy";\nredirect :copy "archive@example.net";\n')
    res = deliver(site, ["fred@example.org", "barney@example.org"], msg(), sender="alice@example.org")
    assert [c for c, _ in res.values()] == [250, 250], res
    out = sent(site)
    assert sorted(o["argv"] for o in out) == [["-i", "-f", "alice@example.org", "--", "archive@example.net"],
                                               ["-i", "-f", "alice@example.org", "--", "fred@elsewhere.example"]]
    for o in out:
        assert o["input"].startswith("X-Sieve-Action: redirect\r\n"), o["input"][:200]
        assert "Return-Path:" not in o["input"] and "Received: from mta.example.org" in o["input"]
        assert o["input"].endswith("\r\n\r\nHello there.\r\n")
    assert site.messages("user.fred") == {}, "redirect without :copy cancels the keep"
    assert list(site.messages("user.barney")) == [1]
    # The same message again (another transaction, as a loop would bring it): not
    # redirected a second time.
    put_script(site, "wilma", 'redirect "barney@example.org";\n')
    deliver(site, ["wilma@example.org"], msg(msgid="<loop@x>"))
    deliver(site, ["wilma@example.org"], msg(msgid="<loop@x>"))
    assert len([o for o in sent(site) if o["argv"][-1] == "barney@example.org"]) == 1


def test_redirect_that_cannot_be_sent_keeps_the_message(site):
    with open(site.conf, "a") as f:
        f.write(f"sendmail: {site.dir}/no-such-sendmail\n")
    put_script(site, "fred", 'redirect "fred@elsewhere.example";\n')
    site.hup()
    site.log.wait(r"SIGHUP")
    assert deliver(site, ["fred@example.org"], msg())["fred@example.org"][0] == 250
    wait_for(lambda: site.messages("user.fred"), what="the kept message")
    assert "$SieveFailed" in fetch_flags(site, "fred", "INBOX")[1]


def test_vacation_once_per_sender_and_never_to_lists(site):
    put_script(site, "fred", 'require ["vacation"];\nvacation :days 7 :subject "Away" :from "fred@example.org" "I am away until Monday.";\n')
    deliver(site, ["fred@example.org"], msg("first", "<v1@x>"), sender="alice@example.org")
    deliver(site, ["fred@example.org"], msg("second", "<v2@x>"), sender="alice@example.org")
    deliver(site, ["fred@example.org"], msg("from bob", "<v3@x>").replace(b"alice@", b"bob@"), sender="bob@example.org")
    deliver(site, ["fred@example.org"], msg("list", "<v4@x>", extra="List-Id: <l.example.org>\r\n"), sender="carol@example.org")
    deliver(site, ["fred@example.org"], msg("bounce", "<v5@x>"), sender="")
    deliver(site, ["fred@example.org"], msg("bcc", "<v6@x>", to="someone@example.org"), sender="dave@example.org")
    out = sent(site)
    assert [o["argv"] for o in out] == [["-i", "-f", "<>", "--", "alice@example.org"], ["-i", "-f", "<>", "--", "bob@example.org"]]
    reply = out[0]["input"]
    head, _, body = reply.partition("\r\n\r\n")
    fields = dict(line.split(": ", 1) for line in head.split("\r\n"))
    assert fields["To"] == "<alice@example.org>"
    assert fields["From"] == "<fred@example.org>"
    assert fields["Subject"] == "Away"
    assert fields["In-Reply-To"] == "<v1@x>"
    assert fields["Auto-Submitted"] == "auto-replied (vacation)"
    assert re.match(r"<cmu-sieve-\d+-\d+-\d+@suite.test>", fields["Message-ID"])
    assert body == "I am away until Monday.\r\n"
    assert len(site.messages("user.fred")) == 6, "vacation keeps every message"


def test_failing_and_broken_scripts_file_into_inbox(site):
    put_script(site, "fred", 'require "fileinto";\nfileinto "INBOX/NoSuchFolder";\n')
    put_script(site, "barney", 'require "fileinto";\nfileinto "x"\nkeep;\n')
    res = deliver(site, ["fred@example.org", "barney@example.org"], msg())
    assert [c for c, _ in res.values()] == [250, 250]
    assert "$SieveFailed" in fetch_flags(site, "fred", "INBOX")[1]
    assert "$SieveFailed" in fetch_flags(site, "barney", "INBOX")[1]
    site.log.wait(r"sieve runtime error for fred id <m1@example.org>: Fileinto \(INBOX/NoSuchFolder\): Mailbox does not exist")
    site.log.wait(r"sieve runtime error for barney id <m1@example.org>: script main: line 3, column 1")


def test_hostile_scripts_are_bounded(site):
    many = "".join(f'redirect "u{i}@example.com";\n' for i in range(10_000))
    put_script(site, "fred", many)
    put_script(site, "barney", 'require "regex";\nif header :regex "subject" "(a|aa)*b" { discard; }\n')
    put_script(site, "wilma", "keep;\n")
    os.truncate(os.path.join(site.dir, "sieve", "w", "wilma", "main.script"), 100 << 20)  # a 100 MB script
    headers = "".join(f"X-H{i}: value\r\n" for i in range(10_000))
    res = deliver(site, ["fred@example.org", "barney@example.org", "wilma@example.org"], msg("a" * 5000, extra=headers))
    assert [c for c, _ in res.values()] == [250, 250, 250], res
    assert "$SieveFailed" in fetch_flags(site, "wilma", "INBOX")[1]
    site.log.wait(r"sieve runtime error for wilma .*larger than \d+ bytes, not read")
    assert sent(site) == [], "10 000 redirects: a run-time error, nothing sent"
    assert len(site.messages("user.fred")) == 1 and len(site.messages("user.barney")) == 1
    site.log.wait(r"sieve runtime error for fred .*too many redirects")


def test_notify_list_redirect_dsn_and_fcc(site):
    d = os.path.join(site.dir, "sieve", "f", "fred", "lists")
    os.makedirs(d)
    with open(os.path.join(d, "tag%3Afriends"), "w") as f:
        f.write("# friends\nbarney@example.net\nbetty@example.net\n")
    put_script(site, "fred", r'''require ["enotify", "extlists", "redirect-dsn", "copy", "vacation", "fcc", "envelope"];
notify :importance "1" :message "mail from alice" "mailto:fred@pager.example?subject=New%20mail";
if envelope :list "from" "tag:friends" { redirect :copy :notify "NEVER" "wilma@example.net"; }
redirect :copy :list "tag:friends";
vacation :fcc "INBOX/Lists" :addresses "fred@example.org" "Away.";
''')
    assert deliver(site, ["fred@example.org"], msg(), sender="barney@example.net")["fred@example.org"][0] == 250
    out = {o["argv"][-1]: o for o in sent(site)}
    assert out["fred@pager.example"]["argv"] == ["-i", "-f", "<>", "--", "fred@pager.example"]
    note = out["fred@pager.example"]["input"]
    assert "\r\nSubject: New mail\r\n" in note and "\r\nAuto-Submitted: auto-notified\r\n" in note
    assert "From: Mail Sieve Subsystem <postmaster>" in note and note.endswith("\r\n\r\nmail from alice\r\n")
    assert out["wilma@example.net"]["argv"] == ["-i", "-N", "NEVER", "-f", "barney@example.net", "--", "wilma@example.net"]
    assert out["betty@example.net"]["argv"] == ["-i", "-f", "barney@example.net", "--", "barney@example.net", "betty@example.net"]
    assert out["barney@example.net"]["argv"][:3] == ["-i", "-f", "<>"], "the vacation reply"
    fcc = site.messages("user.fred.Lists")
    assert list(fcc) == [1] and b"Auto-Submitted: auto-replied (vacation)" in fcc[1], "the reply's :fcc copy"
    assert list(site.messages("user.fred")) == [1], ":copy keeps the message"


# ---------------------------------------------------------------------------
# The same scripts against Debian's Cyrus 3.6, so that the expectations are Cyrus's.

PARITY_SCRIPTS = {
    "fred": 'require ["fileinto", "imap4flags"];\nfileinto :flags ["\\\\Flagged", "$Filed"] "INBOX.Lists";\n',
    "barney": 'require "reject";\nreject text:\nNot here.\nTry elsewhere.\n.\n;\n',
    "wilma": "discard;\n",
    "betty": 'require "fileinto";\nfileinto "INBOX.NoSuchFolder";\n',
    "dino": 'require ["imap4flags"];\nsetflag "\\\\Seen";\naddflag "$Kept";\n',
}


def parity_run(deliver_fn, read_fn):
    """Delivers one message to every PARITY user; returns the replies and, per user,
    the flags of what each mailbox holds."""
    res = deliver_fn([f"{u}@example.org" for u in PARITY_SCRIPTS], msg(to="fred@example.org"))
    # Success texts differ (Cyrus adds a session id); refusals are compared whole.
    replies = {r.split("@")[0]: (c, t.decode()[:5] if c == 250 else t.decode()) for r, (c, t) in res.items()}
    held = {u: read_fn(u) for u in PARITY_SCRIPTS}
    return replies, held


def flags_by_mailbox(port, user):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=15)
    m.login(user, "pw")
    out = {}
    for box in ("INBOX", "INBOX.Lists"):
        if m.select(box)[0] != "OK":
            continue
        typ, data = m.fetch("1:*", "(FLAGS)")
        flags = []
        for item in data or []:
            if item:
                mo = re.search(rb"FLAGS \(([^)]*)\)", item if isinstance(item, bytes) else item[0])
                if mo:
                    flags.append(sorted(f for f in mo.group(1).decode().split() if f != "\\Recent"))
        out[box] = flags
    m.logout()
    return out


def test_same_outcome_as_cyrus(make_instance):
    import cyrus36
    if not cyrus36.available():
        pytest.skip("Cyrus 3.6 is not installed")
    inst = make_instance(extra_conf="allowplaintext: yes\nsasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\n"
                                    "sasl_mech_list: PLAIN LOGIN\nunixhierarchysep: no\naltnamespace: no\n", name="sieve-parity")
    with open(inst.conf, "a") as f:
        f.write(f"sasl_sasldb_path: {inst.dir}/config/sasldb2\nsievedir: {inst.dir}/sieve\n")
    for u in PARITY_SCRIPTS:
        inst.create_mailbox(f"user.{u}")
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", f"{inst.dir}/config/sasldb2", "-u", "suite.test", u], input=b"pw", check=True)
    inst.create_mailbox("user.fred.Lists")
    for u, src in PARITY_SCRIPTS.items():
        put_script(inst, u, src)
    inst.write_cyrus_conf(SERVICES=(
        f'  imap cmd="imapd" listen="127.0.0.1:{inst.port("imap")}" prefork=0\n'
        f'  lmtpunix cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=1\n'))
    inst.start()
    ours = parity_run(lambda r, m: deliver(inst, r, m), lambda u: flags_by_mailbox(inst.port("imap"), u))

    cy = cyrus36.CyrusInstance().start()
    try:
        cy.create_users(list(PARITY_SCRIPTS) + ["fred.Lists"])
        for u, src in PARITY_SCRIPTS.items():
            cy.add_password(u, "pw")
            cy.install_sieve(u, src)

        def cy_deliver(rcpts, m):
            lm = smtplib.LMTP(cy.lmtp_socket, timeout=15)
            lm.ehlo("mta.example.org")
            r = lmtp_send(lm, "alice@example.org", rcpts, m)
            lm.quit()
            return r
        theirs = parity_run(cy_deliver, lambda u: flags_by_mailbox(cy.port, u))
    finally:
        cy.stop()
    assert ours == theirs
    assert ours[0]["barney"] == (550, "5.7.1 Not here.\n5.7.1 Try elsewhere.")
    assert ours[1]["fred"] == {"INBOX": [], "INBOX.Lists": [["$Filed", "\\Flagged"]]}
    assert ours[1]["betty"] == {"INBOX": [["$SieveFailed"]]}
