"""METADATA and LIST-METADATA (RFC 5464, RFC 9590), run against the suite and
Debian's Cyrus 3.6 (test_imapd.py's `srv` fixture), plus the suite's own limits.

Cyrus answers GETMETADATA with DEPTH by listing every entry it defines, most of
them NIL; the suite lists the entries that have a value. The tests check the
values, which both give alike.

Run:  cd tests && python3 -m pytest -q test_imap_metadata.py
"""

import os
import re
import shutil
import tempfile

from test_imapd import SuiteServer, ok, raw, srv, status, untagged  # noqa: F401 (srv is a fixture)


def meta(resp):
    """{entry: value or None} of the * METADATA lines of a RawImap response (values
    as quoted strings or literals)."""
    out = {}
    text = resp[0]
    for m in re.finditer(rb"\* METADATA (\S+|\"[^\"]*\") \(", text):
        i = m.end()
        while text[i:i + 1] != b")":
            m2 = re.match(rb" ?\"([^\"]+)\" ", text[i:])
            name = m2.group(1).decode()
            i += m2.end()
            if text[i:i + 3] == b"NIL":
                out[name] = None
                i += 3
            elif text[i:i + 1] == b'"':
                j = text.index(b'"', i + 1)
                out[name] = text[i + 1:j]
                i = j + 1
            else:
                lit = re.match(rb"~?\{(\d+)\}\r\n", text[i:])
                n = int(lit.group(1))
                i += lit.end()
                out[name] = text[i:i + n]
                i += n
    return out


def valued(d):
    return {k: v for k, v in d.items() if v is not None}


def test_set_get_delete_depth_maxsize(srv):
    im = raw(srv)
    assert b"METADATA" in im.cmd(b"CAPABILITY")[0] and b"LIST-METADATA" in im.cmd(b"CAPABILITY")[0]
    assert ok(im.cmd(b"CREATE INBOX/sub"))
    r = im.cmd(b'SETMETADATA INBOX ("/private/comment" "my comment" "/shared/comment" "shared c")')
    assert ok(r), r
    assert ok(im.cmd(b'SETMETADATA INBOX ("/shared/vendor/cmu/cyrus-imapd/expire" "5")'))
    assert ok(im.cmd(b'SETMETADATA INBOX/sub ("/private/comment" {5+}\r\nsub\r\n)'))
    r = im.cmd(b"GETMETADATA INBOX /private/comment")
    assert meta(r) == {"/private/comment": b"my comment"}, r
    r = im.cmd(b"GETMETADATA INBOX (/private/comment /shared/comment)")
    assert meta(r) == {"/private/comment": b"my comment", "/shared/comment": b"shared c"}, r
    r = im.cmd(b"GETMETADATA INBOX/sub /private/comment")
    assert meta(r) == {"/private/comment": b"sub\r\n"}, r
    # An entry without a value is NIL when named.
    r = im.cmd(b"GETMETADATA INBOX/sub /shared/comment")
    assert meta(r) == {"/shared/comment": None}, r
    # DEPTH: 1 reaches one level below, infinity all of them.
    r = im.cmd(b"GETMETADATA (DEPTH 1) INBOX /shared")
    v = valued(meta(r))
    assert v.get("/shared/comment") == b"shared c" and "/shared/vendor/cmu/cyrus-imapd/expire" not in v, r
    r = im.cmd(b"GETMETADATA (DEPTH infinity) INBOX /shared")
    v = valued(meta(r))
    assert v["/shared/vendor/cmu/cyrus-imapd/expire"] == b"5" and v["/shared/comment"] == b"shared c", r
    assert v["/shared/vendor/cmu/cyrus-imapd/partition"] == b"default", r
    assert "/private/comment" not in v, r
    # MAXSIZE leaves out longer values and says how long the longest was.
    r = im.cmd(b"GETMETADATA (MAXSIZE 3) INBOX (/private/comment /shared/comment)")
    assert valued(meta(r)) == {} and b"[METADATA LONGENTRIES 10]" in r[1], r
    r = im.cmd(b"GETMETADATA (MAXSIZE 9) INBOX (/private/comment /shared/comment)")
    assert valued(meta(r)) == {"/shared/comment": b"shared c"}, r
    # NIL removes; private values are the user's own.
    assert ok(im.cmd(b'SETMETADATA INBOX ("/shared/comment" NIL)'))
    r = im.cmd(b"GETMETADATA INBOX (/shared/comment /private/comment)")
    assert valued(meta(r)) == {"/private/comment": b"my comment"}, r
    other = raw(srv, "barney")
    r = other.cmd(b'SETACL user/fred barney lr')
    admin = raw(srv, "admin")
    assert ok(admin.cmd(b"SETACL user/fred barney lr"))
    r = other.cmd(b"GETMETADATA user/fred (/private/comment /shared/vendor/cmu/cyrus-imapd/expire)")
    assert ok(r) and valued(meta(r)) == {"/shared/vendor/cmu/cyrus-imapd/expire": b"5"}, r
    # Shared values need w: barney has lr.
    r = other.cmd(b'SETMETADATA user/fred ("/shared/comment" "x")')
    assert status(r) == "NO", r
    r = other.cmd(b'SETMETADATA user/fred ("/private/comment" "barney\'s")')
    assert ok(r), r
    r = im.cmd(b"GETMETADATA INBOX /private/comment")
    assert meta(r) == {"/private/comment": b"my comment"}, r


