"""cyr_takeover on a damaged Cyrus site: each fault is reported with its mailbox, the
other mailboxes are converted, nothing is left half-converted, nothing the command
read is changed, a dry run writes nothing, and a second run leaves converted
mailboxes alone. The site is made by Debian's Cyrus 3.6 in a temp dir."""

import hashlib
import os
import pwd
import smtplib
import subprocess

import pytest

import cyrus36
from suite import BIN, lmtp_send, wait_for

pytestmark = pytest.mark.skipif(not cyrus36.available(), reason="Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"]


def halt(cy):
    with open(cy.pidfile) as f:
        pid = int(f.read().strip())
    os.kill(pid, 15)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=20, what="Cyrus to stop")


def tree_digest(root):
    """{relative path: sha1} of every file under root (symlinks as their target)."""
    out = {}
    for d, _, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = "->" + os.readlink(p)
            elif not os.path.isfile(p):
                continue  # sockets
            else:
                try:
                    with open(p, "rb") as f:
                        out[rel] = hashlib.sha1(f.read()).hexdigest()
                except PermissionError:
                    out[rel] = "unreadable"
    return out


def mailbox_dir(cy, user):
    r = subprocess.run([os.path.join(cyrus36.CYRUS_BIN, "mbpath"), "-C", cy.conf, f"user.{user}"], capture_output=True, text=True, check=True)
    return r.stdout.strip()


