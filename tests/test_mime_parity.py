"""MIME structure and part contents over IMAP: the suite against Debian's Cyrus 3.6.

Three corpora of tricky messages go in by APPEND, the same bytes to both servers:
CPython's email test data (Lib/test/test_email/data/msg_*.txt), the messages written
inline in CPython's email tests (Lib/test/test_email/*.py), both with LF line ends
made CRLF as an MTA would, and the project's own (crates/message/tests/corpus). For each
message both answer FETCH ENVELOPE, BODY and BODYSTRUCTURE, and BODY.PEEK[...] of
every section either server's BODYSTRUCTURE offers (HEADER, TEXT, each part number
with `.MIME`, `.HEADER` and `.TEXT` for message/rfc822 parts); every answer must be
the same bytes, except the deliberate differences below, where each server's answer
is asserted.

Messages either server refuses to APPEND are listed in REFUSED with the reason (the
raw CPython files, with bare LF line ends, would all be refused by Cyrus: "Message
contains bare newlines"; hence the CRLF).

Run as a script for a report per item: `cd tests && python3 test_mime_parity.py`.
"""

import ast
import glob
import os
import re
import sys
import textwrap

import pytest

import cyrus36
import imap_values
from suite import ROOT
from test_imapd import ok, start_server

PYTHON_DATA = os.path.join(os.path.dirname(os.__file__), "test", "test_email", "data")
CORPORA = {
    "python": os.path.join(PYTHON_DATA, "msg_*.txt"),
    # The messages written inline in CPython's email tests (RFC 2231 among them).
    "python-inline": os.path.join(os.path.dirname(PYTHON_DATA), "*.py"),
    "project": os.path.join(ROOT, "crates", "message", "tests", "corpus", "*.eml"),
}
STRUCTURE = ("ENVELOPE", "BODY", "BODYSTRUCTURE")
ITEMS = STRUCTURE + ("PARTS",)

# What each server refuses to APPEND, and why: the suite's APPEND takes header lines
# that are no field (it reads them as Cyrus's parser would), and refuses NUL as Cyrus.
REFUSED = {
    "python/msg_19.txt": {"cyrus": "a first line that is no header field"},
    "python/msg_35.txt": {"cyrus": "a line that is no header field, no empty line before the body"},
    "python-inline/test_message.py:934": {"cyrus": "a folded line without its leading blank: no header field"},
    "project/no-blank-line.eml": {"cyrus": "a line that is no header field, no empty line before the body"},
    "project/nul.eml": {"cyrus": "a NUL octet", "suite": "a NUL octet"},
}

# Deliberate differences: message -> {item: (predicate on the suite's answer,
# predicate on Cyrus's answer)}, each with the reason. Filled in below the helpers.
DIFFERENT = {}


def crlf(raw):
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


def corpus(name):
    """(name, bytes as appended) of a corpus's messages, sorted by name."""
    out = []
    for path in sorted(glob.glob(CORPORA[name])):
        with open(path, "rb") as f:
            raw = f.read()
        if path.endswith(".py"):
            out += inline_messages(os.path.basename(path), raw)
        else:
            out.append((os.path.basename(path), crlf(raw)))
    return out


def inline_messages(source_name, source):
    """The string constants of a Python source that read as a MIME message: a field
    first, a Content-Type or MIME-Version field, an empty line; each once."""
    out, seen = [], set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        text = textwrap.dedent(node.value)
        if text in seen or "\n\n" not in text or not re.match(r"[A-Za-z-]+:", text):
            continue
        if re.search(r"(?im)^(content-type|mime-version):", text):
            seen.add(text)
            out.append((f"{source_name}:{node.lineno}", crlf(text.encode("utf-8", "surrogateescape"))))
    return out


def append_all(srv, messages):
    """A logged-in RawImap on INBOX of fred, and for each message its UID or the
    tagged answer refusing it."""
    im = cyrus36.RawImap(srv.port())
    assert ok(im.cmd(b"LOGIN fred pw"))
    uids = {}
    for name, raw in messages:
        tagged = im.cmd(b"APPEND INBOX", raw)[1]
        m = re.search(rb"\[APPENDUID \d+ (\d+)\]", tagged)
        uids[name] = int(m.group(1)) if ok((b"", tagged)) and m else tagged.decode(errors="replace").strip()
    assert ok(im.cmd(b"SELECT INBOX"))
    return im, uids