def test_server_entries_and_rights(srv):
    im = raw(srv)
    admin = raw(srv, "admin")
    r = im.cmd(b'SETMETADATA "" ("/shared/comment" "srv")')
    assert status(r) == "NO", r
    assert ok(admin.cmd(b'SETMETADATA "" ("/shared/comment" "srv" "/shared/admin" "mailto:postmaster@example.com")'))
    assert ok(im.cmd(b'SETMETADATA "" ("/private/comment" "mine")'))
    r = im.cmd(b'GETMETADATA "" (/shared/comment /private/comment /shared/admin)')
    assert valued(meta(r)) == {"/shared/comment": b"srv", "/private/comment": b"mine", "/shared/admin": b"mailto:postmaster@example.com"}, r
    r = admin.cmd(b'GETMETADATA "" /private/comment')
    assert valued(meta(r)) == {}, r


def test_undefined_entries_and_bad_input(srv):
    im = raw(srv)
    # Undefined entries are refused (annotation_allow_undefined is off by default).
    for c in [b'SETMETADATA INBOX ("/private/foo" "x")', b'SETMETADATA INBOX ("/private/vendor/roundcube/x" "x")',
              b'SETMETADATA INBOX ("/shared/vendor/cmu/cyrus-imapd/partition" "x")',
              b'SETMETADATA INBOX/nonexistent ("/private/comment" "x")', b'GETMETADATA INBOX/nonexistent /private/comment']:
        r = im.cmd(c)
        assert status(r) == "NO", (c, r)
    for c in [b"GETMETADATA INBOX comment", b'SETMETADATA INBOX ("comment" "x")', b'SETMETADATA INBOX ("/private/comment")',
              b"GETMETADATA (DEPTH 2) INBOX /private", b"GETMETADATA INBOX", b'SETMETADATA INBOX ("/private/comment" "x"',
              b"GETMETADATA (FOO 1) INBOX /private/comment"]:
        r = im.cmd(c)
        assert status(r) == "BAD", (c, r)
    # A mailbox the user may not see gives no values (Cyrus answers OK, the suite
    # NO [NONEXISTENT] so as not to tell that it exists).
    r = im.cmd(b"GETMETADATA user/barney /private/comment")
    assert valued(meta(r)) == {}, r
    # All or nothing: one refused entry and nothing is set.
    r = im.cmd(b'SETMETADATA INBOX ("/private/comment" "c1" "/private/foo" "x")')
    assert status(r) == "NO", r
    r = im.cmd(b"GETMETADATA INBOX /private/comment")
    assert valued(meta(r)) == {}, r
    assert ok(im.cmd(b"NOOP"))