def takeover(cy, *args):
    return subprocess.run([os.path.join(BIN, "cyr_takeover"), "-C", cy.conf, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def site():
    cy = cyrus36.CyrusInstance()
    with open(cy.conf, "a") as f:
        f.write("mailbox_legacy_dirs: yes\n")
    cy.start()
    cy.create_users(USERS)
    lm = smtplib.LMTP(cy.lmtp_socket, timeout=30)
    lm.ehlo("mta")
    for i in range(5):
        lmtp_send(lm, "a@example.org", USERS, f"Subject: m{i}\r\nMessage-ID: <f{i}@x>\r\n\r\nbody {i}\r\n".encode())
    lm.quit()
    im = cyrus36.RawImap(cy.port)
    im.cmd(b"LOGIN admin secret")
    im.cmd(b"SELECT user.gina")
    im.cmd(b"STORE 1:3 +FLAGS (\\Flagged)")
    im.cmd(b"LOGOUT")
    halt(cy)
    dirs = {u: mailbox_dir(cy, u) for u in USERS}
    yield cy, dirs
    for d in dirs.values():
        os.chmod(d, 0o750)
    cy.stop()


def test_faults_are_reported_and_nothing_is_half_done(site):
    cy, dirs = site
    # alice: a truncated cyrus.index.
    ix = os.path.join(dirs["alice"], "cyrus.index")
    with open(ix, "r+b") as f:
        f.truncate(os.path.getsize(ix) - 50)
    # bob: a header with a wrong magic.
    with open(os.path.join(dirs["bob"], "cyrus.header"), "r+b") as f:
        f.write(b"XXXX")
    # carol: an index version from the future.
    with open(os.path.join(dirs["carol"], "cyrus.index"), "r+b") as f:
        f.seek(8)
        f.write((99).to_bytes(4, "big"))
    # dave: a message file missing; erin: one shorter than its record.
    os.unlink(os.path.join(dirs["dave"], "2."))
    # (Cyrus hard-links one delivery into every mailbox: a new file, not a truncate.)
    short = os.path.join(dirs["erin"], "3.")
    os.unlink(short)
    with open(short, "wb") as f:
        f.write(b"Subject: x")
    # frank: a directory the command cannot read.
    os.chmod(dirs["frank"], 0)
    # gina: record 1 fails its CRC.
    with open(os.path.join(dirs["gina"], "cyrus.index"), "r+b") as f:
        f.seek(160 + 40)
        b = f.read(1)
        f.seek(160 + 40)
        f.write(bytes([b[0] ^ 1]))
    # mailboxes.db with a torn last record: bytes past current_size.
    with open(os.path.join(cy.dir, "conf", "mailboxes.db"), "ab") as f:
        f.write(b"+\x01\x00\x05\x00\x00\x00\x03garbage-torn-write")
    before = tree_digest(cy.dir)

    dry = takeover(cy, "--dry-run")
    assert tree_digest(cy.dir) == before, "a dry run writes nothing"
    assert not os.path.exists(os.path.join(cy.dir, "conf", "mailboxes.lmdb"))
    assert dry.returncode == 1 and "dry run, nothing written" in dry.stdout, dry.stdout + dry.stderr

    r = takeover(cy)
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    problem = {u: [l for l in out.splitlines() if l.startswith(f"problem: user.{u}:")] for u in USERS}
    assert any("truncated" in l for l in problem["alice"]), out
    assert any("wrong magic" in l for l in problem["bob"]), out
    assert any("version 99" in l for l in problem["carol"]), out
    assert any("2.: message file missing" in l for l in problem["dave"]), out
    assert any("10 bytes where Cyrus's index says" in l for l in problem["erin"]), out
    assert any("Permission denied" in l for l in problem["frank"]), out
    assert any("record 1 fails its CRC" in l for l in problem["gina"]), out
    assert not problem["hank"], out
    assert "takeover: 4 mailboxes" in out, out  # dave, erin, gina, hank

    after = tree_digest(cy.dir)
    for u in ("alice", "bob", "carol"):
        rel = os.path.relpath(dirs[u], cy.dir)
        for f in ("cyrus.header", "cyrus.index", "cyrus.cache"):
            key = os.path.join(rel, f)
            assert after.get(key) == before.get(key), f"{u}: {f} untouched and in place"
            assert os.path.join(rel, f + ".cyrus") not in after, f"{u}: nothing half-converted"
    for u in ("dave", "erin", "gina", "hank"):
        rel = os.path.relpath(dirs[u], cy.dir)
        for f in ("cyrus.header", "cyrus.index"):
            assert after[os.path.join(rel, f + ".cyrus")] == before[os.path.join(rel, f)], f"{u}: Cyrus's {f} kept aside, unchanged"
    for rel, digest in before.items():
        if not os.path.basename(rel).startswith("cyrus.") and rel in after:
            assert after[rel] == digest, f"{rel} changed"

    # A second run: converted mailboxes are left as they are, the others still refused.
    again = takeover(cy)
    assert "4 mailboxes were already taken over" in again.stdout, again.stdout
    assert "takeover: 0 mailboxes" in again.stdout
    assert tree_digest(cy.dir).keys() >= set(k for k in after if "lmdb" not in k)


def test_mailbox_list_from_ctl_mboxlist_dump(site):
    """When all an administrator has is the text of Cyrus's `ctl_mboxlist -d`."""
    cy, dirs = site
    dump = subprocess.run([os.path.join(cyrus36.CYRUS_BIN, "ctl_mboxlist"), "-C", cy.conf, "-d"],
                          capture_output=True, text=True, check=True, user="cyrus" if os.geteuid() == 0 else None)
    path = os.path.join(cy.dir, "mboxlist.txt")
    with open(path, "w") as f:
        f.write(dump.stdout)
    os.rename(os.path.join(cy.dir, "conf", "mailboxes.db"), os.path.join(cy.dir, "conf", "mailboxes.db.away"))
    r = takeover(cy, "--dump", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"takeover: {len(USERS)} mailboxes, {5 * len(USERS)} messages" in r.stdout, r.stdout


def test_archived_messages_are_taken_over_and_given_back():
    """archive_enabled: messages Cyrus moved to archivepartition-default are linked
    into their mailbox (not copied); --revert takes the links away again."""
    cy = cyrus36.CyrusInstance()
    arch = os.path.join(cy.dir, "archive")
    os.makedirs(arch)
    if os.geteuid() == 0:
        os.chown(arch, pwd.getpwnam("cyrus").pw_uid, pwd.getpwnam("cyrus").pw_gid)
    with open(cy.conf, "a") as f:
        f.write(f"mailbox_legacy_dirs: yes\narchive_enabled: yes\narchivepartition-default: {arch}\n")
    try:
        cy.start()
        cy.create_users(["fred"])
        lm = smtplib.LMTP(cy.lmtp_socket, timeout=30)
        lm.ehlo("mta")
        for i in range(4):
            lmtp_send(lm, "a@example.org", ["fred"], f"Subject: a{i}\r\nMessage-ID: <a{i}@x>\r\n\r\nbody {i}\r\n".encode())
        lm.quit()
        subprocess.run([os.path.join(cyrus36.CYRUS_BIN, "cyr_expire"), "-C", cy.conf, "-A", "0"], check=True, capture_output=True,
                       user="cyrus" if os.geteuid() == 0 else None)
        halt(cy)
        data, archived = mailbox_dir(cy, "fred"), os.path.join(arch, "user", "fred")
        assert sorted(f for f in os.listdir(archived) if f.endswith(".")) == ["1.", "2.", "3.", "4."], "Cyrus archived them"
        assert not [f for f in os.listdir(data) if f.endswith(".")]
        r = takeover(cy)
        assert r.returncode == 0 and "takeover: 1 mailboxes, 4 messages" in r.stdout, r.stdout + r.stderr
        for u in range(1, 5):
            st_a, st_d = os.stat(os.path.join(archived, f"{u}.")), os.stat(os.path.join(data, f"{u}."))
            assert st_a.st_ino == st_d.st_ino, "linked, not copied"
        r = takeover(cy, "--revert")
        assert r.returncode == 0, r.stdout + r.stderr
        assert not [f for f in os.listdir(data) if f.endswith(".")], "the links are gone again"
        assert len([f for f in os.listdir(archived) if f.endswith(".")]) == 4, "the archive keeps every message"
    finally:
        cy.stop()
