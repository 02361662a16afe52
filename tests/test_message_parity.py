"""ENVELOPE, BODY and BODYSTRUCTURE of the message corpus: ours (from the mailbox cache,
through mbexamine) against what Debian's Cyrus 3.6 imapd answers for the same bytes."""

import os
import re
import shutil
import subprocess

import pytest

import cyrus36
from suite import BIN, ROOT, Instance

CORPUS = os.path.join(ROOT, "crates", "message", "tests", "corpus")

# Where we differ from Cyrus on purpose: nowhere now (boundary-never.eml and
# headerless-part.eml used to; the parser splits broken MIME as Cyrus does, see
# crates/message/src/structure.rs). test_mime_parity.py compares the part contents.
DIFFERENT = set()
# What Cyrus refuses to APPEND at all (bare LF, NUL, a line that is no header field):
# nothing to compare.
REFUSED_BY_CYRUS = {"bare-lf.eml", "nul.eml", "no-blank-line.eml"}


def ours(files):
    inst = Instance(name="parity")
    try:
        subprocess.run([os.path.join(BIN, "mkimap"), "-C", inst.conf], check=True, capture_output=True)
        box = os.path.join(inst.dir, "spool", "user", "admin", "parity")
        os.makedirs(box)
        for uid, name in enumerate(files, 1):
            shutil.copy(os.path.join(CORPUS, name), os.path.join(box, f"{uid}."))
        subprocess.run([os.path.join(BIN, "reconstruct"), "-C", inst.conf, "-r", "-f", "user.admin"], check=True, capture_output=True)
        out = subprocess.run([os.path.join(BIN, "mbexamine"), "-C", inst.conf, "user.admin.parity"], check=True, capture_output=True).stdout
    finally:
        inst.close()
    result = {}
    for m in re.finditer(rb"UID:(\d+) .*?\n Envel>\{(\d+)\}\n", out):
        pos = m.end()
        uid = int(m.group(1))
        items = {}
        n = int(m.group(2))
        items["ENVELOPE"] = out[pos:pos + n]
        pos += n + 1
        for label, key in ((b"Body", "BODY"), (b"BdyStr", "BODYSTRUCTURE")):
            hm = re.compile(rb" " + label + rb">\{(\d+)\}\n").match(out, pos)
            n = int(hm.group(1))
            items[key] = out[hm.end():hm.end() + n]
            pos = hm.end() + n + 1
        result[uid] = items
    return result


def theirs(files):
    cy = cyrus36.CyrusInstance().start()
    try:
        im = cyrus36.RawImap(cy.port)
        assert im.cmd(b"LOGIN admin secret")[1].split()[1] == b"OK"
        assert im.cmd(b"CREATE parity")[1].split()[1] == b"OK"
        assert im.cmd(b"SETACL parity admin lrswipkxtecdan")[1].split()[1] == b"OK"
        for name in files:
            with open(os.path.join(CORPUS, name), "rb") as f:
                raw = f.read()
            _, tagged = im.cmd(b"APPEND parity", raw)
            assert tagged.split()[1] == b"OK", (name, tagged)
        assert im.cmd(b"SELECT parity")[1].split()[1] == b"OK"
        result = {}
        for uid in range(1, len(files) + 1):
            items = {}
            for item in ("ENVELOPE", "BODY", "BODYSTRUCTURE"):
                untagged, tagged = im.cmd(b"UID FETCH %d (%s)" % (uid, item.encode()))
                assert tagged.split()[1] == b"OK", tagged
                prefix = re.match(rb"\* \d+ FETCH \((?:UID \d+ )?" + item.encode() + rb" ", untagged)
                assert prefix, untagged[:200]
                value = untagged[prefix.end():]
                value = re.sub(rb"(?: UID \d+)?\)\r\n$", b"", value)
                items[item] = value
            result[uid] = items
        im.cmd(b"LOGOUT")
        return result
    finally:
        cy.stop()


@pytest.mark.skipif(not cyrus36.available(), reason="Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
def test_structure_matches_cyrus_36_except_where_documented():
    files = sorted(f for f in os.listdir(CORPUS) if f.endswith(".eml") and f not in REFUSED_BY_CYRUS)
    mine, cyrus = ours(files), theirs(files)
    assert len(mine) == len(files), f"mbexamine showed {len(mine)} of {len(files)} messages"
    same, differ = [], []
    for uid, name in enumerate(files, 1):
        (same if mine[uid] == cyrus[uid] else differ).append(name)
    unexpected = [n for n in differ if n not in DIFFERENT]
    details = "\n".join(
        f"{n}:\n  {item} ours  {mine[files.index(n) + 1][item][:300]!r}\n  {item} cyrus {cyrus[files.index(n) + 1][item][:300]!r}"
        for n in unexpected for item in ("ENVELOPE", "BODY", "BODYSTRUCTURE")
        if mine[files.index(n) + 1][item] != cyrus[files.index(n) + 1][item]
    )
    assert not unexpected, f"differ from Cyrus 3.6: {unexpected}\n{details}"
    # The documented differences are real (or the list above is out of date).
    stale = sorted(DIFFERENT - set(differ))
    assert not stale, f"now equal to Cyrus, remove from DIFFERENT: {stale}"
    assert len(same) >= 15, same