def test_list_return_metadata_and_specialuse(srv):
    im = raw(srv)
    assert ok(im.cmd(b"CREATE INBOX/junk"))
    assert ok(im.cmd(b'SETMETADATA INBOX ("/private/comment" "in" "/shared/comment" "sh")'))
    assert ok(im.cmd(b'SETMETADATA INBOX/junk ("/private/specialuse" "\\\\Junk")'))
    r = im.cmd(b"GETMETADATA INBOX/junk /private/specialuse")
    assert meta(r) == {"/private/specialuse": b"\\Junk"}, r
    r = im.cmd(b'LIST "" "*" RETURN (SPECIAL-USE)')
    assert any(b"\\Junk" in line and line.endswith(b"INBOX/junk\r\n") for line in r[0].split(b"\r\n") for line in [line + b"\r\n"]), r
    r = im.cmd(b'LIST "" "*" RETURN (METADATA (/private/comment /shared/comment))')
    lines = [l for l in r[0].split(b"\r\n") if l]
    i = next(k for k, l in enumerate(lines) if l.startswith(b"* LIST") and l.endswith(b" INBOX"))
    assert lines[i + 1].startswith(b"* METADATA INBOX "), r
    assert meta((lines[i + 1] + b"\r\n", b"")) == {"/private/comment": b"in", "/shared/comment": b"sh"}, r
    r = im.cmd(b'SETMETADATA INBOX/junk ("/private/specialuse" "\\\\Bogus")')
    assert status(r) in ("NO", "BAD"), r


def test_limits_definitions_and_undefined_allowed():
    """The suite's own bounds (annotation_maxsize, annotation_maxentries) and an
    annotation_definitions file with annotation_allow_undefined."""
    d = tempfile.mkdtemp(prefix="annotdefs-")
    os.chmod(d, 0o755)
    defs = os.path.join(d, "annotations.def")
    with open(defs, "w") as f:
        f.write("# site entries\n/vendor/acme/level, mailbox, uint, backend, value.shared, \n/bad line\n")
    os.chmod(defs, 0o644)
    s = SuiteServer(extra_conf=f"annotation_maxsize: 100\nannotation_maxentries: 3\nannotation_definitions: {defs}\n")
    try:
        im = raw(s)
        assert ok(im.cmd(b'SETMETADATA INBOX ("/shared/vendor/acme/level" "7")'))
        r = im.cmd(b'SETMETADATA INBOX ("/shared/vendor/acme/level" "high")')
        assert status(r) == "NO", r
        r = im.cmd(b'SETMETADATA INBOX ("/private/vendor/acme/level" "7")')
        assert status(r) == "NO", r
        r = im.cmd(b'SETMETADATA INBOX ("/private/comment" "%s")' % (b"x" * 101))
        assert status(r) == "NO" and b"[METADATA MAXSIZE 100]" in r[1], r
        assert ok(im.cmd(b'SETMETADATA INBOX ("/shared/comment" "a" "/shared/sort" "b")'))
        r = im.cmd(b'SETMETADATA INBOX ("/shared/thread" "c")')
        assert status(r) == "NO" and b"[METADATA TOOMANY]" in r[1], r
        # Replacing a value does not count as one more.
        assert ok(im.cmd(b'SETMETADATA INBOX ("/shared/comment" "a2")'))
        r = im.cmd(b"GETMETADATA INBOX (/shared/vendor/acme/level /shared/comment)")
        assert meta(r) == {"/shared/vendor/acme/level": b"7", "/shared/comment": b"a2"}, r
    finally:
        s.close()
    s = SuiteServer(extra_conf="annotation_allow_undefined: yes\n")
    try:
        im = raw(s)
        assert ok(im.cmd(b'SETMETADATA INBOX ("/private/vendor/roundcube/prefs" ~{4+}\r\na\x00b\n)'))
        r = im.cmd(b"GETMETADATA INBOX /private/vendor/roundcube/prefs")
        assert meta(r) == {"/private/vendor/roundcube/prefs": b"a\x00b\n"} and b"~{4}" in r[0], r
    finally:
        s.close()
        shutil.rmtree(d)