def answers(servers, messages):
    """{server: {message: {item: bytes}}} for the messages every server took, and
    {message: refusal} for the others. PARTS maps each section to its value as sent
    (a literal, or `""` when empty)."""
    conns = {s.name: append_all(s, messages) for s in servers}
    refused = {}
    out = {s: {} for s in conns}
    for name, _ in messages:
        bad = {s: u for s, (_, uids) in conns.items() for u in [uids[name]] if not isinstance(u, int)}
        if bad:
            refused[name] = bad
            continue
        wanted = []
        for s, (im, uids) in conns.items():
            got, status = imap_values.fetch(im, uids[name], STRUCTURE)
            assert status == "OK", (s, name, status)
            out[s][name] = got
            for sec in imap_values.sections(imap_values.values(got["BODYSTRUCTURE"])):
                if sec not in wanted:
                    wanted.append(sec)
        for s, (im, uids) in conns.items():
            got, status = imap_values.fetch(im, uids[name], [f"BODY.PEEK[{x}]" for x in wanted])
            if status != "OK":  # a section this server does not have: ask one by one
                got = {}
                for x in wanted:
                    one, st = imap_values.fetch(im, uids[name], [f"BODY.PEEK[{x}]"])
                    got.update(one or {f"BODY[{x}]": st.encode()})
            out[s][name]["PARTS"] = {k: v for k, v in got.items() if k != "UID"}
    for im, _ in conns.values():
        im.cmd(b"LOGOUT")
    return out, refused


def differences(result):
    """{message: [items that differ]} between the suite and Cyrus."""
    out = {}
    for name, mine in result["suite"].items():
        theirs = result["cyrus"][name]
        items = [i for i in ITEMS if mine[i] != theirs[i]]
        if items:
            out[name] = items
    return out


def report(corpus_name, result, refused):
    diff = differences(result)
    lines = [f"{corpus_name}: {len(result['suite'])} compared, {len(refused)} refused, {len(diff)} differ"]
    lines += [f"  {i}: {sum(i in d for d in diff.values())} differ" for i in ITEMS]
    lines += [f"  refused {n}: {r}" for n, r in refused.items()]
    lines += [f"  differs {n}: {' '.join(d)}" for n, d in diff.items()]
    return "\n".join(lines)


def detail(result, name, item):
    mine, theirs = result["suite"][name][item], result["cyrus"][name][item]
    if item == "PARTS":
        keys = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
        return "\n".join(f"    {k}\n      ours  {mine.get(k)!r:.400}\n      cyrus {theirs.get(k)!r:.400}" for k in keys)
    return f"    ours  {mine!r:.600}\n    cyrus {theirs!r:.600}"


@pytest.fixture(scope="module")
def servers():
    if not cyrus36.available():
        pytest.skip("Debian's Cyrus 3.6 is not installed (scripts/deps --cyrus)")
    srvs = [start_server("suite"), start_server("cyrus")]
    yield srvs
    for s in srvs:
        s.close()


@pytest.mark.parametrize("corpus_name", sorted(CORPORA))
def test_parts_match_cyrus_36_except_where_documented(servers, corpus_name):
    messages = corpus(corpus_name)
    if not messages:
        pytest.skip(f"no {corpus_name} corpus at {CORPORA[corpus_name]}")
    result, refused = answers(servers, messages)
    assert len(result["suite"]) + len(refused) == len(messages)
    expected = {n.split("/", 1)[1]: set(r) for n, r in REFUSED.items() if n.startswith(corpus_name + "/")}
    assert {n: set(r) for n, r in refused.items()} == expected, refused
    diff = differences(result)
    keyed = {f"{corpus_name}/{n}": d for n, d in diff.items()}
    unexpected = {n: d for n, d in keyed.items() if n not in DIFFERENT}
    text = "\n".join(f"{n}: {i}\n{detail(result, n.split('/', 1)[1], i)}" for n, d in unexpected.items() for i in d)
    assert not unexpected, f"differ from Cyrus 3.6:\n{text}"
    for full, expected in DIFFERENT.items():
        c, name = full.split("/", 1)
        if c != corpus_name:
            continue
        assert sorted(keyed.get(full, [])) == sorted(expected), f"{full}: now differs in {keyed.get(full)}"
        for item, (ours_ok, cyrus_ok, _why) in expected.items():
            assert ours_ok(result["suite"][name][item]), (full, item, result["suite"][name][item])
            assert cyrus_ok(result["cyrus"][name][item]), (full, item, result["cyrus"][name][item])


if __name__ == "__main__":
    srvs = [start_server("suite"), start_server("cyrus")]
    try:
        for c in sys.argv[1:] or sorted(CORPORA):
            res, ref = answers(srvs, corpus(c))
            print(report(c, res, ref))
            if os.environ.get("DETAIL"):
                for n, d in differences(res).items():
                    for i in d:
                        print(f"{n}: {i}\n{detail(res, n, i)}")
    finally:
        for s in srvs:
            s.close()
